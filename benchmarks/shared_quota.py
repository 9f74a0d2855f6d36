"""Many clients, one account: the shared quota's stores side by side.

For each quota (requests per second of the served fake, one account) and each N, the
same load runs once per mode, one after the other, against one served fake
(``_served.py``): N clients of 8 callers each call ``get_projects`` for ``--seconds``,
each configured at the account's rate.

* ``unshared``: N processes, each with its own local quota (today's default);
* ``memory``: N clients in one process sharing ``memory://``;
* ``sqlite``: N processes sharing one SQLite file;
* ``redis``: N processes sharing one Redis (a redis-server this script starts on a
  unix socket; skipped with a note if ``redis-server`` is not installed);
* ``paced`` (N = 1 only): one sender with no client-side law that sends exactly every
  interval, the best a sender can do against this fake on this machine: the baseline
  the others are read against.

Printed per run: the account's use of its quota (successes inside the window /
(quota x seconds)), the error-20 share of the requests, and the cost of one decision
of the shared store as its callers see it (the round trip of ``SharedQuota._evaluate``:
the worker thread and the SQLite transaction, the Lua script's round trip, the lock),
median and p99 in microseconds, over every process of the run; for SQLite also the
transaction alone, in the worker thread (the rest is the hop to the thread and back,
which a loaded machine stretches most).

The default run is short (about a minute and a half: quota 10/s, N = 1 and 4, 4 s a
run); ``--full`` runs N = 1, 2, 4, 8 at 1/s (60 s a run) and 10/s (20 s a run), about
25 minutes. The fake's quota has ``--burst`` tokens (default 2: on a shared 2-core
machine the fake's own scheduling bunches arrivals up; see
``tests/shared/_scenarios.py``).

    python benchmarks/shared_quota.py [--full] [--quotas 1,10] [--processes 1,2,4,8]
        [--seconds 4] [--modes unshared,memory,sqlite,redis] [--burst 2]

Redis the way production runs it (issue 29): with any of the flags below, each row runs
4 processes of 8 callers sharing the quota through Redis beside a perfect sender in the
same conditions (4 processes that together send at exactly ``--aim`` x the quota,
evenly, with no client-side law), both measured from the moment every process is
ready, and prints both uses, the error-20 shares, their ratio and the gap:

* ``--redis-delay MS [--redis-jitter MS]``: Redis (a TCP redis-server) behind a
  delaying proxy on loopback (``_proxy.py``), MS one way, plus 0 to ``--redis-jitter``
  MS drawn per chunk;
* ``--arrival-jitter MS``: requests reach the API 0 to MS late (a proxy in front of
  the fake that delays what clients send), for the perfect sender too;
* ``--cluster`` / ``--sentinel``: a 3+3 Redis Cluster or a primary, a replica and 3
  sentinels (started with the tests' helpers, ``tests/shared/_topologies.py``);
* ``--failover``: the primary (the Sentinel's, or the Cluster primary that owns the
  key's slot; the redis-server otherwise) SIGKILLed half-way through the shared run;
* ``--rows``: issue 29's rows one after the other: loopback, Redis 25 ms away, 0-40 ms
  of arrival jitter on a one-token bucket (perfect sender aiming at 0.71, the most a
  sender can use there without refusals), and 1/s (12 s a row at 10/s, 40 s at 1/s;
  ``--seconds`` overrides both); about 4 minutes.

    python benchmarks/shared_quota.py --rows
    python benchmarks/shared_quota.py --redis-delay 25 [--redis-jitter 5] [--seconds 12]
    python benchmarks/shared_quota.py --sentinel --failover
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _proxy import DelayProxy
from _served import served_fake

ROOT = Path(__file__).resolve().parents[1]

KEY = "bench-key"
CALLERS = 8
MODES = ("unshared", "memory", "sqlite", "redis")


def worker(config: dict[str, Any]) -> None:
    """One process: ``clients`` clients of ``CALLERS`` callers (or one paced sender)
    until the time in the go file; print counts and decision costs as JSON."""
    from worksection_async import (
        Client,
        ClientEvent,
        QuotaExceededError,
        RateLimit,
        ResponseReceived,
    )
    from worksection_async.shared import SharedQuota

    counts = {"ok": 0, "quota_errors": 0, "sent": 0}
    successes: list[float] = []
    costs: list[float] = []
    inside: list[float] = []

    def hook(event: ClientEvent) -> None:
        if isinstance(event, ResponseReceived):
            counts["sent"] += 1
            if event.error is None:
                successes.append(time.time())
            elif event.error == "QuotaExceededError":
                counts["quota_errors"] += 1

    def quota() -> SharedQuota | None:
        if not config["store"]:
            return None
        shared = SharedQuota.from_url(config["store"], key=config["key"])
        evaluate = shared._evaluate

        async def timed(keys: Any, args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await evaluate(keys, args)
            finally:
                costs.append(time.perf_counter() - t0)

        shared._evaluate = timed  # type: ignore[method-assign]
        store = getattr(shared, "store", None)
        decide = getattr(store, "decide", None)
        if decide is not None:  # SQLite: the transaction itself, in the worker thread

            def timed_decide(*args: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return decide(*args)
                finally:
                    inside.append(time.perf_counter() - t0)

            store.decide = timed_decide  # type: ignore[union-attr]
        return shared

    async def wait_for_go() -> tuple[float, float]:
        go = Path(config["go"])
        print("ready", flush=True)
        while not go.exists():  # noqa: ASYNC110, ASYNC240 - the parent makes it
            await asyncio.sleep(0.01)
        start, until = (float(x) for x in go.read_text().split())  # noqa: ASYNC240
        await asyncio.sleep(max(0.0, start - time.time()))
        return start, until

    async def paced() -> tuple[float, float]:
        async with Client(config["url"], KEY, rate_limit=None, retry=None, on_event=hook) as client:
            start, until = await wait_for_go()
            # One of ``of`` processes that together send at exactly ``aim`` x the rate,
            # evenly: this one at its ``index``-th slot of every ``of``.
            of = config.get("of", 1)
            interval = 1.0 / (config["rate"] * config.get("aim", 1.0))
            moment = start + config.get("index", 0) * interval
            interval *= of
            while moment < until:
                await asyncio.sleep(max(0.0, moment - time.time()))
                with contextlib.suppress(QuotaExceededError):  # the hook counts it
                    await client.call("get_projects")
                moment += interval
        return start, until

    async def clients() -> tuple[float, float]:
        made = [
            Client(
                config["url"],
                KEY,
                rate_limit=RateLimit(rate=config["rate"]),
                max_concurrency=CALLERS,
                shared_quota=quota(),
                on_event=hook,
            )
            for _ in range(config["clients"])
        ]
        for client in made:
            await client.__aenter__()
        try:
            start, until = await wait_for_go()

            async def caller(client: Client) -> None:
                while time.time() < until:
                    await client.call("get_projects")

            await asyncio.gather(*(caller(c) for c in made for _ in range(CALLERS)))
        finally:
            for client in reversed(made):
                await client.__aexit__(None, None, None)
        return start, until

    async def run() -> None:
        start, until = await (paced() if config["paced"] else clients())
        counts["ok"] = sum(1 for t in successes if start <= t <= until)  # in the window
        print(json.dumps({**counts, "costs": costs, "inside": inside}), flush=True)

    asyncio.run(run())


def start_redis() -> tuple[subprocess.Popen[bytes], str, str] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
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


def run_mode(
    url: str, store: str | None, processes: int, clients: int, quota: float, seconds: float,
    key: str, *, paced: bool = False,
) -> dict[str, Any]:  # fmt: skip
    config = {
        "url": url, "store": store, "key": key, "rate": quota, "clients": clients,
        "paced": paced,
    }  # fmt: skip
    return run_processes([config] * processes, seconds)


def run_processes(
    configs: list[dict[str, Any]], seconds: float,
    during: tuple[float, Callable[[], object]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One worker per config; the window starts 0.3 s after every one is ready.
    ``during``: (seconds into the window, what to do then), e.g. kill a primary."""
    with tempfile.TemporaryDirectory() as directory:
        go = Path(directory) / "go"
        children = [
            subprocess.Popen(  # noqa: S603
                [sys.executable, __file__, "--worker", json.dumps({**config, "go": str(go)})],
                stdout=subprocess.PIPE,
                text=True,
            )
            for config in configs
        ]
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        start = time.time() + 0.3
        tmp = go.with_suffix(".tmp")
        tmp.write_text(f"{start!r} {start + seconds!r}")
        tmp.replace(go)
        if during is not None:
            time.sleep(max(0.0, start + during[0] - time.time()))
            during[1]()
        totals: dict[str, Any] = {
            "ok": 0, "quota_errors": 0, "sent": 0, "costs": [], "inside": [],
        }  # fmt: skip
        for child in children:
            out, _ = child.communicate(timeout=seconds + 120)
            counts = json.loads(out.strip().splitlines()[-1])
            for name in totals:
                totals[name] += counts[name]
        return totals


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cell(totals: dict[str, Any], quota: float, seconds: float) -> str:
    use = totals["ok"] / (quota * seconds)
    share = totals["quota_errors"] / max(1, totals["sent"])
    text = f"use {use:5.3f}  error-20 {share:6.2%}"
    costs = totals["costs"]
    if costs:
        median = statistics.median(costs) * 1e6
        p99 = percentile(costs, 0.99) * 1e6
        text += f"  decision {median:6.0f} / {p99:6.0f} us"
    inside = totals["inside"]
    if inside:
        median = statistics.median(inside) * 1e6
        p99 = percentile(inside, 0.99) * 1e6
        text += f"  (transaction {median:5.0f} / {p99:6.0f} us)"
    return text


