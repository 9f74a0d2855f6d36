"""``client.events.watch()``: every new event once, oldest first, across failing polls."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
import respx

from tests.conftest import ACCOUNT, API_KEY, error, ok
from worksection_async import Client, EventWatch, InvalidHashError, ProjectPage
from worksection_async.models import Event
from worksection_async.resources._events import WATCH_OVERLAP, covering_period
from worksection_async.testing import FakeWorksection, Fault, ManualClock

pytestmark = pytest.mark.anyio

T0 = 1_700_000_000.0


def fake_on(clock: ManualClock, **kwargs: Any) -> FakeWorksection:
    """A fake whose wall clock follows the virtual clock."""
    return FakeWorksection(clock=clock, wall_clock=lambda: T0 + clock.now(), **kwargs)


def client_of(fake: FakeWorksection, clock: ManualClock, **kwargs: Any) -> Client:
    return Client(fake.account_url, fake.api_key, transport=fake.transport, clock=clock, **kwargs)


def label(event: Event) -> tuple[str, str, int, str]:
    """What tells events apart in these tests."""
    return (event.action, event.object.type, event.object.id, str((event.new or {}).get("text")))


def fake_label(fake: FakeWorksection, index: int) -> tuple[str, str, int, str]:
    e = fake.events[index]
    return (e.action, e.object_type, e.object_id, str((e.new or {}).get("text")))


async def test_500_events_over_two_hours_with_failing_polls_each_once_in_order() -> None:
    """500 changes spread over 2 virtual hours, a third of the polls failing (5xx,
    dropped connections, truncated JSON) and a 1/s quota: each event is yielded
    exactly once, in the order it happened; closes and reopens of one task inside one
    minute (same key) are all there."""
    clock = ManualClock()
    fake = fake_on(clock, quota="1/s", seed=5)
    project = fake.add_project("P")
    tasks = [fake.add_task(project, f"T{i}") for i in range(5)]
    flapper = fake.add_task(project, "Flapper")
    fake.faults.add(Fault.http_error(502), action="get_events", probability=0.2, times=None)
    fake.faults.add(Fault.drop_connection(), action="get_events", probability=0.1, times=None)
    fake.faults.add(Fault.truncated_json(), action="get_events", probability=0.05, times=None)
    rng = random.Random(12)
    times = sorted(rng.uniform(5, 7200) for _ in range(490))
    burst_at = 3000.0

    async def produce() -> None:
        burst_done = False
        for n, at in enumerate(times):
            if not burst_done and at > burst_at:
                await clock.sleep(burst_at - clock.now())
                for action in ["complete_task", "reopen_task"] * 5:  # 10 events, one minute
                    assert fake.call(action, page=flapper.page)["status"] == "ok"
                    await clock.sleep(1)
                burst_done = True
            await clock.sleep(max(0.0, at - clock.now()))
            task = tasks[n % 5]
            if n % 7 == 0:
                fake.call("update_task", page=task.page, title=f"{task.name} #{n}")
            else:
                fake.call("post_comment", page=task.page, text=f"comment {n}")

    got: list[Event] = []
    finished_at = float("inf")
    async with clock.autojump(), client_of(fake, clock) as client:
        watch = client.events.watch(every=60)
        async with anyio.create_task_group() as tg:

            async def consume() -> None:
                nonlocal finished_at
                async for event in watch:
                    got.append(event)
                    if len(got) == 500:
                        break
                finished_at = clock.now()
                tg.cancel_scope.cancel()

            async def give_up() -> None:  # a missed event fails the test, never hangs it
                await clock.sleep(7200 + 600)
                tg.cancel_scope.cancel()

            tg.start_soon(produce)
            tg.start_soon(consume)
            tg.start_soon(give_up)
        assert finished_at < 7200 + 3 * 60  # at most a few polls after the last event
        assert fake.stats.rejected_quota == 0  # the polls went through the client's quota
    assert len(fake.events) == 500
    assert [label(e) for e in got] == [fake_label(fake, i) for i in range(500)]
    assert watch.failed_polls > 10 and watch.polls >= 100
    # Keys are forgotten WATCH_REMEMBER (an hour and 4 minutes) after they left the
    # answers: memory holds about the last hour's events (~250 here), not all 500.
    assert len(watch._seen) < 300


async def test_cancelling_leaves_nothing_running() -> None:
    """Cancelled mid-wait, the watch sends nothing more and the client is idle."""
    clock = ManualClock()
    fake = fake_on(clock)
    project = fake.add_project("P")
    task = fake.add_task(project, "T")
    got: list[Event] = []
    async with clock.autojump(), client_of(fake, clock) as client:

        async def watch_forever() -> None:
            async for event in client.events.watch(every=30):
                got.append(event)

        with anyio.move_on_after(5):  # real-time guard only; virtual time decides
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch_forever)
                await clock.sleep(100)
                fake.call("post_comment", page=task.page, text="one")
                await clock.sleep(100)
                tg.cancel_scope.cancel()
        requests = fake.stats.requests
        assert requests >= 7 and [label(e)[3] for e in got] == ["one"]
        await clock.sleep(3600)
        assert fake.stats.requests == requests
        assert client.quota.in_flight == 0 and client.quota.waiting == 0


async def test_breaking_out_leaves_nothing_running() -> None:
    """After ``break`` no poll is sent, however long the program goes on."""
    clock = ManualClock()
    fake = fake_on(clock)
    task = fake.add_task(fake.add_project("P"), "T")
    async with clock.autojump(), client_of(fake, clock) as client:
        watch = client.events.watch(every=10)
        async with anyio.create_task_group() as tg:

            async def comment_later() -> None:
                await clock.sleep(15)
                fake.call("post_comment", page=task.page, text="hello")

            tg.start_soon(comment_later)
            async for _event in watch:
                break
        requests = fake.stats.requests
        await clock.sleep(600)
        assert fake.stats.requests == requests
        await watch.aclose()
        with pytest.raises(StopAsyncIteration):
            await watch.__anext__()


async def test_start_now_skips_the_past_and_a_period_includes_it() -> None:
    """start="now" yields only what comes after; start="30m" also the last 30 minutes."""
    clock = ManualClock(start=10_000)
    fake = fake_on(clock)
    task = fake.add_task(fake.add_project("P"), "T")
    fake.call("post_comment", page=task.page, text="an hour ago")
    clock.advance(2400)
    fake.call("post_comment", page=task.page, text="20 minutes ago")
    clock.advance(1200)
    async with clock.autojump(), client_of(fake, clock) as client:
        async with client.events.watch(start="30m", every=5) as recent:
            first = await recent.__anext__()
        assert label(first)[3] == "20 minutes ago"
        async with client.events.watch(every=5) as new:
            fake.call("post_comment", page=task.page, text="before the first poll")
            await clock.sleep(1)
            async with anyio.create_task_group() as tg:

                async def later() -> None:
                    await clock.sleep(20)
                    fake.call("post_comment", page=task.page, text="now")

                tg.start_soon(later)
                # The first poll happens on the first __anext__: the comment above is
                # from before it, so it is not yielded.
                nxt = await new.__anext__()
        assert label(nxt)[3] == "now"


async def test_a_project_watch_sees_only_that_project() -> None:
    """project= limits the polls (and the events) to one project."""
    clock = ManualClock()
    fake = fake_on(clock)
    mine, other = fake.add_project("Mine"), fake.add_project("Other")
    in_mine, in_other = fake.add_task(mine, "A"), fake.add_task(other, "B")
    async with clock.autojump(), client_of(fake, clock) as client:
        watch = client.events.watch(project=mine.id, every=10)
        async with watch, anyio.create_task_group() as tg:

            async def comment() -> None:
                await clock.sleep(5)
                fake.call("post_comment", page=in_other.page, text="other")
                fake.call("post_comment", page=in_mine.page, text="mine")

            tg.start_soon(comment)
            event = await watch.__anext__()
        assert label(event)[3] == "mine"
        assert watch.project == ProjectPage(mine.id)


# -- against scripted answers (respx) ----------------------------------------------------


def answer_event(n: int, minute: str) -> dict[str, Any]:
    return {
        "action": "post",
        "object": {"type": "comment", "id": str(n), "page": "/project/1/2/"},
        "date_added": f"2024-05-01 {minute}",
        "user_from": {"id": "7", "email": "a@b.co", "name": "A"},
        "new": {"text": f"c{n}"},
    }


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[respx.MockRouter, Client, ManualClock]]:
    clock = ManualClock()
    router = respx.MockRouter(base_url=ACCOUNT, assert_all_called=False)
    async with Client(
        ACCOUNT,
        API_KEY,
        transport=httpx.MockTransport(router.async_handler),
        clock=clock,
        rate_limit=None,
    ) as client:
        yield router, client, clock


async def test_newest_first_answers_are_yielded_oldest_first(
    scripted: tuple[respx.MockRouter, Client, ManualClock],
) -> None:
    """An answer listed newest first comes out oldest first, same-minute order kept."""
    router, client, clock = scripted
    batch = [answer_event(3, "10:02"), answer_event(2, "10:01"), answer_event(1, "10:01")]
    router.post(params__contains={"action": "get_events"}).mock(
        side_effect=[ok([]), ok(batch), ok(batch)]
    )
    async with clock.autojump():
        watch = client.events.watch(every=10)
        got = [await watch.__anext__() for _ in range(3)]
    assert [e.object.id for e in got] == [1, 2, 3]


async def test_failed_polls_widen_the_next_window(
    scripted: tuple[respx.MockRouter, Client, ManualClock], caplog: pytest.LogCaptureFixture
) -> None:
    """After failures the next successful poll reaches back past the last good one;
    retries come after 1, 2, 4... s; each failure is logged."""
    router, client, clock = scripted
    periods: list[tuple[float, str]] = []
    answers = iter(
        [ok([]), httpx.Response(502, text="<html>bad gateway</html>")]
        + [httpx.Response(503, text="<html>down</html>")] * 6
        + [ok([answer_event(1, "10:00")])]
    )

    def respond(request: httpx.Request) -> httpx.Response:
        periods.append((clock.now(), request.url.params["period"]))
        return next(answers)

    router.post(params__contains={"action": "get_events"}).mock(side_effect=respond)
    async with clock.autojump():
        event = await client.events.watch(every=300).__anext__()
    assert event.object.id == 1
    times = [at for at, _ in periods]
    assert [round(b - a) for a, b in itertools.pairwise(times[1:])] == [
        1,
        2,
        4,
        8,
        16,
        32,
        64,
    ]
    assert periods[0][1] == covering_period(WATCH_OVERLAP)
    gap = times[-1] - times[0] + WATCH_OVERLAP
    last = periods[-1][1]
    assert int(last[:-1]) * 60 >= gap and last.endswith("m")
    assert caplog.text.count("get_events failed") == 7


async def test_a_non_transient_error_is_raised(
    scripted: tuple[respx.MockRouter, Client, ManualClock],
) -> None:
    """A wrong key (error 2) is not retried: the iteration raises it."""
    router, client, _ = scripted
    router.post(params__contains={"action": "get_events"}).mock(
        return_value=error(2, "Action hash is missed or invalid")
    )
    with pytest.raises(InvalidHashError):
        await client.events.watch().__anext__()


async def test_a_gap_longer_than_30_days_is_logged(
    scripted: tuple[respx.MockRouter, Client, ManualClock], caplog: pytest.LogCaptureFixture
) -> None:
    """If the last good poll is over 30 days back, the loss is said, not hidden."""
    router, client, clock = scripted
    router.post(params__contains={"action": "get_events"}).mock(
        side_effect=[ok([]), ok([answer_event(1, "10:00")])]
    )
    watch = client.events.watch(every=60)
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch.__anext__)
        await anyio.wait_all_tasks_blocked()  # the first poll is done; it waits for the next
        tg.cancel_scope.cancel()
    clock.advance(31 * 86400)
    caplog.set_level(logging.WARNING)
    await watch.__anext__()
    assert "more than the API's 30 days" in caplog.text


@pytest.mark.parametrize(
    ("seconds", "period"),
    [
        (0.5, "1m"),
        (60, "1m"),
        (61, "2m"),
        (120, "2m"),
        (360 * 60, "360m"),
        (360 * 60 + 1, "7h"),
        (72 * 3600, "72h"),
        (72 * 3600 + 1, "4d"),
        (30 * 86400, "30d"),
        (40 * 86400, "30d"),
    ],
)
def test_covering_period(seconds: float, period: str) -> None:
    """The shortest period the API accepts that covers the gap."""
    assert covering_period(seconds) == period


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"every": 0}, ValueError),
        ({"every": -5}, ValueError),
        ({"every": float("nan")}, ValueError),
        ({"every": dt.timedelta(days=31)}, ValueError),
        ({"every": "60"}, TypeError),
        ({"every": True}, TypeError),
        ({"start": "yesterday"}, ValueError),
        ({"start": "400m"}, ValueError),
        ({"project": "/project/1/2/"}, ValueError),
    ],
)
async def test_bad_arguments_raise_before_any_request(
    scripted: tuple[respx.MockRouter, Client, ManualClock],
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    """Each bad argument: a typed error naming it, and no request."""
    router, client, _ = scripted
    route = router.post(params__contains={"action": "get_events"}).mock(return_value=ok([]))
    with pytest.raises(error):
        client.events.watch(**kwargs)
    assert not route.called


def test_the_watch_object_is_public_and_says_what_it_watches() -> None:
    """EventWatch is exported; its repr names the project and the period."""
    client = Client(ACCOUNT, API_KEY)
    watch = client.events.watch(project=3, every=dt.timedelta(seconds=90))
    assert isinstance(watch, EventWatch)
    assert repr(watch) == "<EventWatch /project/3/ every=90s 0 polls>"
