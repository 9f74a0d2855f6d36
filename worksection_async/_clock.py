"""Clocks: where the throttle, the retry policy and the fake read the time and sleep.

Production code uses ``MonotonicClock`` (anyio's clock and ``anyio.sleep``); tests pass a
virtual clock so that waiting never takes real time.
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio

__all__ = ["Clock", "MonotonicClock"]


class Clock(Protocol):
    """A source of monotonic time in seconds and a way to wait on it."""

    def now(self) -> float:
        """The current time, in seconds."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""


class MonotonicClock:
    """``time.monotonic()``; ``sleep`` is ``anyio.sleep``."""

    __slots__ = ()

    def now(self) -> float:
        """The current time, in seconds."""
        # Only differences are used, so any monotonic source is right on every backend.
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""
        await anyio.sleep(seconds)

    def __repr__(self) -> str:
        return "MonotonicClock()"
