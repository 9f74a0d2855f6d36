"""Fewest requests: get_many vs the official SDK, and bulk beyond 10,000 records.

One served fake (uvicorn on 127.0.0.1, quota off) per case, each case run side by side
with its baseline in the same run:

* ``small`` (default 2,000 task pages across 20 projects): ``get_many(pages)`` (one
  ``get_tasks`` per project) vs the official ``worksection-api-client`` 2.1.2, one
  ``get_task`` per task. Target: >= 50x fewer requests.
* ``big-get-many``: 5,000 task, subtask and sub-subtask pages of one 25,000-task
  project (over the API's 10,000 records per answer): ``get_many`` (the refused
  ``get_tasks``, then ``search_tasks`` by id and parent) vs one ``get_task`` each (what
  ``get_many`` fell back to before, and what the official SDK does). Target: <= 3.
* ``big-export``: ``tasks.export()`` of 3 projects x 12,000 tasks (36,000): the split
  (by project, open/closed, ``dateadd`` windows) vs the lower bound ceil(N / 10,000)
  (no client can read N records in fewer answers). Target: <= 12, every task once.

Printed: requests sent (counted by the fake), wall time, and the ratios.

    python benchmarks/fewest_requests.py [--projects 20] [--tasks 100] [--case all]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import anyio
from worksection import Client as SdkClient

from worksection_async import Client, SubtaskPage, TaskPage, parse_page
from worksection_async.testing import FakeWorksection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fixtures.big_accounts import spread_account


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


async def big_get_many(url: str, key: str, pages: list[TaskPage | SubtaskPage]) -> int:
    async with Client(url, key, rate_limit=None) as client:
        tasks = await client.tasks.get_many(pages)
    assert [task.page for task in tasks] == pages
    return len(tasks)


def big_get_many_case() -> None:
    fake = spread_account(1, 25_000, subtasks_every=25)
    every = [parse_page(t.page) for t in fake.tasks.values()]
    deep = [parse_page(t.page) for t in fake.tasks.values() if t.depth == 2]
    rng = random.Random(21)
    chosen = rng.sample(deep, 100)
    pages = chosen + rng.sample(sorted(set(every) - set(chosen), key=str), 4_900)
    rng.shuffle(pages)
    wanted = [p for p in pages if isinstance(p, (TaskPage, SubtaskPage))]
    with fake.serve_in_thread() as url:
        fake.stats.reset()
        start = time.perf_counter()
        anyio.run(big_get_many, url, fake.api_key, wanted)
        our_time, ours_sent = time.perf_counter() - start, fake.stats.requests
        fake.stats.reset()
        start = time.perf_counter()
        sdk = SdkClient(url).set_api_key(fake.api_key)
        got = [sdk.tasks.get(page.id) for page in wanted]
        sdk_time, sdk_sent = time.perf_counter() - start, fake.stats.requests
        assert len(got) == len(wanted)
    print(
        f"{len(wanted)} pages of a 25,000-task project ({len(fake.tasks)} with subtasks), "
        "one project over the API's 10,000 records per answer"
    )
    print(f"worksection_async get_many : {ours_sent:5d} requests  {our_time:6.2f} s  (target <= 3)")
    print(f"one get_task per page      : {sdk_sent:5d} requests  {sdk_time:6.2f} s")
    print(
        f"requests ratio: {sdk_sent / ours_sent:.0f}x fewer; at 1 request/s: "
        f"{ours_sent} s vs {sdk_sent / 60:.0f} min"
    )


async def big_export(url: str, key: str) -> list[int]:
    async with Client(url, key, rate_limit=None) as client:
        return [task.id async for task in client.tasks.export()]


def big_export_case() -> None:
    fake = spread_account(3, 12_000)
    with fake.serve_in_thread() as url:
        fake.stats.reset()
        start = time.perf_counter()
        ids = anyio.run(big_export, url, fake.api_key)
        elapsed, sent = time.perf_counter() - start, fake.stats.requests
    assert len(ids) == len(set(ids)) == len(fake.tasks)
    bound = math.ceil(len(ids) / 10_000)
    print(f"tasks.export of 3 projects x 12,000 tasks: {len(ids)} tasks, each once")
    print(
        f"worksection_async export   : {sent:5d} requests  {elapsed:6.2f} s  (target <= 12); "
        f"by action {dict(fake.stats.by_action)}"
    )
    print(f"lower bound ceil(N/10,000) : {bound:5d} requests; ratio {sent / bound:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument(
        "--case", choices=("all", "small", "big-get-many", "big-export"), default="all"
    )
    args = parser.parse_args()
    if args.case in ("all", "small"):
        main(args.projects, args.tasks)
    if args.case in ("all", "big-get-many"):
        big_get_many_case()
    if args.case in ("all", "big-export"):
        big_export_case()
