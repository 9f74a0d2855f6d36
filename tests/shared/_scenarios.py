"""The multi-process runs of ``test_shared_processes.py`` (see its docstring).

They take about 45 s of wall time and little CPU, so they start in a thread with the
first test of ``tests/shared`` (``conftest.py``), their tests are moved to the end of
the session, and the rest of the suite runs meanwhile.
"""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
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


HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute(sys.argv[2])
print("locked", flush=True)
time.sleep(float(sys.argv[3]))
print("releasing", time.time(), flush=True)  # before the lock is let go: nobody's earlier
db.execute("ROLLBACK")
"""


def hold_lock(path: Path, begin: str, seconds: float) -> subprocess.Popen[str]:
    """Another program that takes the SQLite file's lock (``BEGIN IMMEDIATE``: the write
    lock; ``BEGIN EXCLUSIVE``: nobody else in) and holds it ``seconds``."""
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", HOLD, str(path), begin, str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "locked":
        process.kill()
        _, stderr = process.communicate()
        raise RuntimeError(f"the lock holder failed: {stderr[-2000:]}")
    return process


def run_pages(
    directory: Path, redis: RedisServer | None, name: str, ready: Ready, *, url: str | None = None
) -> Run:
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
                redis=url if url else redis.url if redis else None,
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


def run_sqlite_kill(directory: Path, ready: Ready) -> Run:
    """4 processes on one SQLite file; 3 s in, another process takes the file's write
    lock and is SIGKILLed holding it, and one of the four is SIGKILLed."""
    fake = ServedFake(api_key="sqlite-kill-key", quota=FAKE_QUOTA)
    path = directory / "kill.db"
    try:
        fake.wait_ready()
        signal = directory / "sqlite-kill.go"
        workers = [
            Worker.start(
                directory,
                f"sqlite-kill-{i}",
                signal,
                url=fake.url,
                api_key=fake.api_key,
                rate=QUOTA,
                callers=8,
                redis=f"sqlite://{path}",
                key=f"{KEY}-sqlite-kill",
                backend=("asyncio", "trio")[i % 2],
            )
            for i in range(4)
        ]
        ready(workers)
        start = go(signal, until=time.time() + 10.0)
        time.sleep(3.0)
        holder = hold_lock(path, "BEGIN IMMEDIATE", 60)
        time.sleep(0.1)
        holder.kill()
        workers[1].kill()
        killed_at = time.time()
        holder.communicate()
        finish(workers, timeout=60)
        return Run(workers, start, fake.stats(), {"killed": killed_at})
    finally:
        fake.close()


def run_sqlite_faults(directory: Path, ready: Ready) -> Run:
    """2 processes on one SQLite file: 2 s in, the file (and its -wal and -shm) is
    deleted; 4 s in, another program locks it (``BEGIN EXCLUSIVE``) for 2 s."""
    fake = ServedFake(api_key="sqlite-faults-key", quota=FAKE_QUOTA)
    path = directory / "faults.db"
    try:
        fake.wait_ready()
        signal = directory / "sqlite-faults.go"
        workers = [
            Worker.start(
                directory,
                f"sqlite-faults-{i}",
                signal,
                url=fake.url,
                api_key=fake.api_key,
                rate=QUOTA,
                callers=4,
                redis=f"sqlite://{path}",
                key=f"{KEY}-sqlite-faults",
                backend=("asyncio", "trio")[i % 2],
            )
            for i in range(2)
        ]
        ready(workers)
        start = go(signal, until=time.time() + 10.0)
        time.sleep(2.0)
        deleted = time.time()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        time.sleep(2.0)
        locked = time.time()
        holder = hold_lock(path, "BEGIN EXCLUSIVE", 2.0)
        # The holder says when it lets the lock go: a mark taken here, after it has
        # exited, could come after a process already saw the file free again.
        out, _ = holder.communicate()
        released = float(out.split()[-1])
        finish(workers, timeout=60)
        marks = {"deleted": deleted, "locked": locked, "released": released}
        return Run(workers, start, fake.stats(), marks)
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
        # The SQLite runs go once those are done: a 2-core machine runs ~20 processes
        # that time to the millisecond, not ~30.
        later = Ready(3)
        after: dict[str, Callable[[], Run]] = {
            "sqlite": lambda: run_pages(
                directory, None, "sqlite", later, url=f"sqlite://{directory}/pages.db"
            ),
            "sqlite-kill": lambda: run_sqlite_kill(directory, later),
            "sqlite-faults": lambda: run_sqlite_faults(directory, later),
        }
        self.pool = concurrent.futures.ThreadPoolExecutor(len(jobs) + len(after))
        self.futures = {name: self.pool.submit(job) for name, job in jobs.items()}
        first = list(self.futures.values())

        def then(job: Callable[[], Run]) -> Run:
            concurrent.futures.wait(first)
            return job()

        self.futures.update({name: self.pool.submit(then, job) for name, job in after.items()})

    def get(self, timeout: float = 600) -> dict[str, Run]:
        return {name: future.result(timeout) for name, future in self.futures.items()}

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.private.close()
