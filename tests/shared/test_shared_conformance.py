"""One law, three places: the throttle, the Lua script and the Python decision of the
embedded stores make the same decisions from the same outcomes at the same times.

The script runs in a real redis-server, the Python decision (``shared/_decision.py``)
in a SQLite file and in a ``memory://`` store, each with its time driven by the tests
(the ``now_override`` hook in place of the store's clock), next to ``_throttle._Law``
and ``_throttle.LocalQuota`` on a virtual clock; every test below runs on each store,
and the last one runs the three stores side by side on one sequence. Every step
compares the decisions (the rate an error hit, a cut, a turn passed to the neighbours,
the moment a request may go, the pause) and the whole state (plateau, time of the
cut, contention, the turn, recent outcomes, the latest success, learned margin, both
buckets). Times sit near
today's Unix time, as Redis's ``TIME`` does, so the floats are as large as in
production.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio.to_thread
import coredis
import httpx
import pytest

from worksection_async import RateLimit
from worksection_async._rate_limit import _EPSILON
from worksection_async._throttle import LocalQuota, _Law
from worksection_async.shared import SharedQuota
from worksection_async.shared._backend import SharedBackend
from worksection_async.shared._decision import QuotaState
from worksection_async.shared._embedded import EmbeddedQuota
from worksection_async.shared._reply import _Reply

from ._redis import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """A comparison of two computations: one event loop is enough (the round trips run
    on both in test_shared_quota.py)."""
    return "asyncio"


T0 = 1_800_000_000.0

LIMITS = [
    RateLimit(),
    RateLimit(rate=10),
    RateLimit(rate=2, decrease=0.5, recovery=10, floor=0.1, margin=0.05, burst=2),
]


def slack(time: float) -> float:
    """How far apart two computations of one time may land: 64 units in the last place
    (a double near 1.8e9 s resolves 2.4e-7 s; near 1e5 s, 1.5e-11 s)."""
    return max(1e-9, 64 * math.ulp(time))


def close(a: float | None, b: float | None, *, time: float = 0.0) -> bool:
    """Equal but for rounding: 1e-12 relative for rates, the clock's slack for times
    (and for token counts, which are times by a rate, ``time`` being the clock)."""
    if a is None or b is None:
        return a is b
    if abs(b) > 1e4:
        return abs(a - b) <= slack(b)
    return a == pytest.approx(b, rel=1e-12, abs=100 * slack(time))


class VirtualClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        # A real sleep always lets time move on, even by less than a double resolves.
        self.t = max(self.t + seconds, math.nextafter(self.t, math.inf))


class Lua:
    """A store's decision through a ``SharedBackend``, one step at a time: the
    production script in Redis (``redis``), or the Python decision (``embedded``)."""

    def __init__(
        self,
        backend: SharedBackend,
        redis: coredis.Redis[str] | None = None,
        embedded: EmbeddedQuota | None = None,
    ) -> None:
        self.backend = backend
        self.redis = redis
        self.embedded = embedded

    async def step(
        self,
        now: float,
        outcomes: list[str] | None = None,
        *,
        reserve: bool = False,
        max_wait: float | None = None,
    ) -> _Reply:
        self.backend.now_override = now
        self.backend._outbox = list(outcomes or [])
        return await self.backend._run(reserve=reserve, max_wait=max_wait)

    async def state(self) -> dict[str, str]:
        """The state, as the script keeps it in Redis."""
        if self.redis is not None:
            return dict(await self.redis.hgetall(self.backend.keys[0]))
        assert self.embedded is not None
        store = self.embedded.store
        found = await anyio.to_thread.run_sync(store.peek, self.backend.keys[0])  # type: ignore[attr-defined]
        assert isinstance(found, QuotaState)
        return as_redis_hash(found)


def as_redis_hash(state: QuotaState) -> dict[str, str]:
    """An embedded store's state in the fields of the script's hash."""
    law = state.law
    hash_ = {
        "held": "" if law["held_since"] == float("-inf") else repr(float(law["held_since"])),
        "okl": "" if law["_ok_latency"] is None else repr(float(law["_ok_latency"])),
        "stepped": "1" if law["_stepped"] else "0",
        "recent": "".join("1" if e else "0" for e in law["_recent"]),
        "wid": repr(float(law["_widened"])),
        "s": repr(state.spacing),
        "p": repr(state.pacing),
        "pu": repr(state.paused_until),
        "q": ";".join(",".join(repr(x) for x in entry) for entry in state.queue),
    }
    for name, value in (
        ("w", law["plateau"]),
        ("since", law["since"]),
        ("cu", law["contended_until"]),
        ("wat", law["_widened_at"]),
        ("ok", law["_ok_at"]),
        ("stamp", state.stamp),
    ):
        if value is not None and value != float("-inf"):
            hash_[name] = repr(float(value))
    return hash_


STORES = ["redis", "sqlite", "memory"]


@pytest.fixture(params=STORES)
async def make_lua(
    request: pytest.FixtureRequest, key: str, tmp_path: Path
) -> AsyncIterator[Callable[[RateLimit, str], Lua]]:
    """``make_lua(limit, name)``: a fresh shared state (a key of its own) for ``limit``,
    in each store."""
    async with stores(request.param, key, tmp_path, request) as make:
        yield make


@contextlib.asynccontextmanager
async def stores(
    store: str, key: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[[RateLimit, str], Lua]]:
    if store != "redis":
        url = f"sqlite://{tmp_path}/quota.db" if store == "sqlite" else f"memory://{key}"
        embedded = SharedQuota.from_url(url, key=key)
        assert isinstance(embedded, EmbeddedQuota)
        async with embedded:

            def make_embedded(limit: RateLimit, name: str) -> Lua:
                backend = embedded._backend(
                    account=httpx.URL("https://acme.worksection.com"),
                    limit=limit,
                    clock=VirtualClock(T0),
                    on_event=None,
                )
                backend.keys = (f"{{{key}-{name}}}:state", f"{{{key}-{name}}}:members")
                backend._opened = True
                return Lua(backend, embedded=embedded)

            yield make_embedded
        return
    redis_server: RedisServer = request.getfixturevalue("redis_server")
    quota = SharedQuota.from_url(redis_server.url, key=key)
    redis = coredis.Redis.from_url(redis_server.url, decode_responses=True)
    async with quota, redis:

        def make(limit: RateLimit, name: str) -> Lua:
            backend = quota._backend(
                account=httpx.URL("https://acme.worksection.com"),
                limit=limit,
                clock=VirtualClock(T0),
                on_event=None,
            )
            backend.keys = (f"{{{key}-{name}}}:state", f"{{{key}-{name}}}:members")
            backend._opened = True
            return Lua(backend, redis)

        yield make


def law_state(law: _Law) -> dict[str, object]:
    return {
        "w": law.plateau,
        "since": law.since if law.plateau is not None else None,
        "cu": law.contended_until if law.contended_until != float("-inf") else None,
        "held": law.held_since if law.held_since != float("-inf") else None,
        "stepped": law._stepped,
        "ok": law._ok_at if law._ok_at != float("-inf") else None,
        "okl": law._ok_latency,
        "recent": "".join("1" if e else "0" for e in law._recent),
        "wid": law._widened,
        "wat": law._widened_at if law._widened_at != float("-inf") else None,
    }


def lua_law_state(state: dict[str, str]) -> dict[str, object]:
    def opt(name: str) -> float | None:
        return float(state[name]) if state.get(name) else None

    return {
        "w": opt("w"),
        "since": opt("since") if "w" in state else None,
        "cu": opt("cu"),
        "held": opt("held"),
        "stepped": state["stepped"] == "1",
        "ok": opt("ok"),
        "okl": opt("okl"),
        "recent": state["recent"],
        "wid": float(state["wid"]),
        "wat": opt("wat"),
    }


def assert_same_law(python: dict[str, object], redis: dict[str, object], where: str) -> None:
    for name, value in python.items():
        other = redis[name]
        if isinstance(value, float) or isinstance(other, float):
            assert close(value, other), (where, name, value, other)  # type: ignore[arg-type]
        else:
            assert value == other, (where, name, value, other)


def outcome_sequence(rng: random.Random, rate: float, n: int) -> list[tuple[float, bool]]:
    """``n`` outcomes (time, is an error 20): runs of successes at about the rate,
    isolated errors, runs of back-to-back errors, errors that keep following
    successes, long quiet spells (recovery)."""
    t = T0
    events: list[tuple[float, bool]] = []
    while len(events) < n:
        kind = rng.random()
        if kind < 0.55:  # a run of successes
            for _ in range(rng.randint(1, 12)):
                t += rng.uniform(0.5, 1.5) / rate
                events.append((t, False))
        elif kind < 0.75:  # an isolated error
            t += rng.uniform(0.5, 1.5) / rate
            events.append((t, True))
        elif kind < 0.85:  # back-to-back errors: a neighbour
            for _ in range(rng.randint(2, 3)):
                t += rng.uniform(0.5, 2.0) / rate
                events.append((t, True))
        elif kind < 0.95:  # errors that keep following successes: too fast
            for _ in range(rng.randint(2, 3)):
                t += rng.uniform(0.9, 1.5) / rate
                events.append((t, False))
                t += rng.uniform(1.0, 1.5) / rate
                events.append((t, True))
        else:  # a quiet spell, long enough to climb back or to end contention
            t += rng.uniform(5.0, 80.0) / rate
    return events[:n]


@pytest.mark.parametrize("index", range(len(LIMITS)))
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_law_makes_the_same_decisions(
    make_lua: Callable[[RateLimit, str], Lua], index: int, seed: int
) -> None:
    """300 outcomes (successes, isolated and repeated error 20s, quiet spells) fed to
    _Law and to the script at the same times: the same hit rates, cuts and turns, the
    same plateau, cut time, contention, streak, window and margin after every step, and
    the same rate at times in between."""
    limit = LIMITS[index]
    lua = make_lua(limit, f"law-{index}-{seed}")
    law = _Law(limit)
    rng = random.Random(seed)
    cuts = turns = explained = waits = 0
    for step, (t, error) in enumerate(outcome_sequence(rng, limit.configured, 300)):
        where = f"step {step} at +{t - T0:.3f}s"
        if error:
            before = law.plateau, law.since
            if law.explained(t, t):  # as LocalQuota does: not counted at all
                reply = await lua.step(t, [f"e{t!r}:0.5"])
                assert reply.hit is None, where
                explained += 1
            else:
                hit, pause = law.on_quota_exceeded(t, 0.5)
                reply = await lua.step(t, [f"e{t!r}:0.5"])
                assert reply.hit is not None
                assert close(hit, reply.hit), (where, hit, reply.hit)
                if reply.started is not None:
                    assert close(pause, reply.started, time=t), (where, pause, reply.started)
                waits += pause > law.turn()
            cut = (law.plateau, law.since) != before
            assert cut == reply.cut, where
            cuts += cut
        else:
            # Some answers take a quarter interval or more longer than the others.
            sent = t - rng.choice([0.0, 0.0, 0.0, 0.0, 0.01, 0.3, 1.0]) / limit.configured
            turn = law.on_success(t, sent) > 0
            reply = await lua.step(t, [f"s{sent!r}"])
            assert turn == reply.turned, where
            turns += turn
        assert close(law.rate(t), reply.rate), (where, law.rate(t), reply.rate)
        assert law.contended(t) == reply.contended, where
        assert close(law.widening(t), reply.widening), where
        assert_same_law(law_state(law), lua_law_state(await lua.state()), where)
        later = t + rng.uniform(0.0, 3.0 * limit.recovery_seconds)
        probe = await lua.step(later)
        assert close(law.rate(later), probe.rate), (where, "probe", later - t)
    assert cuts >= 2
    assert turns >= 1
    assert explained >= 1
    assert waits >= 1


async def python_take(quota: LocalQuota, clock: VirtualClock, at: float) -> float:
    clock.t = max(clock.t, at)
    grant = await quota.take(None)
    assert isinstance(grant, float)
    return grant


def bucket_state(quota: LocalQuota) -> tuple[float, float, float | None, float]:
    return quota._spacing, quota._pacing, quota._stamp, quota._paused_until


def lua_bucket_state(state: dict[str, str]) -> tuple[float, float, float | None, float]:
    stamp = float(state["stamp"]) if "stamp" in state else None
    return float(state["s"]), float(state["p"]), stamp, float(state["pu"])


@pytest.mark.parametrize("index", range(len(LIMITS)))
@pytest.mark.parametrize(("seed", "base"), [(1, T0), (2, 100_000.0)])
async def test_buckets_and_gate_let_the_same_requests_go(
    make_lua: Callable[[RateLimit, str], Lua], index: int, seed: int, base: float
) -> None:
    """One caller taking tokens and reporting outcomes, through LocalQuota on a virtual
    clock and through the script: every request may go at the same moment, every pause
    (error 20, or a contended client's turn passing) ends at the same time, and both
    buckets hold the same tokens after every step."""
    limit = LIMITS[index]
    lua = make_lua(limit, f"bucket-{index}-{seed}")
    rng = random.Random(seed)
    u = 0.0

    def jitter(low: float, high: float) -> float:
        return low + (high - low) * u

    clock = VirtualClock(base)
    local = LocalQuota(limit, clock, jitter=jitter)
    t = base
    pauses = 0
    for step in range(250):
        where = f"step {step}"
        t += rng.choice([0.0, 0.0, 0.1, 0.5, 2.0, 30.0]) / limit.configured
        moment = await python_take(local, clock, t)
        reply = await lua.step(t, reserve=True)
        assert reply.reserved
        assert close(moment, t + reply.wait, time=t), (where, moment - t, reply.wait)
        assert_same_buckets(local, await lua.state(), where)
        t = moment + rng.uniform(0.05, 0.5) / limit.configured
        clock.t = t
        u = rng.random()
        if rng.random() < 0.25:
            local.on_quota_exceeded(moment)
            reply = await lua.step(t, [f"e{moment!r}:{u!r}"])
            pauses += reply.started is not None
        else:
            local.on_success(moment)
            reply = await lua.step(t, [f"s{moment!r}"])
        python_pause = max(0.0, local._paused_until - t)
        assert close(python_pause, reply.paused_for, time=t), (where, python_pause)
        assert_same_buckets(local, await lua.state(), where)
    assert pauses >= 10


def assert_same_buckets(local: LocalQuota, state: dict[str, str], where: str) -> None:
    python, redis = bucket_state(local), lua_bucket_state(state)
    names = ("spacing", "pacing", "stamp", "paused_until")
    for name, a, b in zip(names, python, redis, strict=True):
        assert close(a, b, time=local._clock.now()), (where, name, a, b)


async def test_reservations_queue_like_callers_at_the_lock(
    make_lua: Callable[[RateLimit, str], Lua],
) -> None:
    """Five reservations made at one instant get the moments that five callers queued
    at the local throttle's FIFO lock get one after the other."""
    limit = RateLimit(rate=4, burst=2)
    lua = make_lua(limit, "queue")
    clock = VirtualClock(T0)
    local = LocalQuota(limit, clock)
    moments = [await python_take(local, clock, T0) for _ in range(5)]
    replies = [await lua.step(T0, reserve=True) for _ in range(5)]
    for moment, reply in zip(moments, replies, strict=True):
        assert close(moment, T0 + reply.wait), (moment - T0, reply.wait)
    assert replies[-1].wait > 4 * 0.9 / limit.configured


async def test_a_wait_past_the_deadline_reserves_nothing(
    make_lua: Callable[[RateLimit, str], Lua],
) -> None:
    """A reservation further away than the caller's deadline is refused and takes no
    token: the next caller gets the moment it would have had."""
    limit = RateLimit(rate=1)
    lua = make_lua(limit, "deadline")
    first = await lua.step(T0, reserve=True)
    assert first.reserved and first.wait == 0.0
    refused = await lua.step(T0, reserve=True, max_wait=0.5)
    assert not refused.reserved
    assert refused.wait == pytest.approx(1 / 0.97)
    taken = await lua.step(T0, reserve=True)
    assert taken.reserved
    assert taken.wait == pytest.approx(refused.wait)


async def test_a_closed_gate_gives_back_what_was_reserved(
    make_lua: Callable[[RateLimit, str], Lua],
) -> None:
    """Reservations not yet due when the gate closes for a turn are void, and their
    tokens come back: the buckets are as they were before the earliest of them (what a
    crashed process reserved is not lost either); one already due stays spent."""
    limit = RateLimit(rate=1, recovery=40)
    lua = make_lua(limit, "void")
    t = T0
    for _ in range(2):  # back-to-back errors: contended
        t += 1.0
        await lua.step(t, [f"e{t!r}:0.0"])
    t += 5.0
    for _ in range(7):
        await lua.step(t, reserve=True)  # its own requests are granted...
        t += 6.5
        await lua.step(t, ["s"])  # ...the first one starts its turn (39 s ago now)
    t += 1.0
    due = await lua.step(t, reserve=True)  # its next request goes at once...
    assert due.wait == 0.0
    before = await lua.state()
    queued = [await lua.step(t, reserve=True) for _ in range(2)]  # ...two more queue up
    assert queued[-1].wait > 1.0
    turn = await lua.step(t + 0.01, ["s"])  # a success 40 s into its turn: it passes
    assert turn.turned
    assert turn.gen == queued[-1].gen + 1
    after = await lua.state()
    assert lua_bucket_state(after)[:3] == lua_bucket_state(before)[:3]
    assert after["q"] == ""
    again = await lua.step(t + 0.02, reserve=True)
    assert again.closed
    assert again.wait == pytest.approx(turn.paused_for - 0.01, abs=1e-6)


def test_epsilon_is_the_throttles() -> None:
    """The script's float slack is the throttle's (written in from one constant)."""
    from worksection_async.shared._lua import QUOTA_SCRIPT

    assert f"local EPS = {_EPSILON!r}" in QUOTA_SCRIPT


@pytest.mark.parametrize("seed", [1, 2])
async def test_three_stores_answer_alike(
    key: str, tmp_path: Path, request: pytest.FixtureRequest, seed: int
) -> None:
    """One random sequence of reservations (some past a deadline), successes and error
    20s, fed at the same times to the Lua script, the SQLite store and the memory
    store: every answer is the same (the moment, the gate, the generation, the rate,
    the plateau, contention, margin, tokens, counters)."""
    limit = RateLimit(rate=2, burst=2, recovery=20)
    rng = random.Random(seed)
    async with contextlib.AsyncExitStack() as stack:
        lanes = []
        for store in STORES:
            make = await stack.enter_async_context(stores(store, key, tmp_path, request))
            lanes.append(make(limit, f"three-{seed}"))
        t = T0
        compared = 0
        for step in range(300):
            t += rng.choice([0.0, 0.05, 0.3, 0.6, 1.0, 5.0])
            kind = rng.random()
            if kind < 0.5:
                kwargs: dict[str, object] = {"reserve": True}
                if rng.random() < 0.2:
                    kwargs["max_wait"] = rng.uniform(0.0, 2.0)
                outcomes: list[str] = []
            elif kind < 0.8:
                kwargs, outcomes = {}, ["s"] * rng.randint(1, 3)
            else:
                granted = t - rng.uniform(0.0, 2.0)
                kwargs, outcomes = {}, [f"e{granted!r}:{rng.random()!r}"]
            replies = [
                await lane.step(t, list(outcomes), **kwargs)  # type: ignore[arg-type]
                for lane in lanes
            ]
            first = replies[0]
            for name, reply in zip(STORES[1:], replies[1:], strict=True):
                where = f"step {step}: {name}"
                for field in (
                    "reserved", "gen", "contended", "calls", "errors", "cut", "turned",
                    "closed", "processes", "rank",
                ):  # fmt: skip
                    assert getattr(reply, field) == getattr(first, field), (where, field)
                for field in (
                    "wait", "rate", "plateau", "since_age", "widening", "paused_for",
                    "started", "hit", "tokens", "jitter",
                ):  # fmt: skip
                    a, b = getattr(reply, field), getattr(first, field)
                    assert close(a, b, time=t), (where, field, a, b)
                compared += 1
        assert compared == 2 * 300
        assert first.gen >= 5 and first.calls >= 50


async def test_three_stores_keep_the_reported_spread_alike(
    key: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The spread processes report (how late they leave, or how unevenly their
    requests arrive while error 20s are recent) is kept alike by the script and the
    Python decision: up to ``MAX_SPREAD`` of the interval (no longer a tenth), halving
    every ``JITTER_HALF_LIFE`` seconds, and spacing the reservations by as much."""
    from worksection_async.shared._lua import JITTER_HALF_LIFE, MAX_SPREAD

    limit = RateLimit(rate=2, burst=1, recovery=20)
    reports = [0.05, 0.15, 1.0, 0.0, 0.0, 0.0]
    async with contextlib.AsyncExitStack() as stack:
        lanes = []
        for store in STORES:
            make = await stack.enter_async_context(stores(store, key, tmp_path, request))
            lanes.append(make(limit, "spread"))
        t = T0
        for step, report in enumerate(reports):
            replies = []
            for lane in lanes:
                lane.backend._spacing_report = lambda report=report: report  # type: ignore[method-assign]
                replies.append(await lane.step(t, reserve=True))
            first = replies[0]
            for name, reply in zip(STORES[1:], replies[1:], strict=True):
                for field in ("wait", "jitter", "tokens"):
                    a, b = getattr(reply, field), getattr(first, field)
                    assert close(a, b, time=t), (step, name, field, a, b)
            if step == 2:  # the most kept: MAX_SPREAD of the 0.5 s interval
                assert first.jitter == pytest.approx(MAX_SPREAD / 2)
                capped = t
            if step == 3:
                assert first.jitter == pytest.approx(
                    MAX_SPREAD / 2 * 0.5 ** ((t - capped) / JITTER_HALF_LIFE)
                )
            t += first.wait + 0.01
        assert first.jitter > 0.0
