"""Cancelling many queued calls, and ``ManualClock.autojump`` with many callers.

1. ``N`` calls queued in one client's quota (on a ``ManualClock`` that never moves: the
   first call goes, the next holds the token queue, the rest wait for a slot or for the
   token), then their task group cancelled: wall time from ``cancel()`` until every task
   has finished, with the collector on, as in a real program, and in brackets the part
   of it the cyclic collector took (every cancelled anyio task on asyncio leaves its
   traceback, frames and all, in a reference cycle: ``task_done`` keeps the exception
   in a local). Side by side:

   * ``tasks``: ``N`` tasks that each wait on an event of their own (what cancelling
     ``N`` anyio tasks costs at all, whatever they wait on);
   * ``anyio``: the client's throttle queueing on ``anyio.Semaphore`` / ``anyio.Lock``
     (before: each cancelled waiter leaves a deque by scanning it, O(N^2) on asyncio);
   * ``fifo``: on ``FifoSemaphore`` / ``FifoLock`` (now: O(1) each).

   After each run the quota is checked: nobody waiting, every slot free, the lock free.
   Target: linear, under 1 s at 50k.

2. ``autojump``: real time per call with ``N`` callers queued on a client at 1 request/s
   over ``httpx.MockTransport``, on a ``ManualClock`` with autojump (one jump per call).
   ``scan`` looks at every task on each turn of the loop (before, and still on uvloop);
   ``ready`` reads the loop's ready queue (now). Target: independent of ``N``.

    python benchmarks/cancellation.py [--sizes 1000,10000,50000] [--backends asyncio,trio]
"""

from __future__ import annotations

import argparse
import gc
import json
import time

import anyio
import httpx

from worksection_async import Client, TaskPage
from worksection_async._throttle import Throttle
from worksection_async.testing import ManualClock
from worksection_async.testing import _clock as clock_module

ACCOUNT = "https://acme.worksection.com"
BODY = json.dumps({"status": "ok", "data": {"id": "2", "page": "/project/1/2/"}}).encode()
PAGE = TaskPage(1, 2)
MAX_CONCURRENCY = 8


def answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})


class AnyioSemaphore:
    """``anyio.Semaphore`` (or ``anyio.Lock``) with the few methods the throttle uses."""

    def __init__(self, value: int, *, lock: bool = False) -> None:
        self._inner = anyio.Lock() if lock else anyio.Semaphore(value)

    def try_acquire(self) -> bool:
        try:
            self._inner.acquire_nowait()
        except anyio.WouldBlock:
            return False
        return True

    async def acquire(self) -> None:
        await self._inner.acquire()

    def release(self) -> None:
        self._inner.release()

    def locked(self) -> bool:
        inner = self._inner
        return inner.locked() if isinstance(inner, anyio.Lock) else inner.value == 0

    @property
    def value(self) -> int:
        inner = self._inner
        return inner.value if isinstance(inner, anyio.Semaphore) else int(not inner.locked())

    @property
    def waiting(self) -> int:
        return self._inner.statistics().tasks_waiting

    async def __aenter__(self) -> None:
        await self._inner.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._inner.release()


def with_anyio_primitives(throttle: Throttle) -> None:
    """The throttle as it was: anyio's own semaphore and lock."""
    throttle._slots = AnyioSemaphore(throttle.max_concurrency)  # type: ignore[assignment]
    throttle._turn = AnyioSemaphore(1, lock=True)  # type: ignore[assignment]


def check_quota_after(throttle: Throttle) -> None:
    """Nobody waiting, nothing in flight, every slot free, the token queue free."""
    slots, turn = throttle._slots, throttle._turn
    snapshot = throttle.snapshot()
    assert snapshot.waiting == 0, snapshot
    assert snapshot.in_flight == 0, snapshot
    assert slots.waiting == 0, slots
    assert turn.waiting == 0, turn
    assert slots.value == throttle.max_concurrency, slots
    assert not turn.locked(), turn


class Stopwatch:
    """Wall time of a stretch of code, and how much of it the cyclic collector took."""

    def __init__(self) -> None:
        self.wall = self.collector = 0.0
        self._started = self._collecting = 0.0

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._collecting = time.perf_counter()
        else:
            self.collector += time.perf_counter() - self._collecting

    def start(self) -> None:
        gc.collect()  # start every run from the same heap
        gc.callbacks.append(self._on_collection)
        self._started = time.perf_counter()

    def stop(self) -> Stopwatch:
        self.wall = time.perf_counter() - self._started
        gc.callbacks.remove(self._on_collection)
        return self


