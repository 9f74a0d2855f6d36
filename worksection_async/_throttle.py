"""Client-side quota: a token bucket, a pause gate, an adaptive rate and a concurrency cap.

Worksection allows about one request per second per account, and one account is often
shared by several programs (a bot, a cron job, a service). Every call of a ``Client``
passes through one ``Throttle``:

1. a semaphore caps the requests in flight (``max_concurrency``);
2. a FIFO lock hands out tokens one at a time: the holder waits until the pause gate is
   open and a token is there, takes it, and lets the next caller in;
3. the request goes out; its outcome feeds back into the rate (``_Law``).

The rate follows CUBIC (TCP CUBIC, botocore's adaptive retry mode), with time measured in
seconds, never in successes (a squeeze takes successes away):

* the rate climbs back to the plateau ``W`` (the rate that last hit the limit) in
  ``K = recovery * cbrt(W / R)`` seconds, concave, flattening as it nears ``W``::

      rate(t) = W - W * (1 - decrease) * (1 - t / K) ** 3            t <= K

  then probes above it, convex, reaching the configured rate ``R`` after ``recovery``
  more seconds whatever ``W`` was::

      rate(t) = W + (R - W) * ((t - K) / recovery) ** 3             t > K

* every error 20 (from a request sent after the latest pause) closes the gate for one
  interval plus a small random jitter, so waiting calls do not stampede and clients on
  one account fall out of step;
* an error 20 *cuts* the rate (``W`` = a margin below the rate that hit, rate =
  ``decrease * W``) when it is evidence that this client is too fast: it ends a probe
  above the plateau, or errors keep following successes (two success-then-error
  turns in the last ``CUT_WINDOW`` outcomes). One error in a run of successes (jitter,
  a neighbour's single request) costs the pause and nothing more, except at the
  configured rate, where it widens the interval by ``MARGIN_STEP`` (the learned
  margin, halving every ``MARGIN_HALF_LIFE`` intervals): requests arrive less evenly
  than they leave, and the margin grows until they stop colliding;
* an error 20 that the client's own requests explain is not counted at all: when it
  came less than an interval after the client's own success and one of the two took
  ``LATE`` intervals longer on the way than the other (a slow network path), that
  success took the token, and the pacing already paid for it (no pause, no cut);
* back-to-back error 20s mean another program holds the account: the client is
  *contended* for ``CONTENDED_FOR`` recovery periods, renewed by every error while
  it is. Contended clients take *turns* (a reservation, as in reservation ALOHA):

  - the client that gets through holds the account for ``TURN`` intervals of the
    configured rate (40 s at 1/s) at its full rate, then steps aside for
    ``STEP_ASIDE`` intervals. A turn starts at the plateau, if the rate had climbed
    above it while the client waited (the recovery runs in time: after a wait of a
    few turns every turn would start at the configured rate and be cut again on an
    account that allows less), and probes up from there; a turn that ends at a
    higher rate makes that rate the plateau the next turn starts from;
  - an error in its own turn (a neighbour's first request, or the rate) costs the
    usual pause; a second one in a row means another client holds the account now:
    it waits one turn (plus up to ``TURN_JITTER`` of one, so waiting clients fall out
    of step) and tries again then, when the holder steps aside; a client whose own
    turn just ended and found the account taken comes back one turn later, within
    the step aside of the client that took over. Two clients settle into about one
    error 20 per turn each;
  - a client that has not had a success for ``STARVING`` turns (or never had one)
    tries again at every interval, as it did before it knew of the others: the holder
    may not follow this law, or may not know it is there (it learns from the error
    its first success causes it). A holder at the full rate leaves the account idle
    only ``margin`` of each interval, so the tries come ``SWEEP`` of an interval
    slower than the holder sends: each lands a little later in the holder's interval
    than the one before and finds the idle moment within one walk across it (joining
    two clients cost 20-50 error 20s; tries at the holder's own pace missed it for
    40-100).

  Nothing here depends on the neighbours following this law: a neighbour that never
  steps aside is met with tries at every interval, as before. To share an account
  without collisions at all, share the quota itself.

Pacing: each token needs two buckets to agree. The *spacing* bucket fills at the current
rate (less the learned margin) and holds ``burst``
tokens: two requests never leave closer than the account's interval. The *pacing*
bucket fills ``margin`` slower and holds one token more, so a send that left late
(timer overshoot, a busy event loop) is caught up on the following ones instead of
being lost for good.

With ``rate_limit=None`` there is no bucket and no gate: only the concurrency cap, and
the retry policy alone deals with error 20.

Where the state lives: the ``Throttle`` keeps the concurrency cap and the FIFO turn (who
waits for the next token) in the process, and hands the buckets, the gate and the law to
a ``QuotaBackend``: ``LocalQuota`` (everything above, in this process) unless the client
has a shared quota (``worksection_async.shared``), whose backend keeps them in Redis and
runs this same law there, as a Lua script.

Both buckets start with a single token (the first call goes at once) rather than a full
burst: a process that restarts must not fire ``burst`` requests into a bucket the
server may already have drained.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import random
from collections.abc import Callable
from typing import Final, Protocol

import attrs

from ._clock import Clock
from ._events import EventHook, PauseEnded, PauseStarted
from ._rate_limit import _EPSILON, DEFAULT_RATE_LIMIT, RateLimit
from ._waiters import FifoLock, FifoSemaphore

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_RATE_LIMIT",
    "LocalQuota",
    "QuotaBackend",
    "QuotaDeadline",
    "QuotaFigures",
    "QuotaSnapshot",
    "QuotaWaitExpired",
    "RateLimit",
    "Throttle",
]

logger = logging.getLogger("worksection_async.throttle")

DEFAULT_MAX_CONCURRENCY: Final = 8
"""Requests in flight at once per client."""

PAUSE_JITTER: Final = 0.25
"""The pause after error 20 lasts one interval plus up to this fraction of it."""

CUT_WINDOW: Final = 8
"""Outcomes (successes and counted error 20s) remembered to tell repeated errors from
an isolated one."""

TURN: Final = 40.0
"""A contended client holds the account for this many intervals of the configured
rate (40 s at 1/s), then leaves it to the others for ``STEP_ASIDE`` intervals; a
client that finds the account held waits this long for the holder's turn to end."""

