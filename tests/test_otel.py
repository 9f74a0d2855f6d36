"""worksection_async.otel: the spans and metrics agree with client.quota and the fake."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import worksection_async as ws
from worksection_async import (
    CallEnded,
    CallStarted,
    Client,
    ProtocolError,
    RateLimit,
    RequestPrepared,
    ResponseReceived,
)
from worksection_async.otel import METRICS, OpenTelemetryHook
from worksection_async.testing import FakeWorksection, Fault, ManualClock

pytestmark = pytest.mark.anyio


class Telemetry:
    """An SDK tracer and meter provider writing to memory, and a hook on them."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.hook = OpenTelemetryHook(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )
        self.events: list[object] = []

    def __call__(self, event: Any) -> None:
        """Record the event, then hand it to the hook (a tee)."""
        self.events.append(event)
        self.hook(event)

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def collect(self) -> MetricsData:
        data = self.reader.get_metrics_data()
        assert data is not None
        return data

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def points(data: MetricsData, name: str) -> list[tuple[dict[str, Any], Any]]:
    found = []
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend((dict(p.attributes or {}), p) for p in metric.data.data_points)
    return found


def total(data: MetricsData, name: str, where: dict[str, Any] | None = None) -> float:
    """Sum of a counter's values (or a histogram's sums) whose attributes match."""
    result = 0.0
    for attributes, point in points(data, name):
        if all(attributes.get(k) == v for k, v in (where or {}).items()):
            result += point.sum if hasattr(point, "bucket_counts") else point.value
    return result


def count(data: MetricsData, name: str, where: dict[str, Any] | None = None) -> int:
    """Number of recordings of a histogram whose attributes match."""
    return sum(
        point.count
        for attributes, point in points(data, name)
        if all(attributes.get(k) == v for k, v in (where or {}).items())
    )


def calls_named(spans: list[ReadableSpan], action: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == f"worksection {action}"]


def attempts_of(spans: list[ReadableSpan], call: ReadableSpan) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.kind is SpanKind.CLIENT
        and s.parent is not None
        and s.parent.span_id == call.context.span_id
    ]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1000.0)


@pytest.fixture
async def autojump(clock: ManualClock) -> AsyncIterator[ManualClock]:
    async with clock.autojump():
        yield clock


