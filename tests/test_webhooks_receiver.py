"""``WebhookReceiver``: answers at once, hands events to the handler in the background."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from worksection_async.models import Event
from worksection_async.testing import ManualClock
from worksection_async.webhooks import WebhookReceiver

pytestmark = pytest.mark.anyio

USER, PASSWORD = "hook-user", "s3cret-Pa55"
LOGGER = "worksection_async.webhooks"


def event(n: int, action: str = "post", **extra: Any) -> dict[str, Any]:
    """A ``post_comment`` event on task 100 of project 1 (comment id ``n``)."""
    return {
        "action": action,
        "object": {"type": "comment", "id": str(n), "page": "/project/1/100/"},
        "date_added": "2024-05-01 10:00",
        "user_from": {"id": "7", "email": "ann@example.com", "name": "Ann"},
        "new": {"text": f"comment {n}"},
        **extra,
    }


def body(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events)).encode()


class Recorder:
    """A handler that records events; ``sleep`` seconds of ``clock`` time each."""

    def __init__(self, clock: ManualClock | None = None, sleep: float = 0.0) -> None:
        self.clock, self.sleep = clock, sleep
        self.started: list[int] = []
        self.finished: list[int] = []
        self.fail_on: set[int] = set()

    async def __call__(self, event: Event) -> None:
        self.started.append(event.object.id)
        if self.sleep and self.clock is not None:
            await self.clock.sleep(self.sleep)
        if event.object.id in self.fail_on:
            raise RuntimeError(f"handler broke on {event.object.id}")
        self.finished.append(event.object.id)


def http_for(app: WebhookReceiver) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hooks.test")


AUTH = httpx.BasicAuth(USER, PASSWORD)


@pytest.fixture
def clock() -> ManualClock:  # type: ignore[override]
    return ManualClock()


async def post(http: httpx.AsyncClient, content: bytes, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("auth", AUTH)
    return await http.post("/", content=content, **kwargs)


async def test_answers_ok_before_a_slow_handler_finishes(clock: ManualClock) -> None:
    """200 {"status":"OK"} at once, with virtual time still at 0, while the handler
    sleeps 30 s; the handler then finishes when time moves."""
    handler = Recorder(clock, sleep=30.0)
    receiver = WebhookReceiver(handler, basic_auth=(USER, PASSWORD), clock=clock)
    async with receiver, http_for(receiver) as http:
        response = await post(http, body(event(1), event(2)))
        assert response.status_code == 200
        assert response.json() == {"status": "OK"}
        assert response.headers["content-type"] == "application/json"
        await anyio.wait_all_tasks_blocked()
        assert clock.now() == 0.0
        assert handler.started == [1] and handler.finished == []
        clock.advance(30.0)
        await anyio.wait_all_tasks_blocked()
        clock.advance(30.0)
        await receiver.join()
    assert handler.finished == [1, 2]
    assert receiver.deliveries == 1 and receiver.handled == 2


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Basic " + base64.b64encode(b"hook-user:wrong").decode()},
        {"authorization": "Basic " + base64.b64encode(b"other:" + PASSWORD.encode()).decode()},
        {"authorization": "Basic !!not-base64!!"},
        {"authorization": "Bearer " + PASSWORD},
    ],
    ids=["missing", "wrong-password", "wrong-user", "garbage", "other-scheme"],
)
async def test_wrong_or_missing_basic_auth_is_401_and_never_logged(
    headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """401 with a Basic challenge; the handler sees nothing; the log has no credentials."""
    handler = Recorder()
    receiver = WebhookReceiver(handler, basic_auth=(USER, PASSWORD))
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with receiver, http_for(receiver) as http:
        response = await http.post("/", content=body(event(1)), headers=headers)
        check = await http.post("/", content=b"", headers=headers)
    assert response.status_code == 401 == check.status_code
    assert response.headers["www-authenticate"].startswith("Basic")
    assert handler.started == []
    assert "missing or wrong basic auth" in caplog.text
    secrets = [PASSWORD, USER, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()]
    secrets += [value.split(" ", 1)[1] for value in headers.values()]
    for secret in secrets:
        assert secret not in caplog.text
    assert PASSWORD not in repr(receiver)


async def test_the_right_credentials_pass() -> None:
    """The pair given as basic_auth is accepted (also for the URL check)."""
    receiver = WebhookReceiver(Recorder(), basic_auth=(USER, PASSWORD))
    async with receiver, http_for(receiver) as http:
        assert (await post(http, b"")).json() == {"status": "OK"}
        assert (await post(http, body(event(1)))).status_code == 200


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'"a string"', b"[1, 2]", b'[{"action": "post"}]', b"\xff\xfe"],
)
async def test_bad_json_is_400_logged_and_the_receiver_goes_on(
    content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """400 with the reason; logged; a valid delivery right after is handled."""
    handler = Recorder()
    receiver = WebhookReceiver(handler)
    async with receiver, http_for(receiver) as http:
        response = await http.post("/", content=content)
        assert response.status_code == 400
        assert response.json()["status"] == "error" and response.json()["message"]
        assert (await http.post("/", content=body(event(5)))).status_code == 200
        await receiver.join()
    assert handler.finished == [5]
    assert "webhook delivery refused" in caplog.text


async def test_a_failing_handler_is_logged_with_the_page_and_the_receiver_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The exception is logged with the event's page; the next events are handled."""
    handler = Recorder()
    handler.fail_on = {2}
    receiver = WebhookReceiver(handler)
    async with receiver, http_for(receiver) as http:
        assert (await http.post("/", content=body(event(1), event(2)))).status_code == 200
        await receiver.join()
        assert (await http.post("/", content=body(event(3)))).status_code == 200
        await receiver.join()
    assert handler.finished == [1, 3]
    assert receiver.failed == 1 and receiver.handled == 2
    [record] = [r for r in caplog.records if r.exc_info]
    assert "post comment /project/1/100/" in record.getMessage()
    assert "handler broke on 2" in caplog.text