STEP_ASIDE: Final = 4.0
"""Intervals a contended client leaves the account alone after its turn."""

CONTENDED_FOR: Final = 10.0
"""Back-to-back error 20s (or any error while contended) mark a client contended for
this many ``recovery`` periods (400 s at 1/s): the holder of the account hears of the
others only when they get through, which may be many turns apart."""

STARVING: Final = 3.0
"""A client without a success for this many turns probes at every interval again:
the holder may not know it is there (its neighbours may not follow this law)."""

SWEEP: Final = 0.04
"""A starving client tries every interval plus this fraction of one (and up to
``SWEEP_SPREAD`` more): a little slower than a holder at the full rate sends (every
``1 / (1 - margin)`` intervals, so the account's bucket is full again for about
``margin`` of each interval), so that each try lands a little later in the holder's
interval than the one before, by less than the moment the bucket is full: the tries
walk across the holder's interval and cannot jump that moment. Tries at the holder's
own period (a random spread around it) drift at random instead, and can miss the
moment for a hundred tries or more."""

SWEEP_SPREAD: Final = 0.02
"""The random part of a starving client's wait between tries, as a fraction of the
interval (the holder's arrival jitter moves the moment too)."""

TURN_JITTER: Final = 0.1
"""A client that lost its try for the account waits a turn plus up to this fraction
of one, so that the clients waiting fall out of step."""

LATE: Final = 0.25
"""An error 20 less than an interval after the client's own success, when one of the
two requests took this many intervals longer on the way than the other, is that
success's doing: a slow network path, not a neighbour or the rate."""