def main(
    quotas: list[float], counts: list[int], modes: list[str], burst: int,
    seconds_for: dict[float, float],
) -> None:  # fmt: skip
    redis = start_redis() if "redis" in modes else None
    if "redis" in modes and redis is None:
        print("redis-server is not installed: no redis runs (apt-get install redis-server)")
        modes = [m for m in modes if m != "redis"]
    scratch = tempfile.mkdtemp(prefix="bench-sqlite-")
    try:
        print(
            f"{CALLERS} callers per client; use = successes in the window / (quota x "
            "seconds); decision = median / p99 of one round trip to the store"
        )
        print(f"load average at the start: {os.getloadavg()[0]:.2f}")
        for quota in quotas:
            seconds = seconds_for[quota]
            spec = f"{quota:g}/s,burst={burst}"
            rest = max(1.5, burst / quota + 0.5)  # the fake's bucket refills between runs
            with served_fake(api_key=KEY, quota=spec, populate="1x10") as url:
                print(f"\nquota {spec}, {seconds:g} s per run")
                time.sleep(rest)
                baseline = run_mode(url, None, 1, 1, quota, seconds, KEY, paced=True)
                print(f"  {'paced':8} {'1':>3}  {cell(baseline, quota, seconds)}")
                for n in counts:
                    for mode in modes:
                        time.sleep(rest)
                        key = f"{KEY}-{quota:g}-{n}-{mode}"
                        if mode == "unshared":
                            totals = run_mode(url, None, n, 1, quota, seconds, key)
                        elif mode == "memory":
                            store = f"memory://{key}"
                            totals = run_mode(url, store, 1, n, quota, seconds, key)
                        elif mode == "sqlite":
                            store = f"sqlite://{scratch}/{key}.db"
                            totals = run_mode(url, store, n, 1, quota, seconds, key)
                        else:
                            assert redis is not None
                            totals = run_mode(url, redis[1], n, 1, quota, seconds, key)
                        print(f"  {mode:8} {n:>3}  {cell(totals, quota, seconds)}", flush=True)
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    finally:
        if redis is not None:
            redis[0].terminate()
            redis[0].wait()
            shutil.rmtree(redis[2], ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


# -- Redis the way production runs it (issue 29): beside a perfectly paced sender ------

PROCESSES = 4


@contextlib.contextmanager
def redis_store(
    kind: str, key: str, delay_ms: float, jitter_ms: float
) -> Iterator[tuple[str, Callable[[], object]]]:
    """A Redis for one row: its URL and what kills its primary (a failover)."""
    sys.path.insert(0, str(ROOT))
    from tests.shared._redis import RedisServer
    from tests.shared._topologies import Cluster, SentinelGroup, kill

    if kind == "cluster":
        cluster = Cluster()
        try:
            yield cluster.url(3), lambda: kill(cluster.owner(key))
        finally:
            cluster.close()
        return
    if kind == "sentinel":
        group = SentinelGroup()

        def failover() -> None:
            port = group.primary_port()
            kill(group.primary if group.primary.port == port else group.replica)

        try:
            yield group.url, failover
        finally:
            group.close()
        return
    server = RedisServer()
    server.start()
    proxy = None
    try:
        port = server.port
        if delay_ms or jitter_ms:
            proxy = DelayProxy(port, delay=delay_ms / 1000, jitter=jitter_ms / 1000)
            port = proxy.port
        yield f"redis://127.0.0.1:{port}/0", lambda: kill(server)
    finally:
        if proxy is not None:
            proxy.close()
        server.close()


def production_row(
    name: str, quota: float, burst: int, seconds: float, aim: float, *, kind: str = "tcp",
    redis_delay: float = 0.0, redis_jitter: float = 0.0, arrival_jitter: float = 0.0,
    failover: bool = False,
) -> None:  # fmt: skip
    """One row: PROCESSES paced processes that together send at exactly ``aim`` x the
    quota, then PROCESSES processes of CALLERS callers sharing the quota through Redis,
    in the same conditions (the same fake, the same proxies)."""
    spec = f"{quota:g}/s,burst={burst}"
    rest = max(1.5, burst / quota + 0.5)
    key = f"{KEY}-{name}-{time.time():.0f}".replace(" ", "-")
    with served_fake(api_key=KEY, quota=spec, populate="1x10") as fake_url:
        api = None
        url = fake_url
        if arrival_jitter:  # requests reach the API 0 to arrival_jitter ms late
            api = DelayProxy(int(fake_url.rsplit(":", 1)[1]), delay=0.0,
                             jitter=arrival_jitter / 1000, both=False)  # fmt: skip
            url = f"http://127.0.0.1:{api.port}"
        try:
            with redis_store(kind, key, redis_delay, redis_jitter) as (store, kill_primary):
                time.sleep(rest)
                paced = [
                    {"url": url, "store": None, "key": key, "rate": quota, "clients": 1,
                     "paced": True, "aim": aim, "index": i, "of": PROCESSES}
                    for i in range(PROCESSES)
                ]  # fmt: skip
                perfect = run_processes(paced, seconds)
                time.sleep(rest)
                shared = [
                    {"url": url, "store": store, "key": key, "rate": quota, "clients": 1,
                     "paced": False}
                ] * PROCESSES  # fmt: skip
                during = (seconds / 2, kill_primary) if failover else None
                totals = run_processes(shared, seconds, during)
        finally:
            if api is not None:
                api.close()
    base = perfect["ok"] / (quota * seconds)
    use = totals["ok"] / (quota * seconds)
    print(f"{name}  (quota {spec}, {seconds:g} s, load {os.getloadavg()[0]:.2f})")
    print(f"  perfect {PROCESSES} x paced, aim {aim:g}: {cell(perfect, quota, seconds)}")
    print(
        f"  shared  {PROCESSES} x {CALLERS} callers: {cell(totals, quota, seconds)}  "
        f"ratio {use / base if base else float('nan'):5.3f}  gap {base - use:+.3f}",
        flush=True,
    )


def production(args: argparse.Namespace) -> None:
    print(
        f"{PROCESSES} processes each; use = successes in the window (from the moment "
        "every process is ready) / (quota x seconds); ratio = shared use / perfect use"
    )
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    if args.rows:
        seconds = args.seconds or 12.0
        production_row("loopback", 10.0, args.burst, seconds, args.aim)
        production_row("redis 25 ms away", 10.0, args.burst, seconds, args.aim, redis_delay=25)
        production_row("arrival jitter 0-40 ms", 10.0, 1, seconds, 0.71, arrival_jitter=40)
        production_row("1/s", 1.0, args.burst, args.seconds or 40.0, args.aim)
    else:
        kind = "cluster" if args.cluster else "sentinel" if args.sentinel else "tcp"
        for quota in [float(q) for q in (args.quotas or "10").split(",")]:
            seconds = args.seconds or (40.0 if quota <= 1 else 12.0)
            parts = [kind]
            if args.redis_delay or args.redis_jitter:
                parts.append(f"redis {args.redis_delay:g}+0-{args.redis_jitter:g} ms away")
            if args.arrival_jitter:
                parts.append(f"arrival jitter 0-{args.arrival_jitter:g} ms")
            if args.failover:
                parts.append("primary killed mid-run")
            production_row(
                ", ".join(parts), quota, args.burst, seconds, args.aim, kind=kind,
                redis_delay=args.redis_delay, redis_jitter=args.redis_jitter,
                arrival_jitter=args.arrival_jitter, failover=args.failover,
            )  # fmt: skip
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(json.loads(sys.argv[2]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1/s and 10/s, N = 1, 2, 4, 8")
    parser.add_argument("--quotas", default=None, help="requests/s of the account (10)")
    parser.add_argument("--processes", default=None, help="values of N (1,4)")
    parser.add_argument("--seconds", type=float, default=None, help="per run (4)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--burst", type=int, default=2)
    parser.add_argument("--rows", action="store_true", help="issue 29's rows (see above)")
    parser.add_argument(
        "--redis-delay",
        type=float,
        default=0.0,
        metavar="MS",
        help="Redis this far away, one way (a delaying proxy)",
    )
    parser.add_argument(
        "--redis-jitter",
        type=float,
        default=0.0,
        metavar="MS",
        help="and 0 to MS more, drawn per chunk",
    )
    parser.add_argument(
        "--arrival-jitter",
        type=float,
        default=0.0,
        metavar="MS",
        help="requests reach the API 0 to MS late",
    )
    parser.add_argument("--cluster", action="store_true", help="a 3+3 Redis Cluster")
    parser.add_argument("--sentinel", action="store_true", help="a Sentinel group")
    parser.add_argument("--failover", action="store_true", help="kill the primary mid-run")
    parser.add_argument(
        "--aim", type=float, default=0.95, help="the perfect sender's share of the quota (0.95)"
    )
    args = parser.parse_args()
    if (
        args.rows
        or args.redis_delay
        or args.redis_jitter
        or args.arrival_jitter
        or (args.cluster or args.sentinel or args.failover)
    ):
        if args.cluster and args.sentinel:
            parser.error("--cluster or --sentinel, not both")
        if (args.cluster or args.sentinel) and (args.redis_delay or args.redis_jitter):
            parser.error("--redis-delay applies to one redis-server, not a topology")
        production(args)
        sys.exit(0)
    quotas = [float(q) for q in (args.quotas or ("1,10" if args.full else "10")).split(",")]
    counts = [int(n) for n in (args.processes or ("1,2,4,8" if args.full else "1,4")).split(",")]
    seconds_for = {
        q: args.seconds if args.seconds else (60.0 if q <= 1 else 20.0) if args.full else 4.0
        for q in quotas
    }
    modes = [m for m in args.modes.split(",") if m]
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}: pick from {', '.join(MODES)}")
    main(quotas, counts, modes, args.burst, seconds_for)
