"""Event-loop stalls: a 10 ms heartbeat beside a 10,000-task ``get_many``.

A fake account with one project of 10,000 tasks is served by uvicorn in a subprocess
(127.0.0.1, quota off), so the server's work is not on the client's interpreter. In
the client's event loop a heartbeat task sleeps 10 ms in a loop and records how long
each wake-up really took; beside it runs, in turn:

* ``one piece``: what ``get_many`` did before the loop was given back (today's
  figure): the raw ``get_tasks`` answer (``client.call``) structured with the
  synchronous ``structure_list`` in one go;
* ``get_many``: ``client.tasks.get_many(pages)`` for the 10,000 task pages (one
  ``get_tasks`` request, the answer structured in slices with checkpoints between);
* ``tasks.list``: ``client.tasks.list()``, the whole account (``get_all_tasks``).

Printed for each, on asyncio and trio: the wall time, the longest heartbeat interval
(ideal: 10 ms), what it was made of (the transport's ``json.loads`` of the answer, a
single C call; the cyclic GC's collections; everything else) and how many intervals
exceeded 110 ms; and the longest interval in CPU time of the loop's thread (what a
machine with a core to spare would see: other processes' turns are not in it).
Target: no stretch of library code above 100 ms; for ``get_many`` at most 50 ms
(issue #25).

Before issue #14 (same machine, 2 cores shared): ``get_many`` of one 10,000-task
project took 8.9 s on asyncio / 10.4 s on trio with a longest interval of 4.9 s /
6.8 s (quadratic planning, all of it on the loop); the one-piece structuring gave
intervals of 200-340 ms. After: about 40 ms, nearly all of it ``json.loads``.

    python benchmarks/loop_stalls.py [--tasks 10000] [--backend asyncio|trio|both]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from _served import served_fake

from worksection_async import Client, TaskPage, _transport, parse_page
from worksection_async.models import Task, clear_intern_tables, structure_list

KEY = "bench-key"
BEAT = 0.010


class _Spans:
    """Where the time of a heartbeat interval went: the transport's ``json.loads`` and
    the cyclic GC's collections are recorded as spans; the rest is other code (the
    library's own, the event loop's, the transport's...)."""

    def __init__(self) -> None:
        self.decode: list[tuple[float, float]] = []
        self.gc: list[tuple[float, float]] = []
        self._gc_start = 0.0

    def install(self) -> None:
        original = _transport.parse_json

        def timed_parse_json(body: bytes) -> Any:
            start = time.perf_counter()
            try:
                return original(body)
            finally:
                self.decode.append((start, time.perf_counter()))

        _transport.parse_json = timed_parse_json  # type: ignore[attr-defined]
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gc.append((self._gc_start, time.perf_counter()))

    def clear(self) -> None:
        self.decode.clear()
        self.gc.clear()

    @staticmethod
    def overlap(spans: list[tuple[float, float]], start: float, end: float) -> float:
        return sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)

    def split(self, start: float, end: float) -> str:
        decode = self.overlap(self.decode, start, end)
        collect = self.overlap(self.gc, start, end) - sum(  # not counting GC inside loads
            self.overlap(self.gc, max(start, a), min(end, b)) for a, b in self.decode
        )
        other = end - start - decode - collect
        return (
            f"json.loads {decode * 1000:5.1f} + gc {collect * 1000:5.1f}"
            f" + other {other * 1000:5.1f} ms"
        )


SPANS = _Spans()


async def _with_heartbeat(
    job: Callable[[], Awaitable[object]],
) -> tuple[float, float, float, int, str]:
    """Run ``job`` beside a 10 ms heartbeat: wall time, longest interval, longest CPU
    time of an interval, intervals over 110 ms, and where the longest interval's time
    went."""
    intervals: list[tuple[float, float]] = []
    cpu: list[float] = []
    done = anyio.Event()

    async def heartbeat() -> None:
        while not done.is_set():
            start, start_cpu = time.perf_counter(), time.thread_time()
            await anyio.sleep(BEAT)
            intervals.append((start, time.perf_counter()))
            cpu.append(time.thread_time() - start_cpu)

    async def run() -> None:
        try:
            await job()
        finally:
            done.set()

    clear_intern_tables()
    gc.collect()
    SPANS.clear()
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(heartbeat)
        await anyio.sleep(0.05)  # the heartbeat is beating
        tg.start_soon(run)
    wall = time.perf_counter() - start - 0.05
    longest = max(intervals, key=lambda span: span[1] - span[0])
    over = sum(1 for a, b in intervals if b - a > 0.1 + BEAT)
    return wall, longest[1] - longest[0], max(cpu), over, SPANS.split(*longest)


async def bench(url: str, count: int) -> None:
    async with Client(url, KEY, rate_limit=None, timeout=120) as client:
        (project,) = await client.projects.list()
        raw = await client.call("get_tasks", page=str(project.page))
        assert isinstance(raw, list)
        pages = [parse_page(str(t["page"])) for t in raw if isinstance(t, dict)]
        task_pages = [p for p in pages if isinstance(p, TaskPage)][:count]
        body = json.dumps({"status": "ok", "data": raw}).encode()
        del raw

        async def one_piece() -> object:
            payload = await client.call("get_tasks", page=str(project.page))
            return structure_list(payload, Task)

        async def get_many() -> object:
            tasks = await client.tasks.get_many(task_pages)
            assert len(tasks) == len(task_pages)
            return tasks

        async def list_all() -> object:
            return await client.tasks.list()

        start = time.perf_counter()
        json.loads(body)
        loads = time.perf_counter() - start
        print(
            f"  {len(task_pages)} tasks, answer {len(body) / 2**20:.1f} MiB,"
            f" json.loads alone {loads * 1000:.0f} ms"
        )
        jobs: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("one piece (today)", one_piece),
            ("get_many", get_many),
            ("tasks.list", list_all),
        ]
        for name, job in jobs:
            wall, longest, longest_cpu, over, split = await _with_heartbeat(job)
            print(
                f"  {name:18} {wall:5.2f} s  longest interval {longest * 1000:6.1f} ms"
                f" ({split}), > 110 ms: {over}; longest in CPU time {longest_cpu * 1000:5.1f} ms"
            )


def main() -> None:
    SPANS.install()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--backend", choices=("asyncio", "trio", "both"), default="both")
    args = parser.parse_args()
    backends = ("asyncio", "trio") if args.backend == "both" else (args.backend,)
    with served_fake(api_key=KEY, quota="off", populate=f"1x{args.tasks}") as url:
        for backend in backends:
            print(f"{backend}: heartbeat every {BEAT * 1000:.0f} ms (target: longest <= 110 ms)")
            anyio.run(bench, url, args.tasks, backend=backend)


if __name__ == "__main__":
    main()
