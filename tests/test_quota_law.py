"""The adaptive quota on a shared account: several clients, squeezes, lower quotas.

Every scenario runs on virtual time (``ManualClock`` with autojump) against one
``FakeWorksection`` whose token bucket is the account's quota, on asyncio and trio.
Random choices (the pause jitter) are seeded, so each run is the same run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

import anyio
import pytest

import worksection_async as ws
from worksection_async import Client, RateLimit
from worksection_async._throttle import SWEEP, SWEEP_SPREAD, _Law
from worksection_async.testing import FakeWorksection, ManualClock

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _seeded() -> Iterator[None]:
    state = random.getstate()
    random.seed(20261201)
    yield
    random.setstate(state)


def successes(events: list[ws.ClientEvent], start: float = 0.0, end: float = 1e18) -> int:
    return sum(
        1
        for e in events
        if isinstance(e, ws.ResponseReceived) and e.error is None and start <= e.at <= end
    )


def quota_errors(events: list[ws.ClientEvent]) -> int:
    return sum(
        1 for e in events if isinstance(e, ws.ResponseReceived) and e.error == "QuotaExceededError"
    )


def requests(events: list[ws.ClientEvent]) -> int:
    return sum(1 for e in events if isinstance(e, ws.RequestSent))


def client_for(fake: FakeWorksection, clock: ManualClock, events: list[ws.ClientEvent]) -> Client:
    """A client as a new user makes it: every default, events recorded."""
    return Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=clock,
        on_event=events.append,
    )


async def call_until(client: Client, clock: ManualClock, until: float) -> None:
    """One caller: ``get_projects`` again and again until ``until`` (errors propagate)."""
    while clock.now() < until:
        await client.call("get_projects")


async def test_two_clients_share_an_account_and_the_survivor_speeds_up() -> None:
    """A bot and a cron job, 100 sequential calls each at 1/s: both done by 250 s, no
    error reaches either, and the one left alone runs at >= 0.8/s once the other's
    turn is over."""
    clock = ManualClock()
    fake = FakeWorksection(clock=clock, quota="1/s")
    events: list[list[ws.ClientEvent]] = [[], []]
    done: list[float] = [0.0, 0.0]

    async def job(i: int) -> None:
        async with client_for(fake, clock, events[i]) as client:
            for _ in range(100):
                await client.call("get_projects")
        done[i] = clock.now()

    async with clock.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(job, 0)
        tg.start_soon(job, 1)

    assert max(done) <= 250, done
    first, last = sorted(done)
    survivor = events[done.index(last)]
    # The survivor may be waiting out what was the other's turn (40 s, plus up to 4)
    # when the other leaves: from then on it runs alone.
    free = first + 44.0
    if last - free > 20:  # long enough alone to measure a rate
        alone = successes(survivor, free, last)
        assert alone / (last - free) >= 0.8, (alone, first, last)
    assert fake.stats.by_action["get_projects"] == 200


async def test_three_clients_started_30_s_apart_get_fair_shares() -> None:
    """Three clients of 4 callers each join one account 30 s apart: from t = 60 s to
    600 s each gets >= 1/5 of what the account served, and the account runs at >= 0.8
    of its quota."""
    clock = ManualClock()
    fake = FakeWorksection(clock=clock, quota="1/s")
    events: list[list[ws.ClientEvent]] = [[], [], []]

    async def program(i: int) -> None:
        await clock.sleep(30 * i)
        async with client_for(fake, clock, events[i]) as client, anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(call_until, client, clock, 600.0)

    async with clock.autojump(), anyio.create_task_group() as tg:
        for i in range(3):
            tg.start_soon(program, i)

    served = [successes(e, 60.0, 600.0) for e in events]
    total = sum(served)
    assert total / 540 >= 0.8, served
    assert all(n / total >= 0.2 for n in served), served


async def squeezed(
    *, quota: str, squeeze: str, start: float, end: float, until: float
) -> list[ws.ClientEvent]:
    """One default client of 8 callers until ``until``; the account's quota drops from
    ``quota`` to ``squeeze`` between ``start`` and ``end``. Returns the client's events."""
    clock = ManualClock()
    fake = FakeWorksection(clock=clock, quota=quota)
    events: list[ws.ClientEvent] = []

    async def squeezer() -> None:
        await clock.sleep(start)
        fake.set_quota(squeeze)
        await clock.sleep(end - start)
        fake.set_quota(quota)

    async with (
        clock.autojump(),
        client_for(fake, clock, events) as client,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(squeezer)
        for _ in range(8):
            tg.start_soon(call_until, client, clock, until)
    return events


async def test_rate_recovers_within_90_s_after_a_squeeze() -> None:
    """Quota 1/s, squeezed to 0.2/s from t = 60 to 120 s, then 1/s again: 8 callers run
    at >= 0.85/s between t = 210 and 400 s."""
    events = await squeezed(quota="1/s", squeeze="1/5s", start=60, end=120, until=400)
    assert successes(events, 60, 120) <= 14  # the squeeze was real
    assert successes(events, 210, 400) / 190 >= 0.85


async def test_a_quota_lower_than_configured_is_found() -> None:
    """Configured 1/s on an account that allows 0.5/s: 200 calls in <= 480 s (1.2 x the
    ideal 400 s), with error 20 on <= 10 % of the requests."""
    clock = ManualClock()
    fake = FakeWorksection(clock=clock, quota="1/2s")
    events: list[ws.ClientEvent] = []
    async with clock.autojump(), client_for(fake, clock, events) as client:

        async def get(_: int) -> ws.JSONValue:
            return await client.call("get_projects")

        await client.map(get, range(200))
    assert clock.now() <= 480
    assert quota_errors(events) / requests(events) <= 0.10
    assert successes(events) == 200


async def test_an_isolated_error_costs_only_the_pause() -> None:
    """A neighbour's single request takes the account's token once: the client pauses
    for one interval and goes on at its full rate (no cut, no plateau)."""
    clock = ManualClock()
    fake = FakeWorksection(clock=clock, quota="1/s")
    events: list[ws.ClientEvent] = []
    async with clock.autojump(), client_for(fake, clock, events) as client:
        for _ in range(10):
            await client.call("get_projects")
        fake.transport  # noqa: B018 - the neighbour: one request straight at the fake
        async with Client(
            fake.account_url, fake.api_key, transport=fake.transport, clock=clock, rate_limit=None
        ) as neighbour:
            await neighbour.call("get_projects")
        for _ in range(30):
            await client.call("get_projects")
        snapshot = client.quota
    assert quota_errors(events) == 1
    assert snapshot.rate_at_last_decrease is None
    assert snapshot.current_rate == pytest.approx(1.0)


class TestLaw:
    """The control law alone: pure state and time, no I/O."""

    def law(self, **kwargs: float) -> _Law:
        return _Law(RateLimit(**kwargs))

    def test_isolated_error_does_not_cut(self) -> None:
        """One error in a run of successes leaves the rate alone."""
        law = self.law()
        for t in range(10):
            law.on_success(float(t))
        assert law.on_quota_exceeded(10.0, 0.0) == (1.0, 1.0)  # one interval's pause
        assert law.plateau is None
        assert law.rate(11.0) == 1.0

    def test_repeated_errors_cut_and_recover_in_time(self) -> None:
        """Errors that keep following successes cut to 0.7 W; the rate is back at W
        after K = recovery * cbrt(W / R) seconds and at R after ``recovery`` more."""
        law = self.law(rate=1.0, recovery=40.0)
        law.on_success(0.0)
        law.on_quota_exceeded(1.0, 0.0)
        law.on_success(2.0)
        law.on_quota_exceeded(3.0, 0.0)  # the second success-then-error turn: a cut
        w = law.plateau
        assert w == pytest.approx(0.97)  # a margin below the rate that hit
        assert law.rate(3.0) == pytest.approx(0.7 * w)
        k = 40.0 * w ** (1 / 3)
        assert law.rate(3.0 + k / 2) < w
        assert law.rate(3.0 + k) == pytest.approx(w)
        assert law.rate(3.0 + k + 40.0) == pytest.approx(1.0)

    def test_recovery_is_measured_in_time_not_successes(self) -> None:
        """After a cut to the floor, the rate is back at >= 0.85 of the quota within
        90 s with no success at all in between."""
        law = self.law(rate=1.0)
        law.plateau, law.since = 0.02, 0.0
        assert law.rate(90.0) >= 0.85

    def test_a_lost_probe_cuts_at_once(self) -> None:
        """Alone on the account, an error while climbing above the plateau ends the
        probe: it cuts without waiting for a second one."""
        law = self.law(rate=1.0, recovery=40.0)
        law.plateau, law.since = 0.5, 0.0
        law.on_success(60.0)
        hit, _ = law.on_quota_exceeded(61.0, 0.0)
        assert 0.5 < hit < 1.0
        assert law.since == 61.0
        assert law.plateau == pytest.approx(hit * 0.97)
        assert law.rate(61.0) == pytest.approx(0.7 * hit * 0.97)

    def test_isolated_errors_at_full_rate_teach_a_margin(self) -> None:
        """At the configured rate, an isolated error widens the interval by 2 %; the
        widening halves every 200 intervals and a cut (the rate was the trouble)
        clears it."""
        law = self.law(rate=2.0)
        law.on_success(0.0)
        law.on_quota_exceeded(1.0, 0.0)
        assert law.widening(1.0) == pytest.approx(0.02)
        assert law.widening(101.0) == pytest.approx(0.01)  # 200 intervals at 2/s
        law.on_success(2.0)
        law.on_quota_exceeded(3.0, 0.0)  # the second turn: a cut
        assert law.plateau is not None
        assert law.widening(3.0) == 0.0

    def test_back_to_back_errors_mean_a_neighbour_and_turns(self) -> None:
        """Two errors in a row: contended for ten ``recovery`` periods. The first
        success starts the client's turn; the first success 40 s (TURN intervals) into
        it ends the turn: it steps aside for STEP_ASIDE intervals."""
        law = self.law(rate=1.0, recovery=40.0)
        assert law.on_quota_exceeded(0.0, 0.0)[1] == 1.0
        # Contended now, and never had a success: it tries at every interval, SWEEP of
        # one slower than a holder would send.
        assert law.on_quota_exceeded(1.0, 0.0)[1] == pytest.approx(1.0 + SWEEP)
        assert law.contended(1.0)
        assert not law.contended(401.5)
        asides = [law.on_success(2.0 + i) for i in range(45)]
        assert asides[:40] == [0.0] * 40
        assert asides[40] == pytest.approx(4.0)  # at t = 42: 40 s into its turn
        assert asides[41:] == [0.0] * 4  # its next turn began with the next success
        assert law.turn_so_far(46.5) == pytest.approx(3.5)

    def test_a_client_that_finds_the_account_held_waits_a_turn(self) -> None:
        """Contended: an error in its own turn costs one interval; a second one in a
        row means a neighbour holds the account, and the client comes back one turn
        (plus up to 10 % of one) later; after stepping aside, a first error already
        means that, and it comes back within one step aside after the turn."""
        law = self.law(rate=1.0, recovery=40.0)
        law.on_quota_exceeded(0.0, 0.0)
        law.on_quota_exceeded(1.0, 0.0)
        law.on_success(2.0)
        assert law.on_quota_exceeded(3.0, 0.5)[1] == pytest.approx(1.125)  # in its turn
        assert law.on_quota_exceeded(4.2, 0.5)[1] == pytest.approx(42.0)  # held: a turn
        assert law.turn_so_far(5.0) is None
        law.on_success(46.0)  # its turn now
        assert law.on_success(86.5) == pytest.approx(4.0)  # over: it steps aside
        assert law.on_quota_exceeded(90.6, 0.5)[1] == pytest.approx(42.0)  # 40 + 0.5 * 4

    def test_a_turn_starts_from_the_plateau_and_keeps_what_it_reached(self) -> None:
        """Contended, cut to a plateau long ago: while it waited, the recovery (in
        time) took the rate back to the configured one, but its turn starts at the
        plateau and probes up from there; a turn that ends without an error makes the
        rate it reached the next turn's plateau."""
        law = self.law(rate=1.0, recovery=40.0)
        law.on_quota_exceeded(0.0, 0.0)
        law.on_quota_exceeded(1.0, 0.0)  # contended
        law.plateau, law.since = 0.5, 1.0
        assert law.rate(200.0) == pytest.approx(1.0)  # recovered while it waited
        law.on_success(200.0)  # its turn begins
        assert law.rate(200.0) == pytest.approx(0.5)
        assert 0.5 < law.rate(220.0) < 0.6  # probing up, convex
        aside = law.on_success(240.0)  # the turn is over, no error in it
        assert aside == pytest.approx(4.0 / law.rate(240.0))
        reached = law.rate(240.0)
        assert law.plateau == pytest.approx(reached)
        assert reached > 0.9
        law.on_quota_exceeded(244.5, 0.0)  # the neighbour took over
        law.on_success(400.0)  # the next turn starts where this one ended
        assert law.rate(400.0) == pytest.approx(reached)

    def test_a_client_without_a_turn_for_three_turns_tries_every_interval(self) -> None:
        """A neighbour that does not know of it (or does not follow this law) never
        steps aside: after three turns without a success the client tries again at
        every interval, as before it knew of the neighbour."""
        law = self.law(rate=1.0, recovery=40.0)
        law.on_success(0.0)
        law.on_quota_exceeded(1.0, 0.0)
        assert law.on_quota_exceeded(2.2, 0.0)[1] == pytest.approx(1.0)  # starts contended
        assert law.on_quota_exceeded(3.4, 0.0)[1] == pytest.approx(40.0)
        # Starving: SWEEP of an interval slower than a holder at the full rate sends
        # (and up to SWEEP_SPREAD more), so its tries walk across the holder's interval.
        assert law.on_quota_exceeded(125.0, 0.0)[1] == pytest.approx(1.0 + SWEEP)
        assert law.on_quota_exceeded(126.0, 1.0)[1] == pytest.approx(1.0 + SWEEP + SWEEP_SPREAD)
        holder = 1.0 / (1.0 - ws.DEFAULT_RATE_LIMIT.margin)  # a holder's interval
        assert holder < 1.0 + SWEEP

    def test_a_lost_probe_cuts_in_the_clients_own_turn(self) -> None:
        """Contended, climbing above its plateau in its own turn: the error after a
        success is the account's limit (the neighbours wait for their turns), so the
        probe ends with a cut."""
        law = self.law(rate=1.0, recovery=40.0)
        law.plateau, law.since = 0.5, -40.0  # 28 s into the probe above it at t = 20
        law.contended_until = 1000.0
        law.on_success(19.0)
        law.on_quota_exceeded(20.0, 0.0)
        assert law.since == 20.0

    def test_an_error_its_own_slow_success_caused_is_explained(self) -> None:
        """A success that took 0.5 s longer than the request that failed reached the
        account less than an interval before it: explained (not counted). Requests
        that took about as long, or an error more than an interval later, are not."""
        law = self.law(rate=1.0)
        law.on_success(10.0, sent=7.5)  # 2.5 s on its way
        assert law.explained(10.4, 10.39)
        assert not law.explained(11.1, 11.09)  # more than an interval after it
        law.on_success(20.0, sent=19.99)
        assert not law.explained(20.6, 20.59)  # as fast as the success: the account
        assert law.explained(20.6, 18.0)  # sent before the success, overtaken by it


async def test_the_deadline_bounds_waits_at_the_gate() -> None:
    """RetryPolicy(deadline=30) with the quota on and an account that lets nothing
    through: the call ends with QuotaExceededError by t = 30 s (waits at the pause gate
    included), saying how many requests it made."""
    clock = ManualClock()
    fake = FakeWorksection(clock=clock, quota="1/1000s")
    events: list[ws.ClientEvent] = []
    async with (
        clock.autojump(),
        Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            clock=clock,
            retry=ws.RetryPolicy(deadline=30),
            on_event=events.append,
        ) as client,
    ):
        await client.call("get_projects")  # takes the account's only token
        start = clock.now()
        with pytest.raises(ws.QuotaExceededError) as info:
            await client.call("get_projects")
        elapsed = clock.now() - start
    assert elapsed <= 30.0
    assert info.value.attempts is not None and info.value.attempts >= 2
    sent = [e for e in events if isinstance(e, ws.RequestSent)]
    assert len(sent) == 1 + info.value.attempts