async def test_a_scripted_run_matches_the_quota_and_the_fake(autojump: ManualClock) -> None:
    """Error 20s absorbed, pauses, a missing task and a 500: every span and metric
    value is what client.quota, the fake's stats and the events say."""
    fake = FakeWorksection.populated(projects=1, tasks_per_project=12, clock=autojump, quota="1/2s")
    pages = [task.page for task in fake.tasks.values() if task.parent_id is None][:12]
    telemetry = Telemetry()
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=autojump,
        on_event=telemetry,
    ) as client:

        async def get(page: str) -> ws.JSONValue:
            return await client.call("get_task", page=page)

        results = await client.map(get, pages)
        with pytest.raises(ws.InvalidTaskError):
            await client.call("get_task", page="/project/1000/999999/")
        fake.faults.add(Fault.http_error(500), action="get_task")
        with pytest.raises(ProtocolError):
            await client.call("get_task", page=pages[0])
        snapshot = client.quota
        data = telemetry.collect()
    assert len(results) == 12
    spans = telemetry.finished()
    calls = calls_named(spans, "get_task")
    attempts = [s for s in spans if s.kind is SpanKind.CLIENT]
    stats = fake.stats

    # The run had what it was scripted to have.
    assert snapshot.quota_errors >= 1 and snapshot.retries >= 1
    assert telemetry.of(ws.PauseStarted)

    # Spans: one per call, one per attempt.
    assert len(calls) == 14
    assert len(attempts) == snapshot.calls == stats.requests
    assert sum(s.attributes["worksection.attempts"] for s in calls) == snapshot.calls
    rejected = [a for a in attempts if a.attributes.get("error.type") == "QuotaExceededError"]
    assert len(rejected) == snapshot.quota_errors == stats.rejected_quota
    assert all(a.attributes["worksection.error.code"] == 20 for a in rejected)
    resent = [a for a in attempts if "http.request.resend_count" in a.attributes]
    assert len(resent) == snapshot.retries
    assert {a.attributes["http.response.status_code"] for a in attempts} == {200, 500}
    assert sum(1 for a in attempts if a.attributes["http.response.status_code"] == 500) == (
        stats.faults
    )
    for call in calls:
        mine = attempts_of(spans, call)
        assert len(mine) == call.attributes["worksection.attempts"]
        assert [a.attributes.get("http.request.resend_count", 0) for a in mine] == list(
            range(len(mine))
        )
    waited = sum(e.waited for e in telemetry.of(ws.CallEnded))
    assert waited > 0
    assert sum(s.attributes["worksection.quota.wait"] for s in calls) == pytest.approx(waited)

    missing = next(s for s in calls if s.attributes["worksection.page"].endswith("/999999/"))
    assert missing.status.status_code is StatusCode.ERROR
    assert missing.attributes["error.type"] == "InvalidTaskError"
    assert missing.attributes["worksection.error.code"] == 5
    assert missing.attributes["worksection.request_sent"] is True
    broken = calls[-1]
    assert broken.attributes["error.type"] == "ProtocolError"
    assert attempts_of(spans, broken)[0].attributes["error.type"] == "500"
    ok = [s for s in calls if s.status.status_code is StatusCode.UNSET]
    assert len(ok) == 12

    # The map's span is the parent of its twelve calls.
    (bulk,) = calls_named(spans, "map")
    assert bulk.attributes["worksection.bulk.items"] == 12
    assert bulk.attributes["worksection.bulk.calls"] == 12
    assert sum(1 for s in calls if s.parent and s.parent.span_id == bulk.context.span_id) == 12

    # Metrics.
    assert count(data, "http.client.request.duration") == snapshot.calls
    assert count(data, "http.client.request.duration", {"http.response.status_code": 500}) == 1
    assert total(data, "worksection.quota.exceeded") == snapshot.quota_errors
    assert total(data, "worksection.quota.absorbed") == snapshot.retries
    calls_by = "worksection.client.call.duration"
    ok_calls = {"worksection.action": "get_task", "worksection.outcome": "ok"}
    assert count(data, calls_by, ok_calls) == 12
    assert count(data, calls_by, {"error.type": "InvalidTaskError"}) == 1
    assert count(data, calls_by, {"error.type": "ProtocolError"}) == 1
    assert count(data, "worksection.client.call.duration") == 14
    durations = sum(e.elapsed for e in telemetry.of(ws.CallEnded))
    assert total(data, "worksection.client.call.duration") == pytest.approx(durations)
    assert count(data, "worksection.quota.wait") == 14
    assert total(data, "worksection.quota.wait") == pytest.approx(waited)
    pauses = telemetry.of(ws.PauseStarted)
    assert total(data, "worksection.quota.pauses") == len(pauses)
    held, until = 0.0, float("-inf")
    for pause in pauses:
        held += max(0.0, pause.until - max(pause.at, until))
        until = max(until, pause.until)
    assert total(data, "worksection.quota.pause.time") == pytest.approx(held)
    assert held > 0
    # Gauges: read from client.quota at collection (virtual time stood still since).
    assert total(data, "worksection.quota.rate.configured") == snapshot.configured_rate
    assert total(data, "worksection.quota.rate.current") == pytest.approx(snapshot.current_rate)
    assert snapshot.rate_at_last_decrease is not None
    assert total(data, "worksection.quota.rate.plateau") == pytest.approx(
        snapshot.rate_at_last_decrease
    )
    gauge = points(data, "worksection.quota.rate.current")[0][0]
    assert gauge == {"server.address": "fake.worksection.com", "server.port": 443}
    assert fake.internal_errors == []


async def test_attempt_spans_carry_the_http_client_attributes() -> None:
    """Kind CLIENT, the method as name, server, url.full with the hash masked, status."""
    fake = FakeWorksection.populated(projects=1, tasks_per_project=2)
    telemetry = Telemetry()
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        on_event=telemetry,
        clock=ManualClock(),  # the first call goes at once: no wait at all
    ) as client:
        await client.call("get_tasks", page="/project/1000/")
    (call,) = calls_named(telemetry.finished(), "get_tasks")
    (attempt,) = attempts_of(telemetry.finished(), call)
    assert attempt.name == "POST"
    assert dict(attempt.attributes) == {
        "http.request.method": "POST",
        "server.address": "fake.worksection.com",
        "server.port": 443,
        "url.full": "https://fake.worksection.com/api/admin/v2/"
        "?action=get_tasks&page=%2Fproject%2F1000%2F&hash=[redacted]",
        "http.response.status_code": 200,
    }
    assert call.kind is SpanKind.INTERNAL
    assert call.attributes["worksection.request_sent"] is True
    assert call.attributes["worksection.quota.wait"] == 0.0
    assert call.status.status_code is StatusCode.UNSET


