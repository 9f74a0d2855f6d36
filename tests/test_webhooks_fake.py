"""The fake delivers webhooks: URL check on add_webhook, deliveries, failures, and end to end."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.to_thread
import pytest

from worksection_async import Client, InvalidEmailError, TaskPage, TransportError
from worksection_async.models import Event
from worksection_async.testing import FakeWorksection, Fault, ManualClock
from worksection_async.webhooks import WebhookReceiver

pytestmark = pytest.mark.anyio

HOOK_URL = "https://bot.example.com/hooks/"
AUTH = ("hook", "s3cret")
FOUR = ["post_task", "update_task", "post_comment", "close_task"]


class Seen:
    """A handler recording ``(action, type, page)`` of each event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, object]] = []
        self.raw: list[Event] = []
        self.done = threading.Event()
        self.expected = 0

    async def __call__(self, event: Event) -> None:
        self.raw.append(event)
        self.events.append((event.action, event.object.type, event.object.page))
        if self.expected and len(self.events) >= self.expected:
            self.done.set()


class ScriptedApp:
    """An ASGI app answering each POST from a script of (status, body)."""

    def __init__(self, *answers: tuple[int, bytes], sleep: float = 0.0, clock: Any = None) -> None:
        self.answers = list(answers)
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.sleep, self.clock = sleep, clock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        self.bodies.append(b"".join(chunks))
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        if self.sleep:
            await self.clock.sleep(self.sleep)
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})


OK = (200, b'{"status":"OK"}')


@pytest.fixture
def fake() -> FakeWorksection:
    fake = FakeWorksection()
    fake.add_project("Website")
    return fake


@pytest.fixture
async def client(fake: FakeWorksection) -> AsyncIterator[Client]:
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
    ) as c:
        yield c


async def change_a_task(client: Client, fake: FakeWorksection) -> TaskPage:
    """Create, update, comment on and close a task through the client."""
    project = next(iter(fake.projects.values()))
    task = await client.project(project.id).post_task("Ship v2")
    await client.task(task).update(title="Ship v2.0")
    await client.task(task).post_comment("Almost there")
    await client.task(task).complete()
    assert isinstance(task.page, TaskPage)
    return task.page


async def test_in_process_end_to_end(fake: FakeWorksection, client: Client) -> None:
    """A receiver routed in-process sees exactly the four changes, in order."""
    seen = Seen()
    receiver = WebhookReceiver(seen, basic_auth=AUTH, path="/hooks/")
    fake.webhook_delivery.route(HOOK_URL, receiver)
    async with receiver:
        await client.webhooks.add(HOOK_URL, FOUR, basic_auth=AUTH)
        page = await change_a_task(client, fake)
        await receiver.join()
    assert seen.events == [
        ("post", "task", page),
        ("update", "task", page),
        ("post", "comment", page),
        ("close", "task", page),
    ]
    assert seen.raw[1].new == {"title": "Ship v2.0"} and seen.raw[1].old == {"title": "Ship v2"}
    assert [d.events for d in fake.webhook_delivery.log] == [0, 1, 1, 1, 1]
    assert all(d.ok for d in fake.webhook_delivery.log)


