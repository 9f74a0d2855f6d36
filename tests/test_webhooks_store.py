"""``WebhookReceiver(store=...)``: a 200 only for events kept; a restart handles them."""

from __future__ import annotations

import gc
import json
import logging
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.shared._redis import RedisServer
from worksection_async.models import Event
from worksection_async.webhooks import (
    EventStore,
    EventStoreError,
    WebhookReceiver,
    parse_webhook,
)

pytestmark = pytest.mark.anyio


def event(n: int, action: str = "post") -> dict[str, Any]:
    return {
        "action": action,
        "object": {"type": "comment", "id": str(n), "page": "/project/1/100/"},
        "date_added": "2024-05-01 10:00",
        "user_from": {"id": "7", "email": "ann@example.com", "name": "Ann"},
        "new": {"text": f"comment {n}"},
    }


def body(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events)).encode()


def http_for(app: WebhookReceiver) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hooks.test")


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/events.db"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    server = RedisServer()
    server.start()
    yield server.url
    server.close()


@pytest.fixture(params=["sqlite", "redis"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A durable store's URL: a SQLite file, or a Redis (keys of this test only)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
def open_store(shared_url: str) -> Any:
    key = f"test-{uuid.uuid4().hex}"
    return lambda: EventStore.from_url(shared_url, key=key)


async def test_what_a_stopped_receiver_left_is_handled_first_by_the_next(open_store: Any) -> None:
    """Events answered 200 whose handler never ran (the drain gave up) stay in the
    store; a new receiver on the same file handles them, oldest first, before new ones."""
    gate = anyio.Event()
    first: list[int] = []

    async def stuck(event: Event) -> None:
        await gate.wait()
        first.append(event.object.id)

    store = open_store()
    receiver = WebhookReceiver(stuck, store=store, drain_timeout=0.2)
    async with receiver, http_for(receiver) as http:
        for n in range(1, 6):
            assert (await http.post("/", content=body(event(n)))).status_code == 200
    assert first == [] and receiver.unhandled == []
    async with store:
        assert await store.pending() == 5

    second: list[int] = []

    async def record(event: Event) -> None:
        second.append(event.object.id)

    store = open_store()
    receiver = WebhookReceiver(record, store=store)
    async with store, receiver, http_for(receiver) as http:
        await receiver.join()
        assert (await http.post("/", content=body(event(6)))).status_code == 200
        await receiver.join()
        assert await store.pending() == 0
    assert second == [1, 2, 3, 4, 5, 6]


async def test_a_repeat_is_recognised_across_a_restart(open_store: Any) -> None:
    """The objects' recent history is in the store too: a delivery sent again after a
    restart is not handled twice; a close after a reopen is."""
    seen: list[tuple[str, int]] = []

    async def record(event: Event) -> None:
        seen.append((event.action, event.object.id))

    for deliveries in ([event(1)], [event(1)], [event(1, "update")]):
        store = open_store()
        receiver = WebhookReceiver(record, store=store)
        async with store, receiver, http_for(receiver) as http:
            assert (await http.post("/", content=body(*deliveries))).status_code == 200
            await receiver.join()
    assert seen == [("post", 1), ("update", 1)]


async def test_a_full_disk_answers_503_and_keeps_nothing(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    """When SQLite cannot write (here: the database may not grow, as on a full disk)
    the delivery is refused with 503, never 200, and nothing of it reaches the handler."""
    seen: list[int] = []

    async def record(event: Event) -> None:
        seen.append(event.object.id)

    store = EventStore.from_url(db)
    receiver = WebhookReceiver(record, store=store)
    async with store, receiver, http_for(receiver) as http:
        assert (await http.post("/", content=body(event(1)))).status_code == 200
        await receiver.join()
        connection = store._connect()  # type: ignore[attr-defined]
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")
        big = [event(n) | {"new": {"text": "x" * 2000}} for n in range(2, 40)]
        response = await http.post("/", content=body(*big))
        assert response.status_code == 503
        assert response.json()["message"] == "event store unavailable"
        assert await store.pending() == 0
        connection.execute("PRAGMA max_page_count = 1073741823")
        assert (await http.post("/", content=body(*big))).status_code == 200
        await receiver.join()
    assert seen == [1, *range(2, 40)]
    assert "cannot keep it" in caplog.text and "full" in caplog.text


async def test_an_unwritable_store_answers_503(tmp_path: Path) -> None:
    """A store whose file cannot be opened for writing refuses deliveries with 503."""
    (tmp_path / "dir").mkdir()
    store = EventStore.from_url(f"sqlite:///{tmp_path}/dir")  # a directory, not a file
    with pytest.raises(EventStoreError):
        await store.pending()

    async def never(event: Event) -> None:
        raise AssertionError("not reached")

    receiver = WebhookReceiver(never, store=EventStore.from_url(f"sqlite:///{tmp_path}/dir"))
    with pytest.raises(EventStoreError):
        await receiver.start()


async def test_a_dead_workers_event_is_taken_again_after_its_lease(db: str) -> None:
    """An event held by a process that died (its lease not renewed) goes to another
    worker once the lease runs out; ``attempts`` says it is a second try."""
    now = [1000.0]
    store = EventStore.from_url(db, wall_clock=lambda: now[0])
    async with store:
        events = parse_webhook(body(event(1)))
        raw = json.loads(body(event(1)))
        await store.accept(list(zip(raw, events, strict=True)), dedup_window=600)
        held = await store.take("dead", lease=30)
        assert held is not None and held.attempts == 1
        assert await store.take("alive", lease=30) is None
        now[0] += 31
        again = await store.take("alive", lease=30)
        assert again is not None and again.seq == held.seq and again.attempts == 2
        await store.done(again.seq)
        assert await store.pending() == 0


def test_from_url_refuses_what_it_does_not_know() -> None:
    """Unknown schemes and URLs without a path are ValueErrors naming the problem."""
    for url in ("postgres://x/y", "events.db", "sqlite://"):
        with pytest.raises(ValueError, match=r"store|sqlite"):
            EventStore.from_url(url)
    with pytest.raises(TypeError):
        EventStore.from_url(42)  # type: ignore[arg-type]


async def test_without_a_store_the_receiver_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """The default store is memory: not durable, and what a stop leaves is logged."""
    caplog.set_level(logging.ERROR)

    async def record(event: Event) -> None:
        await anyio.sleep(10)

    receiver = WebhookReceiver(record, drain_timeout=0)
    assert receiver.store.durable is False
    async with receiver, http_for(receiver) as http:
        await http.post("/", content=body(event(1)))
    assert [e.object.id for e in receiver.unhandled] == [1]


async def test_two_replicas_share_one_store(open_store: Any) -> None:
    """Two receivers on one store (replicas behind a load balancer): deliveries split
    between them, each sent again to the other replica, are all handled once."""
    seen: list[tuple[str, int]] = []

    async def record(event: Event) -> None:
        await anyio.sleep(0.001)
        seen.append((event.action, event.object.id))

    a, b = open_store(), open_store()
    one = WebhookReceiver(record, store=a, concurrency=2)
    two = WebhookReceiver(record, store=b, concurrency=2)
    async with one, two, http_for(one) as to_one, http_for(two) as to_two:
        for n in range(40):
            first, second = (to_one, to_two) if n % 2 else (to_two, to_one)
            assert (await first.post("/", content=body(event(n)))).status_code == 200
            assert (await second.post("/", content=body(event(n)))).status_code == 200
        with anyio.fail_after(10):
            await one.join()
            await two.join()
    assert sorted(seen) == [("post", n) for n in range(40)]
    assert one.duplicates + two.duplicates == 40
    assert one.handled + two.handled == 40


async def test_cursors_round_trip(open_store: Any) -> None:
    """A watch cursor: since, finished counts, and keys forgotten by time."""
    store = open_store()
    async with store:
        assert await store.load_cursor("bot") is None
        await store.save_cursor("bot", 100.0, ["k1"], now=100.0, forget_before=0.0)
        await store.save_cursor("bot", 150.5, ["k1", "k2"], now=200.0, forget_before=0.0)
        cursor = await store.load_cursor("bot")
        assert cursor is not None
        assert cursor.since == 150.5 and dict(cursor.finished) == {"k1": 2, "k2": 1}
        await store.save_cursor("bot", 300.0, ["k3"], now=300.0, forget_before=250.0)
        cursor = await store.load_cursor("bot")
        assert cursor is not None and dict(cursor.finished) == {"k3": 1}
        assert await store.load_cursor("other") is None


async def test_a_redis_lease_runs_out_on_the_servers_clock(redis_url: str) -> None:
    """An event held by a worker that died is taken again after its lease (server TIME)."""
    store = EventStore.from_url(redis_url, key=f"test-{uuid.uuid4().hex}")
    async with store:
        raw = json.loads(body(event(1)))
        await store.accept(
            list(zip(raw, parse_webhook(body(event(1))), strict=True)), dedup_window=60
        )
        held = await store.take("dead", lease=0.3)
        assert held is not None and await store.take("alive", lease=5) is None
        await anyio.sleep(0.4)
        again = await store.take("alive", lease=5)
        assert again is not None and again.seq == held.seq and again.attempts == 2
        assert (await store.take("alive", lease=5, done=again.seq)) is None
        assert await store.pending() == 0


@pytest.fixture(autouse=True)
def coredis_failed_connections() -> Iterator[None]:
    """coredis 6.9 leaves the memory streams of a connection whose connect fails
    unclosed (as in tests/shared/conftest.py): ignore that one warning here, collect."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unclosed <MemoryObject", ResourceWarning)
        yield
        gc.collect()


async def test_a_redis_store_that_is_down_answers_503(tmp_path: Path) -> None:
    """No Redis at the address: the receiver does not start; once started, a Redis that
    goes away makes deliveries 503, never 200."""
    server = RedisServer()
    server.start()
    store = EventStore.from_url(server.url, key=f"test-{uuid.uuid4().hex}")
    seen: list[int] = []

    async def record(event: Event) -> None:
        seen.append(event.object.id)

    receiver = WebhookReceiver(record, store=store)
    try:
        async with receiver, http_for(receiver) as http:
            assert (await http.post("/", content=body(event(1)))).status_code == 200
            await receiver.join()
            server.stop()
            response = await http.post("/", content=body(event(2)))
            assert response.status_code == 503
    finally:
        server.close()
    assert seen == [1]


async def test_backfill_and_ensure_run_once_and_stop_with_the_receiver(db: str) -> None:
    """With a client: the hook is created, the first start notes the time, a second
    start backfills what happened while it was down, and stopping does not wait on
    the background work (it used to hang on the periodic note)."""
    from worksection_async import Client
    from worksection_async.testing import FakeWorksection

    fake = FakeWorksection(quota=None)
    task = fake.add_task(fake.add_project("P"), "T")
    url = "https://hooks.example.com/ws"
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(str((event.new or {}).get("text")))

    async with Client(fake.account_url, fake.api_key, transport=fake.transport) as client:
        for round_ in range(2):
            receiver = WebhookReceiver(
                record,
                store=EventStore.from_url(db),
                client=client,
                ensure_hook=url,
                backfill=True,
            )
            with anyio.fail_after(10):
                async with receiver:
                    while receiver.hook is None or not receiver.backfill_done:  # noqa: ASYNC110
                        await anyio.sleep(0.01)
                    await receiver.join()
            if round_ == 0:
                assert receiver.hook.action == "created"
                fake.call("post_comment", page=task.page, text="while down")
            else:
                assert receiver.hook.action == "kept" and receiver.backfilled == 1
    assert seen == ["while down"]
