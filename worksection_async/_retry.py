"""The retry policy: retry error 20 (quota exceeded) and nothing else.

Built on tenacity's ``AsyncRetrying``. Attempt ``n`` (1-based) that fails with
``QuotaExceededError`` is followed by a wait of::

    wait(n) = min(max_wait, initial_wait * 2 ** (n - 1))          jitter=False
    wait(n) = uniform(wait(n) / 2, wait(n))  (never below 0)        jitter=True

(``Client`` passes ``paced=True`` when its client-side quota is on: the retry then
waits at the quota's pause gate instead, and the gate decides when it goes.)

The loop is bounded in time by ``deadline``, which bounds the caller's own wait twice
over: seconds from the moment the call first queues for the quota until its first
request leaves (the wait behind the caller's own backlog), then seconds from that first
send for its retries; each covers every wait of its stretch (tokens, the pause gate,
backoff). A retry queues at the head of the client's queue (``Throttle.acquire(...,
retry=True)``), so a call that was sent once is not pushed behind calls not sent yet.
Without the client-side quota it is also bounded by ``max_attempts`` (8 by default);
with it, the bound is time alone (``deadline``, or ``DEFAULT_PACED_DEADLINE``), since a
squeeze on a shared account can use up any count of attempts in seconds. The
``QuotaExceededError`` raised on giving up says how many attempts were made. Every
other exception is raised at once, after exactly one request. No tenacity type appears
in a public signature.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import numbers
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from ._clock import Clock, MonotonicClock
from ._exceptions import QuotaExceededError
from ._throttle import QuotaDeadline, QuotaWaitExpired

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_PACED_DEADLINE",
    "DEFAULT_RETRY",
    "RetryPolicy",
    "run_with_retry",
]

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 8
"""Attempts per call when the policy paces retries itself (client-side quota off)."""

DEFAULT_PACED_DEADLINE = 300.0
"""Seconds a call may wait and retry at the client-side quota when ``deadline`` is
``None``: long enough to ride out a squeeze on a shared account, short enough that a
quota which never comes back ends in an error."""


def _duration(value: float | dt.timedelta) -> float:
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (numbers.Real, decimal.Decimal)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"durations must be finite and not negative, got {value!r}") from exc
    else:
        raise TypeError(f"durations must be seconds or a timedelta, got {value!r}")
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"durations must be finite and not negative, got {value!r}")
    return seconds


def _optional_duration(value: float | dt.timedelta | None) -> float | None:
    return None if value is None else _duration(value)


def _attempts(instance: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and (type(value) is not int or value < 1):
        raise ValueError(f"max_attempts must be an integer >= 1 or None, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How quota errors (code 20) are retried. ``Client(retry=None)`` turns retrying off.

    ``initial_wait``, ``max_wait`` and ``deadline`` are seconds (``float``) or
    ``timedelta``. ``deadline`` bounds the call's wait for its first request, every
    wait included, from the moment it first queues for the quota, and then its retries,
    from the moment that first request left (a retry keeps its place at the head of the
    queue): a call ends within twice the deadline. ``None`` means
    ``DEFAULT_PACED_DEADLINE`` (300 s) while the client-side quota is on, and no time
    bound without it.
    ``max_attempts`` bounds the requests per call; ``None`` (the default) means 8
    without the client-side quota and no count with it (time alone bounds the call).
    """

    max_attempts: int | None = attrs.field(default=None, validator=_attempts)
    initial_wait: float = attrs.field(default=1.0, converter=_duration)
    max_wait: float = attrs.field(default=60.0, converter=_duration)
    jitter: bool = True
    deadline: float | None = attrs.field(default=None, converter=_optional_duration)

    def budget(self, *, paced: bool) -> float | None:
        """Seconds a call may take, waits included (``None``: no time bound)."""
        if self.deadline is None and paced:
            return DEFAULT_PACED_DEADLINE
        return self.deadline

    def attempt_limit(self, *, paced: bool) -> int | None:
        """Requests a call may make (``None``: only time bounds it)."""
        if self.max_attempts is None and not paced:
            return DEFAULT_MAX_ATTEMPTS
        return self.max_attempts

    def wait_for(
        self, attempt: int, rng: Callable[[float, float], float] = random.uniform
    ) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_wait, self.initial_wait * 2.0 ** min(attempt - 1, 64))
        return rng(base / 2, base) if self.jitter else base


