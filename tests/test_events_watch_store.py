"""``events.watch(store=..., name=...)``: a restarted watch resumes where its consumer was."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anyio
import pytest

from worksection_async import Client
from worksection_async.models import Event
from worksection_async.testing import FakeWorksection, ManualClock
from worksection_async.webhooks import EventStore

pytestmark = pytest.mark.anyio

T0 = 1_700_000_000.0


def fake_on(clock: ManualClock, **kwargs: Any) -> FakeWorksection:
    return FakeWorksection(clock=clock, wall_clock=lambda: T0 + clock.now(), **kwargs)


def client_of(fake: FakeWorksection, clock: ManualClock) -> Client:
    return Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=clock,
        wall_clock=lambda: T0 + clock.now(),
    )


def text_of(event: Event) -> str:
    return str((event.new or {}).get("text"))


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/events.db"


def virtual(store: EventStore) -> EventStore:
    """On virtual time the SQLite store runs on the loop: the clock cannot see a thread."""
    if hasattr(store, "_offload"):
        store._offload = False
    return store


async def test_killed_five_times_during_500_events_nothing_skipped(store_url: str) -> None:
    """The consumer is killed (cancelled while handling an event, nothing saved on the
    way out) and started again 5 times, once after 40 minutes down: every one of 500
    events is yielded, none is skipped, repeats are at most one per kill."""
    clock = ManualClock()
    fake = fake_on(clock, seed=3)
    tasks = [fake.add_task(fake.add_project("P"), f"T{i}") for i in range(3)]
    rng = random.Random(7)
    times = sorted(rng.uniform(5, 3 * 3600) for _ in range(500))
    kills = {80, 170, 260, 350, 430}  # after this many events handled in total
    store = virtual(EventStore.from_url(store_url, wall_clock=lambda: T0 + clock.now()))
    handled: list[str] = []
    downs = 0

    async def produce() -> None:
        for n, at in enumerate(times):
            await clock.sleep(max(0.0, at - clock.now()))
            fake.call("post_comment", page=tasks[n % 3].page, text=f"c{n}")

    async def run_once(client: Client) -> bool:
        """Consume until killed; True when all 500 were seen."""
        async for event in client.events.watch(every=60, store=store, name="bot"):
            handled.append(text_of(event))
            if len(handled) in kills:
                return False  # killed while handling: the event is not finished
            if len({*handled}) == 500:
                return True
            await clock.sleep(0.2)
        return True

    async with (
        clock.autojump(),
        client_of(fake, clock) as client,
        store,
        anyio.create_task_group() as tg,
    ):

        async def consume() -> None:
            nonlocal downs
            while not await run_once(client):
                downs += 1
                await clock.sleep(2400 if downs == 3 else 30)  # down for a while
            tg.cancel_scope.cancel()

        async def give_up() -> None:
            await clock.sleep(5 * 3600)
            tg.cancel_scope.cancel()

        tg.start_soon(produce)
        tg.start_soon(consume)
        tg.start_soon(give_up)
    assert downs == 5, (len(handled), clock.now(), len(fake.events))
    expected = [f"c{n}" for n in range(500)]
    assert sorted(set(handled)) == sorted(expected)
    assert len(handled) - 500 <= 5
    first_time = list(dict.fromkeys(handled))
    assert first_time == expected  # in order


async def test_a_new_name_starts_now_and_names_are_separate(tmp_path: Path) -> None:
    """A name never saved starts like any watch; two names keep two positions."""
    clock = ManualClock()
    fake = fake_on(clock)
    task = fake.add_task(fake.add_project("P"), "T")
    store = virtual(
        EventStore.from_url(f"sqlite:///{tmp_path}/e.db", wall_clock=lambda: T0 + clock.now())
    )
    fake.call("post_comment", page=task.page, text="old")
    clock.advance(600)
    async with clock.autojump(), client_of(fake, clock) as client, store:
        a = client.events.watch(every=10, store=store, name="a")
        b = client.events.watch(every=10, store=store, name="b", start="30m")
        assert text_of(await b.__anext__()) == "old"
        async with anyio.create_task_group() as tg:

            async def later() -> None:
                await clock.sleep(15)
                fake.call("post_comment", page=task.page, text="new")

            tg.start_soon(later)
            assert text_of(await a.__anext__()) == "new"
        assert text_of(await b.__anext__()) == "new"
        cursor_a = await store.load_cursor("a")
        assert cursor_a is not None and dict(cursor_a.finished) == {}  # "new" is in hand
        cursor_b = await store.load_cursor("b")
        assert cursor_b is not None and sum(cursor_b.finished.values()) == 1  # "old"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "bot"}, TypeError),
        ({"store": "sqlite:///x.db", "name": "bot"}, TypeError),
        ({"store": EventStore.from_url("memory://")}, ValueError),
        ({"store": EventStore.from_url("memory://"), "name": " "}, ValueError),
    ],
)
def test_store_and_name_go_together(kwargs: dict[str, Any], error: type[Exception]) -> None:
    """A name without a store, a store without a name, a blank name: typed errors."""
    client = Client("https://acme.worksection.com", "k" * 32)
    with pytest.raises(error):
        client.events.watch(**kwargs)


async def test_killed_before_its_first_event_it_misses_nothing() -> None:
    """A watch that polled but yielded nothing, then died: its successor yields what
    happened in between, though start="now" would skip it without a store."""
    clock = ManualClock()
    fake = fake_on(clock)
    task = fake.add_task(fake.add_project("P"), "T")
    store = EventStore.from_url("memory://", wall_clock=lambda: T0 + clock.now())
    async with clock.autojump(), client_of(fake, clock) as client:
        first = client.events.watch(every=10, store=store, name="bot")
        with anyio.move_on_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(first.__anext__)
                await clock.sleep(25)  # three empty polls
                tg.cancel_scope.cancel()
        await clock.sleep(300)
        fake.call("post_comment", page=task.page, text="while down")
        await clock.sleep(300)
        second = client.events.watch(every=10, store=store, name="bot")
        assert text_of(await second.__anext__()) == "while down"
