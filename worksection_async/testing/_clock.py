"""A virtual clock for tests: time moves only when the test (or autojump) moves it.

``ManualClock`` implements the library's ``Clock`` protocol (``now()`` and ``sleep()``), so
a ``Client`` and a ``FakeWorksection`` can share one: the client's throttle and retry
policy wait on it, the fake's quota reads it, and no test ever sleeps in real time.

* ``clock.advance(seconds)`` moves time forward and wakes the sleepers that are due.
* ``async with clock.autojump():`` runs a driver that, whenever every other task is
  blocked, jumps straight to the next sleeper's deadline (like trio's ``MockClock``
  with ``autojump_threshold=0``), on asyncio and trio alike.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel

__all__ = ["ManualClock"]


class ManualClock:
    """Virtual monotonic time, starting at ``start`` seconds."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._counter = itertools.count()
        self._sleeper_added: anyio.Event | None = None
        self.jumps = 0

    def now(self) -> float:
        """The virtual time, in seconds."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake every sleeper that is due."""
        if seconds < 0:
            raise ValueError(f"time cannot go backwards (advance by {seconds!r})")
        self._now += seconds
        self._wake_due()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, event = heapq.heappop(self._sleepers)
            event.set()

    async def sleep(self, seconds: float) -> None:
        """Wait until virtual time has advanced by ``seconds``."""
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        # A tiny wait must still move time: at large ``now`` the sum can round to ``now``.
        deadline = max(self._now + seconds, math.nextafter(self._now, math.inf))
        heapq.heappush(self._sleepers, (deadline, next(self._counter), event))
        if self._sleeper_added is not None:
            self._sleeper_added.set()
        await event.wait()

    @property
    def next_deadline(self) -> float | None:
        """When the earliest sleeper is due, or ``None`` if nobody sleeps."""
        return self._sleepers[0][0] if self._sleepers else None

    @asynccontextmanager
    async def autojump(self) -> AsyncIterator[ManualClock]:
        """Jump to the next deadline whenever all other tasks are blocked.

        "Blocked" is trio's ``wait_all_tasks_blocked``: no task or callback is ready to
        run after a turn of the event loop that polled for I/O without waiting. A task
        that never blocks (a loop around ``sleep(0)``, a callback that schedules itself
        again every turn) keeps time from moving. Finding out costs the same whatever
        the number of tasks, on trio and on asyncio's own event loops; on an event loop
        that does not show its ready queue (uvloop) every task is looked at each turn,
        about a millisecond per jump and thousand tasks.
        """
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._drive)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()

    async def _drive(self) -> None:
        while True:
            await _wait_all_tasks_blocked()
            deadline = self.next_deadline
            if deadline is None:
                self._sleeper_added = anyio.Event()
                await self._sleeper_added.wait()
                self._sleeper_added = None
                continue
            self.jumps += 1
            self._now = max(self._now, deadline)
            self._wake_due()

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now!r}, sleepers={len(self._sleepers)})"


async def _wait_all_tasks_blocked() -> None:
    """Return once every other task waits on something (no real-time polling).

    On trio this is ``trio.testing.wait_all_tasks_blocked``. On asyncio, every task that
    can run (and every callback due) sits in the event loop's ready queue, so the loop is
    idle when a whole turn of it ran this task alone: the ready queue is empty when it
    resumes, after a turn that polled for I/O without waiting and ran the due timers.
    That is one length check per turn of the loop, whatever the number of tasks. A loop
    without a ready queue of its own (uvloop) falls back to looking at every task on each
    turn: a jump then costs O(tasks) (about a millisecond per thousand tasks).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio: anyio's other backend is trio
        import trio.testing

        await trio.testing.wait_all_tasks_blocked()
        return
    ready = _ready_queue(loop)
    if ready is None:
        await _scan_all_tasks()
        return
    while True:
        await asyncio.sleep(0)
        if not ready:
            return


def _ready_queue(loop: asyncio.AbstractEventLoop) -> collections.deque[object] | None:
    """The loop's queue of callbacks to run on its next turn, if it shows one."""
    ready = getattr(loop, "_ready", None)
    return ready if isinstance(ready, collections.deque) else None


async def _scan_all_tasks() -> None:
    """The O(tasks) fallback: every other task waits on a future that is not done."""
    await asyncio.sleep(0)
    this = asyncio.current_task()
    while True:
        for task in asyncio.all_tasks():
            if task is this:
                continue
            waiter = getattr(task, "_fut_waiter", None)
            if waiter is None or waiter.done():
                await asyncio.sleep(0)
                break
        else:
            return