async def test_a_repeated_delivery_calls_the_handler_once_per_event(clock: ManualClock) -> None:
    """Redelivered events are skipped within the window; the same key twice in one
    delivery is two events; after the window a repeat is handled again."""
    handler = Recorder()
    receiver = WebhookReceiver(handler, dedup_window=600, clock=clock)
    close = event(9, action="close", new=None)
    close.pop("new")
    async with receiver, http_for(receiver) as http:
        await http.post("/", content=body(event(1), event(2)))
        await http.post("/", content=body(event(1), event(2)))  # Worksection retried
        await http.post("/", content=body(event(2), event(3)))  # overlapping
        await http.post("/", content=body(close, close))  # closed, reopened, closed
        await http.post("/", content=body(close, close))
        await receiver.join()
        assert handler.finished == [1, 2, 3, 9, 9]
        assert receiver.duplicates == 5
        clock.advance(599)
        await http.post("/", content=body(event(1)))
        await receiver.join()
        assert handler.finished == [1, 2, 3, 9, 9]
        clock.advance(601)  # the window counts from the last sighting
        await http.post("/", content=body(event(1)))
        await receiver.join()
    assert handler.finished == [1, 2, 3, 9, 9, 1]


async def test_shutdown_drains_the_queue(clock: ManualClock) -> None:
    """Leaving the receiver waits for queued events (1 s of virtual time each)."""
    handler = Recorder(clock, sleep=1.0)
    receiver = WebhookReceiver(handler, drain_timeout=10, clock=clock)
    async with clock.autojump(), receiver, http_for(receiver) as http:
        response = await http.post("/", content=body(*(event(n) for n in range(5))))
        assert response.status_code == 200
        assert clock.now() == 0.0
    assert handler.finished == [0, 1, 2, 3, 4]
    assert receiver.unhandled == [] and not receiver.running


