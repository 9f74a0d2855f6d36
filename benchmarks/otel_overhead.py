"""What ``OpenTelemetryHook`` adds to a call, next to the same client without it.

Both clients send ``get_task`` to ``httpx.MockTransport`` (no I/O: the client's own work
shows most), with the quota on (a rate far above what the loop reaches, so it never
waits) and the default retry policy. The instrumented one has everything the hook does:
a span per call and per attempt, the HTTP client attributes with ``url.full`` masked,
every metric, with the SDK installed: a ``TracerProvider`` with a ``BatchSpanProcessor``
and an ``InMemorySpanExporter`` (cleared between rounds), a ``MeterProvider`` with an
``InMemoryMetricReader`` (collected at the end of each round, gauges included).

Rounds alternate the sides (so drift hits all alike); a third side passes a hook that
does nothing, to show what the client's own events cost, and a fifth the same
``OpenTelemetryHook`` on the API's no-op providers (no SDK): the hook's own work, with
every span and metric call a no-op. Every call is timed on its
own; the figure is the median call, in wall time. The mean is printed too: it carries
the batch processor's exports, which run in a thread now and then, and the histogram
values the hook hands to the SDK when it holds too many (a service's periodic reader
takes them at each collection, in its own thread; here the reader collects once a
round). Target: the median call at most 0.1 ms (100 us) slower with the hook.

A fourth side makes only the call's two spans, as the hook does, and nothing else
(no metric, no bookkeeping): the SDK's span work where it runs, in the call path,
where it costs about twice what it does in a tight loop (other code has evicted the
SDK's from the caches between two events).

Then the SDK's own floor, in a tight loop on the same providers: the two spans a call
makes (a call span and a CLIENT span under it, the same attributes, the attempt span
current while it is open), and the three histogram values of a call recorded with
attribute dicts made once. No hook can make the SDK do less; the note says how close
to that the hook comes.

    python benchmarks/otel_overhead.py [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from worksection_async import (
    CallEnded,
    CallStarted,
    Client,
    RateLimit,
    RequestPrepared,
    ResponseReceived,
    TaskPage,
)
from worksection_async.otel import OpenTelemetryHook

BODY = json.dumps(
    {
        "status": "ok",
        "data": {
            "id": "331894",
            "name": "Development",
            "page": "/project/8562/331894/",
            "status": "active",
            "priority": "7",
            "text": "Business logic programming",
            "date_added": "2021-01-07 10:01",
        },
    }
).encode()
ACCOUNT = "https://acme.worksection.com"
KEY = "bench-key"
PAGE = TaskPage(8562, 331894)
TARGET_US = 100.0
URL_SHOWN = f"{ACCOUNT}/api/admin/v2/?action=get_task&id_task=331894&hash=[redacted]"


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})


class Telemetry:
    """The SDK as a service would set it up, exporting to memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(BatchSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.hook = OpenTelemetryHook(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def end_round(self) -> int:
        """Flush and clear the spans, collect the metrics; the spans of the round."""
        self.tracer_provider.force_flush()
        spans = len(self.exporter.get_finished_spans())
        self.exporter.clear()
        self.reader.get_metrics_data()
        return spans

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def ignore(event: object) -> None:
    """A hook that does nothing: the client still builds every event for it."""


class SpansOnly:
    """A hook that makes the two spans of a call as the real one does (the same
    attributes, the attempt current while the request is out) and nothing else: the
    SDK's span work in the call path, with no metric and no bookkeeping."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.tracer = telemetry.tracer_provider.get_tracer("spans-only")
        self.call: trace.Span | None = None
        self.attempt: trace.Span | None = None
        self.token: object = None

    def __call__(self, event: object) -> None:
        attributes: dict[str, Any]
        if isinstance(event, CallStarted):
            attributes = {
                "worksection.action": event.action,
                "worksection.page": PAGE.path,
            }
            self.call = self.tracer.start_span("worksection get_task", attributes=attributes)
        elif isinstance(event, RequestPrepared):
            attributes = {
                "http.request.method": event.method,
                "url.full": event.url,
                "server.address": "acme.worksection.com",
                "server.port": 443,
            }
            self.attempt = self.tracer.start_span(
                event.method,
                context=trace.set_span_in_context(self.call),  # type: ignore[arg-type]
                kind=trace.SpanKind.CLIENT,
                attributes=attributes,
            )
            self.token = otel_context.attach(trace.set_span_in_context(self.attempt))
        elif isinstance(event, ResponseReceived) and self.attempt is not None:
            self.attempt.set_attribute("http.response.status_code", event.status or 0)
            self.attempt.end()
            otel_context.detach(self.token)  # type: ignore[arg-type]
        elif isinstance(event, CallEnded) and self.call is not None:
            ended = {
                "worksection.attempts": event.attempts,
                "worksection.quota.wait": event.waited,
                "worksection.request_sent": event.sent,
            }
            self.call.set_attributes(ended)
            self.call.end()


def floor(telemetry: Telemetry, loops: int) -> tuple[float, float]:
    """Median microseconds the SDK itself takes for a call's two spans, and for its
    three histogram values, in a tight loop."""
    tracer = telemetry.tracer_provider.get_tracer("floor")
    meter = telemetry.meter_provider.get_meter("floor")
    durations = [meter.create_histogram(f"floor.{name}", unit="s") for name in "abc"]
    call_attributes = {"worksection.action": "get_task", "worksection.page": PAGE.path}
    attempt_attributes: dict[str, Any] = {
        "http.request.method": "GET",
        "url.full": URL_SHOWN,
        "server.address": "acme.worksection.com",
        "server.port": 443,
    }
    ended = {
        "worksection.attempts": 1,
        "worksection.quota.wait": 0.0,
        "worksection.request_sent": True,
    }
    values: list[dict[str, Any]] = [
        {
            "http.request.method": "GET",
            "server.address": "acme.worksection.com",
            "server.port": 443,
            "http.response.status_code": 200,
        },
        {"worksection.action": "get_task", "worksection.outcome": "ok"},
        {"worksection.action": "get_task"},
    ]

    def spans() -> None:
        call = tracer.start_span("worksection get_task", attributes=call_attributes)
        attempt = tracer.start_span(
            "GET",
            context=trace.set_span_in_context(call),
            kind=trace.SpanKind.CLIENT,
            attributes=attempt_attributes,
        )
        token = otel_context.attach(trace.set_span_in_context(attempt))
        attempt.set_attribute("http.response.status_code", 200)
        attempt.end()
        otel_context.detach(token)
        call.set_attributes(ended)
        call.end()

    def histograms() -> None:
        for histogram, attributes in zip(durations, values, strict=True):
            histogram.record(0.0002, attributes)

    medians = []
    for work in (spans, histograms):
        times = []
        for _ in range(loops):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        medians.append(statistics.median(times) * 1e6)
        telemetry.end_round()
    return medians[0], medians[1]


async def run(
    calls: int, telemetry: Telemetry | None, hook: Callable[[object], None] | None = None
) -> tuple[list[float], float]:
    """Seconds of each of ``calls`` calls, and this process's CPU seconds for them all
    (the batch processor's thread included)."""
    if telemetry is not None:
        hook = telemetry.hook
    async with Client(
        ACCOUNT,
        KEY,
        transport=httpx.MockTransport(handler),
        rate_limit=RateLimit(rate=1_000_000),
        on_event=hook,
    ) as client:
        await client.call("get_task", page=PAGE)  # warm up outside the timing
        times = []
        cpu = time.process_time()
        for _ in range(calls):
            started = time.perf_counter()
            await client.call("get_task", page=PAGE)
            times.append(time.perf_counter() - started)
        if telemetry is not None:
            telemetry.tracer_provider.force_flush()  # the export's CPU counts too
        return times, time.process_time() - cpu


async def main(calls: int, rounds: int) -> None:
    telemetry = Telemetry()
    plain: list[float] = []
    traced: list[float] = []
    ignored: list[float] = []
    spans_only: list[float] = []
    no_sdk: list[float] = []
    only = SpansOnly(telemetry)
    no_op = OpenTelemetryHook(
        tracer_provider=trace.NoOpTracerProvider(), meter_provider=metrics.NoOpMeterProvider()
    )
    cpu = {"plain": 0.0, "traced": 0.0}
    spans = 0
    await run(200, None)  # warm up every path
    await run(200, None, ignore)
    await run(200, None, only)
    await run(200, None, no_op)
    await run(200, telemetry)
    telemetry.end_round()
    for _ in range(rounds):
        times, seconds = await run(calls, None)
        plain += times
        cpu["plain"] += seconds
        ignored += (await run(calls, None, ignore))[0]
        spans_only += (await run(calls, None, only))[0]
        no_sdk += (await run(calls, None, no_op))[0]
        telemetry.end_round()
        times, seconds = await run(calls, telemetry)
        traced += times
        cpu["traced"] += seconds
        spans += telemetry.end_round()
    floor_spans, floor_histograms = floor(telemetry, rounds * calls)
    telemetry.shutdown()
    median_plain, median_traced = statistics.median(plain), statistics.median(traced)
    median_ignored = statistics.median(ignored)
    median_only = statistics.median(spans_only)
    mean_plain, mean_traced = statistics.fmean(plain), statistics.fmean(traced)
    added = (median_traced - median_plain) * 1e6
    print(
        f"otel overhead: {rounds} rounds x {calls} calls on MockTransport, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"  spans exported: {spans} ({spans / (rounds * calls):.1f} per call)")
    print("  us per call                         median      mean")
    rows = (
        ("without the hook", plain),
        ("a hook doing nothing", ignored),
        ("a hook making only the two spans", spans_only),
        ("OpenTelemetryHook without the SDK", no_sdk),
        ("with OpenTelemetryHook", traced),
    )
    for label, times in rows:
        print(
            f"  {label:33} {statistics.median(times) * 1e6:7.1f} "
            f"{statistics.fmean(times) * 1e6:9.1f}"
        )
    print(
        f"  added: {added:.1f} us per call (median; target <= {TARGET_US:.0f} us), "
        f"ratio {median_traced / median_plain:.2f} "
        f"(mean: +{(mean_traced - mean_plain) * 1e6:.1f} us, "
        f"ratio {mean_traced / mean_plain:.2f})"
    )
    cpu_plain, cpu_traced = (cpu[side] / (rounds * calls) * 1e6 for side in ("plain", "traced"))
    print(
        f"  CPU per call: {cpu_plain:.1f} us without, {cpu_traced:.1f} us with "
        f"(+{cpu_traced - cpu_plain:.1f} us, ratio {cpu_traced / cpu_plain:.2f})"
    )
    print(
        f"  the SDK's floor (tight loop, median): two spans {floor_spans:.1f} us, "
        f"three histogram values {floor_histograms:.1f} us, "
        f"together {floor_spans + floor_histograms:.1f} us"
    )
    print(
        f"  in the call path (median, over no hook): the client's events "
        f"+{(median_ignored - median_plain) * 1e6:.1f} us, the two spans alone "
        f"+{(median_only - median_plain) * 1e6:.1f} us, the hook +{added:.1f} us "
        f"({(median_traced - median_only) * 1e6:+.1f} us over the spans alone); "
        f"the hook without the SDK +{(statistics.median(no_sdk) - median_plain) * 1e6:.1f} us"
    )
    print(f"  load average at the end {os.getloadavg()[0]:.2f}")
    print(f"  {'OK' if added <= TARGET_US else 'OVER TARGET'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    anyio.run(main, arguments.calls, arguments.rounds)