async def test_httpx_spans_nest_under_the_attempt() -> None:
    """A span an instrumented transport starts (as OpenTelemetry's httpx instrumentation
    does, from the current context) is a child of the attempt, which is a child of the
    call, which is a child of the caller's span."""
    fake = FakeWorksection.populated(projects=1, tasks_per_project=2)
    telemetry = Telemetry()
    tracer = telemetry.tracer_provider.get_tracer("httpx-like")

    class Instrumented(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            with tracer.start_as_current_span("httpx", kind=SpanKind.CLIENT):
                return await fake.transport.handle_async_request(request)

    async with Client(
        fake.account_url, fake.api_key, transport=Instrumented(), on_event=telemetry
    ) as client:
        with tracer.start_as_current_span("job") as job:
            await client.call("get_projects")
            assert trace.get_current_span() is job  # nothing left attached
    spans = {s.name: s for s in telemetry.finished()}
    assert spans["httpx"].parent.span_id == spans["POST"].context.span_id
    assert spans["POST"].parent.span_id == spans["worksection get_projects"].context.span_id
    assert spans["worksection get_projects"].parent.span_id == spans["job"].context.span_id


async def test_get_many_and_export_have_parent_spans() -> None:
    """get_many and export: one span each, parent of their calls, with their counts;
    their inner maps are part of them (no map span)."""
    fake = FakeWorksection.populated(projects=3, tasks_per_project=4)
    pages = [task.page for task in fake.tasks.values() if task.parent_id is None]
    telemetry = Telemetry()
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        on_event=telemetry,
        rate_limit=None,
    ) as client:
        tasks = await client.tasks.get_many(pages[:6] + pages[-1:])
        exported = [task async for task in client.tasks.export(comments=True)]
        async with contextlib.aclosing(client.tasks.export()) as tasks_:
            async for _ in tasks_:
                break  # an export left early still ends its span
    spans = telemetry.finished()
    assert not calls_named(spans, "map")
    (get_many,) = calls_named(spans, "get_many")
    assert get_many.attributes["worksection.bulk.items"] == len(tasks) == 7
    under = [s for s in spans if s.parent and s.parent.span_id == get_many.context.span_id]
    # Two projects with several pages (get_tasks each), one with a single page.
    assert len(under) == get_many.attributes["worksection.bulk.calls"] == 3
    assert sorted(s.name for s in under) == [
        "worksection get_task",
        "worksection get_tasks",
        "worksection get_tasks",
    ]
    full, early = calls_named(spans, "export")
    assert full.attributes["worksection.bulk.items"] == len(exported)
    under = [s for s in spans if s.parent and s.parent.span_id == full.context.span_id]
    assert len(under) == full.attributes["worksection.bulk.calls"] >= 1
    assert early.attributes["worksection.bulk.items"] == 1
    assert early.status.status_code is StatusCode.UNSET


async def test_a_failing_hook_never_reaches_the_call(caplog: pytest.LogCaptureFixture) -> None:
    """An exception inside the hook is logged; the call still returns."""
    fake = FakeWorksection.populated(projects=1, tasks_per_project=1)
    hook = OpenTelemetryHook()

    def explode(event: object) -> None:
        raise RuntimeError("boom")

    hook._handlers[ws.CallStarted] = explode
    async with Client(fake.account_url, fake.api_key, transport=fake.transport, on_event=hook) as c:
        assert await c.call("get_projects")
    assert "OpenTelemetryHook failed on CallStarted" in caplog.text


GLOBAL_PROVIDERS = """
import anyio
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from worksection_async import Client
from worksection_async.otel import OpenTelemetryHook
from worksection_async.testing import FakeWorksection

hook = OpenTelemetryHook()  # before the providers are set: it follows them
spans = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(spans))
trace.set_tracer_provider(provider)
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))


async def main():
    fake = FakeWorksection.populated(projects=1, tasks_per_project=1)
    async with Client(fake.account_url, fake.api_key, transport=fake.transport, on_event=hook) as c:
        await c.call("get_projects")


anyio.run(main)
names = sorted(s.name for s in spans.get_finished_spans())
data = reader.get_metrics_data()
metric_names = {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}
print(names, "http.client.request.duration" in metric_names)
"""


