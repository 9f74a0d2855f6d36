"""Many processes, one account: a shared quota (Redis) against unshared clients.

N = 1, 2, 4, 8 processes of 8 callers each call ``get_projects`` for ``--seconds``
against one served fake with a real quota of ``--quota`` per second, each configured at
that rate: once sharing one ``SharedQuota`` (a redis-server this script starts on a
unix socket), once each on its own. Printed per N: the account's use of its quota
(successes inside the window / (quota x seconds)) and the error-20 share of the
requests. The fake's quota has one token of burst (``--burst``, see
``tests/shared/test_shared_processes.py``: on a shared 2-core machine the fake's own
scheduling bunches arrivals up).

Then the cost of the quota itself per call, in one process with nothing to wait for
(no server-side quota, a client rate far above what is reached): ``acquire()`` +
``release()`` of the throttle with the shared quota (one Redis round trip) next to the
local quota, median and p99 in microseconds.

    python benchmarks/shared_quota.py [--quota 20] [--seconds 10] [--processes 1,2,4,8]
        [--burst 2]

Needs ``redis-server`` on the PATH (Debian's package) and the ``redis`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _served import served_fake

KEY = "bench-key"
CALLERS = 8


def worker(config: dict[str, Any]) -> None:
    """One process: ``CALLERS`` callers until the time in the go file; print counts."""
    from worksection_async import Client, ClientEvent, RateLimit, ResponseReceived
    from worksection_async.shared import SharedQuota

    counts = {"ok": 0, "quota_errors": 0, "sent": 0}
    successes: list[float] = []

    def hook(event: ClientEvent) -> None:
        if isinstance(event, ResponseReceived):
            counts["sent"] += 1
            if event.error is None:
                successes.append(time.time())
            elif event.error == "QuotaExceededError":
                counts["quota_errors"] += 1

    async def run() -> None:
        quota = (
            SharedQuota.from_url(config["redis"], key=config["key"]) if config["redis"] else None
        )
        async with Client(
            config["url"],
            KEY,
            rate_limit=RateLimit(rate=config["rate"]),
            max_concurrency=CALLERS,
            shared_quota=quota,
            on_event=hook,
        ) as client:
            go = Path(config["go"])
            print("ready", flush=True)
            while not go.exists():  # noqa: ASYNC110, ASYNC240 - the parent makes it
                await asyncio.sleep(0.01)
            start, until = (float(x) for x in go.read_text().split())  # noqa: ASYNC240
            await asyncio.sleep(max(0.0, start - time.time()))

            async def caller() -> None:
                while time.time() < until:
                    await client.call("get_projects")

            await asyncio.gather(*(caller() for _ in range(CALLERS)))
        counts["ok"] = sum(1 for t in successes if start <= t <= until)  # in the window
        print(json.dumps(counts), flush=True)

    asyncio.run(run())


def start_redis() -> tuple[subprocess.Popen[bytes], str, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    directory = tempfile.mkdtemp(prefix="bench-redis-")
    socket_path = os.path.join(directory, "redis.sock")
    server = subprocess.Popen(  # noqa: S603
        [binary, "--port", "0", "--unixsocket", socket_path, "--save", "",
         "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    while not os.path.exists(socket_path):
        time.sleep(0.05)
    return server, f"unix://{socket_path}", directory


def run_processes(
    url: str, redis: str | None, n: int, quota: float, seconds: float, key: str
) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as directory:
        go = Path(directory) / "go"
        config = {"url": url, "redis": redis, "key": key, "rate": quota, "go": str(go)}
        processes = [
            subprocess.Popen(  # noqa: S603
                [sys.executable, __file__, "--worker", json.dumps(config)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(n)
        ]
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        start = time.time() + 0.2
        tmp = go.with_suffix(".tmp")
        tmp.write_text(f"{start!r} {start + seconds!r}")
        tmp.replace(go)
        totals = {"ok": 0, "quota_errors": 0, "sent": 0}
        for process in processes:
            out, _ = process.communicate(timeout=seconds + 120)
            counts = json.loads(out.strip().splitlines()[-1])
            for name in totals:
                totals[name] += counts[name]
        return totals


async def round_trip_cost(redis: str, iterations: int) -> dict[str, list[float]]:
    """Microseconds of acquire() + release() per call, shared and local."""
    from worksection_async import Client, RateLimit
    from worksection_async.shared import SharedQuota
    from worksection_async.testing import FakeWorksection

    fake = FakeWorksection(quota=None)
    limit = RateLimit(rate=1_000_000)
    costs: dict[str, list[float]] = {}
    for name, quota in (("local", None), ("shared", SharedQuota.from_url(redis, key="bench-rt"))):
        async with Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            rate_limit=limit,
            shared_quota=quota,
        ) as client:
            throttle = client._throttle
            samples = []
            for i in range(iterations + 100):
                t0 = time.perf_counter()
                grant = await throttle.acquire()
                throttle.release(grant, succeeded=True)
                if i >= 100:  # warm-up: connections, script loading
                    samples.append((time.perf_counter() - t0) * 1e6)
            costs[name] = sorted(samples)
    return costs


def percentile(sorted_samples: list[float], q: float) -> float:
    return sorted_samples[min(len(sorted_samples) - 1, int(q * len(sorted_samples)))]


def main(quota: float, seconds: float, counts: list[int], burst: int) -> None:
    server, redis, directory = start_redis()
    try:
        spec = f"{quota:g}/s,burst={burst}"
        with served_fake(api_key=KEY, quota=spec, populate="1x10") as url:
            print(
                f"{CALLERS} callers per process, quota {spec}, {seconds:g} s per run; "
                "account use = successes / (quota x seconds)"
            )
            print(f"{'processes':>9}  {'shared':>30}  {'unshared':>30}")
            for n in counts:
                cells = []
                for mode in ("shared", "unshared"):
                    time.sleep(1.5)  # the fake's bucket refills between runs
                    totals = run_processes(
                        url,
                        redis if mode == "shared" else None,
                        n,
                        quota,
                        seconds,
                        key=f"{KEY}-{n}",
                    )
                    use = totals["ok"] / (quota * seconds)
                    share = totals["quota_errors"] / max(1, totals["sent"])
                    cells.append(f"use {use:5.3f}, error-20 {share:6.1%}")
                print(f"{n:>9}  {cells[0]:>30}  {cells[1]:>30}")
        costs = asyncio.run(round_trip_cost(redis, 2000))
        print("quota cost per call (acquire + release), microseconds")
        for name, samples in costs.items():
            print(
                f"  {name:6}  median {statistics.median(samples):7.1f}  "
                f"p99 {percentile(samples, 0.99):7.1f}"
            )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(json.loads(sys.argv[2]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quota", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", default="1,2,4,8")
    parser.add_argument("--burst", type=int, default=2)
    args = parser.parse_args()
    main(args.quota, args.seconds, [int(n) for n in args.processes.split(",") if n], args.burst)
