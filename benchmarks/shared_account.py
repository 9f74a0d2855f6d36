"""Shared account: fair shares, recovery after a squeeze, and matched quotas, over HTTP.

The fake is served by uvicorn in a subprocess on 127.0.0.1 with a real-time quota; its
quota is changed mid-run through ``PUT /_fake/quota``. Each scenario runs twice in the
same run: with the control law of issue 24 (``new``: contended clients take turns), and
with the one it replaced (``today``: ``_baseline_throttle``, a copy of commit a3dfc65),
so the figures sit side by side.

* two clients: two ``Client`` s of 8 callers each share one account for ``--seconds``;
  printed: each client's share, the account's use of its quota, the error-20 share.
* squeeze: one client of 8 callers; the quota drops to a fifth for 3 s, then comes back;
  printed: seconds until a 1 s window runs at >= 0.85 of the quota again.
* matched: one client of 8 callers at a quota equal to its configured rate, for each
  rate of ``--rates``; printed: rate / quota and error-20 share (target >= 0.95, <= 1 %).

    python benchmarks/shared_account.py [--quota 20] [--seconds 20] [--rates 1,5,20,50,100]
                                        [--only two|squeeze|matched]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

import _baseline_throttle as baseline
import httpx
from _served import served_fake

from worksection_async import Client, ClientEvent, RateLimit, RequestSent, ResponseReceived

KEY = "bench-key"
CALLERS = 8


class _BaselineThrottle(baseline.Throttle):
    """The replaced throttle behind today's client: same calls, nothing shared."""

    async def acquire(self, deadline: object = None, *, retry: bool = False) -> object:
        return await super().acquire(deadline)  # type: ignore[arg-type]


def make_client(url: str, rate: float, law: str, hook: Callable[[ClientEvent], None]) -> Client:
    client = Client(
        url, KEY, rate_limit=RateLimit(rate=rate), max_concurrency=CALLERS, on_event=hook
    )
    if law == "today":
        client._throttle = _BaselineThrottle(  # type: ignore[assignment]
            baseline.RateLimit(rate=rate), CALLERS, client._clock, on_event=hook
        )
    return client


class Tally:
    """Successes (with their times) and error 20s seen by one client."""

    def __init__(self) -> None:
        self.ok: list[float] = []
        self.errors = 0
        self.sent = 0

    def __call__(self, event: ClientEvent) -> None:
        if isinstance(event, RequestSent):
            self.sent += 1
        elif isinstance(event, ResponseReceived):
            if event.error is None:
                self.ok.append(time.monotonic())
            elif event.error == "QuotaExceededError":
                self.errors += 1


async def callers(client: Client, until: float) -> None:
    async def one() -> None:
        while time.monotonic() < until:
            await client.call("get_projects")

    await asyncio.gather(*(one() for _ in range(CALLERS)))


async def set_quota(url: str, quota: str) -> None:
    async with httpx.AsyncClient() as http:
        (await http.put(f"{url}/_fake/quota", content=quota)).raise_for_status()


async def two_clients(url: str, quota: float, seconds: float, law: str) -> str:
    await set_quota(url, f"{quota:g}/s")
    tallies = [Tally(), Tally()]
    start = time.monotonic()
    until = start + seconds
    clients = [make_client(url, quota, law, tally) for tally in tallies]
    async with clients[0], clients[1]:
        await asyncio.gather(*(callers(c, until) for c in clients))
    served = [len(t.ok) for t in tallies]
    total = sum(served) or 1
    errors = sum(t.errors for t in tallies)
    sent = sum(t.sent for t in tallies) or 1
    shares = "/".join(f"{n / total:.2f}" for n in served)
    return (
        f"shares {shares}  account {total / (quota * seconds):.3f} of quota  "
        f"error-20 {errors / sent:6.1%}"
    )


async def squeeze(url: str, quota: float, seconds: float, law: str) -> str:
    await set_quota(url, f"{quota:g}/s")
    tally = Tally()
    start = time.monotonic()
    squeeze_at, squeeze_end = start + 5.0, start + 8.0

    async def squeezer() -> None:
        await asyncio.sleep(squeeze_at - time.monotonic())
        await set_quota(url, f"{quota / 5:g}/s")
        await asyncio.sleep(squeeze_end - time.monotonic())
        await set_quota(url, f"{quota:g}/s")

    async with make_client(url, quota, law, tally) as client:
        await asyncio.gather(squeezer(), callers(client, start + seconds))
    recovered = None
    t = squeeze_end
    while t + 1.0 <= start + seconds:
        if sum(1 for x in tally.ok if t <= x < t + 1.0) >= 0.85 * quota:
            recovered = t - squeeze_end
            break
        t += 0.1
    after = sum(1 for x in tally.ok if x >= squeeze_end) / (start + seconds - squeeze_end)
    took = f"{recovered:5.1f} s" if recovered is not None else f"> {seconds - 8:.0f} s"
    return f"back at 0.85 of quota after {took}  rate after squeeze {after / quota:.3f} of quota"


async def matched(url: str, rate: float, law: str) -> str:
    await set_quota(url, f"{rate:g}/s")
    await asyncio.sleep(1.0)
    tally = Tally()
    seconds = min(120.0, max(20.0, 500 / rate))
    start = time.monotonic()
    async with make_client(url, rate, law, tally) as client:
        await callers(client, start + seconds)
    elapsed = tally.ok[-1] - tally.ok[0] if len(tally.ok) > 1 else seconds
    achieved = (len(tally.ok) - 1) / elapsed
    return (
        f"{rate:5g}/s  rate/quota {achieved / rate:5.3f}  "
        f"error-20 {tally.errors}/{tally.sent} = {tally.errors / max(tally.sent, 1):6.2%}"
    )


async def main(quota: float, seconds: float, rates: list[float], only: str | None) -> None:
    with served_fake(api_key=KEY, quota=f"{quota:g}/s", populate="1x10") as url:
        if only in (None, "two"):
            print(f"two clients on one account, {CALLERS} callers each, quota {quota:g}/s")
            for law in ("new", "today"):
                print(f"  {law:9} {await two_clients(url, quota, seconds, law)}")
        if only in (None, "squeeze"):
            print(f"squeeze: quota {quota:g}/s, {quota / 5:g}/s for 3 s at t = 5 s, then back")
            for law in ("new", "today"):
                print(f"  {law:9} {await squeeze(url, quota, seconds, law)}")
        if only not in (None, "matched"):
            return
        print(f"matched quota, one client of {CALLERS} callers (target >= 0.95, <= 1 %)")
        for rate in rates:
            for law in ("new", "today"):
                print(f"  {law:9} {await matched(url, rate, law)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quota", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rates", default="1,5,20,50,100")
    parser.add_argument("--only", choices=["two", "squeeze", "matched"])
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r]
    asyncio.run(main(args.quota, args.seconds, rates, args.only))