@contextmanager
def serve_on_loopback(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a thread (lifespan on)."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


async def test_over_http_end_to_end(fake: FakeWorksection, client: Client) -> None:
    """A receiver served by uvicorn on loopback (lifespan on) sees the four changes in order."""
    seen = Seen()
    seen.expected = 4
    receiver = WebhookReceiver(seen, basic_auth=AUTH, path="/hooks/")
    with serve_on_loopback(receiver) as base:
        fake.webhook_delivery.allow_http(base)
        await client.webhooks.add(f"{base}/hooks/", FOUR, basic_auth=AUTH)
        page = await change_a_task(client, fake)
        assert await anyio.to_thread.run_sync(seen.done.wait, 10)
    assert seen.events == [
        ("post", "task", page),
        ("update", "task", page),
        ("post", "comment", page),
        ("close", "task", page),
    ]
    assert [d.status for d in fake.webhook_delivery.log] == [200] * 5


async def test_add_webhook_checks_the_url_answers_ok(fake: FakeWorksection, client: Client) -> None:
    """The check POSTs [] with the hook's basic auth; anything but 200 {"status":"OK"}
    is error 11 and no hook is created."""
    good = ScriptedApp(OK)
    fake.webhook_delivery.route("https://good.example.com/", good)
    hook_id = await client.webhooks.add(
        "https://good.example.com/h", ["post_task"], basic_auth=AUTH
    )
    assert hook_id in fake.webhooks
    assert good.bodies == [b"[]"]
    assert good.headers[0]["authorization"].startswith("Basic ")
    for answer in [
        (500, b'{"status":"OK"}'),
        (200, b'{"status":"error"}'),
        (200, b"OK"),
        (404, b""),
    ]:
        fake.webhook_delivery.route("https://bad.example.com/", ScriptedApp(answer))
        with pytest.raises(InvalidEmailError) as refused:
            await client.webhooks.add("https://bad.example.com/h", ["post_task"])
        assert refused.value.code == 11 and refused.value.details == "https://bad.example.com/h"
    assert list(fake.webhooks) == [hook_id]
    assert [d.ok for d in fake.webhook_delivery.log if d.check] == [
        True,
        False,
        False,
        False,
        False,
    ]


async def test_unrouted_urls_are_left_alone(fake: FakeWorksection, client: Client) -> None:
    """Without a route the fake neither checks nor delivers (no network)."""
    fake.webhook_delivery.route("https://other.example.com/", ScriptedApp(OK))
    await client.webhooks.add("https://h.example.com/x", ["post_task"])
    await change_a_task(client, fake)
    assert fake.webhook_delivery.log == []


async def test_only_subscribed_events_of_chosen_projects_are_sent(
    fake: FakeWorksection, client: Client
) -> None:
    """A hook gets only the events it subscribed to, of its projects, as JSON arrays."""
    other = fake.add_project("Other")
    app = ScriptedApp(OK)
    fake.webhook_delivery.route(HOOK_URL, app)
    await client.webhooks.add(HOOK_URL, ["post_comment"], projects=[other.id])
    await change_a_task(client, fake)  # in the first project: nothing
    task = await client.project(other.id).post_task("Elsewhere")
    await client.task(task).post_comment("Here")
    payloads = [json.loads(b) for b in app.bodies[1:]]
    assert len(payloads) == 1
    [[item]] = payloads
    assert item["action"] == "post" and item["object"]["type"] == "comment"
    assert item["new"] == {"text": "Here"}
    assert "authorization" not in app.headers[1]


async def test_ten_failures_pause_the_hook(fake: FakeWorksection, client: Client) -> None:
    """Each failed delivery counts; the tenth pauses the hook, which then gets nothing."""
    app = ScriptedApp(OK, (500, b"oops"))
    fake.webhook_delivery.route(HOOK_URL, app)
    hook_id = await client.webhooks.add(HOOK_URL, ["post_comment"])
    page = (await client.project(next(iter(fake.projects))).post_task("T")).page
    for n in range(12):
        await client.task(page).post_comment(f"c{n}")
    assert fake.webhook_delivery.failures[hook_id] == 10
    assert fake.webhooks[hook_id].status == "paused"
    assert len(app.bodies) == 1 + 10
    (hook,) = await client.webhooks.list()
    assert hook.status == "paused"


async def test_a_slow_receiver_times_out_after_5_s_of_the_fakes_clock() -> None:
    """A receiver answering after 10 s fails at 5 s of virtual time."""
    clock = ManualClock()
    fake = FakeWorksection(clock=clock)
    project = fake.add_project("P")
    app = ScriptedApp(OK, sleep=10.0, clock=clock)
    fake.webhook_delivery.route(HOOK_URL, app)
    fake.add_webhook(HOOK_URL, ["post_task"])
    async with (
        clock.autojump(),
        Client(
            fake.account_url, fake.api_key, transport=fake.transport, clock=clock, rate_limit=None
        ) as client,
    ):
        await client.project(project.id).post_task("T")
        assert clock.now() == pytest.approx(5.0)
    [delivery] = fake.webhook_delivery.log
    assert not delivery.ok and delivery.status is None and "5s" in (delivery.error or "")


async def test_direct_calls_are_delivered_on_flush(fake: FakeWorksection) -> None:
    """Events recorded by fake.call(...) go out with flush(); seeded hooks get them."""
    app = ScriptedApp(OK)
    fake.webhook_delivery.route(HOOK_URL, app)
    fake.add_webhook(HOOK_URL, ["post_task", "post_comment"])
    project = next(iter(fake.projects.values()))
    fake.call("post_task", page=project.page, title="Seeded")
    assert app.bodies == []
    assert await fake.webhook_delivery.flush() == 1
    [[item]] = [json.loads(b) for b in app.bodies]
    assert item["new"]["title"] == "Seeded"
    assert await fake.webhook_delivery.flush() == 0


async def test_a_receiver_that_raises_is_a_failed_delivery(
    fake: FakeWorksection, client: Client
) -> None:
    """An in-process app that raises counts as a failure; the API call still succeeds."""

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    fake.webhook_delivery.route(HOOK_URL, broken)
    hook = fake.add_webhook(HOOK_URL, ["post_task"])
    await client.project(next(iter(fake.projects))).post_task("T")
    assert fake.webhook_delivery.failures[hook.id] == 1
    assert "raised RuntimeError" in (fake.webhook_delivery.log[0].error or "")


def test_routes_need_http_urls(fake: FakeWorksection) -> None:
    """route/allow_http refuse anything but an http(s) URL prefix; the longest wins."""
    with pytest.raises(ValueError, match="http"):
        fake.webhook_delivery.allow_http("127.0.0.1:8000")
    app = ScriptedApp(OK)
    fake.webhook_delivery.allow_http("https://a.example.com/")
    fake.webhook_delivery.route("https://a.example.com/in/", app)
    assert fake.webhook_delivery.target("https://a.example.com/in/x") is app
    assert fake.webhook_delivery.target("https://a.example.com/x") == "http"
    assert fake.webhook_delivery.target("https://b.example.com/") is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"basic_auth": ("u", "p"), "http_user": "u"}, ValueError, "not both"),
        ({"basic_auth": ("u:x", "p")}, ValueError, "':'"),
        ({"basic_auth": ("", "p")}, ValueError, "empty"),
        ({"basic_auth": ["u", "p"]}, TypeError, "tuple"),
    ],
)
async def test_webhooks_add_basic_auth_is_checked_before_sending(
    fake: FakeWorksection,
    client: Client,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    """Bad basic_auth raises before any request."""
    with pytest.raises(error, match=match):
        await client.webhooks.add(HOOK_URL, ["post_task"], **kwargs)
    assert fake.stats.requests == 0


async def test_webhooks_add_basic_auth_registers_the_pair(
    fake: FakeWorksection, client: Client
) -> None:
    """basic_auth=(user, password) becomes http_user/http_pass."""
    hook_id = await client.webhooks.add(HOOK_URL, ["post_task"], basic_auth=AUTH)
    assert (fake.webhooks[hook_id].http_user, fake.webhooks[hook_id].http_pass) == AUTH


async def test_readme_receiver_runs_against_the_fake(
    fake: FakeWorksection, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    """README 'Bots and services': the ten-line receiver gets the fake's deliveries."""
    from tests.test_readme import python_blocks

    receiver_block, watch_block = python_blocks("Bots and services")
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile(receiver_block, "README.md", "exec"), namespace)  # noqa: S102
    app: WebhookReceiver = namespace["app"]
    assert "async for event in client.events.watch(" in watch_block
    fake.webhook_delivery.route("https://bot.example.com/", app)
    async with app:
        await client.webhooks.add(
            "https://bot.example.com/", ["post_task", "close_task"], basic_auth=("hook", "s3cret")
        )
        project = next(iter(fake.projects.values()))
        task = await client.project(project.id).post_task("From the README")
        await client.task(task).complete()
        await app.join()
    lines = capsys.readouterr().out.splitlines()
    user_to = fake.call("get_task", page=task.page.path)["data"]["user_to"]  # type: ignore[index]
    assert lines == [
        f"post task {task.page} {{'title': 'From the README', 'user_to': {user_to!r}}}",
        f"close task {task.page} None",
    ]


async def test_a_change_applied_before_a_dropped_connection_is_still_delivered(
    fake: FakeWorksection,
) -> None:
    """The service made the change, so the hook hears of it even if the caller did not."""
    app = ScriptedApp(OK)
    fake.webhook_delivery.route(HOOK_URL, app)
    fake.add_webhook(HOOK_URL, ["post_task"])
    fake.faults.add(Fault.drop_after_applying(), action="post_task")
    project = next(iter(fake.projects.values()))
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None, retry=None
    ) as client:
        with pytest.raises(TransportError):
            await client.project(project.id).post_task("Sent, answer lost")
    [[item]] = [json.loads(b) for b in app.bodies]
    assert item["action"] == "post" and item["new"]["title"] == "Sent, answer lost"