def test_global_providers_are_used_by_default() -> None:
    """Without providers the hook uses the global ones, even those set after it was
    made (a fresh interpreter: the global providers can be set once)."""
    import subprocess
    import sys

    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", GLOBAL_PROVIDERS],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "['POST', 'worksection get_projects'] True"


def test_metric_names_are_listed() -> None:
    """METRICS names every metric, semantic-convention ones included."""
    assert "http.client.request.duration" in METRICS
    assert all(name.startswith(("worksection.", "http.")) for name in METRICS)
    assert len(set(METRICS)) == len(METRICS)


def exported_text(telemetry: Telemetry) -> Iterator[str]:
    """Everything the exporters would send: every span (name, attributes, events,
    status, links) and every metric data point, as JSON."""
    for span in telemetry.finished():
        yield span.to_json()
    yield telemetry.collect().to_json()


async def test_no_secret_in_any_exported_attribute(autojump: ManualClock) -> None:
    """The API key, every request hash and Authorization credential, OAuth tokens and a
    webhook's password appear in no span, span event or metric."""
    from worksection_async import BearerToken, HmacToken, OAuth2Tokens, QueryHash

    fake = FakeWorksection.populated(projects=1, tasks_per_project=3, clock=autojump, quota="1/2s")
    seen: list[str] = [fake.api_key]

    class Recording(httpx.AsyncBaseTransport):
        """Keeps every credential that goes out."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            params = request.url.params.multi_items()
            seen.extend(v for k, v in params if k in ("hash", "http_pass"))
            auth = request.headers.get("authorization")
            if auth:
                credential = auth.split(" ", 1)[1]
                seen.extend((credential, credential.rsplit("_", 1)[-1]))  # HmacToken: t_mac
            return await fake.transport.handle_async_request(request)

    issued = fake.issue_token()
    seen += [issued.access_token, issued.refresh_token]
    telemetry = Telemetry()
    signers: list[ws.Signer] = [
        ws.PageHash(),
        QueryHash(),
        HmacToken(),
        BearerToken(OAuth2Tokens(access_token=issued.access_token, refresh_token="r")),
    ]
    for signer in signers:
        key = None if isinstance(signer, BearerToken) else fake.api_key
        async with Client(
            fake.account_url,
            key,
            signer=signer,
            transport=Recording(),
            clock=autojump,
            on_event=telemetry,
            rate_limit=RateLimit(rate=4),
        ) as client:
            pages = ["/project/1000/", "/project/1000/100000/", "/project/1000/100001/"]

            async def get(page: str) -> ws.JSONValue:
                action = "get_tasks" if page.count("/") == 3 else "get_task"
                return await client.call(action, page=page)

            await client.map(get, pages * 3)
            with pytest.raises(ws.APIError):
                await client.call("get_task", page="/project/1000/99999/")
            if not isinstance(signer, BearerToken):
                await client.webhooks.add(
                    "https://hooks.example/ws",
                    events=["post_task"],
                    basic_auth=("hook", "webhook-pa55word"),
                )
                seen.append("webhook-pa55word")
    assert fake.stats.rejected_quota >= 1  # error 20 answers were recorded too
    secrets = {s for s in seen if s and len(s) >= 8}
    assert len(secrets) > 10
    text = "\n".join(exported_text(telemetry))
    for secret in secrets:
        assert secret not in text
        assert json.dumps(secret)[1:-1] not in text
    assert "[redacted]" in text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://a.example/api/?action=x&hash=abc",
            "https://a.example/api/?action=x&hash=[redacted]",
        ),
        (
            "https://a.example/api/?HASH=abc&page=%2F",
            "https://a.example/api/?HASH=[redacted]&page=%2F",
        ),
        (
            "https://a.example/api/?action=add_webhook&http_user=u&http_pass=pw&hash=h",
            "https://a.example/api/?action=add_webhook&http_user=u&http_pass=[redacted]"
            "&hash=[redacted]",
        ),
        ("https://a.example/api/oauth2", "https://a.example/api/oauth2"),
        (
            "https://a.example/api/?text=hash%3Dnot-a-param",
            "https://a.example/api/?text=hash%3Dnot-a-param",
        ),
    ],
)
def test_urls_are_masked(url: str, shown: str) -> None:
    """url.full: every hash and http_pass value masked, the rest as sent."""
    from worksection_async._transport import _masked_url

    assert _masked_url(url) == shown


async def test_webhook_deliveries_and_handled_events_are_counted() -> None:
    """A WebhookReceiver with the hook: accepted and refused deliveries, handled,
    failed and repeated events; the counts equal the receiver's own, and the basic-auth
    password is nowhere in the export."""
    from worksection_async.models import Event
    from worksection_async.webhooks import WebhookReceiver

    password = "webhook-s3cret-pa55"

    async def handler(event: Event) -> None:
        if event.object.id == 2:
            raise RuntimeError("the handler broke")

    def comment(n: int) -> dict[str, Any]:
        return {
            "action": "post",
            "object": {"type": "comment", "id": str(n), "page": "/project/1/100/"},
            "date_added": "2024-05-01 10:00",
            "new": {"text": f"comment {n}"},
        }

    telemetry = Telemetry()
    receiver = WebhookReceiver(handler, basic_auth=("hook", password), on_event=telemetry)
    auth = httpx.BasicAuth("hook", password)
    async with (
        receiver,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=receiver), base_url="http://hooks.test"
        ) as http,
    ):
        answers = [
            await http.post("/", content=json.dumps([comment(1), comment(2)]), auth=auth),
            await http.post("/", content=json.dumps([comment(1), comment(3)]), auth=auth),
            await http.post("/", content=json.dumps([comment(4)])),  # no auth: 401
            await http.post("/", content=b"{not json", auth=auth),  # 400
            await http.post("/elsewhere", content=b"[]", auth=auth),  # 404
        ]
        await receiver.join()
    assert [a.status_code for a in answers] == [200, 200, 401, 400, 404]
    data = telemetry.collect()
    deliveries = "worksection.webhook.deliveries"
    assert total(data, deliveries, {"worksection.webhook.outcome": "accepted"}) == 2
    assert receiver.deliveries == 2
    refused = {"worksection.webhook.outcome": "refused"}
    assert total(data, deliveries, refused) == 3
    for status in (401, 400, 404):
        assert total(data, deliveries, {**refused, "http.response.status_code": status}) == 1
    events = "worksection.webhook.events"
    assert total(data, events, {"worksection.webhook.outcome": "handled"}) == receiver.handled == 2
    assert total(data, events, {"worksection.webhook.outcome": "failed"}) == receiver.failed == 1
    repeats = total(data, events, {"worksection.webhook.outcome": "duplicate"})
    assert repeats == receiver.duplicates == 1
    assert password not in "\n".join(exported_text(telemetry))


def test_readme_section_names_every_metric_and_its_examples_compile() -> None:
    """'Observability with OpenTelemetry': every metric in its table, the OTLP and
    Prometheus examples are valid Python (their exporters are not dependencies here)."""
    from .test_readme import python_blocks, section_text

    blocks = python_blocks("Observability with OpenTelemetry")
    assert len(blocks) == 2
    for code in blocks:
        compile(code, "README.md", "exec")
    section = section_text("Observability with OpenTelemetry")
    for name in METRICS:
        assert f"| `{name}` |" in section, name


async def test_a_request_that_never_left_says_so() -> None:
    """A connection refused: the attempt span has no status and names the error, the
    call says no request was sent."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    telemetry = Telemetry()
    async with Client(
        "https://acme.worksection.com",
        "key-0123456789",
        transport=httpx.MockTransport(refuse),
        on_event=telemetry,
    ) as client:
        with pytest.raises(ws.TransportError):
            await client.call("get_projects")
    (call,) = calls_named(telemetry.finished(), "get_projects")
    (attempt,) = attempts_of(telemetry.finished(), call)
    assert call.attributes["worksection.request_sent"] is False
    assert call.attributes["error.type"] == "TransportError"
    assert call.status.status_code is StatusCode.ERROR
    assert "http.response.status_code" not in attempt.attributes
    assert attempt.attributes["error.type"] == "TransportError"
    (ended,) = telemetry.of(ws.CallEnded)
    assert (ended.attempts, ended.sent, ended.error) == (1, False, "TransportError")


