"""BASELINE ONLY: the client-side quota as it was before the time-based law (commit 241d8c6).

Kept so that ``shared_account.py`` can print today's figures next to the previous law's,
side by side in the same run. Not part of the package.

Client-side quota: a token bucket, a pause gate, an adaptive rate and a concurrency cap.

Worksection allows about one request per second per account. Every call of a ``Client``
passes through one ``Throttle``:

1. a ``CapacityLimiter`` caps the requests in flight (``max_concurrency``);
2. a FIFO lock hands out tokens one at a time: the holder waits until the pause gate
   is open and the bucket has a token, takes it, and lets the next caller in;
3. the request goes out; its outcome feeds back:

   * ``QuotaExceededError`` closes the gate for every call (nothing is sent while
     paused), empties the bucket, and cuts the rate multiplicatively: a little
     (``ISOLATED_DECREASE``) for an isolated error, by ``decrease`` (half) for a
     repeated one. A repeated error (within ``REPEAT_WINDOW`` successes of
     the previous one) also sets a ceiling, ``CEILING_BACKOFF`` of the rate it hit, that
     recovery may not pass, so the client converges under an account whose real quota
     is lower than configured; an isolated error (network jitter) leaves the ceiling
     alone. Errors of requests sent before the latest pause change nothing more. The
     gate opens after one token interval at the new rate plus a small positive jitter,
     so waiting calls do not stampede.
   * a success raises the rate additively (``+ increase * configured``) up to the
     ceiling; after ``probe_after`` successes in a row the ceiling creeps back up
     (``* (1 + increase)``), so a temporary squeeze does not slow a long-lived client
     forever.

With ``rate_limit=None`` there is no bucket and no gate: only the concurrency cap, and
the retry policy alone deals with error 20.

The bucket starts with a single token (the first call goes at once) rather than a full
burst: a process that restarts must not fire ``burst`` requests into a bucket the
server may already have drained.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Final

import anyio
import attrs

from worksection_async._clock import Clock
from worksection_async._events import EventHook, PauseEnded, PauseStarted

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_RATE_LIMIT",
    "QuotaSnapshot",
    "RateLimit",
    "Throttle",
]

logger = logging.getLogger("worksection_async.throttle")

_EPSILON: Final = 1e-9
"""Float slack: a token that is 1e-9 short is there (avoids sleeping for rounding)."""


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"RateLimit.{attribute.name} must be > 0, got {value!r}")


def _burst(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 1:
        raise ValueError(f"RateLimit.burst must be an integer >= 1, got {value!r}")


def _fraction(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(f"RateLimit.{attribute.name} must be between 0 and 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RateLimit:
    """``rate`` requests per ``per`` seconds, at most ``burst`` at once, aiming
    ``margin`` (3 %) below the rate.

    ``decrease`` is the factor the rate is multiplied by on error 20, ``increase`` the
    fraction of the configured rate added back per success, ``min_rate`` the floor (in
    requests per second).
    """

    rate: float = attrs.field(default=1.0, validator=_positive)
    per: float = attrs.field(default=1.0, validator=_positive)
    burst: int = attrs.field(default=1, validator=_burst)
    decrease: float = attrs.field(default=0.5, validator=_fraction)
    increase: float = attrs.field(default=0.05, validator=_fraction)
    min_rate: float = attrs.field(default=0.02, validator=_positive)
    probe_after: int = 200
    margin: float = attrs.field(
        default=0.03,
        validator=attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.lt(0.5)),
    )

    @property
    def per_second(self) -> float:
        """The rate the client aims at, in requests per second: the configured rate less
        ``margin``, the share kept in reserve so that network jitter (two requests
        arriving a little closer than they were sent) does not cost error 20s."""
        return self.rate / self.per * (1.0 - self.margin)


DEFAULT_RATE_LIMIT: Final = RateLimit()
"""One request per second, no burst: the API's documented limit."""