DEFAULT_RETRY = RetryPolicy()


class _Stop:
    """Stop at the attempt limit, or when the next wait would pass the deadline."""

    __slots__ = ("_clock", "_deadline", "_limit")

    def __init__(self, limit: int | None, clock: Clock, deadline: QuotaDeadline) -> None:
        self._limit = limit
        self._clock = clock
        self._deadline = deadline

    def __call__(self, state: RetryCallState) -> bool:
        if self._limit is not None and state.attempt_number >= self._limit:
            return True
        if self._deadline.at is None:
            return False
        return self._clock.now() + (state.upcoming_sleep or 0.0) > self._deadline.at


async def run_with_retry(
    policy: RetryPolicy | None,
    attempt: Callable[[], Awaitable[T]],
    *,
    clock: Clock | None = None,
    on_retry: Callable[[QuotaExceededError, int, float], None] | None = None,
    paced: bool = False,
    deadline: QuotaDeadline | None = None,
) -> T:
    """Run ``attempt`` under ``policy``; ``None`` means a single attempt.

    ``on_retry(error, attempt_number, wait)`` is called before each wait. With
    ``paced=True`` the policy decides only *whether* to retry and does not sleep: the
    caller's client-side quota (its pause gate and adaptive rate) decides *when* the
    retry goes out. ``deadline`` is the one the attempts' quota waits share (its clock
    starts when the first attempt queues); when a wait would pass it
    (``QuotaWaitExpired``), the latest ``QuotaExceededError`` is raised, or
    ``QuotaWaitExpired`` itself if no request was made yet.
    """
    if policy is None:
        return await attempt()
    clock = clock or MonotonicClock()
    if deadline is None:
        deadline = QuotaDeadline(policy.budget(paced=paced))
    try:
        # The first attempt runs outside tenacity: most calls succeed, and building a
        # retry loop for them would be pure overhead on the hot path.
        return await attempt()
    except QuotaExceededError as error:
        first_failure: list[QuotaExceededError] = [error]
    latest: list[tuple[QuotaExceededError, int]] = []

    async def replay_then_attempt() -> T:
        # Tenacity's attempt 1 is the failure that already happened: replay it, so
        # attempt numbers, waits and the stop rule count real requests.
        if first_failure:
            raise first_failure.pop()
        return await attempt()

    def wait(state: RetryCallState) -> float:
        return 0.0 if paced else policy.wait_for(state.attempt_number)

    def before_sleep(state: RetryCallState) -> None:
        if state.outcome is not None:
            error = state.outcome.exception()
            if isinstance(error, QuotaExceededError):
                latest[:] = [(error, state.attempt_number)]
                if on_retry is not None:
                    on_retry(error, state.attempt_number, state.upcoming_sleep or 0.0)

    def give_up(state: RetryCallState) -> T:
        assert state.outcome is not None
        error = state.outcome.exception()
        if isinstance(error, QuotaExceededError):
            raise error.with_attempts(state.attempt_number) from error
        raise error  # type: ignore[misc]  # pragma: no cover - only quota errors retry

    retrying = AsyncRetrying(
        sleep=clock.sleep,
        stop=_Stop(policy.attempt_limit(paced=paced), clock, deadline),
        wait=wait,
        retry=retry_if_exception_type(QuotaExceededError),
        before_sleep=before_sleep,
        retry_error_callback=give_up,
        reraise=True,
    )
    try:
        return await retrying(replay_then_attempt)
    except QuotaWaitExpired:
        # The quota would not let the retry go before the deadline: give up with the
        # error that made us wait, saying how many requests were made.
        last_error, attempts = latest[0]
        raise last_error.with_attempts(attempts) from last_error
