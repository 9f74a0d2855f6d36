"""``events.watch()`` against hostile answers and clocks: what a fault campaign found."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
import respx

from tests.conftest import ACCOUNT, API_KEY, ok
from worksection_async import Client
from worksection_async.models import Event
from worksection_async.testing import ManualClock

pytestmark = pytest.mark.anyio

T0 = 1_700_000_000.0


def row(n: int, date: str, action: str = "post") -> dict[str, Any]:
    return {
        "action": action,
        "object": {"type": "comment", "id": str(n), "page": "/project/1/2/"},
        "date_added": date,
        "user_from": {"id": "7", "email": "a@b.co", "name": "A"},
        "new": {"text": f"c{n}"},
    }


class Server:
    """A scripted ``get_events``: ``answer(period)`` gives the rows of each poll."""

    def __init__(self, answer: Callable[[str], list[dict[str, Any]] | httpx.Response]) -> None:
        self.answer = answer
        self.periods: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        period = request.url.params["period"]
        self.periods.append(period)
        result = self.answer(period)
        return result if isinstance(result, httpx.Response) else ok(result)


def client_for(server: Server, clock: ManualClock, wall: Callable[[], float]) -> Client:
    router = respx.MockRouter(base_url=ACCOUNT, assert_all_called=False)
    router.post(params__contains={"action": "get_events"}).mock(side_effect=server)
    return Client(
        ACCOUNT,
        API_KEY,
        transport=httpx.MockTransport(router.async_handler),
        clock=clock,
        wall_clock=wall,
        rate_limit=None,
    )


async def take(watch: Any, count: int, clock: ManualClock, within: float) -> list[Event]:
    """Up to ``count`` events, or what came within ``within`` virtual seconds."""
    got: list[Event] = []
    with anyio.move_on_after(5):  # a real-time guard only
        async with anyio.create_task_group() as tg:

            async def consume() -> None:
                async for event in watch:
                    got.append(event)
                    if len(got) == count:
                        break
                tg.cancel_scope.cancel()

            async def give_up() -> None:
                await clock.sleep(within)
                tg.cancel_scope.cancel()

            tg.start_soon(consume)
            tg.start_soon(give_up)
    return got


def minute(base_hour: int, n: int) -> str:
    hours, minutes = divmod(n, 60)
    return f"2024-05-01 {base_hour + hours:02d}:{minutes:02d}"


async def test_a_future_dated_event_does_not_silence_the_watch() -> None:
    """One event dated 2031 stays in every answer; the 20 real ones after it still come."""
    clock = ManualClock()
    future = row(999, "2031-01-01 00:00")
    polls = 0

    def answer(period: str) -> list[dict[str, Any]]:
        nonlocal polls
        polls += 1
        # Poll k (k >= 2) holds the future event and real events 1..k-1, newest first.
        real = [row(n, minute(10, n)) for n in range(1, min(polls, 21))]
        return [future, *reversed(real)] if polls > 1 else []

    async with clock.autojump(), client_for(Server(answer), clock, lambda: T0 + clock.now()) as c:
        got = await take(c.events.watch(every=60), 21, clock, 40 * 60)
    ids = [e.object.id for e in got]
    assert sorted(ids) == sorted([999, *range(1, 21)])
    assert len(ids) == len(set(ids))


async def test_server_dates_stepping_back_an_hour_lose_nothing() -> None:
    """30 events dated an hour before the ones seen already (DST fall-back) all come."""
    clock = ManualClock()
    polls = 0
    before = [row(n, minute(11, n)) for n in range(1, 6)]  # 11:01..11:05

    def answer(period: str) -> list[dict[str, Any]]:
        nonlocal polls
        polls += 1
        if polls == 1:
            return []
        if polls == 2:
            return before[::-1]
        # the server's clock went back to 10:06: new events are dated 10:06, 10:07...
        after = [row(100 + n, minute(10, 6 + n)) for n in range(min(polls - 2, 30))]
        return [*after[::-1], *before[::-1]]

    async with clock.autojump(), client_for(Server(answer), clock, lambda: T0 + clock.now()) as c:
        got = await take(c.events.watch(every=60), 35, clock, 60 * 60)
    ids = [e.object.id for e in got]
    assert ids == [*range(1, 6), *range(100, 130)]


async def test_a_host_suspend_is_covered_by_the_next_window() -> None:
    """The monotonic clock stops while the host sleeps an hour; the wall clock does
    not: the next poll's window covers the hour."""
    clock = ManualClock()
    asleep = 0.0
    server = Server(lambda period: [])

    async with clock.autojump(), client_for(server, clock, lambda: T0 + clock.now() + asleep) as c:
        watch = c.events.watch(every=60)
        await take(watch, 1, clock, 90)  # two polls
        asleep = 3600.0  # the lid was closed for an hour
        await take(watch, 1, clock, 60)
    assert server.periods[:2] == ["2m", "3m"]
    last = server.periods[-1]
    assert last.endswith("m") and int(last[:-1]) >= 63, server.periods


async def test_a_malformed_event_is_a_failed_poll_not_the_end() -> None:
    """An answer with an event that cannot be structured is retried like a 5xx."""
    clock = ManualClock()
    answers = iter([[], [{"action": "post", "date_added": "soon"}], [row(1, "2024-05-01 10:00")]])
    async with (
        clock.autojump(),
        client_for(Server(lambda period: next(answers)), clock, lambda: T0 + clock.now()) as c,
    ):
        watch = c.events.watch(every=60)
        got = await take(watch, 1, clock, 600)
    assert [e.object.id for e in got] == [1]
    assert watch.failed_polls == 1


async def test_a_row_repeated_inside_one_answer_is_yielded_once() -> None:
    """The same row twice in a row of one answer is one event; a close, a reopen and a
    close (same key, not adjacent) are three."""
    clock = ManualClock()
    close = row(5, "2024-05-01 10:01", action="close")
    reopen = row(5, "2024-05-01 10:01", action="reopen")
    answers = iter([[], [row(1, "2024-05-01 10:00"), row(1, "2024-05-01 10:00")]])

    def answer(period: str) -> list[dict[str, Any]]:
        try:
            return next(answers)
        except StopIteration:
            return [close, reopen, close, row(1, "2024-05-01 10:00")]

    async with clock.autojump(), client_for(Server(answer), clock, lambda: T0 + clock.now()) as c:
        got = await take(c.events.watch(every=60), 10, clock, 600)
    assert [(e.action, e.object.id) for e in got] == [
        ("post", 1),
        ("close", 5),
        ("reopen", 5),
        ("close", 5),
    ]