async def test_shutdown_logs_what_the_drain_timeout_left(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Past drain_timeout the rest is logged, one line per event, and kept in unhandled."""
    handler = Recorder(clock, sleep=100.0)
    receiver = WebhookReceiver(handler, drain_timeout=10, clock=clock)
    async with clock.autojump():
        async with receiver, http_for(receiver) as http:
            await http.post("/", content=body(event(1), event(2), event(3)))
        stopped_at = clock.now()
    assert stopped_at == pytest.approx(10.0)
    assert handler.finished == []
    assert [e.object.id for e in receiver.unhandled] == [1, 2, 3]
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert sum("not handled before shutdown" in line for line in lines) == 3
    assert any("3 event(s) not handled" in line for line in lines)
    await receiver.join()  # nothing is waited for any more


async def test_a_full_queue_answers_503_and_keeps_none_of_the_delivery() -> None:
    """A delivery that does not fit is refused whole: none of its events is kept, so
    Worksection's redelivery is handled once (it used to queue part of it, answer 503,
    and handle the queued part twice)."""
    gate = anyio.Event()
    seen: list[int] = []

    async def handler(event: Event) -> None:
        await gate.wait()
        seen.append(event.object.id)

    receiver = WebhookReceiver(handler, max_queue=2, enqueue_timeout=0, dedup_window=0)
    async with receiver, http_for(receiver) as http:
        assert (await http.post("/", content=body(event(1)))).status_code == 200
        await anyio.wait_all_tasks_blocked()  # 1 is being handled, the queue is empty
        assert (await http.post("/", content=body(event(2)))).status_code == 200
        response = await http.post("/", content=body(event(3), event(4)))
        assert response.status_code == 503 and response.json()["message"] == "queue full"
        assert receiver.queued == 1
        gate.set()
        await receiver.join()
        assert (await http.post("/", content=body(event(3), event(4)))).status_code == 200
        await receiver.join()
    assert seen == [1, 2, 3, 4]


async def test_a_delivery_larger_than_the_queue_fits_an_empty_one() -> None:
    """max_queue bounds what waits, not the size of one delivery."""
    handler = Recorder()
    receiver = WebhookReceiver(handler, max_queue=1, enqueue_timeout=0)
    async with receiver, http_for(receiver) as http:
        assert (await http.post("/", content=body(event(1), event(2), event(3)))).is_success
        await receiver.join()
    assert handler.finished == [1, 2, 3]


async def test_a_full_queue_waits_a_little_for_room(clock: ManualClock) -> None:
    """Within enqueue_timeout a delivery waits for room instead of failing."""
    handler = Recorder(clock, sleep=0.5)
    receiver = WebhookReceiver(handler, max_queue=1, enqueue_timeout=2, clock=clock)
    async with clock.autojump(), receiver, http_for(receiver) as http:
        response = await http.post("/", content=body(event(1), event(2), event(3)))
        assert response.status_code == 200
        assert clock.now() <= 2.0
        await receiver.join()
    assert handler.finished == [1, 2, 3]


async def test_not_running_answers_503_with_a_hint(caplog: pytest.LogCaptureFixture) -> None:
    """Before start (a mount without lifespan) checks and deliveries get 503."""
    receiver = WebhookReceiver(Recorder())
    async with http_for(receiver) as http:
        assert (await http.post("/", content=b"")).status_code == 503
        assert (await http.post("/", content=body(event(1)))).status_code == 503
    assert "lifespan=receiver.lifespan" in caplog.text


async def test_routes_methods_and_sizes() -> None:
    """Other paths 404, other methods 405; GET/HEAD/empty POST are checks; big bodies 413."""
    receiver = WebhookReceiver(Recorder(), path="/hooks/ws", max_body=1000)
    async with receiver, http_for(receiver) as http:
        assert (await http.post("/", content=b"[]")).status_code == 404
        assert (await http.put("/hooks/ws", content=b"[]")).status_code == 405
        assert (await http.get("/hooks/ws")).json() == {"status": "OK"}
        head = await http.head("/hooks/ws")
        assert head.status_code == 200 and head.content == b""
        assert (await http.post("/hooks/ws", content=b"")).json() == {"status": "OK"}
        assert (await http.post("/hooks/ws", content=b"[]")).json() == {"status": "OK"}
        big = await http.post("/hooks/ws", content=body(*(event(n) for n in range(40))))
        assert big.status_code == 413


@asynccontextmanager
async def lifespan_of(app: Any) -> AsyncIterator[None]:
    """Run an ASGI app's lifespan as a server would: startup, then shutdown on exit."""
    to_app, app_inbox = anyio.create_memory_object_stream[dict[str, Any]](10)
    app_outbox, from_app = anyio.create_memory_object_stream[dict[str, Any]](10)

    async def send(message: Any) -> None:
        await app_outbox.send(dict(message))

    async with to_app, app_inbox, app_outbox, from_app, anyio.create_task_group() as tg:
        tg.start_soon(app, {"type": "lifespan", "state": {}}, app_inbox.receive, send)
        await to_app.send({"type": "lifespan.startup"})
        assert (await from_app.receive())["type"] == "lifespan.startup.complete"
        yield
        await to_app.send({"type": "lifespan.shutdown"})
        assert (await from_app.receive())["type"] == "lifespan.shutdown.complete"


