"""get_many at scale: many pages of one project against the same pages spread out.

In-process ``FakeWorksection`` (its transport, quota off), fresh per run, best of
``--repeat`` runs:

1. 10,000 task pages of one project (one ``get_tasks``) next to 10,000 pages over
   100 projects (100 ``get_tasks``). Target: one project within 1.5x the spread-out
   time. Before issue #14 one project took 18.5 s against 1.37 s spread out (13.5x):
   ``plan()`` deduplicated with a list-membership test and every returned task
   re-checked all pages for subtask pages.
2. The time per page of one project with 1k, 5k, 10k, 20k and 50k pages. The API
   refuses a ``get_tasks`` of more than 10,000 tasks (``get_many`` then reads the
   pages one by one); the fake's limit is lifted here to measure the library's own
   scaling. Target: linear (a flat time per page). Before: 0.26 / 1.35 / 4.9 / 18.5 s
   for 1k / 3k / 5k / 10k pages.

Run: ``.venv/bin/python benchmarks/bulk_scaling.py [--repeat 3] [--sizes 1000,5000,...]``
"""

from __future__ import annotations

import argparse
import gc
import time

import anyio

from worksection_async import Client, TaskPage, parse_page
from worksection_async.testing import FakeWorksection, _actions

BEFORE_ONE_PROJECT_10K = 18.5
BEFORE_SPREAD_10K = 1.37


def _fake(projects: int, per_project: int) -> tuple[FakeWorksection, list[TaskPage]]:
    fake = FakeWorksection.populated(projects=projects, tasks_per_project=per_project)
    pages = [parse_page(t.page) for t in fake.tasks.values() if t.depth == 0]
    return fake, [p for p in pages if isinstance(p, TaskPage)]


async def _get_many(fake: FakeWorksection, pages: list[TaskPage]) -> float:
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
    ) as client:
        gc.collect()
        start = time.perf_counter()
        tasks = await client.tasks.get_many(pages)
        elapsed = time.perf_counter() - start
    assert [t.page for t in tasks] == pages
    return elapsed


def _best(projects: int, per_project: int, repeat: int) -> tuple[float, int]:
    fake, pages = _fake(projects, per_project)
    times = []
    for _ in range(repeat):
        fake.stats.reset()
        times.append(anyio.run(_get_many, fake, pages))
    return min(times), fake.stats.requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="1000,5000,10000,20000,50000")
    args = parser.parse_args()

    one, one_requests = _best(1, 10_000, args.repeat)
    spread, spread_requests = _best(100, 100, args.repeat)
    print(f"10,000 pages, best of {args.repeat} (in-process fake, quota off)")
    print(f"  one project       {one:6.2f} s  {one_requests:4d} request(s)")
    print(f"  100 projects      {spread:6.2f} s  {spread_requests:4d} request(s)")
    print(
        f"  ratio             {one / spread:6.2f}x  (target <= 1.5x;"
        f" before: {BEFORE_ONE_PROJECT_10K} s / {BEFORE_SPREAD_10K} s ="
        f" {BEFORE_ONE_PROJECT_10K / BEFORE_SPREAD_10K:.1f}x)"
    )

    _actions._tasks.MAX_RECORDS = 10**9  # type: ignore[misc]  # measure past the API's 10,000
    print("one project, time per page (target: flat; before: 0.26 ms at 1k, 1.85 ms at 10k)")
    for size in (int(text) for text in args.sizes.split(",")):
        elapsed, requests = _best(1, size, args.repeat)
        print(
            f"  {size:6d} pages  {elapsed:6.2f} s  {elapsed / size * 1e6:6.1f} us/page"
            f"  {requests} request(s)"
        )


if __name__ == "__main__":
    main()