async def test_default_policy_rides_out_a_long_squeeze() -> None:
    """The default RetryPolicy with the quota on: 8 callers through a 120 s squeeze to
    1/30s get no QuotaExceededError (time, not a count of attempts, bounds retries)."""
    events = await squeezed(quota="1/s", squeeze="1/30s", start=10, end=130, until=200)
    # Calls waited through the squeeze (contended, the client waits whole turns, so
    # fewer attempts than 8 may span it), and none raised: call_until would have.
    retried = max(e.attempt for e in events if isinstance(e, ws.RequestSent))
    assert retried >= 3
    assert successes(events, 10, 130) <= 6  # the squeeze was real
    assert successes(events, 130, 200) >= 40  # and the client came back after it


async def test_a_call_that_cannot_start_before_its_deadline_sends_nothing() -> None:
    """The gate is closed past the deadline before the first attempt: the call raises
    QuotaExceededError (0 attempts) at once, and no request leaves."""
    clock = ManualClock()
    fake = FakeWorksection(clock=clock, quota="1/1000s")
    events: list[ws.ClientEvent] = []
    async with (
        clock.autojump(),
        Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            clock=clock,
            retry=ws.RetryPolicy(deadline=5),
            rate_limit=RateLimit(rate=1, per=60),
            on_event=events.append,
        ) as client,
    ):
        await client.call("get_projects")  # the bucket is empty for the next 60 s
        with pytest.raises(ws.QuotaExceededError) as info:
            await client.call("get_projects")
        assert clock.now() < 1.0
    assert info.value.attempts == 0
    assert "nothing was sent" in str(info.value)
    assert len([e for e in events if isinstance(e, ws.RequestSent)]) == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"per": float("inf")}, ValueError),
        ({"rate": float("nan")}, ValueError),
        ({"per": Decimal("sNaN")}, ValueError),
        ({"per": Decimal("1e400")}, ValueError),
        ({"rate": 0}, ValueError),
        ({"rate": True}, TypeError),
        ({"rate": "1"}, TypeError),
        ({"recovery": -1.0}, ValueError),
        ({"decrease": 1.0}, ValueError),
        ({"floor": float("nan")}, ValueError),
        ({"margin": 0.5}, ValueError),
    ],
)
def test_rate_limit_refuses_nonsense(kwargs: dict[str, object], error: type[Exception]) -> None:
    """Infinite, NaN, signalling-NaN and out-of-range settings fail at construction
    (before any call), naming the setting."""
    (name,) = kwargs
    with pytest.raises(error, match=f"RateLimit.{name}"):
        RateLimit(**kwargs)  # type: ignore[arg-type]


def test_rate_limit_accepts_numbers_of_every_kind() -> None:
    """ints, floats, Decimals and Fractions are seconds and rates alike."""
    from fractions import Fraction

    limit = RateLimit(rate=Decimal("30"), per=Fraction(60), recovery=10)
    assert limit.configured == 0.5
    assert limit.recovery_seconds == 10.0
    assert RateLimit(rate=2).recovery_seconds == 20.0  # 40 intervals