CARRY: Final = 1.0
"""Tokens the pacing bucket may hold beyond ``burst``: how much lateness is caught up."""

MARGIN_STEP: Final = 0.02
"""An isolated error 20 at the configured rate (alone on the account, no cut) widens
the interval by this fraction: requests arrive less evenly than they leave (a busy
event loop, the network), and the account counted two of them too close together..."""

MARGIN_HALF_LIFE: Final = 200.0
"""...and the widening halves every this many intervals of the configured rate...."""

MAX_LEARNED_MARGIN: Final = 0.25
"""...up to this fraction of the interval at most."""


class QuotaWaitExpired(Exception):
    """The call's deadline would pass before the quota lets it go (nothing was sent)."""


@attrs.define
class QuotaDeadline:
    """When a call must give up waiting for the quota: ``budget`` seconds from the
    moment it first queues for a token (``at``, set then)."""

    budget: float | None
    at: float | None = None

    sent: bool = False

    def start(self, now: float) -> None:
        if self.at is None and self.budget is not None:
            self.at = now + self.budget

    def first_sent(self, now: float) -> None:
        """The call's first request leaves now: its retries get ``budget`` seconds from
        here (the wait behind the caller's own backlog does not eat into them)."""
        if not self.sent:
            self.sent = True
            if self.budget is not None:
                self.at = now + self.budget


@attrs.frozen(kw_only=True)
class QuotaSnapshot:
    """What the client's quota is doing right now (``client.quota``)."""

    configured_rate: float | None
    """Requests per second the client aims at when nothing slows it (``None``: no
    rate limit): the configured rate less the margin."""
    current_rate: float | None
    """Requests per second the control law allows now (the client aims ``margin``
    below it)."""
    rate_at_last_decrease: float | None
    """The plateau ``W`` of the control law: where error 20 last cut the rate
    (``None`` before the first cut). The rate climbs back to it, then probes beyond."""
    since_last_decrease: float | None
    """Seconds since error 20 last cut the rate (``None`` before the first cut)."""
    contended: bool
    """Back-to-back error 20s were seen in the last three ``recovery`` periods (or
    errors since, while contended): another program uses the account, and this client
    takes turns with it."""
    turn: float | None = None
    """Seconds into this client's turn on the account while it is contended and holds
    it (``None``: not contended, or waiting for its turn; always ``None`` for a shared
    quota, whose processes share one bucket and need no turns)."""
    learned_margin: float
    """Seconds added to the interval between requests because isolated error 20s showed
    that requests arrive less evenly than they leave (decays without them)."""
    tokens: float
    waiting: int
    """Calls waiting for a concurrency slot or a token."""
    in_flight: int
    paused_until: float | None
    """Clock time until which nothing is sent, or ``None`` when not paused."""
    calls: int
    """Requests sent."""
    quota_errors: int
    """Error 20 answers absorbed (or passed on)."""
    retries: int
    """Retries scheduled by the retry policy."""
    shared: bool = False
    """The bucket, the pause gate and the rate are shared with other processes through
    Redis right now (``Client(shared_quota=...)``); ``False`` for a local quota, and
    while a shared one falls back to its local quota because Redis does not answer.
    The rate, plateau, contention, margin, tokens and ``paused_until`` are then the
    shared state's, as of this client's latest round trip to Redis."""
    shared_calls: int | None = None
    """Requests sent by every process on the shared key (``None``: not shared)."""
    shared_quota_errors: int | None = None
    """Error 20 answers reported by every process on the shared key."""
    processes: int | None = None
    """Processes seen on the shared key in the last 30 seconds (``None``: not shared;
    kept while falling back: the local quota's rate is the configured one divided by
    it)."""


