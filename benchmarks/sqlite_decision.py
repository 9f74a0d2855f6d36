"""The cost of one decision on a ``sqlite://`` shared quota, without the client around it.

N processes (asyncio or trio) share one SQLite file; each takes one decision (a
reservation, as a client's caller does) every ``--every`` seconds for ``--seconds``.
Printed, over every process: the round trip as the caller sees it (``store.run``), the
transaction alone (in the store's thread), and the hop (the round trip less the
transaction: handing the decision to the thread and the answer back), median and p99 in
microseconds, with the load average. Each row runs twice, side by side: ``thread`` is
the store's own long-lived thread (what ``SqliteStore.run`` does), ``to_thread`` the
baseline it replaced (``anyio.to_thread.run_sync`` with a capacity limiter of 1).

    python benchmarks/sqlite_decision.py [--processes 1,4] [--seconds 5] [--every 0.01]
        [--backend asyncio,trio] [--hops thread,to_thread]
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--hops", default="thread,to_thread")
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