def test_no_other_layer_imports_opentelemetry() -> None:
    """Only worksection_async/otel/ mentions opentelemetry in an import."""
    import pathlib

    root = pathlib.Path(ws.__file__).parent
    for path in root.rglob("*.py"):
        if "otel" in path.relative_to(root).parts:
            continue
        source = path.read_text(encoding="utf-8")
        assert "import opentelemetry" not in source, path
        assert "from opentelemetry" not in source, path


def scripted_call(hook: OpenTelemetryHook, page: ws.TaskPage) -> None:
    """The events of one successful call, as the client sends them."""
    hook(CallStarted(action="get_task", page=page, at=1.0))
    hook(RequestPrepared(action="get_task", method="GET", url="https://a.example/api/?hash=***"))
    hook(
        ResponseReceived(action="get_task", page=page, attempt=1, at=1.0, elapsed=0.25, status=200)
    )
    hook(
        CallEnded(
            action="get_task", page=page, at=1.0, elapsed=0.5, attempts=1, waited=0, sent=True
        )
    )


def test_a_request_sent_again_within_an_attempt_gets_its_own_span() -> None:
    """An OAuth2 refresh sends the request again within one attempt: the first
    attempt span ends with no answer, the second (``resend_count`` 1) gets the status;
    both are children of the call's span and the caller's context is back after."""
    telemetry = Telemetry()
    hook, page = telemetry.hook, ws.TaskPage(1, 2)
    before = otel_context.get_current()
    url = "https://a.example/api/?hash=***"
    hook(CallStarted(action="get_task", page=page, at=1.0))
    hook(RequestPrepared(action="get_task", method="GET", url=url))
    hook(RequestPrepared(action="get_task", method="GET", url=url))
    hook(
        ResponseReceived(action="get_task", page=page, attempt=1, at=1.0, elapsed=0.25, status=200)
    )
    hook(
        CallEnded(
            action="get_task", page=page, at=1.0, elapsed=0.5, attempts=1, waited=0, sent=True
        )
    )
    assert otel_context.get_current() == before
    (call,) = calls_named(telemetry.finished(), "get_task")
    first, second = attempts_of(telemetry.finished(), call)
    assert "http.response.status_code" not in first.attributes
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.request.resend_count"] == 1
    assert second.attributes["http.response.status_code"] == 200
    assert first.end_time is not None and second.start_time is not None
    assert first.end_time <= second.start_time