class _Law:
    """The adaptive rate and the turns (see the module docstring): pure state, fed with
    outcomes and the time, never sleeping."""

    __slots__ = (
        "_beta",
        "_ceiling",
        "_floor",
        "_margin",
        "_ok_at",
        "_ok_latency",
        "_recent",
        "_recovery",
        "_stepped",
        "_widened",
        "_widened_at",
        "contended_until",
        "held_since",
        "plateau",
        "since",
    )

    def __init__(self, limit: RateLimit) -> None:
        self._ceiling = limit.configured
        self._floor = limit.floor * limit.configured
        self._beta = limit.decrease
        self._margin = limit.margin
        self._recovery = limit.recovery_seconds
        self._recent: collections.deque[bool] = collections.deque(maxlen=CUT_WINDOW)
        """The latest outcomes, oldest first: ``True`` for an error 20."""
        self._widened = 0.0
        self._widened_at = -math.inf
        self._ok_at = -math.inf
        """When the latest success was answered..."""
        self._ok_latency: float | None = None
        """...and how long its request took (``None``: not known)."""
        self._stepped = False
        """The client stepped aside after its turn and has not succeeded since."""
        self.plateau: float | None = None
        """``W``: where the latest cut happened (``None``: never cut)."""
        self.since = -math.inf
        """Clock time of the latest cut."""
        self.contended_until = -math.inf
        self.held_since = -math.inf
        """When the client's current turn began (its first success after waiting)."""

    def _climb(self, w: float) -> float:
        """``K``: seconds from a cut back to the plateau ``w``."""
        return float(self._recovery * (w / self._ceiling) ** (1.0 / 3.0))

    def rate(self, now: float) -> float:
        w = self.plateau
        if w is None:
            return self._ceiling
        k = self._climb(w)
        t = now - self.since
        if t <= k:
            rate = w - w * (1.0 - self._beta) * (1.0 - t / k) ** 3
        else:
            rate = w + (self._ceiling - w) * ((t - k) / self._recovery) ** 3
        return min(self._ceiling, max(self._floor, rate))

    def contended(self, now: float) -> bool:
        return now < self.contended_until

    def widening(self, now: float) -> float:
        """The learned margin: the fraction the interval is widened by, at ``now``."""
        if not self._widened:
            return 0.0
        half_life = MARGIN_HALF_LIFE / self._ceiling
        return float(self._widened * 0.5 ** ((now - self._widened_at) / half_life))

    def turn(self) -> float:
        """Seconds of a turn: ``TURN`` intervals of the configured rate."""
        return TURN / self._ceiling

    def turn_so_far(self, now: float) -> float | None:
        """Seconds into the client's turn (``None``: not contended, or not holding)."""
        if not self.contended(now) or self.held_since == -math.inf:
            return None
        return now - self.held_since

    def on_success(self, now: float, sent: float | None = None) -> float:
        """A request (sent at ``sent``, if known) succeeded. Return how long to leave
        the account to the others now: 0, unless the client is contended and its turn
        is over (``STEP_ASIDE`` intervals at its rate)."""
        self._ok_at = now
        self._ok_latency = None if sent is None else now - sent
        self._recent.append(False)
        self._stepped = False
        if self.held_since == -math.inf:
            self.held_since = now
            if self.contended(now):
                self._resume(now)
        elif now - self.held_since >= self.turn() and self.contended(now):
            self.held_since = -math.inf
            self._stepped = True
            self._keep(now)
            return STEP_ASIDE / self.rate(now)
        return 0.0

    def _resume(self, now: float) -> None:
        """A turn begins: probe up from the plateau, not from wherever the climb got
        to while the client waited (the recovery runs in time, and a wait of a few
        turns would start every turn at the configured rate, above the limit)."""
        w = self.plateau
        if w is not None and now - self.since > self._climb(w):
            self.since = now - self._climb(w)

    def _keep(self, now: float) -> None:
        """A turn ends: the rate it reached is the plateau the next turn starts from
        (a turn that climbed without an error shows the account allows it)."""
        w = self.plateau
        if w is not None and now - self.since > self._climb(w):
            w = min(self._ceiling, self.rate(now))
            self.plateau = w
            self.since = now - self._climb(w)

    def explained(self, now: float, sent: float) -> bool:
        """The request sent at ``sent`` got error 20 (answered ``now``) less than an
        interval after this client's latest success, and one of the two took ``LATE``
        intervals longer on the way than the other: that success reached the account
        just before it (a slow path), which says nothing of a neighbour or the rate."""
        latency = self._ok_latency
        if latency is None or now - self._ok_at >= 1.0 / self._ceiling:
            return False
        return abs((now - sent) - latency) >= LATE / self._ceiling

    def on_quota_exceeded(self, now: float, u: float) -> tuple[float, float]:
        """A counted error 20 (not ``explained``): cut if it shows this client is too
        fast. Return the rate it hit and how long to close the gate; ``u`` in [0, 1)
        draws the pause's jitter."""
        hit = self.rate(now)
        recent = self._recent
        after_success = bool(recent) and not recent[-1]
        contended = self.contended(now)
        if contended or not after_success:
            # Back to back (or again, while contended): someone else holds the account.
            self.contended_until = now + self._recovery * CONTENDED_FOR
        recent.append(True)
        if after_success and (self._repeated() or self._lost_probe(now, hit)):
            self.plateau = hit * (1.0 - self._margin)
            self.since = now
            self._widened = 0.0  # the rate, not the jitter, was the trouble
        elif hit >= self._ceiling and not contended:
            # Alone on the account at the configured rate, which the account allows:
            # two requests arrived closer than they left. Keep them further apart.
            self._widened = min(MAX_LEARNED_MARGIN, self.widening(now) + MARGIN_STEP)
            self._widened_at = now
        turn = self.turn()
        waited = now - self._ok_at
        if not contended or (after_success and not self._stepped):
            # An error in its own turn (a neighbour's first request, or the rate): one
            # interval, and try again.
            return hit, (1.0 + u * PAUSE_JITTER) / hit
        if waited > STARVING * turn:
            # No turn for too long: the holder does not step aside. Try at every
            # interval, a little slower than the holder sends, so that the tries
            # walk across its interval to the moment the account's bucket is full.
            return hit, (1.0 + SWEEP + u * SWEEP_SPREAD) / hit
        # Another client holds the account: come back when its turn ends.
        self.held_since = -math.inf
        if after_success:
            # Its own turn just ended: the neighbour that took over started within the
            # step aside, and ends its turn within one more.
            wait = turn + u * STEP_ASIDE / self._ceiling
        else:
            wait = turn * (1.0 + u * TURN_JITTER)
        return hit, wait

    def _repeated(self) -> bool:
        """Errors keep following successes: two such turns among the latest outcomes."""
        outcomes = list(self._recent)
        turns = sum(1 for a, b in itertools.pairwise(outcomes) if not a and b)
        return turns >= 2

    def _lost_probe(self, now: float, hit: float) -> bool:
        """The rate was climbing above its plateau: the probe found the account's limit
        (in a turn of its own, a contended client meets no neighbour)."""
        w = self.plateau
        if w is None or hit >= self._ceiling:
            return False
        return now - self.since > self._climb(w)


