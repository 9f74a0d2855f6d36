"""Ordered, cancellable concurrent mapping on anyio task groups; time slices."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Final, Literal, TypeVar, overload

import anyio
import anyio.lowlevel

__all__ = ["SLICE_SECONDS", "Breather", "Progress", "map_ordered"]

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called after each item finishes (success or failure)."""

SLICE_SECONDS = 0.02
"""How long a long loop of the library runs on the event loop before it lets other
tasks run (see :class:`Breather`; structuring: ``models.astructure``)."""


_CHECKPOINTS_PER_TURN: Final = 3


class Breather:
    """Checkpoints for a long CPU-bound loop on the event loop: ``await breathe()``
    after each item lets other tasks run once ``seconds`` have passed since they last
    could (and a cancellation lands there). Between checkpoints it costs a clock read.

    A turn is three checkpoints: a task whose sleep ends (or whose socket becomes
    readable) while the loop is busy is woken in one loop iteration and runs in the
    next, after the tasks already queued, this one first; with a single checkpoint
    it would wait for the next slice too. ``first``: the
    first call already takes a turn (whatever ran before, such as decoding the
    answer, does not add up with the first slice).
    """

    __slots__ = ("_deadline", "_seconds", "checkpoints")

    def __init__(self, seconds: float | None = None, *, first: bool = False) -> None:
        seconds = SLICE_SECONDS if seconds is None else seconds  # read now: tests lower it
        self._seconds = seconds
        self._deadline = time.perf_counter() + (0.0 if first else seconds)
        self.checkpoints = 0

    @property
    def seconds(self) -> float:
        return self._seconds

    async def __call__(self) -> None:
        if time.perf_counter() >= self._deadline:
            await self.turn()

    async def turn(self) -> None:
        """Let the other tasks run now, and start a new slice."""
        for _ in range(_CHECKPOINTS_PER_TURN):
            await anyio.lowlevel.checkpoint()
        self.checkpoints += 1
        self._deadline = time.perf_counter() + self._seconds


@overload
async def map_ordered(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    workers: int,
    return_exceptions: Literal[False] = False,
    progress: Progress | None = None,
) -> list[R]: ...


@overload
async def map_ordered(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    workers: int,
    return_exceptions: Literal[True],
    progress: Progress | None = None,
) -> list[R | Exception]: ...


async def map_ordered(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    workers: int,
    return_exceptions: bool = False,
    progress: Progress | None = None,
) -> list[R] | list[R | Exception]:
    """Run ``fn`` over ``items`` with at most ``workers`` at a time; results in order.

    With ``return_exceptions=False`` the first exception cancels the rest and is raised
    as itself (not wrapped in a group). With ``True`` a failed item's slot holds its
    exception and the others still run. Cancelling the caller cancels every item:
    nothing is left running when this returns or raises.
    """
    todo: Sequence[T] = list(items)
    total = len(todo)
    results: list[R | Exception | None] = [None] * total
    next_index = 0
    done = 0
    failure: list[Exception] = []

    async def worker(cancel: anyio.CancelScope) -> None:
        nonlocal next_index, done
        while next_index < total and not failure:
            index = next_index
            next_index += 1
            try:
                results[index] = await fn(todo[index])
            except Exception as exc:
                if not return_exceptions:
                    failure.append(exc)
                    cancel.cancel()
                    return
                results[index] = exc
            done += 1
            if progress is not None:
                progress(done, total)

    if total:
        async with anyio.create_task_group() as tg:
            for _ in range(min(workers, total)):
                tg.start_soon(worker, tg.cancel_scope)
    if failure:
        raise failure[0]
    return results  # type: ignore[return-value]  # every slot is filled by now
