"""FIFO waiters that leave in O(1), the throttle built on them, and autojump's cost."""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc
import anyio.lowlevel
import pytest

from worksection_async import RateLimit
from worksection_async._throttle import Throttle
from worksection_async._waiters import FifoLock, FifoSemaphore
from worksection_async.testing import ManualClock
from worksection_async.testing import _clock as clock_module

pytestmark = pytest.mark.anyio


async def queue_up(
    tg: anyio.abc.TaskGroup,
    count: int,
    acquire: Callable[[], Awaitable[object]],
    got: list[int],
    exited: list[int],
) -> list[anyio.CancelScope]:
    """Start ``count`` tasks that queue on ``acquire`` in index order (each is queued
    before the next starts), record who got through, and return their cancel scopes."""
    scopes: list[anyio.CancelScope] = []

    async def waiter(index: int, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            task_status.started()
            await acquire()
            got.append(index)
        exited.append(index)

    for index in range(count):
        await tg.start(waiter, index)
    return scopes


async def test_semaphore_serves_survivors_in_order_after_mass_cancellation() -> None:
    """Cancel a random 2/3 of 300 queued waiters: the rest get through first come first
    served, and the count and the value add up."""
    semaphore = FifoSemaphore(2)
    semaphore.acquire_nowait()
    semaphore.acquire_nowait()
    got: list[int] = []
    exited: list[int] = []
    async with anyio.create_task_group() as tg:
        scopes = await queue_up(tg, 300, semaphore.acquire, got, exited)
        assert semaphore.waiting == 300 and semaphore.value == 0
        cancelled = set(random.Random(14).sample(range(300), 200))
        for index in cancelled:
            scopes[index].cancel()
        await anyio.wait_all_tasks_blocked()
        assert sorted(exited) == sorted(cancelled) and got == []
        assert semaphore.waiting == 100 and semaphore.value == 0
        for _ in range(100):
            semaphore.release()  # one at a time: on trio, tasks woken together run in any order
            await anyio.wait_all_tasks_blocked()
        semaphore.release()
        semaphore.release()
    assert got == sorted(set(range(300)) - cancelled)
    assert semaphore.value == 2 and semaphore.waiting == 0


async def test_lock_is_fifo_and_says_when_it_is_held() -> None:
    """A lock of one: ``locked()``, ``WouldBlock`` while held, FIFO hand-over."""
    lock = FifoLock()
    assert not lock.locked()
    await lock.acquire()
    assert lock.locked()
    with pytest.raises(anyio.WouldBlock):
        lock.acquire_nowait()
    got: list[int] = []
    async with anyio.create_task_group() as tg:
        await queue_up(tg, 5, lock.acquire, got, [])  # each keeps it once it has it
        assert lock.waiting == 5
        for index in range(5):
            lock.release()  # for whoever holds it: to the next in line
            await anyio.wait_all_tasks_blocked()
            assert got == list(range(index + 1))
            assert lock.locked() and lock.waiting == 4 - index
    lock.release()
    assert not lock.locked()
    with pytest.raises(RuntimeError, match="unlocked"):
        lock.release()
    async with lock:
        assert lock.locked()
    assert repr(lock) == "FifoLock(locked=False, waiting=0)"


async def test_newcomer_does_not_overtake_a_waiter() -> None:
    """A released unit goes to the head waiter, not to whoever asks first."""
    semaphore = FifoSemaphore(1)
    semaphore.acquire_nowait()
    got: list[int] = []
    async with anyio.create_task_group() as tg:
        await queue_up(tg, 1, semaphore.acquire, got, [])
        semaphore.release()
        assert not semaphore.try_acquire()  # the unit is the waiter's already
        with pytest.raises(anyio.WouldBlock):
            semaphore.acquire_nowait()
    assert got == [0]
    assert repr(semaphore) == "FifoSemaphore(value=0, waiting=0)"


async def test_uncontended_acquire_is_a_checkpoint() -> None:
    """``acquire()`` raises in a cancelled scope even when a unit is free, and keeps it."""
    semaphore = FifoSemaphore(1)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await semaphore.acquire()
    assert scope.cancelled_caught
    assert semaphore.value == 1
    await semaphore.acquire()
    assert semaphore.value == 0


@pytest.mark.parametrize("value", [-1, 1.0, True, "2"])
def test_value_is_a_non_negative_integer(value: object) -> None:
    """A bad initial value is a ``ValueError`` naming it."""
    with pytest.raises(ValueError, match="integer >= 0"):
        FifoSemaphore(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_waiter_cancelled_after_the_hand_over_passes_the_unit_on() -> None:
    """asyncio can cancel a task after it was handed the unit but before it ran: the unit
    goes to the next waiter instead of being lost."""
    semaphore = FifoSemaphore(1)
    semaphore.acquire_nowait()
    first = asyncio.ensure_future(semaphore.acquire())
    second = asyncio.ensure_future(semaphore.acquire())
    await anyio.wait_all_tasks_blocked()
    semaphore.release()  # to the first...
    first.cancel()  # ...which is cancelled before it runs
    await second
    assert first.cancelled()
    assert semaphore.value == 0 and semaphore.waiting == 0
    semaphore.release()
    assert semaphore.value == 1


@pytest.mark.parametrize("max_concurrency", [1, 1000])
async def test_throttle_keeps_order_and_invariants_after_mass_cancellation(
    max_concurrency: int,
) -> None:
    """400 calls queued for the throttle (for a slot with a cap of 1, for the token with
    a cap of 1000), a random 2/3 cancelled, the holder of the token queue among them:
    in flight, waiting and free slots add up, and the rest go out in order."""
    clock = ManualClock(start=1000.0)
    throttle = Throttle(RateLimit(), max_concurrency, clock)
    sent: list[int] = []

    async def call() -> None:
        sent_at = await throttle.acquire()
        throttle.release(sent_at, succeeded=True)

    throttle._take_token_nowait()  # the bucket's first token: everybody has to wait
    exited: list[int] = []
    async with anyio.create_task_group() as tg:
        scopes = await queue_up(tg, 400, call, sent, exited)
        await anyio.wait_all_tasks_blocked()
        holding = min(400, max_concurrency)
        assert throttle._slots.value == max_concurrency - holding
        assert throttle._slots.waiting == 400 - holding
        assert throttle._turn.locked() and throttle._turn.waiting == holding - 1
        cancelled = {0} | set(random.Random(4).sample(range(1, 400), 266))
        for index in cancelled:
            scopes[index].cancel()
        await anyio.wait_all_tasks_blocked()
        assert sorted(exited) == sorted(cancelled) and sent == []
        survivors = sorted(set(range(400)) - cancelled)
        holding = min(len(survivors), max_concurrency)
        snapshot = throttle.snapshot()
        assert snapshot.waiting == len(survivors) and snapshot.in_flight == 0
        assert throttle._slots.value == max_concurrency - holding
        assert throttle._slots.waiting == len(survivors) - holding
        assert throttle._turn.locked() and throttle._turn.waiting == holding - 1
        async with clock.autojump():  # the survivors go, one token a second
            while len(sent) < len(survivors):
                await clock.sleep(1.0)
    assert sent == survivors
    snapshot = throttle.snapshot()
    assert snapshot.waiting == 0 and snapshot.in_flight == 0
    assert snapshot.calls == len(survivors)
    assert throttle._slots.value == max_concurrency and throttle._slots.waiting == 0
    assert not throttle._turn.locked() and throttle._turn.waiting == 0


async def cancel_newest_first(count: int, wait: Callable[[], Awaitable[object]]) -> float:
    """CPU seconds to cancel ``count`` tasks blocked in ``wait``, the newest first (the
    worst order for a queue that is scanned from its head), collector off."""
    scopes: list[anyio.CancelScope] = []

    async def waiter() -> None:
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            await wait()

    gc.collect()
    gc.disable()
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            start = time.process_time()
            for scope in reversed(scopes):
                scope.cancel()
        return time.process_time() - start
    finally:
        gc.enable()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_cancelling_queued_waiters_costs_what_cancelling_tasks_costs() -> None:
    """Linear: cancelling 12,000 semaphore waiters costs at most twice the CPU of
    cancelling 12,000 tasks that each wait on an event of their own (anyio's asyncio
    ``Semaphore`` scans its deque for each one: over three times as much, and growing
    with the square of the queue; trio's own semaphore was O(1) already)."""

    async def own_event() -> None:
        await anyio.Event().wait()

    semaphore = FifoSemaphore(0)
    floor = min([await cancel_newest_first(12_000, own_event) for _ in range(2)])
    ours = min([await cancel_newest_first(12_000, semaphore.acquire) for _ in range(2)])
    assert semaphore.waiting == 0
    assert ours <= 2.0 * floor, (ours, floor)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_autojump_does_not_look_at_every_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """On asyncio's own loop a jump reads the ready queue: never the list of all tasks
    (which made every jump cost O(tasks))."""

    def all_tasks(loop: object = None) -> set[asyncio.Task[object]]:
        raise AssertionError("autojump scanned every task")

    monkeypatch.setattr(asyncio, "all_tasks", all_tasks)
    clock = ManualClock()
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(clock.now())

    async with clock.autojump(), anyio.create_task_group() as tg:
        for seconds in (3.0, 1.0, 2.0):
            tg.start_soon(sleeper, seconds)
    assert woke == [1.0, 2.0, 3.0]
    assert clock.jumps == 3


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_autojump_without_a_ready_queue_looks_at_every_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a loop that hides its ready queue (uvloop), autojump falls back to the scan."""
    monkeypatch.setattr(clock_module, "_ready_queue", lambda loop: None)
    clock = ManualClock()
    woke: list[float] = []

    async def busy_then_sleep() -> None:
        for _ in range(3):
            await anyio.lowlevel.checkpoint()  # runnable for a while: no jump yet
        await clock.sleep(5.0)
        woke.append(clock.now())

    async with clock.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(busy_then_sleep)
    assert woke == [5.0]


async def test_autojump_waits_for_work_in_callbacks() -> None:
    """Time does not move while tasks are still runnable: a task that checkpoints a
    few times before sleeping sleeps from the time it started."""
    clock = ManualClock()
    woke: list[float] = []

    async def worker(delay: float) -> None:
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
        await clock.sleep(delay)
        woke.append(clock.now())

    async with clock.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(worker, 2.0)
        tg.start_soon(worker, 1.0)
    assert woke == [1.0, 2.0]


async def test_a_waiter_that_comes_first_is_served_before_the_queue() -> None:
    """``acquire(first=True)`` (a call that was sent once, retrying) goes to the head
    of the queue: it gets the next unit, ahead of every task already waiting."""
    semaphore = FifoSemaphore(1)
    semaphore.acquire_nowait()
    got: list[str] = []

    async def waiter(name: str, first: bool, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        await semaphore.acquire(first=first)
        got.append(name)

    async with anyio.create_task_group() as tg:
        for name in ("a", "b", "c"):
            await tg.start(waiter, name, False)
        await tg.start(waiter, "retry", True)
        for _ in range(4):
            semaphore.release()
            await anyio.wait_all_tasks_blocked()
    assert got == ["retry", "a", "b", "c"]