class Throttle:
    """Shared by every call of one client. Not for use across event loops.

    The concurrency cap and the FIFO turn stay in this process; the bucket, the gate and
    the law are the backend's (``LocalQuota`` unless ``quota`` is given)."""

    def __init__(
        self,
        limit: RateLimit | None,
        max_concurrency: int,
        clock: Clock,
        *,
        jitter: Callable[[float, float], float] = random.uniform,
        on_event: EventHook | None = None,
        quota: QuotaBackend | None = None,
    ) -> None:
        if type(max_concurrency) is not int or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be an integer >= 1, got {max_concurrency!r}")
        self._limit = limit
        self._clock = clock
        self.max_concurrency = max_concurrency
        # A semaphore, not a CapacityLimiter: no per-task borrower bookkeeping on the
        # hot path (the slot is always released by the call that took it). FIFO queues
        # that a cancelled waiter leaves in O(1) (anyio's scan theirs: O(n^2) to cancel).
        self._slots = FifoSemaphore(max_concurrency)
        self._turn = FifoLock()
        self._quota: QuotaBackend = (
            quota
            if quota is not None
            else LocalQuota(limit, clock, jitter=jitter, on_event=on_event)
        )
        self._waiting = 0
        self._in_flight = 0
        self.calls = 0
        self.quota_errors = 0
        self.retries = 0

    async def _take_token(self, deadline: QuotaDeadline | None, first: bool) -> object:
        """Wait for an open gate and a token, then take it (FIFO among callers; a
        retry at the head)."""
        await self._turn.acquire(first=first)
        try:
            return await self._quota.take(deadline)
        finally:
            self._turn.release()

    # -- public API for the client ---------------------------------------------------

    async def open(self) -> None:
        """Connect the backend (a shared quota); the local one needs nothing."""
        await self._quota.open()

    async def close(self) -> None:
        await self._quota.close()

    async def acquire(
        self, deadline: QuotaDeadline | None = None, *, retry: bool = False
    ) -> object:
        """Wait for a concurrency slot and a token; return the grant to pass back to
        ``release()``.

        ``deadline`` starts when the call first queues for a token; a wait that would
        end past it raises ``QuotaWaitExpired`` (nothing taken). A ``retry`` (a call
        that was sent and got error 20) keeps its place: it queues for the slot and the
        token at the head, ahead of calls not sent yet."""
        # Fast path without a checkpoint: a free slot and a token at hand (anyio's
        # acquire() yields to the event loop twice even when nothing is contended).
        self._waiting += 1
        try:
            if not self._slots.try_acquire():
                await self._slots.acquire(first=retry)
            try:
                if deadline is not None:
                    deadline.start(self._clock.now())
                grant = self._take_token_nowait()
                if grant is None:
                    grant = await self._take_token(deadline, retry)
            except BaseException:
                self._slots.release()
                raise
        finally:
            self._waiting -= 1
        self._in_flight += 1
        self.calls += 1
        return grant

    def _take_token_nowait(self) -> object | None:
        """Take a token at once if nobody queues before us and the gate is open."""
        if self._turn.locked():
            return None  # someone is waiting for a token: keep the queue FIFO
        return self._quota.take_nowait()

    def release(
        self, grant: object, *, quota_exceeded: bool = False, succeeded: bool = False
    ) -> None:
        """Give the slot back and feed the outcome (of the request ``acquire()``
        granted) to the adaptive rate."""
        self._in_flight -= 1
        self._slots.release()
        if quota_exceeded:
            self.quota_errors += 1
            self._quota.on_quota_exceeded(grant)
        elif succeeded:
            self._quota.on_success(grant)

    @property
    def paces_retries(self) -> bool:
        """With a bucket, the gate decides when a retry goes: the policy need not sleep."""
        return self._limit is not None

    def note_retry(self) -> None:
        self.retries += 1

    @property
    def paused_until(self) -> float | None:
        return self._quota.figures().paused_until

    def snapshot(self) -> QuotaSnapshot:
        figures = self._quota.figures()
        return QuotaSnapshot(
            configured_rate=figures.configured_rate,
            current_rate=figures.current_rate,
            rate_at_last_decrease=figures.rate_at_last_decrease,
            since_last_decrease=figures.since_last_decrease,
            contended=figures.contended,
            turn=figures.turn,
            learned_margin=figures.learned_margin,
            tokens=figures.tokens,
            waiting=self._waiting,
            in_flight=self._in_flight,
            paused_until=figures.paused_until,
            calls=self.calls,
            quota_errors=self.quota_errors,
            retries=self.retries,
            shared=figures.shared,
            shared_calls=figures.shared_calls,
            shared_quota_errors=figures.shared_quota_errors,
            processes=figures.processes,
        )


