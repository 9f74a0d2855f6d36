"""Ordered, cancellable concurrent mapping on anyio task groups."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Literal, TypeVar, overload

import anyio

__all__ = ["Progress", "map_ordered"]

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called after each item finishes (success or failure)."""


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
