"""FIFO semaphore and lock whose waiters leave in O(1) when cancelled.

anyio's ``Semaphore`` and ``Lock`` keep their waiters in a ``deque`` on asyncio, and a
cancelled waiter takes itself out with ``deque.remove``: a scan from the head. A task
group cancelled with *n* calls queued for the throttle does *n* such scans in the order
the tasks are cancelled (a set's order, not the queue's): O(n²), seconds for 50,000
queued calls. Here the waiters sit in an ``OrderedDict`` (a hash table threaded on a doubly
linked list, as trio's ``ParkingLot`` does), so joining the queue, leaving it from
anywhere and taking its head are all O(1), and the order is first come, first served.

* Each waiter parks on its own ``anyio.Event`` (asyncio and trio alike). ``release()``
  hands the unit straight to the head waiter (it never passes through ``value``, so no
  newcomer can overtake a waiter); a waiter cancelled after it was handed the unit, but
  before it ran, hands it on to the next one.
* ``try_acquire()`` is the fast path: no checkpoint, no allocation, ``False`` when it
  would have to wait (no exception to raise, catch, or chain to a later cancellation);
  ``acquire_nowait()`` is the same with ``anyio.WouldBlock``, as in anyio.
  ``acquire()`` is a checkpoint like anyio's: it raises if the task is already
  cancelled and yields once (shielded) even when nothing is contended.
* There is no owner: any task may release (the throttle always releases from the task
  that acquired), and acquiring a ``FifoLock`` twice from one task waits forever.
"""

from __future__ import annotations

import collections
from types import TracebackType

import anyio
import anyio.lowlevel

__all__ = ["FifoLock", "FifoSemaphore"]


class FifoSemaphore:
    """A counting semaphore, first come first served, with O(1) cancellation."""

    __slots__ = ("_value", "_waiters")

    def __init__(self, value: int) -> None:
        if type(value) is not int or value < 0:
            raise ValueError(f"a semaphore's value must be an integer >= 0, got {value!r}")
        self._value = value
        # Insertion order is the queue; values are unused (a set with order).
        self._waiters: collections.OrderedDict[anyio.Event, None] = collections.OrderedDict()

    @property
    def value(self) -> int:
        """Units free right now (0 whenever a task waits)."""
        return self._value

    @property
    def waiting(self) -> int:
        """Tasks queued in ``acquire()``."""
        return len(self._waiters)

    def try_acquire(self) -> bool:
        """Take a unit at once if one is free (no checkpoint); say whether it did."""
        if self._value > 0 and not self._waiters:
            self._value -= 1
            return True
        return False

    def acquire_nowait(self) -> None:
        """Take a unit at once, or raise ``anyio.WouldBlock`` (no checkpoint)."""
        if not self.try_acquire():
            raise anyio.WouldBlock

    async def acquire(self, *, first: bool = False) -> None:
        """Take a unit, waiting behind the tasks already queued (``first``: ahead of
        them, at the head of the queue)."""
        if self._value > 0 and not self._waiters:
            await anyio.lowlevel.checkpoint_if_cancelled()
            self._value -= 1
            await anyio.lowlevel.cancel_shielded_checkpoint()
            return
        event = anyio.Event()
        self._waiters[event] = None
        if first:
            self._waiters.move_to_end(event, last=False)
        try:
            await event.wait()
        except BaseException:
            if event.is_set():
                self.release()  # handed the unit, then cancelled before running: pass it on
            else:
                del self._waiters[event]
            raise

    def release(self) -> None:
        """Give a unit back: to the longest-waiting task, or to ``value``."""
        if self._waiters:
            event, _ = self._waiters.popitem(last=False)
            event.set()
        else:
            self._value += 1

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(value={self._value}, waiting={len(self._waiters)})"


class FifoLock(FifoSemaphore):
    """A lock, first come first served, with O(1) cancellation (a semaphore of one)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(1)

    def locked(self) -> bool:
        return self._value == 0

    def release(self) -> None:
        if self._value:
            raise RuntimeError("release of an unlocked FifoLock")
        super().release()

    def __repr__(self) -> str:
        return f"FifoLock(locked={self._value == 0}, waiting={len(self._waiters)})"