class QuotaBackend(Protocol):
    """Where the bucket, the pause gate and the law live: in this process
    (``LocalQuota``) or shared by many processes (``worksection_async.shared``).

    A *grant* is what ``take`` returns and the outcome hooks get back: the backend's own
    record of when (and under which state) the request was let go."""

    def take_nowait(self) -> object | None:
        """A grant at once, without waiting or I/O; ``None``: call ``take``."""
        ...

    async def take(self, deadline: QuotaDeadline | None) -> object:
        """Wait for an open gate and a token (the caller holds the FIFO turn); raise
        ``QuotaWaitExpired`` if that would end past the deadline."""
        ...

    def on_success(self, grant: object) -> None: ...

    def on_quota_exceeded(self, grant: object) -> None: ...

    def figures(self) -> QuotaFigures: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...


@attrs.frozen(kw_only=True)
class QuotaFigures:
    """The backend's part of a ``QuotaSnapshot``."""

    configured_rate: float | None
    current_rate: float | None
    rate_at_last_decrease: float | None
    since_last_decrease: float | None
    contended: bool
    learned_margin: float
    tokens: float
    paused_until: float | None
    shared: bool = False
    shared_calls: int | None = None
    shared_quota_errors: int | None = None
    processes: int | None = None
    turn: float | None = None


