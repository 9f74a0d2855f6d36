"""The cost of one decision on a ``sqlite://`` shared quota, without the client around it.

N processes (asyncio or trio) share one SQLite file; each takes one decision (a
reservation with one success reported, as a client's caller does) every ``--every``
seconds for ``--seconds``. Printed, over every process, median and p99 in microseconds,
with the load average:

* ``transaction``: the decision cost the issue sets a target for (<= 0.2 ms median,
  <= 2 ms p99 with 4 processes): ``SqliteStore.decide`` timed inside the store's
  thread, i.e. everything the write lock is wanted for: the check that the file is
  still the one open, waiting for the write lock (other processes hold it), reading
  the state, the decision, writing the state, the commit.
* ``round trip``: ``store.run`` as the caller sees it;
* ``hop``: the round trip less the transaction: handing the decision to the thread and
  the answer back to the caller's event loop.

Rows, side by side: ``thread`` is the store as it runs (its own long-lived thread);
``to_thread`` the same decision through ``anyio.to_thread.run_sync`` with a capacity
limiter of 1 (the hop it replaced); ``bare`` the store's thread running a bare
reservation instead of a decision (``BEGIN IMMEDIATE``, one ``UPDATE`` of a counter,
``COMMIT``, SQLite's own busy handler): the floor a decision is compared with. The
decisions come 10 ms apart, so each wakes to a cold CPU cache (several times slower
than the same code in a tight loop); the figures move with the machine's load.

    python benchmarks/sqlite_decision.py [--processes 1,4] [--seconds 5] [--every 0.01]
        [--backend asyncio,trio] [--hops thread,to_thread,bare]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any


def worker(config: dict[str, Any]) -> None:
    import anyio

    from worksection_async import RateLimit
    from worksection_async.shared._decision import Request
    from worksection_async.shared._sqlite import SqliteStore

    store = SqliteStore(config["path"], timeout=2.0)
    inside: list[float] = []
    decide = store.decide

    def timed_decide(*args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return decide(*args)
        finally:
            inside.append(time.perf_counter() - t0)

    store.decide = timed_decide  # type: ignore[method-assign]
    if config["hop"] == "bare":
        import sqlite3

        bare = sqlite3.connect(config["path"], isolation_level=None, check_same_thread=False)
        bare.execute("PRAGMA journal_mode = WAL")
        bare.execute("PRAGMA synchronous = NORMAL")
        with contextlib.suppress(sqlite3.OperationalError):  # another process made it
            bare.execute("CREATE TABLE IF NOT EXISTS bare (n INTEGER)")

        def reserve(key: str, request: Any) -> None:
            bare.execute("BEGIN IMMEDIATE")
            bare.execute("UPDATE bare SET n = n + 1")
            bare.execute("COMMIT")

        decide = reserve
    if config["hop"] == "to_thread":
        import anyio.to_thread

        async def pooled(key: str, request: Any) -> Any:
            with anyio.fail_after(2.0):
                return await anyio.to_thread.run_sync(
                    store.decide, key, request, abandon_on_cancel=True, limiter=limiter
                )

        store.run = pooled  # type: ignore[method-assign]
    request = Request(
        limit=RateLimit(rate=1e6),
        ttl=3600.0,
        member=f"p{os.getpid()}",
        reserve=True,
        max_wait=None,
        now=None,
        jitter=0.0,
        outcomes=(None,),
    )
    totals: list[float] = []
    limiter: Any = None

    print("ready", flush=True)
    start = float(sys.stdin.readline())

    async def run() -> None:
        nonlocal limiter
        limiter = anyio.CapacityLimiter(1)
        await store.open()
        try:
            until = start + config["seconds"]
            await anyio.sleep(max(0.0, start - time.time()))
            while time.time() < until:
                t0 = time.perf_counter()
                await store.run("bench", request)
                totals.append(time.perf_counter() - t0)
                await anyio.sleep(config["every"])
        finally:
            await store.close()

    anyio.run(run, backend=config["backend"])
    print(json.dumps({"totals": totals, "inside": inside}), flush=True)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def show(name: str, samples: list[float]) -> str:
    return (
        f"{name} {statistics.median(samples) * 1e6:6.0f} / {percentile(samples, 0.99) * 1e6:6.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,4")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--every", type=float, default=0.01)
    parser.add_argument("--backend", default="asyncio,trio")
    parser.add_argument("--hops", default="thread,to_thread,bare")
    args = parser.parse_args()
    print("median / p99, microseconds")
    for backend, n, hop in (
        (backend, int(n), hop)
        for backend in args.backend.split(",")
        for n in args.processes.split(",")
        for hop in args.hops.split(",")
    ):
        with tempfile.TemporaryDirectory() as directory:
            config = {
                "path": os.path.join(directory, "quota.db"),
                "seconds": args.seconds,
                "every": args.every,
                "backend": backend,
                "hop": hop,
            }
            children = [
                subprocess.Popen(  # noqa: S603
                    [sys.executable, __file__, "--worker", json.dumps(config)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(n)
            ]
            for child in children:  # all imported: start together, a moment from now
                assert child.stdout is not None
                assert child.stdout.readline().strip() == "ready"
            start = time.time() + 0.5
            for child in children:
                assert child.stdin is not None
                child.stdin.write(f"{start!r}\n")
                child.stdin.flush()
            totals: list[float] = []
            inside: list[float] = []
            hops: list[float] = []
            for child in children:
                out, _ = child.communicate(timeout=args.seconds + 60)
                found = json.loads(out.strip().splitlines()[-1])
                totals += found["totals"]
                inside += found["inside"]
                hops += [t - i for t, i in zip(found["totals"], found["inside"], strict=False)]
        print(
            f"{backend:7} N={n} {hop:9}  {show('round trip', totals)}  "
            f"{show('transaction', inside)}  {show('hop', hops)}  "
            f"({len(totals)} decisions, load {os.getloadavg()[0]:.2f})",
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(json.loads(sys.argv[2]))
        sys.exit(0)
    main()
