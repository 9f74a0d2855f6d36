"""``WebhookReceiver(store=...)``: a 200 only for events kept; a restart handles them."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

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


async def test_what_a_stopped_receiver_left_is_handled_first_by_the_next(db: str) -> None:
    """Events answered 200 whose handler never ran (the drain gave up) stay in the
    store; a new receiver on the same file handles them, oldest first, before new ones."""
    gate = anyio.Event()
    first: list[int] = []

    async def stuck(event: Event) -> None:
        await gate.wait()
        first.append(event.object.id)

    store = EventStore.from_url(db)
    receiver = WebhookReceiver(stuck, store=store, drain_timeout=0.2)
    async with receiver, http_for(receiver) as http:
        for n in range(1, 6):
            assert (await http.post("/", content=body(event(n)))).status_code == 200
    assert first == [] and receiver.unhandled == []
    assert await store.pending() == 5
    await store.aclose()

    second: list[int] = []

    async def record(event: Event) -> None:
        second.append(event.object.id)

    store = EventStore.from_url(db)
    receiver = WebhookReceiver(record, store=store)
    async with store, receiver, http_for(receiver) as http:
        await receiver.join()
        assert (await http.post("/", content=body(event(6)))).status_code == 200
        await receiver.join()
        assert await store.pending() == 0
    assert second == [1, 2, 3, 4, 5, 6]


async def test_a_repeat_is_recognised_across_a_restart(db: str) -> None:
    """The objects' recent history is in the store too: a delivery sent again after a
    restart is not handled twice; a close after a reopen is."""
    seen: list[tuple[str, int]] = []

    async def record(event: Event) -> None:
        seen.append((event.action, event.object.id))

    for deliveries in ([event(1)], [event(1)], [event(1, "update")]):
        store = EventStore.from_url(db)
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