async def test_the_asgi_lifespan_starts_and_stops_it() -> None:
    """lifespan.startup starts the workers; lifespan.shutdown drains and stops them."""
    handler = Recorder()
    receiver = WebhookReceiver(handler)
    async with lifespan_of(receiver):
        assert receiver.running
        async with http_for(receiver) as http:
            assert (await http.post("/", content=body(event(1)))).status_code == 200
    assert handler.finished == [1] and not receiver.running


async def test_mounted_in_starlette_with_its_lifespan() -> None:
    """Mounted under /hooks with lifespan=receiver.lifespan: deliveries reach the handler."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    handler = Recorder()
    receiver = WebhookReceiver(handler, basic_auth=(USER, PASSWORD))
    app = Starlette(routes=[Mount("/hooks", app=receiver)], lifespan=receiver.lifespan)
    transport = httpx.ASGITransport(app=app)
    async with (
        lifespan_of(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        response = await http.post("/hooks/", content=body(event(1), event(2)), auth=AUTH)
        assert response.json() == {"status": "OK"}
        assert (await http.post("/hooks/", content=b"[]")).status_code == 401
        assert (await http.post("/elsewhere", content=b"[]", auth=AUTH)).status_code == 404
    assert handler.finished == [1, 2]


async def test_starting_twice_fails_and_a_stopped_receiver_restarts() -> None:
    """start() on a running receiver is an error; after stop() it can start again."""
    handler = Recorder()
    receiver = WebhookReceiver(handler)
    async with receiver:
        with pytest.raises(RuntimeError, match="already running"):
            await receiver.start()
    await receiver.stop()  # stopping a stopped receiver does nothing
    async with receiver, http_for(receiver) as http:
        await http.post("/", content=body(event(1)))
        await receiver.join()
    assert handler.finished == [1]


async def test_cancelling_the_host_logs_the_events_left() -> None:
    """When the task holding the receiver is cancelled, the interrupted and queued
    events end in ``unhandled``, not in silence."""
    gate = anyio.Event()

    async def handler(event: Event) -> None:
        await gate.wait()

    receiver = WebhookReceiver(handler, drain_timeout=0)
    with anyio.CancelScope() as scope:
        async with receiver, http_for(receiver) as http:
            await http.post("/", content=body(event(1), event(2)))
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
            await anyio.sleep_forever()
    assert [e.object.id for e in receiver.unhandled] == [1, 2]


async def test_concurrency_runs_handlers_side_by_side(clock: ManualClock) -> None:
    """concurrency=3 handles three slow events in the time of one."""
    handler = Recorder(clock, sleep=10.0)
    receiver = WebhookReceiver(handler, concurrency=3, clock=clock)
    async with clock.autojump(), receiver, http_for(receiver) as http:
        await http.post("/", content=body(event(1), event(2), event(3)))
        await receiver.join()
        assert clock.now() == pytest.approx(10.0)
    assert sorted(handler.finished) == [1, 2, 3]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"basic_auth": ("a:b", "c")}, ValueError),
        ({"basic_auth": ("", "c")}, ValueError),
        ({"basic_auth": ("a", "")}, ValueError),
        ({"basic_auth": "a:b"}, TypeError),
        ({"path": "hooks"}, ValueError),
        ({"max_queue": 0}, ValueError),
        ({"concurrency": True}, ValueError),
        ({"dedup_window": -1}, ValueError),
        ({"drain_timeout": "10"}, TypeError),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, Any], error: type[Exception]) -> None:
    """Each bad argument raises a typed error naming it."""
    with pytest.raises(error):
        WebhookReceiver(Recorder(), **kwargs)


def test_handler_must_be_callable() -> None:
    """A non-callable handler is a TypeError."""
    not_callable: Callable[..., Any] = None  # type: ignore[assignment]
    with pytest.raises(TypeError, match="handler"):
        WebhookReceiver(not_callable)


def task_event(action: str, minute: str = "10:00") -> dict[str, Any]:
    return {
        "action": action,
        "object": {"type": "task", "id": "100", "page": "/project/1/100/"},
        "date_added": f"2024-05-01 {minute}",
        "user_from": {"id": "7", "email": "ann@example.com", "name": "Ann"},
    }


async def test_close_reopen_close_within_a_minute_are_three_events(clock: ManualClock) -> None:
    """One delivery each, same minute, same person: the second close is a real event
    (something happened to the task in between), never taken for a repeat; a delivery
    sent again right after is one."""
    seen: list[str] = []

    async def handler(event: Event) -> None:
        seen.append(event.action)

    receiver = WebhookReceiver(handler, clock=clock)
    async with receiver, http_for(receiver) as http:
        for action in ("close", "reopen", "close"):
            assert (await http.post("/", content=body(task_event(action)))).is_success
        await http.post("/", content=body(task_event("close")))  # sent again
        await receiver.join()
    assert seen == ["close", "reopen", "close"]
    assert receiver.duplicates == 1


@pytest.mark.parametrize(
    "raw",
    [
        b'[{"action":"post","object":{"type":"task","id":"1"},"date_added":"2024-05-01 10:00",'
        b'"new":{"max_money":1e999999}}]',
        b'[{"action":"post","object":{"type":"task","id":"1"},"date_added":"2024-05-01 10:00",'
        b'"new":{"text":"\\ud800"}}]',
        b'[{"action":"post","object":{"type":"task","id":"1"},"date_added":"2024-05-01 10:00",'
        b'"new":{"text":"\xed\xa0\x80"}}]',
    ],
    ids=["infinity", "escaped-lone-surrogate", "raw-lone-surrogate"],
)
async def test_infinite_numbers_and_lone_surrogates_are_400(raw: bytes) -> None:
    """The rules the client applies elsewhere: ``1e999999`` is not a number it keeps,
    a lone surrogate is not text; the delivery is refused, nothing reaches the handler."""
    handler = Recorder()
    receiver = WebhookReceiver(handler)
    async with receiver, http_for(receiver) as http:
        response = await http.post("/", content=raw)
        await receiver.join()
    assert response.status_code == 400
    assert "not JSON this parser accepts" in response.json()["message"]
    assert handler.started == []
