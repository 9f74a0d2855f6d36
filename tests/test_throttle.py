"""Client-side quota against FakeWorksection on a virtual clock: no real sleeping."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import AsyncIterator

import anyio.lowlevel
import pytest

import worksection_async as ws
from worksection_async import Client, RateLimit, RetryPolicy
from worksection_async._rate_limit import MAX_BURST, MAX_RATE, MIN_RATE, RECOVERY_BOUNDS
from worksection_async._throttle import Throttle
from worksection_async.testing import FakeWorksection, Fault, ManualClock

pytestmark = pytest.mark.anyio


def task_pages(fake: FakeWorksection) -> list[str]:
    return [task.page for task in fake.tasks.values() if task.depth == 0]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1000.0)


@pytest.fixture
async def autojump(clock: ManualClock) -> AsyncIterator[ManualClock]:
    async with clock.autojump():
        yield clock


async def test_200_concurrent_calls_stay_under_the_quota(autojump: ManualClock) -> None:
    """200 concurrent get_task at quota 1/s: all succeed, <= 1% error 20 at the fake."""
    fake = FakeWorksection.populated(projects=2, tasks_per_project=100, clock=autojump, quota="1/s")
    pages = task_pages(fake)[:200]
    assert len(pages) == 200
    start = autojump.now()
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, clock=autojump
    ) as client:

        async def get(page: str) -> ws.JSONValue:
            return await client.call("get_task", page=page)

        results = await client.map(get, pages)
        snapshot = client.quota
    assert [r["page"] for r in results] == pages  # type: ignore[index,call-overload]
    assert fake.stats.rejected_quota <= 2
    assert fake.stats.by_action["get_task"] == 200
    elapsed = autojump.now() - start
    assert 199 <= elapsed <= 215, elapsed  # the quota's pace, not slower
    assert snapshot.calls == 200 + fake.stats.rejected_quota
    assert snapshot.in_flight == 0 and snapshot.waiting == 0


async def test_adapts_to_a_lower_real_quota(autojump: ManualClock) -> None:
    """The account really allows 0.5/s while the client thinks 1/s: it converges."""
    fake = FakeWorksection.populated(
        projects=1, tasks_per_project=120, clock=autojump, quota="1/2s"
    )
    pages = task_pages(fake)[:120]
    events: list[ws.ClientEvent] = []
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=autojump,
        on_event=events.append,
    ) as client:

        async def get(page: str) -> ws.JSONValue:
            return await client.call("get_task", page=page)

        results = await client.map(get, pages)
        snapshot = client.quota
    assert len(results) == 120
    responses = [e for e in events if isinstance(e, ws.ResponseReceived)]
    rejected = [e for e in responses if e.error == "QuotaExceededError"]
    assert 1 <= len(rejected) <= 0.1 * len(responses), len(rejected)
    # The plateau (where error 20 last cut the rate) sits just below the real quota.
    assert snapshot.rate_at_last_decrease is not None
    assert 0.45 <= snapshot.rate_at_last_decrease <= 0.55
    assert snapshot.since_last_decrease is not None
    assert snapshot.quota_errors == len(rejected) == fake.stats.rejected_quota
    assert any(isinstance(e, ws.PauseStarted) for e in events)
    assert any(isinstance(e, ws.PauseEnded) for e in events)


async def test_pause_gate_holds_every_call(autojump: ManualClock) -> None:
    """After an error 20, no request goes out until the pause is over."""
    fake = FakeWorksection.populated(projects=1, tasks_per_project=20, clock=autojump)
    pages = task_pages(fake)[:20]
    fake.set_quota("1/s")
    events: list[ws.ClientEvent] = []
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=autojump,
        rate_limit=RateLimit(rate=4),  # too fast for the account: provokes error 20
        on_event=events.append,
    ) as client:

        async def get(page: str) -> ws.JSONValue:
            return await client.call("get_task", page=page)

        await client.map(get, pages)
    pauses = [e for e in events if isinstance(e, ws.PauseStarted)]
    sent = [e for e in events if isinstance(e, ws.RequestSent)]
    assert pauses
    for pause in pauses:
        assert not [s for s in sent if pause.at < s.at < pause.until]


async def test_write_retried_after_quota_lands_once(autojump: ManualClock) -> None:
    """A post_comment that got error 20 is retried and lands exactly once."""
    fake = FakeWorksection.populated(projects=1, tasks_per_project=3, clock=autojump)
    page = task_pages(fake)[0]
    task_id = int(page.rstrip("/").rsplit("/", 1)[1])
    before = len(fake.comments_of(task_id))
    fake.set_quota("1/s")
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=autojump,
        rate_limit=None,  # no client-side quota: the server rejects, the policy retries
        retry=RetryPolicy(jitter=False),
    ) as client:
        await client.call("get_task", page=page)  # drains the account's single token
        await client.call("post_comment", page=page, text="exactly once")
        snapshot = client.quota
    assert fake.stats.rejected_by_action["post_comment"] >= 1
    assert snapshot.retries >= 1
    texts = [c.text for c in fake.comments_of(task_id)]
    assert len(texts) == before + 1
    assert texts.count("exactly once") == 1


async def test_concurrency_cap(autojump: ManualClock) -> None:
    """No more than max_concurrency requests are ever in flight."""
    fake = FakeWorksection.populated(projects=1, tasks_per_project=30, clock=autojump)
    fake.faults.add(Fault.latency(0.5), times=None)
    pages = task_pages(fake)[:30]
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=autojump,
        rate_limit=None,
        max_concurrency=3,
    ) as client:

        async def get(page: str) -> ws.JSONValue:
            return await client.call("get_task", page=page)

        await client.map(get, pages)
    assert fake.stats.max_in_flight == 3


def test_rate_limit_validation() -> None:
    """Nonsense limits fail at construction."""
    with pytest.raises(ValueError, match="rate"):
        RateLimit(rate=0)
    with pytest.raises(ValueError, match="burst"):
        RateLimit(burst=0)
    with pytest.raises(ValueError, match="max_concurrency"):
        Client("https://a.worksection.com", "k", max_concurrency=0)
    assert RateLimit(rate=30, per=60, margin=0).per_second == 0.5
    assert RateLimit(rate=1).per_second == pytest.approx(0.97)  # 3 % kept in reserve


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"rate": 1e-308, "per": 1e308}, "rate / per must be between"),  # ratio 0
        ({"rate": 1e308, "per": 1e-308}, "rate / per must be between"),  # ratio inf
        ({"rate": 1.0, "per": 1e-310}, "rate / per must be between"),  # 1/per overflows
        ({"rate": 1e200, "per": 1.0}, "rate / per must be between"),  # the law's cubes
        ({"rate": 1.0, "per": 2e8}, "floor x rate / per"),  # its floor too slow
        ({"rate": 1.0, "floor": 5e-324}, "floor x rate / per"),
        ({"rate": 1.0, "recovery": 1e-300}, "recovery must be between"),
        ({"rate": 1.0, "recovery": 1e308}, "recovery must be between"),
        ({"rate": 1.0, "per": float("nan")}, "per must be a finite"),
        ({"rate": 1.0, "recovery": float("inf")}, "recovery must be a finite"),
        ({"rate": 1.0, "decrease": float("nan")}, "decrease must be in"),
        ({"rate": 1.0, "margin": float("nan")}, "margin must be in"),
        ({"rate": 1.0, "burst": 10**400}, "burst must be an integer from 1 to"),  # no float
        ({"rate": 10**5000}, "rate must be a finite number > 0, got an integer of"),
    ],
)
def test_rate_limits_the_law_cannot_follow_are_refused(
    fields: dict[str, float], problem: str
) -> None:
    """A ratio of zero or infinity (each field finite), or one so extreme that the law
    divides by zero or overflows: a ValueError naming the field, where it is built (it
    was accepted, then Client() raised ZeroDivisionError)."""
    with pytest.raises(ValueError, match=re.escape(problem)):
        RateLimit(**fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"rate": MIN_RATE / 0.02},
        {"rate": 2 * MIN_RATE, "floor": 0.5, "recovery": RECOVERY_BOUNDS[1]},
        {"rate": MAX_RATE, "recovery": RECOVERY_BOUNDS[0], "burst": MAX_BURST},
        {"rate": 5e-324, "per": 5e-324},
        {"rate": 1.0, "decrease": 5e-324, "floor": 1e-9},
        {"rate": 1.0, "decrease": 1 - 1e-16, "margin": 0.5 - 1e-16},
    ],
)
async def test_the_extremes_accepted_keep_the_law_finite(
    fields: dict[str, float], autojump: ManualClock
) -> None:
    """At the bounds a RateLimit accepts, a client is built and its quota takes tokens,
    cuts, recovers and reports finite, positive rates (virtual time)."""
    limit = RateLimit(**fields)
    Client("https://a.worksection.com", "k", rate_limit=limit)
    throttle = Throttle(limit, 1, autojump)
    for outcome in [False, True, True, False, True, False, False, True] * 2:
        grant = await throttle.acquire()
        throttle.release(grant, quota_exceeded=outcome, succeeded=not outcome)
        snapshot = throttle.snapshot()
        assert snapshot.current_rate is not None and snapshot.configured_rate is not None
        assert 0 < snapshot.current_rate < math.inf
        assert 0 < snapshot.configured_rate < math.inf
        assert math.isfinite(snapshot.learned_margin)


def test_http_pool_fits_the_concurrency_cap() -> None:
    """The httpx pool holds max_concurrency connections and never times out queuing."""
    client = Client("https://a.worksection.com", "k", max_concurrency=12)
    http = client._transport._http
    assert http.timeout.pool is None
    assert http.timeout.read == 30.0
    pool = http._transport._pool  # type: ignore[attr-defined]
    assert pool._max_connections >= 12


async def test_quota_logging(autojump: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """DEBUG records for throttling and pauses; WARNING when a call fails on quota."""
    import logging

    caplog.set_level(logging.DEBUG, logger="worksection_async")
    fake = FakeWorksection.populated(projects=1, tasks_per_project=3, clock=autojump)
    pages = task_pages(fake)
    fake.set_quota("1/10s")
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=autojump,
        rate_limit=RateLimit(rate=1),
        retry=RetryPolicy(max_attempts=2, jitter=False),
    ) as client:
        await client.call("get_task", page=pages[0])
        with pytest.raises(ws.QuotaExceededError):
            await client.call("get_task", page=pages[1])
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("next token in" in m for m in debug)
    assert any("pausing all calls" in m for m in debug)
    assert warnings == ["get_task failed on quota after 2 attempt(s)"]


async def test_bucket_starts_with_one_token_and_fills_to_burst(autojump: ManualClock) -> None:
    """No burst at start (one request at once); after idling, `burst` go at once."""
    fake = FakeWorksection(clock=autojump)
    events: list[ws.ClientEvent] = []
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=autojump,
        rate_limit=RateLimit(rate=1, burst=3, margin=0),
        on_event=events.append,
    ) as client:

        async def ping(_: int) -> ws.JSONValue:
            return await client.call("get_projects")

        start = autojump.now()
        await client.map(ping, range(3))
        await autojump.sleep(10)
        idle_end = autojump.now()
        await client.map(ping, range(4))
    sent = [e.at for e in events if isinstance(e, ws.RequestSent)]
    assert [round(t - start, 6) for t in sent[:3]] == [0.0, 1.0, 2.0]
    assert [round(t - idle_end, 6) for t in sent[3:]] == [0.0, 0.0, 0.0, 1.0]


async def test_retries_wait_at_the_gate_not_in_the_policy(autojump: ManualClock) -> None:
    """With a rate limit the policy decides whether to retry; the gate decides when."""
    fake = FakeWorksection.populated(projects=1, tasks_per_project=5, clock=autojump)
    pages = task_pages(fake)
    fake.set_quota("1/4s")  # the account is four times slower than the client thinks
    events: list[ws.ClientEvent] = []
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=autojump,
        on_event=events.append,
    ) as client:

        async def get(page: str) -> ws.JSONValue:
            return await client.call("get_task", page=page)

        assert len(await client.map(get, pages)) == 5
    retries = [e for e in events if isinstance(e, ws.RetryScheduled)]
    pauses = [e for e in events if isinstance(e, ws.PauseStarted)]
    sent = [e for e in events if isinstance(e, ws.RequestSent)]
    assert retries
    assert all(r.wait == 0.0 for r in retries)
    for retry in (e for e in sent if e.attempt > 1):
        assert any(p.at < retry.at and retry.at >= p.until for p in pauses)
    gaps = [b.at - a.at for a, b in itertools.pairwise(sent)]
    assert min(gaps) > 0.9  # nothing ever stampedes, retries included


async def test_a_clock_far_from_zero_never_spins() -> None:
    """On a float clock near a Unix time (1.8e9 s, where time moves in steps of 2.4e-7 s)
    a token a few nanoseconds short is taken, not waited for forever."""

    class UnixClock:
        def __init__(self) -> None:
            self.t = 1.8e9
            self.sleeps = 0

        def now(self) -> float:
            return self.t

        async def sleep(self, seconds: float) -> None:
            self.sleeps += 1
            assert self.sleeps < 10_000, "the throttle is spinning"
            self.t += seconds  # rounds away waits shorter than half an ulp
            await anyio.lowlevel.checkpoint()

    clock = UnixClock()
    throttle = Throttle(RateLimit(rate=3, margin=0), 1, clock)
    for _ in range(60):
        sent = await throttle.acquire()
        throttle.release(sent, succeeded=True)
    assert 19.0 <= clock.t - 1.8e9 <= 21.0  # 60 requests at 3/s
