"""The multi-process runs of ``test_shared_processes.py`` (see its docstring).

They take about 45 s of wall time and little CPU, so they start in a thread with the
first test of ``tests/shared`` (``conftest.py``), their tests are moved to the end of
the session, and the rest of the suite runs meanwhile.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from worksection_async.testing import FakeWorksection

from ._procs import ServedFake, Worker, finish, go, times, wait_ready
from ._redis import RedisServer

KEY = "multi-process-key"
QUOTA = 10.0
FAKE_QUOTA = f"{QUOTA:g}/s,burst=2"
"""The account's quota: 10 requests a second. With one token of burst: the fake runs in
one process of a 2-core machine that other work shares, and when the scheduler holds
it back, requests sent 100 ms apart reach its bucket closer together than that (a real
server's clock does not stop); the burst absorbs that, not a faster client."""


class Ready:
    """Every run starts its processes, then waits here until all of them are ready: the
    CPU that starting ~20 interpreters takes is spent before anything is measured."""

    def __init__(self, runs: int) -> None:
        self.barrier = threading.Barrier(runs, timeout=180)

    def __call__(self, workers: list[Worker]) -> None:
        try:
            wait_ready(workers)
            self.barrier.wait()
        except BaseException:
            self.barrier.abort()
            raise


@attrs.define
class Run:
    workers: list[Worker]
    start: float
    fake_stats: dict[str, Any]
    marks: dict[str, float] = attrs.Factory(dict)

    def answers(self, **match: Any) -> list[float]:
        return sorted(times(self.workers, "answer", **match))

    def sent(self) -> list[float]:
        return sorted(times(self.workers, "sent"))

    def errors(self) -> int:
        return len(self.answers(error="QuotaExceededError"))


def pages_of_the_fake() -> list[str]:
    """The task pages of ``serve --populate 3x100`` (the same seed, the same account)."""
    fake = FakeWorksection.populated(3, 100, seed=1)
    return [task.page for task in fake.tasks.values() if task.depth == 0]


def run_pages(directory: Path, redis: RedisServer | None, name: str, ready: Ready) -> Run:
    fake = ServedFake(api_key=f"{name}-key", quota=FAKE_QUOTA, populate="3x100")
    try:
        pages = pages_of_the_fake()
        assert len(pages) == 300
        fake.wait_ready()
        signal = directory / f"{name}.go"
        workers = [
            Worker.start(
                directory,
                f"{name}-{i}",
                signal,
                url=fake.url,
                api_key=fake.api_key,
                rate=QUOTA,
                callers=8,
                redis=redis.url if redis else None,
                key=f"{KEY}-{name}",
                backend=("asyncio", "trio")[i % 2],
                pages=pages[i::4],
            )
            for i in range(4)
        ]
        ready(workers)
        start = go(signal)
        finish(workers, timeout=240)
        return Run(workers, start, fake.stats())
    finally:
        fake.close()


def run_kill(directory: Path, redis: RedisServer, ready: Ready) -> Run:
    fake = ServedFake(api_key="kill-key", quota=FAKE_QUOTA)
    try:
        fake.wait_ready()
        signal = directory / "kill.go"
        offsets = [300.0, 0.0, -300.0, 0.0]
        workers = [
            Worker.start(
                directory,
                f"kill-{i}",
                signal,
                url=fake.url,
                api_key=fake.api_key,
                rate=QUOTA,
                callers=8,
                redis=redis.url,
                key=f"{KEY}-kill",
                offset=offsets[i],
                backend=("asyncio", "trio")[i % 2],
            )
            for i in range(4)
        ]
        ready(workers)
        start = go(signal, until=time.time() + 9.0)
        time.sleep(3.0)
        killed_at = time.time()
        workers[1].kill()
        finish(workers, timeout=60)
        return Run(workers, start, fake.stats(), {"killed": killed_at})
    finally:
        fake.close()


def run_restart(directory: Path, redis: RedisServer, ready: Ready) -> Run:
    fake = ServedFake(api_key="restart-key", quota=FAKE_QUOTA)
    try:
        fake.wait_ready()
        signal = directory / "restart.go"
        workers = [
            Worker.start(
                directory,
                f"restart-{i}",
                signal,
                url=fake.url,
                api_key=fake.api_key,
                rate=QUOTA,
                callers=4,
                redis=redis.url,
                key=f"{KEY}-restart",
                backend=("asyncio", "trio")[i % 2],
            )
            for i in range(2)
        ]
        ready(workers)
        start = go(signal, until=time.time() + 9.0)
        time.sleep(2.0)
        stopped = time.time()
        redis.stop()
        time.sleep(3.0)
        redis.start()
        restarted = time.time()
        finish(workers, timeout=60)
        return Run(workers, start, fake.stats(), {"stopped": stopped, "restarted": restarted})
    finally:
        fake.close()


def run_pause(directory: Path, redis: RedisServer, ready: Ready) -> Run:
    fake = ServedFake(api_key="pause-key", quota="4/s")
    try:
        fake.wait_ready()
        signal = directory / "pause.go"
        workers = [
            Worker.start(
                directory,
                f"pause-{i}",
                signal,
                url=fake.url,
                api_key=fake.api_key,
                rate=5.0,
                callers=4,
                redis=redis.url,
                key=f"{KEY}-pause",
                backend=("asyncio", "trio")[i % 2],
            )
            for i in range(3)
        ]
        ready(workers)
        start = go(signal, until=time.time() + 5.0)
        finish(workers, timeout=60)
        return Run(workers, start, fake.stats())
    finally:
        fake.close()


class ProcessRuns:
    """Every run at once, in a thread: ``get()`` waits for their results."""

    def __init__(self, directory: Path, redis: RedisServer) -> None:
        self.private = RedisServer()
        self.private.start()
        ready = Ready(5)
        jobs: dict[str, Callable[[], Run]] = {
            "shared": lambda: run_pages(directory, redis, "shared", ready),
            "unshared": lambda: run_pages(directory, None, "unshared", ready),
            "kill": lambda: run_kill(directory, redis, ready),
            "restart": lambda: run_restart(directory, self.private, ready),
            "pause": lambda: run_pause(directory, redis, ready),
        }
        self.pool = concurrent.futures.ThreadPoolExecutor(len(jobs))
        self.futures = {name: self.pool.submit(job) for name, job in jobs.items()}

    def get(self, timeout: float = 600) -> dict[str, Run]:
        return {name: future.result(timeout) for name, future in self.futures.items()}

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.private.close()
