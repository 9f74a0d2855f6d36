"""get_many at scale: linear planning, every page found once, input order, duplicates.

The timing bounds here are generous (ten times or more what the code needs on a
loaded two-core machine); the quadratic code they guard against needed minutes.
"""

from __future__ import annotations

import random
import time

import anyio
import anyio.lowlevel
import pytest

import worksection_async as ws
import worksection_async._bulk as bulk
from worksection_async import Client, ProjectPage, SubtaskPage, TaskPage, parse_page
from worksection_async._bulk_tasks import Unit, _task_page, plan, task_pages
from worksection_async.testing import FakeWorksection

pytestmark = pytest.mark.anyio


def test_plan_of_one_big_project_is_linear() -> None:
    """40,000 pages of one project (each twice) plan in well under two seconds, as one
    get_tasks unit holding each page once, in first-seen order (a list-membership
    dedupe took 36 s for 20,000 pages)."""
    pages: list[TaskPage | SubtaskPage] = [TaskPage(7, n) for n in range(1, 40_001)]
    random.Random(3).shuffle(pages)
    doubled = [page for page in pages for _ in range(2)]
    start = time.perf_counter()
    units = plan(doubled)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0
    assert units == [Unit(ProjectPage(7), tuple(pages), batch=True)]
    assert not units[0].needs_subtasks


def test_plan_keeps_first_seen_order_per_project_and_flags_subtasks() -> None:
    """Projects in order of first appearance, pages in input order, duplicates dropped;
    a project with a subtask page asks for subtasks, the others do not."""
    a1, a2, b1 = TaskPage(1, 10), TaskPage(1, 11), TaskPage(2, 20)
    b_sub, c1 = SubtaskPage(2, 20, 21), TaskPage(3, 30)
    units = plan([a2, b_sub, a1, a2, c1, b1, b_sub, a1])
    assert [(u.project.project_id, u.pages, u.batch) for u in units] == [
        (1, (a2, a1), True),
        (2, (b_sub, b1), True),
        (3, (c1,), False),
    ]
    assert [u.needs_subtasks for u in units] == [False, True, False]


async def test_one_project_of_8000_pages_is_one_request_in_input_order() -> None:
    """8,000 task and subtask pages of one project, shuffled, some asked for twice:
    one get_tasks, every page answered by its own task, in input order, a duplicate
    is the same object, progress counts every item, and it takes seconds, not the
    minutes the per-task subtask check took."""
    fake = FakeWorksection.populated(projects=1, tasks_per_project=5_200, seed=4)
    everything = [parse_page(task.page) for task in fake.tasks.values()]
    pages: list[TaskPage | SubtaskPage] = [
        p for p in everything if isinstance(p, (TaskPage, SubtaskPage))
    ][:8_000]
    assert any(isinstance(p, SubtaskPage) for p in pages)
    assert len(pages) == 8_000
    rng = random.Random(5)
    rng.shuffle(pages)
    twice = rng.sample(range(len(pages)), 500)
    wanted = pages + [pages[i] for i in twice]
    seen: list[tuple[int, int]] = []
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
    ) as client:
        start = time.perf_counter()
        tasks = await client.tasks.get_many(wanted, progress=lambda d, t: seen.append((d, t)))
        elapsed = time.perf_counter() - start
    assert elapsed < 20.0
    assert fake.stats.requests == 1
    assert fake.stats.by_action["get_tasks"] == 1
    assert [task.page for task in tasks] == wanted
    assert all(isinstance(task, ws.models.Task) for task in tasks)
    for extra, index in enumerate(twice, start=len(pages)):
        assert tasks[extra] is tasks[index]
    assert seen == [(len(wanted), len(wanted))]


async def test_many_links_are_parsed_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """5,000 links are parsed in chunks with a turn for other tasks between them (with
    zero-length slices: after every chunk), in order; a bad one still fails the call."""
    monkeypatch.setattr(bulk, "SLICE_SECONDS", 0.0)
    links = [f"/project/{1 + n % 7}/{100 + n}/" for n in range(5_000)]
    turns = 0
    done = anyio.Event()

    async def count() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(count)
        pages = await task_pages(links, _task_page)
        done.set()
    assert [page.path for page in pages] == links
    assert turns >= 5_000 // 512
    with pytest.raises(ValueError, match="task or subtask pages"):
        await task_pages([*links[:600], "/project/3/"], _task_page)