async def cancel_tasks(count: int) -> Stopwatch:
    async def wait() -> None:
        await anyio.Event().wait()

    watch = Stopwatch()
    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        watch.start()
        tg.cancel_scope.cancel()
    return watch.stop()


async def cancel_queued_calls(count: int, *, anyio_primitives: bool) -> Stopwatch:
    clock = ManualClock()
    transport = httpx.MockTransport(answer)
    watch = Stopwatch()
    async with Client(
        ACCOUNT, "bench-key", transport=transport, clock=clock, max_concurrency=MAX_CONCURRENCY
    ) as client:
        throttle = client._throttle
        if anyio_primitives:
            with_anyio_primitives(throttle)
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(client.call, "get_task", PAGE)
            while client.quota.waiting < count - 1:  # noqa: ASYNC110 (the first call went at once)
                await anyio.sleep(0.01)
            watch.start()
            tg.cancel_scope.cancel()
        watch.stop()
        check_quota_after(throttle)
    return watch


async def per_call_with_autojump(callers: int, calls: int) -> float:
    clock = ManualClock(start=1000.0)
    transport = httpx.MockTransport(answer)
    done = 0
    warm, finished = anyio.Event(), anyio.Event()
    async with (
        clock.autojump(),
        Client(ACCOUNT, "bench-key", transport=transport, clock=clock) as client,
    ):

        async def call() -> None:
            nonlocal done
            await client.call("get_task", page=PAGE)
            done += 1
            if done == 10:
                warm.set()
            elif done == 10 + calls:
                finished.set()

        async with anyio.create_task_group() as tg:
            for _ in range(callers):
                tg.start_soon(call)
            await warm.wait()
            start = time.perf_counter()
            await finished.wait()
            elapsed = time.perf_counter() - start
            tg.cancel_scope.cancel()
    return elapsed / calls


def row(label: str, cells: list[str]) -> None:
    print(f"  {label:<32}" + "".join(f"{cell:>18}" for cell in cells))


def cancellation(sizes: list[int], backend: str) -> None:
    def run(count: int, variant: str) -> Stopwatch:
        if variant == "tasks":
            return anyio.run(cancel_tasks, count, backend=backend)
        return anyio.run(
            lambda: cancel_queued_calls(count, anyio_primitives=variant == "anyio"),
            backend=backend,
        )

    print(f"\ncancelling N queued calls ({backend}): wall seconds (of which the collector)")
    row("N", [f"{n:,}" for n in sizes])
    results = {}
    for variant, label in (
        ("tasks", "N tasks on events (floor)"),
        ("anyio", "anyio Semaphore/Lock (before)"),
        ("fifo", "FifoSemaphore/FifoLock (now)"),
    ):
        results[variant] = [run(n, variant) for n in sizes]
        row(label, [f"{w.wall:.3f} ({w.collector:.3f})" for w in results[variant]])
    row(
        "  now, us/call, collector aside",
        [
            f"{(w.wall - w.collector) / n * 1e6:.1f}"
            for w, n in zip(results["fifo"], sizes, strict=True)
        ],
    )
    last = results["fifo"][-1]
    print(
        f"  target: linear, < 1 s at 50,000. Now at {sizes[-1]:,}: {last.wall:.3f} s, "
        f"{last.wall - last.collector:.3f} s without the collector"
    )


def autojump(sizes: list[int], calls: int) -> None:
    print(f"\nManualClock.autojump: ms of real time per call, N callers queued ({calls} calls)")
    row("N", [f"{n:,}" for n in sizes])
    ready = [anyio.run(per_call_with_autojump, n, calls) for n in sizes]
    original = clock_module._ready_queue
    clock_module._ready_queue = lambda loop: None  # type: ignore[assignment]
    try:
        scan = [anyio.run(per_call_with_autojump, n, calls) for n in sizes]
    finally:
        clock_module._ready_queue = original
    trio = [anyio.run(per_call_with_autojump, n, calls, backend="trio") for n in sizes]

    row("asyncio, scan every task (before)", [f"{v * 1e3:.2f}" for v in scan])
    row("asyncio, ready queue (now)", [f"{v * 1e3:.2f}" for v in ready])
    row("trio", [f"{v * 1e3:.2f}" for v in trio])
    print("  target: independent of N")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--backends", default="asyncio,trio")
    parser.add_argument("--autojump-sizes", default="1000,3000,10000")
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    for backend in args.backends.split(","):
        cancellation(sizes, backend)
    autojump([int(n) for n in args.autojump_sizes.split(",")], args.calls)


if __name__ == "__main__":
    main()
