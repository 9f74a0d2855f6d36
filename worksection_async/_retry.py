"""The retry policy: retry error 20 (quota exceeded) and nothing else.

Built on tenacity's ``AsyncRetrying``. Attempt ``n`` (1-based) that fails with
``QuotaExceededError`` is followed by a wait of::

    wait(n) = min(max_wait, initial_wait * 2 ** (n - 1))          jitter=False
    wait(n) = uniform(wait(n) / 2, wait(n))  (never below 0)        jitter=True

(``Client`` passes ``paced=True`` when its client-side quota is on: the retry then
waits at the quota's pause gate instead.) The loop stops after ``max_attempts``
requests, or earlier when the next wait would end past ``deadline`` seconds after the
first attempt; the ``QuotaExceededError`` it then
raises says how many attempts were made. Every other exception is raised at once, after
exactly one request. No tenacity type appears in a public signature.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from ._clock import Clock, MonotonicClock
from ._exceptions import QuotaExceededError

__all__ = ["DEFAULT_RETRY", "RetryPolicy", "run_with_retry"]

T = TypeVar("T")


def _seconds(value: float | dt.timedelta | None) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    if seconds < 0:
        raise ValueError(f"durations must not be negative, got {value!r}")
    return seconds


def _positive_attempts(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 1:
        raise ValueError(f"max_attempts must be an integer >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How quota errors (code 20) are retried. ``Client(retry=None)`` turns retrying off.

    ``initial_wait``, ``max_wait`` and ``deadline`` are seconds (``float``) or
    ``timedelta``; ``deadline=None`` means no time bound, only ``max_attempts``.
    """

    max_attempts: int = attrs.field(default=8, validator=_positive_attempts)
    initial_wait: float = attrs.field(default=1.0, converter=_seconds)
    max_wait: float = attrs.field(default=60.0, converter=_seconds)
    jitter: bool = True
    deadline: float | None = attrs.field(default=None, converter=_seconds)

    def wait_for(
        self, attempt: int, rng: Callable[[float, float], float] = random.uniform
    ) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_wait, self.initial_wait * 2 ** (attempt - 1))
        return rng(base / 2, base) if self.jitter else base


DEFAULT_RETRY = RetryPolicy()


class _Stop:
    """Stop at ``max_attempts``, or when the next wait would pass the deadline."""

    __slots__ = ("_clock", "_policy", "_start")

    def __init__(self, policy: RetryPolicy, clock: Clock, start: float) -> None:
        self._policy = policy
        self._clock = clock
        self._start = start

    def __call__(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self._policy.max_attempts:
            return True
        deadline = self._policy.deadline
        if deadline is None:
            return False
        elapsed = self._clock.now() - self._start
        return elapsed + (state.upcoming_sleep or 0.0) > deadline


async def run_with_retry(
    policy: RetryPolicy | None,
    attempt: Callable[[], Awaitable[T]],
    *,
    clock: Clock | None = None,
    on_retry: Callable[[QuotaExceededError, int, float], None] | None = None,
    paced: bool = False,
) -> T:
    """Run ``attempt`` under ``policy``; ``None`` means a single attempt.

    ``on_retry(error, attempt_number, wait)`` is called before each wait. With
    ``paced=True`` the policy decides only *whether* to retry and does not sleep: the
    caller's client-side quota (its pause gate and adaptive rate, which halves on
    repeated errors) decides *when* the retry goes out.
    """
    if policy is None:
        return await attempt()
    clock = clock or MonotonicClock()
    start = clock.now() if policy.deadline is not None else 0.0
    try:
        # The first attempt runs outside tenacity: most calls succeed, and building a
        # retry loop for them would be pure overhead on the hot path.
        return await attempt()
    except QuotaExceededError as error:
        first_failure: list[QuotaExceededError] = [error]

    async def replay_then_attempt() -> T:
        # Tenacity's attempt 1 is the failure that already happened: replay it, so
        # attempt numbers, waits and the stop rule count real requests.
        if first_failure:
            raise first_failure.pop()
        return await attempt()

    def wait(state: RetryCallState) -> float:
        return 0.0 if paced else policy.wait_for(state.attempt_number)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            error = state.outcome.exception()
            if isinstance(error, QuotaExceededError):
                on_retry(error, state.attempt_number, state.upcoming_sleep or 0.0)

    def give_up(state: RetryCallState) -> T:
        assert state.outcome is not None
        error = state.outcome.exception()
        if isinstance(error, QuotaExceededError):
            raise error.with_attempts(state.attempt_number) from error
        raise error  # type: ignore[misc]  # pragma: no cover - only quota errors retry

    retrying = AsyncRetrying(
        sleep=clock.sleep,
        stop=_Stop(policy, clock, start),
        wait=wait,
        retry=retry_if_exception_type(QuotaExceededError),
        before_sleep=before_sleep,
        retry_error_callback=give_up,
        reraise=True,
    )
    return await retrying(replay_then_attempt)