def test_histogram_values_reach_every_collection_and_stay_bounded() -> None:
    """Values held for the next collection are all counted, the ones handed over
    early (past the bound, with no collection in between) as well; none is held
    twice."""
    telemetry = Telemetry()
    page = ws.TaskPage(1, 2)
    for _ in range(10):
        scripted_call(telemetry.hook, page)
    data = telemetry.collect()
    assert count(data, "worksection.client.call.duration") == 10
    for _ in range(1500):  # 4500 values, never collected meanwhile
        scripted_call(telemetry.hook, page)
        assert len(telemetry.hook._held) < 1024
    data = telemetry.collect()
    assert count(data, "worksection.client.call.duration") == 1510
    assert count(data, "http.client.request.duration") == 1510
    assert count(data, "worksection.quota.wait") == 1510
    assert total(data, "worksection.client.call.duration") == pytest.approx(755.0)
    assert not telemetry.hook._held


def test_held_values_keep_the_context_they_were_recorded_in() -> None:
    """Exemplars point at the span that was current when the call ended, though the
    value reached the SDK later, in the collection."""
    telemetry = Telemetry()
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("outer") as outer:
        scripted_call(telemetry.hook, ws.TaskPage(1, 2))
    [(_, point)] = points(telemetry.collect(), "worksection.client.call.duration")
    assert [e.span_id for e in point.exemplars] == [outer.get_span_context().span_id]


async def test_a_closed_clients_values_are_in_the_sdk() -> None:
    """Once the client is closed, its histogram values have reached the SDK, even
    for a reader that never ran the gauges' callbacks."""
    telemetry = Telemetry()
    fake = FakeWorksection.populated(projects=1, tasks_per_project=1)
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, on_event=telemetry.hook
    ) as client:
        await client.call("get_projects")
        assert len(telemetry.hook._held) == 3
    assert not telemetry.hook._held


async def test_a_failing_hand_over_still_reports_the_gauges(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An error while handing held values to the SDK is logged; the collection still
    reads the quota's gauges."""

    class Broken:
        def record(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("broken histogram")

    telemetry = Telemetry()
    fake = FakeWorksection.populated(projects=1, tasks_per_project=1)
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, on_event=telemetry.hook
    ) as client:
        await client.call("get_projects")
        telemetry.hook._held.appendleft((Broken(), 1.0, {}, otel_context.get_current()))  # type: ignore[arg-type]
        data = telemetry.collect()
        assert points(data, "worksection.quota.rate.configured")
    assert "failed to record held values" in caplog.text
