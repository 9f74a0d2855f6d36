"""Quota saturation: how close to the account's quota, with how few error 20s.

The fake is served by uvicorn (a subprocess, 127.0.0.1) with a real-time quota of
20 requests/s. 600 tasks are fetched with one ``get_task`` each by 50 concurrent
callers, twice in the same run:

* ``worksection_async``: ``Client(rate_limit=RateLimit(rate=20), max_concurrency=50)``;
* naive baseline: ``asyncio.gather`` of plain signed httpx calls, each retried on error
  20 by tenacity (exponential backoff with jitter), no client-side quota.

Printed per run: achieved rate / quota (target >= 0.95 for the client) and error-20
answers / requests (target <= 1 %).

    python benchmarks/quota_saturation.py [--tasks 600] [--quota 20] [--callers 50]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from urllib.parse import quote

import httpx
from _served import served_fake
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from worksection_async import Client, RateLimit, RetryPolicy

KEY = "bench-key"


class QuotaError(Exception):
    pass


async def task_pages(url: str, count: int) -> list[str]:
    async with Client(url, KEY, rate_limit=None) as client:
        projects = await client.call("get_projects")
        pages: list[str] = []
        assert isinstance(projects, list)
        for project in projects:
            assert isinstance(project, dict)
            tasks = await client.call("get_tasks", page=str(project["page"]))
            assert isinstance(tasks, list)
            pages += [str(t["page"]) for t in tasks if isinstance(t, dict)]
            await asyncio.sleep(0.2)  # let the quota refill between set-up calls
    await asyncio.sleep(1.0)
    return pages[:count]


async def ours(url: str, pages: list[str], quota: float, callers: int) -> dict[str, float]:
    sent = errors = 0

    def on_event(event: object) -> None:
        nonlocal sent, errors
        from worksection_async import RequestSent, ResponseReceived

        if isinstance(event, RequestSent):
            sent += 1
        elif isinstance(event, ResponseReceived) and event.error == "QuotaExceededError":
            errors += 1

    async with Client(
        url,
        KEY,
        rate_limit=RateLimit(rate=quota),
        max_concurrency=callers,
        retry=RetryPolicy(max_attempts=20),
        on_event=on_event,
    ) as client:

        async def get(page: str) -> object:
            return await client.call("get_task", page=page)

        start = time.perf_counter()
        results = await client.map(get, pages)
        elapsed = time.perf_counter() - start
    assert len(results) == len(pages)
    return {"elapsed": elapsed, "requests": sent, "errors": errors}


async def naive(url: str, pages: list[str], callers: int) -> dict[str, float]:
    sent = errors = 0
    limits = httpx.Limits(max_connections=callers)
    semaphore = asyncio.Semaphore(callers)  # 50 concurrent callers, as for the client
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

        async def attempt(page: str) -> object:
            nonlocal sent, errors
            digest = hashlib.md5(f"{page}get_task{KEY}".encode(), usedforsecurity=False)
            query = f"action=get_task&page={quote(page, safe='')}&hash={digest.hexdigest()}"
            sent += 1
            body = json.loads((await http.post(f"/api/admin/v2/?{query}")).content)
            if body.get("status") == "error" and body.get("status_code") == 20:
                errors += 1
                raise QuotaError
            return body["data"]

        async def get(page: str) -> object:
            async with semaphore:
                async for try_ in AsyncRetrying(
                    retry=retry_if_exception_type(QuotaError),
                    wait=wait_random_exponential(multiplier=0.5, max=30),
                    stop=stop_after_attempt(30),
                    reraise=True,
                ):
                    with try_:
                        return await attempt(page)
            raise AssertionError("unreachable")

        start = time.perf_counter()
        results = await asyncio.gather(*(get(page) for page in pages))
        elapsed = time.perf_counter() - start
    assert len(results) == len(pages)
    return {"elapsed": elapsed, "requests": sent, "errors": errors}


def report(name: str, run: dict[str, float], tasks: int, quota: float) -> None:
    rate = tasks / run["elapsed"]
    print(
        f"{name:18} {run['elapsed']:7.1f} s  {rate:6.2f} req/s  "
        f"rate/quota {rate / quota:5.3f}  "
        f"error-20 {int(run['errors']):4d}/{int(run['requests']):4d} "
        f"= {run['errors'] / run['requests']:6.2%}"
    )


async def main(tasks: int, quota: float, callers: int) -> None:
    projects = max(1, -(-tasks // 100))
    with served_fake(api_key=KEY, quota=f"{quota:g}/s", populate=f"{projects}x100") as url:
        pages = await task_pages(url, tasks)
        assert len(pages) == tasks, len(pages)
        mine = await ours(url, pages, quota, callers)
        await asyncio.sleep(1.0)
        base = await naive(url, pages, callers)
    print(f"{tasks} get_task calls, {callers} concurrent callers, served quota {quota:g}/s")
    report("worksection_async", mine, tasks, quota)
    report("naive gather", base, tasks, quota)
    print("targets: worksection_async rate/quota >= 0.95, error-20 <= 1%")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=600)
    parser.add_argument("--quota", type=float, default=20.0)
    parser.add_argument("--callers", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.quota, args.callers))