class LocalQuota:
    """The bucket, the pause gate and the law of one client, in this process."""

    def __init__(
        self,
        limit: RateLimit | None,
        clock: Clock,
        *,
        jitter: Callable[[float, float], float] = random.uniform,
        on_event: EventHook | None = None,
    ) -> None:
        self._limit = limit
        self._clock = clock
        self._jitter = jitter
        self._on_event = on_event
        self._law = _Law(limit) if limit is not None else None
        self._spacing = 1.0  # tokens of the spacing bucket (at most burst)
        self._pacing = 1.0  # tokens of the pacing bucket (at most burst + CARRY)
        self._stamp: float | None = None
        self._paused_until = 0.0
        self._last_pause = -math.inf

    # -- the buckets -----------------------------------------------------------------

    def _rates(self, now: float) -> tuple[float, float]:
        """Fill rates of the spacing and the pacing bucket at ``now``."""
        assert self._law is not None
        assert self._limit is not None
        spacing = self._law.rate(now) / (1.0 + self._law.widening(now))
        return spacing, spacing * (1.0 - self._limit.margin)

    def _refill(self, now: float) -> tuple[float, float]:
        assert self._limit is not None
        rates = self._rates(now)
        if self._stamp is None:
            self._stamp = now
        elif now > self._stamp:
            # The rate moves between refills: integrate with the mean of both ends, so
            # that growth never turns into tokens that were not earned.
            before = self._rates(self._stamp)
            elapsed = now - self._stamp
            burst = float(self._limit.burst)
            self._spacing = min(burst, self._spacing + elapsed * (rates[0] + before[0]) / 2)
            self._pacing = min(burst + CARRY, self._pacing + elapsed * (rates[1] + before[1]) / 2)
            self._stamp = now
        return rates

    def _try_take(self, now: float) -> float:
        """Take a token if the gate is open and one is there: return 0. Otherwise
        return how long to wait before trying again (the pause, or the next token)."""
        if now < self._paused_until - _EPSILON:
            return self._paused_until - now
        if self._limit is None:
            return 0.0
        spacing_rate, pacing_rate = self._refill(now)
        wait = max((1.0 - self._spacing) / spacing_rate, (1.0 - self._pacing) / pacing_rate)
        # A wait shorter than the clock can tell apart from ``now`` (a float clock far
        # from zero moves in steps of ulp(now)) would never end: the token is there.
        if wait <= max(_EPSILON, 4.0 * math.ulp(now)):
            self._spacing = max(0.0, self._spacing - 1.0)
            self._pacing = max(0.0, self._pacing - 1.0)
            return 0.0
        return wait

    def take_nowait(self) -> object | None:
        now = self._clock.now()
        return now if self._try_take(now) == 0.0 else None

    async def take(self, deadline: QuotaDeadline | None) -> object:
        """Wait for an open gate and a token, then take it."""
        paused = False
        while wait := self._try_take(now := self._clock.now()):
            if deadline is not None and deadline.at is not None and now + wait > deadline.at:
                if paused:
                    self._pause_over(now)
                raise QuotaWaitExpired
            if now < self._paused_until - _EPSILON:
                paused = True
            else:
                if paused:
                    paused = False
                    self._pause_over(now)
                logger.debug("throttled: next token in %.3fs", wait)
            await self._clock.sleep(wait)
        if paused:
            self._pause_over(now)
        return self._clock.now()

    def _pause_over(self, now: float) -> None:
        logger.debug("pause over: calls resume")
        if self._on_event is not None:
            self._on_event(PauseEnded(at=now))

    # -- outcomes --------------------------------------------------------------------

    def on_success(self, grant: object) -> None:
        if self._law is None:
            return
        now = self._clock.now()
        assert isinstance(grant, float)
        aside = self._law.on_success(now, grant)
        if aside:
            # Contended, and this client had its turn: leave the account to the
            # others for a while (they are waiting for it).
            until = now + aside
            if until > self._paused_until:
                self._paused_until = until
                logger.debug("sharing the account: stepping aside for %.3fs", until - now)

    def on_quota_exceeded(self, grant: object) -> None:
        if self._law is None:
            return  # no client-side quota: the retry policy alone deals with error 20
        assert isinstance(grant, float)
        if grant < self._last_pause:
            return  # sent before the last pause: that pause already answered it
        if self._law.explained(self._clock.now(), grant):
            return  # its own late success took the token: the pacing already paid for it
        now = self._clock.now()
        self._refill(now)  # bank the tokens earned at the rate before the error
        # The account's bucket is empty now: wait one interval at the rate that hit, plus
        # a jitter that puts this client out of step with the others, then go (or, when
        # a neighbour holds the account, until its turn is over).
        _, pause = self._law.on_quota_exceeded(now, self._jitter(0.0, 1.0))
        self._last_pause = now
        until = now + pause
        if until > self._paused_until:
            self._paused_until = until
            self._spacing = self._pacing = 1.0
            self._stamp = until
            logger.debug(
                "quota exceeded: pausing all calls for %.3fs, rate now %.3f/s",
                until - now,
                self._law.rate(now),
            )
            if self._on_event is not None:
                self._on_event(PauseStarted(at=now, until=until))

    # -- state -----------------------------------------------------------------------

    @property
    def paused_until(self) -> float | None:
        return self._paused_until if self._paused_until > self._clock.now() else None

    def figures(self) -> QuotaFigures:
        now = self._clock.now()
        limit, law = self._limit, self._law
        tokens = min(self._spacing, self._pacing)
        if limit is None or law is None:
            return QuotaFigures(
                configured_rate=None,
                current_rate=None,
                rate_at_last_decrease=None,
                since_last_decrease=None,
                contended=False,
                learned_margin=0.0,
                tokens=tokens,
                paused_until=self.paused_until,
            )
        spacing_rate, pacing_rate = self._rates(now)
        if self._stamp is not None and now > self._stamp:
            elapsed = now - self._stamp
            tokens = min(
                min(float(limit.burst), self._spacing + elapsed * spacing_rate),
                min(limit.burst + CARRY, self._pacing + elapsed * pacing_rate),
            )
        rate = law.rate(now)
        return QuotaFigures(
            configured_rate=limit.per_second,
            current_rate=rate,
            rate_at_last_decrease=law.plateau,
            since_last_decrease=now - law.since if law.plateau is not None else None,
            contended=law.contended(now),
            turn=law.turn_so_far(now),
            learned_margin=1.0 / spacing_rate - 1.0 / rate,
            tokens=tokens,
            paused_until=self.paused_until,
        )

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None
