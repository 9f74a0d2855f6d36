"""Fewest requests: 2,000 task pages across 20 projects, get_many vs the official SDK.

One served fake (uvicorn on 127.0.0.1, quota off), the same 2,000 tasks fetched twice
in one run:

* ``worksection_async``: ``get_many(pages)`` (one ``get_tasks`` per project);
* the official ``worksection-api-client`` 2.1.2: one ``get_task`` call per task.

Printed: requests sent (counted by the fake) and wall time for each, and the ratio of
requests. Target: >= 50x fewer requests.

    python benchmarks/fewest_requests.py [--projects 20] [--tasks 100]
"""

from __future__ import annotations

import argparse
import time

import anyio
from worksection import Client as SdkClient

from worksection_async import Client, TaskPage, parse_page
from worksection_async.testing import FakeWorksection


async def ours(url: str, key: str, pages: list[TaskPage]) -> int:
    async with Client(url, key, rate_limit=None) as client:
        tasks = await client.tasks.get_many(pages)
    return len(tasks)


def official(url: str, key: str, pages: list[TaskPage]) -> int:
    sdk = SdkClient(url).set_api_key(key)
    return len([sdk.tasks.get(page.task_id) for page in pages])


def main(projects: int, tasks_per_project: int) -> None:
    fake = FakeWorksection.populated(projects=projects, tasks_per_project=tasks_per_project)
    pages = [parse_page(t.page) for t in fake.tasks.values() if t.depth == 0]
    task_pages = [p for p in pages if isinstance(p, TaskPage)]
    with fake.serve_in_thread() as url:
        fake.stats.reset()
        start = time.perf_counter()
        got = anyio.run(ours, url, fake.api_key, task_pages)
        our_time, our_requests = time.perf_counter() - start, fake.stats.requests
        assert got == len(task_pages)

        fake.stats.reset()
        start = time.perf_counter()
        got = official(url, fake.api_key, task_pages)
        sdk_time, sdk_requests = time.perf_counter() - start, fake.stats.requests
        assert got == len(task_pages)
    print(f"{len(task_pages)} task pages across {projects} projects, served fake, quota off")
    print(f"worksection_async get_many : {our_requests:5d} requests  {our_time:6.2f} s")
    print(f"official SDK, get_task each: {sdk_requests:5d} requests  {sdk_time:6.2f} s")
    print(
        f"requests ratio: {sdk_requests / our_requests:.0f}x fewer (target >= 50x); "
        f"at the API's 1 request/s: {our_requests / 60:.1f} min vs {sdk_requests / 60:.0f} min"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=100)
    args = parser.parse_args()
    main(args.projects, args.tasks)