async def test_ensure_creates_keeps_and_recreates(fake: FakeWorksection, client: Client) -> None:
    """ensure: created when missing, kept when as wanted, re-created (delete + add)
    when paused or different; extra hooks with the URL go."""
    url = "https://bot.example.com/hook"
    created = await client.webhooks.ensure(url, FOUR, basic_auth=AUTH)
    assert created.action == "created" and created.found == ()
    kept = await client.webhooks.ensure(url, list(reversed(FOUR)), basic_auth=AUTH)
    assert kept.action == "kept" and kept.id == created.id
    fake.webhooks[created.id].status = "paused"
    again = await client.webhooks.ensure(url, FOUR, basic_auth=AUTH)
    assert again.action == "recreated" and "paused" in again.reason
    assert again.id != created.id and [h.id for h in again.found] == [created.id]
    assert [(h.id, h.status) for h in await client.webhooks.list() if h.url == url] == [
        (again.id, "active")
    ]
    project = fake.add_project("Only")
    narrowed = await client.webhooks.ensure(url, FOUR[:2], projects=[project.id])
    assert narrowed.action == "recreated"
    assert "events" in narrowed.reason and "projects" in narrowed.reason
    fake.add_webhook(url, FOUR[:2], projects=[project.id])
    deduped = await client.webhooks.ensure(url, FOUR[:2], projects=[project.id])
    assert deduped.action == "recreated" and "2 hooks" in deduped.reason
    assert len([h for h in await client.webhooks.list() if h.url == url]) == 1


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("ftp://x/", ["post_task"]), ValueError),
        (("https://x/", []), ValueError),
        (("https://x/", ["explode"]), ValueError),
    ],
)
async def test_ensure_refuses_bad_arguments_before_any_request(
    fake: FakeWorksection, client: Client, args: tuple[Any, ...], error: type[Exception]
) -> None:
    """A bad URL or event list: a typed error, and no request sent."""
    before = fake.stats.requests
    with pytest.raises(error):
        await client.webhooks.ensure(*args)
    assert fake.stats.requests == before