DEFAULT_MAX_CONCURRENCY: Final = 8
"""Requests in flight at once per client."""

CEILING_BACKOFF: Final = 0.95
"""On error 20 the rate may later recover to at most this fraction of the rate it hit."""

ISOLATED_DECREASE: Final = 0.9
"""The rate factor for an isolated error 20 (a repeated one uses ``RateLimit.decrease``)."""

REPEAT_WINDOW: Final = 50
"""An error 20 within this many successes of the previous one lowers the ceiling."""

PAUSE_JITTER: Final = 0.25
"""The pause after error 20 lasts one token interval plus up to this fraction of it."""


@attrs.frozen(kw_only=True)
class QuotaSnapshot:
    """What the client's quota is doing right now (``client.quota``)."""

    configured_rate: float | None
    """Requests per second as configured (``None``: no rate limit)."""
    current_rate: float | None
    """Requests per second after adaptation to error 20s."""
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


class Throttle:
    """Shared by every call of one client. Not for use across event loops."""

    def __init__(
        self,
        limit: RateLimit | None,
        max_concurrency: int,
        clock: Clock,
        *,
        jitter: Callable[[float, float], float] = random.uniform,
        on_event: EventHook | None = None,
    ) -> None:
        if type(max_concurrency) is not int or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be an integer >= 1, got {max_concurrency!r}")
        self._limit = limit
        self._clock = clock
        self._jitter = jitter
        self._on_event = on_event
        self.max_concurrency = max_concurrency
        # A semaphore, not a CapacityLimiter: no per-task borrower bookkeeping on the
        # hot path (the slot is always released by the call that took it).
        self._slots = anyio.Semaphore(max_concurrency)
        self._turn = anyio.Lock()
        configured = limit.per_second if limit is not None else None
        self._rate = configured
        self._ceiling = configured
        self._tokens = 1.0
        self._stamp: float | None = None
        self._paused_until = 0.0
        self._last_pause = float("-inf")
        self._errors_seen = 0
        self._streak = 0
        self._waiting = 0
        self._in_flight = 0
        self.calls = 0
        self.quota_errors = 0
        self.retries = 0

    # -- the token bucket ------------------------------------------------------------

    def _refill(self, now: float) -> None:
        assert self._limit is not None
        assert self._rate is not None
        if self._stamp is None:
            self._stamp = now
        elif now > self._stamp:
            self._tokens = min(
                float(self._limit.burst), self._tokens + (now - self._stamp) * self._rate
            )
            self._stamp = now

    def _try_take(self, now: float) -> float:
        """Take a token if the gate is open and one is there: return 0. Otherwise
        return how long to wait before trying again (the pause, or the next token)."""
        if now < self._paused_until - _EPSILON:
            return self._paused_until - now
        if self._limit is None:
            return 0.0
        self._refill(now)
        if self._tokens >= 1.0 - _EPSILON:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        assert self._rate is not None
        return (1.0 - self._tokens) / self._rate

    async def _take_token(self) -> None:
        """Wait for an open gate and a token, then take it (FIFO among callers)."""
        async with self._turn:
            paused = False
            while wait := self._try_take(now := self._clock.now()):
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

    def _pause_over(self, now: float) -> None:
        logger.debug("pause over: calls resume")
        if self._on_event is not None:
            self._on_event(PauseEnded(at=now))

    # -- public API for the client ---------------------------------------------------

    async def acquire(self) -> float:
        """Wait for a concurrency slot and a token; return the time the request may go.

        Pair with ``release(sent_at)``."""
        # Fast path without a checkpoint: a free slot and a token at hand (anyio's
        # acquire() yields to the event loop twice even when nothing is contended).
        self._waiting += 1
        try:
            try:
                self._slots.acquire_nowait()
            except anyio.WouldBlock:
                await self._slots.acquire()
            try:
                if not self._take_token_nowait():
                    await self._take_token()
            except BaseException:
                self._slots.release()
                raise
        finally:
            self._waiting -= 1
        self._in_flight += 1
        self.calls += 1
        return self._clock.now()

    def _take_token_nowait(self) -> bool:
        """Take a token at once if nobody queues before us and the gate is open."""
        if self._turn.locked():
            return False  # someone is waiting for a token: keep the queue FIFO
        if self._limit is None:
            return True  # no bucket, and the gate only closes with a bucket
        return self._try_take(self._clock.now()) == 0.0

    def release(
        self, sent_at: float, *, quota_exceeded: bool = False, succeeded: bool = False
    ) -> None:
        """Give the slot back and feed the outcome (of the request sent at ``sent_at``,
        what ``acquire()`` returned) to the adaptive rate."""
        self._in_flight -= 1
        self._slots.release()
        if quota_exceeded:
            self._on_quota_exceeded(sent_at)
        elif succeeded:
            self._on_success()

    def _on_quota_exceeded(self, sent_at: float) -> None:
        self.quota_errors += 1
        if self._limit is None or self._rate is None or self._ceiling is None:
            return  # no client-side quota: the retry policy alone deals with error 20
        if sent_at < self._last_pause:
            return  # sent before the last pause: that pause already answered it
        now = self._clock.now()
        floor = self._limit.min_rate
        if self._errors_seen and self._streak < REPEAT_WINDOW:
            # A second error soon after the last one: the account's real quota is lower
            # than configured. Cut the rate hard and remember where the limit is.
            self._ceiling = max(floor, min(self._ceiling, self._rate) * CEILING_BACKOFF)
            factor = self._limit.decrease
        else:
            # One isolated error (a request that left late, network jitter): slow down
            # a little, keep the ceiling.
            factor = ISOLATED_DECREASE
        self._errors_seen += 1
        self._streak = 0
        self._last_pause = now
        self._rate = max(floor, self._rate * factor)
        interval = 1.0 / self._rate
        until = now + interval + self._jitter(0.0, interval * PAUSE_JITTER)
        if until > self._paused_until:
            self._paused_until = until
            # The server's bucket is empty now: ours refills from here, one token by
            # the time the gate opens.
            self._tokens = 0.0
            self._stamp = now
            logger.debug(
                "quota exceeded: pausing all calls for %.3fs, rate now %.3f/s",
                until - now,
                self._rate,
            )
            if self._on_event is not None:
                self._on_event(PauseStarted(at=now, until=until))

    def _on_success(self) -> None:
        if self._limit is None or self._rate is None or self._ceiling is None:
            return
        configured = self._limit.per_second
        self._streak += 1
        if self._streak >= self._limit.probe_after and self._ceiling < configured:
            self._ceiling = min(configured, self._ceiling * (1 + self._limit.increase))
            self._streak = 0
        self._rate = min(self._ceiling, self._rate + self._limit.increase * configured)

    @property
    def paces_retries(self) -> bool:
        """With a bucket, the gate decides when a retry goes: the policy need not sleep."""
        return self._limit is not None

    def note_retry(self) -> None:
        self.retries += 1

    @property
    def paused_until(self) -> float | None:
        return self._paused_until if self._paused_until > self._clock.now() else None

    def snapshot(self) -> QuotaSnapshot:
        tokens = self._tokens
        if self._limit is not None and self._stamp is not None and self._rate is not None:
            now = self._clock.now()
            if now > self._stamp:
                tokens = min(float(self._limit.burst), tokens + (now - self._stamp) * self._rate)
        return QuotaSnapshot(
            configured_rate=self._limit.per_second if self._limit is not None else None,
            current_rate=self._rate,
            tokens=tokens,
            waiting=self._waiting,
            in_flight=self._in_flight,
            paused_until=self.paused_until,
            calls=self.calls,
            quota_errors=self.quota_errors,
            retries=self.retries,
        )
