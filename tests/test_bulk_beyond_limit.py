"""Bulk reads beyond the API's 10,000 records per answer: the fewest requests, every task
exactly once, and a clear error where no documented filter can split (issue 21)."""

from __future__ import annotations

import contextlib
import pickle
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

import worksection_async._bulk_tasks as bulk_tasks
import worksection_async.resources._split as split
import worksection_async.testing._actions._tasks as fake_tasks
from worksection_async import (
    Client,
    SubtaskPage,
    TaskPage,
    TooManyRecordsError,
    WorksectionError,
    parse_page,
)
from worksection_async.models import Task
from worksection_async.testing import FakeWorksection, ManualClock

from .fixtures.big_accounts import one_day_account, spread_account

pytestmark = pytest.mark.anyio


@pytest.fixture
async def clock() -> AsyncIterator[ManualClock]:
    clock = ManualClock(start=10.0)
    async with clock.autojump():
        yield clock


def client_for(fake: FakeWorksection, clock: ManualClock) -> Client:
    """The default quota (1 request/s) on virtual time."""
    return Client(fake.account_url, fake.api_key, transport=fake.transport, clock=clock)


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Lower the records-per-answer limit on both sides (the fake and the client's
    reasoning), so the split's logic runs on small accounts."""

    def lower(value: int) -> None:
        monkeypatch.setattr(fake_tasks, "MAX_RECORDS", value)
        monkeypatch.setattr(split, "MAX_RECORDS", value)
        monkeypatch.setattr(bulk_tasks, "MAX_RECORDS", value)

    return lower


async def exported(client: Client, **kwargs: Any) -> list[Task]:
    async with contextlib.aclosing(client.tasks.export(**kwargs)) as tasks:
        return [task async for task in tasks]


def tree(tasks: list[Task]) -> dict[int, tuple[int, ...]]:
    """Every task id of nested listings -> its subtasks' ids."""
    shape: dict[int, tuple[int, ...]] = {}
    stack = list(tasks)
    while stack:
        task = stack.pop()
        assert task.id not in shape, f"task {task.id} twice"
        shape[task.id] = tuple(sub.id for sub in task.child or ())
        stack.extend(task.child or ())
    return shape


# -- get_many --------------------------------------------------------------------------


async def test_5000_pages_of_a_25000_task_project_in_3_requests(clock: ManualClock) -> None:
    """get_many of 5,000 task, subtask and sub-subtask pages of a 25,000-task project:
    the refused get_tasks, one search_tasks by id and parent, one for sub-subtasks (one
    get_task each before: 5,000 requests); every page its own task, in input order."""
    fake = spread_account(1, 25_000, subtasks_every=25)
    every = [parse_page(task.page) for task in fake.tasks.values()]
    rng = random.Random(21)
    deep = [parse_page(t.page) for t in fake.tasks.values() if t.depth == 2]
    chosen = rng.sample(deep, 100)
    pages = chosen + rng.sample(sorted(set(every) - set(chosen), key=str), 4_900)
    assert len(set(pages)) == 5_000
    pages += pages[:50]  # asked twice
    rng.shuffle(pages)
    assert sum(isinstance(p, SubtaskPage) for p in pages) > 500
    async with client_for(fake, clock) as client:
        tasks = await client.tasks.get_many(pages)
    assert [task.page for task in tasks] == pages
    assert dict(fake.stats.by_action) == {"get_tasks": 1, "search_tasks": 2}
    assert fake.stats.requests == 3


async def test_search_halves_a_request_until_its_answer_fits(
    clock: ManualClock, limit: Any
) -> None:
    """Pages whose search answer would be too big are asked in halves, never one by
    one; a missing page is read with its own get_task and is InvalidTaskError."""
    limit(100)
    fake = spread_account(1, 400, subtasks_every=3)
    tops = [parse_page(t.page) for t in fake.tasks.values() if t.depth == 0]
    subs = [parse_page(t.page) for t in fake.tasks.values() if t.depth > 0]
    missing = TaskPage(tops[0].project_id, 999_999)
    pages = [*tops[:150], *subs[:60], missing]
    async with client_for(fake, clock) as client:
        found = await client.tasks.get_many(pages, return_exceptions=True)
    assert [getattr(task, "page", None) for task in found[:-1]] == pages[:-1]
    assert isinstance(found[-1], WorksectionError) and found[-1].code == 5
    assert fake.stats.by_action["get_task"] == 1  # only the missing page
    assert fake.stats.by_action["search_tasks"] <= 8


# -- listings and the export -----------------------------------------------------------


async def test_export_of_3_projects_of_12000_tasks_in_12_requests(clock: ManualClock) -> None:
    """tasks.export of 3 x 12,000 tasks: each once, at most 12 requests, counted by
    progress; in the documented order (project by project, open tasks then closed)."""
    fake = spread_account(3, 12_000)
    seen: list[tuple[int, int]] = []
    async with client_for(fake, clock) as client:
        tasks = await exported(client, progress=lambda done, planned: seen.append((done, planned)))
    ids = [task.id for task in tasks]
    assert len(ids) == len(set(ids)) == len(fake.tasks) == 36_000
    expected = []
    for project in sorted(fake.projects):
        top = fake.tasks_of(project)
        expected += [t.id for t in top if not t.is_done] + [t.id for t in top if t.is_done]
    assert ids == expected
    assert fake.stats.requests <= 12
    assert seen[-1] == (fake.stats.requests, fake.stats.requests)


async def test_a_project_too_big_for_open_tasks_is_read_in_windows(clock: ManualClock) -> None:
    """25,000 tasks, 23,750 open: get_tasks filter=active is refused too, so the open
    ones come in dateadd windows; each task once, open ones first, oldest first."""
    fake = spread_account(1, 25_000, closed_every=20)
    async with client_for(fake, clock) as client:
        tasks = await client.project(min(fake.projects)).tasks()
    top = fake.tasks_of(min(fake.projects))
    assert [t.id for t in tasks] == [t.id for t in top if not t.is_done] + [
        t.id for t in top if t.is_done
    ]
    assert fake.stats.by_action["search_tasks"] <= 6
    assert fake.stats.requests <= 8  # ceil(25,000 / 10,000) = 3; 3 of them refused


async def test_10001_tasks_added_on_one_day_is_a_clear_error(clock: ManualClock) -> None:
    """No dateadd window splits one day: TooManyRecordsError saying what was tried
    (each refused request, in order) and why it stops; never a silent cut."""
    fake = one_day_account(10_001)
    async with client_for(fake, clock) as client:
        for attempt in (
            lambda: exported(client),
            lambda: client.tasks.list(),
            lambda: client.project(min(fake.projects)).tasks(),
        ):
            with pytest.raises(TooManyRecordsError) as caught:
                await attempt()
            error = caught.value
            assert isinstance(error, WorksectionError)
            assert error.tried[0].startswith(("get_all_tasks", "get_tasks"))
            assert any("filter=active" in step for step in error.tried)
            assert "dateadd>=" in error.tried[-2]
            assert "no dateadd window can split one day" in error.tried[-1]
            assert "tried, in order" in str(error) and "alone are more than 10,000" in str(error)
            again = pickle.loads(pickle.dumps(error))
            assert again.tried == error.tried


async def test_a_split_listing_equals_the_listing_that_fits(clock: ManualClock, limit: Any) -> None:
    """With the limit lowered to 60, project.tasks(extra=subtasks), tasks.list and the
    export give the same tasks and the same trees (closed subtasks of open tasks
    included) as with room for everything; open tasks first."""
    fake = spread_account(3, 120, subtasks_every=4, minutes=600)
    project = min(fake.projects)
    async with client_for(fake, clock) as client:
        whole = await client.project(project).tasks(extra=["subtasks", "text"])
        listed = await client.tasks.list(extra=["subtasks"])
        export = await exported(client)
        limit(60)
        fake.stats.reset()
        parts = await client.project(project).tasks(extra=["subtasks", "text"])
        assert fake.stats.by_action["search_tasks"] >= 2  # windows were needed
        listed_parts = await client.tasks.list(extra=["subtasks"])
        export_parts = await exported(client)
        flat = await client.tasks.list()
    assert tree(parts) == tree(whole)
    assert [t.text for t in parts if t.id == whole[0].id] == [whole[0].text]
    assert [t.status for t in parts] == sorted(
        (t.status for t in whole), key=lambda s: s != "active"
    )
    assert tree(listed_parts) == tree(listed)
    assert sorted(t.id for t in export_parts) == sorted(t.id for t in export)
    assert len(export_parts) == len(fake.tasks)
    by_id = {t.id: t for t in export}
    assert all(t.parent == by_id[t.id].parent for t in export_parts)
    assert sorted(t.id for t in flat) == sorted(t.id for t in listed)


async def test_a_split_cannot_give_comments_and_says_so(clock: ManualClock, limit: Any) -> None:
    """Closed tasks of a split come from search_tasks, which gives no comments: asking
    for them is a TooManyRecordsError naming the reason, not a listing without them."""
    limit(60)
    fake = spread_account(1, 100, minutes=600)
    async with client_for(fake, clock) as client:
        with pytest.raises(TooManyRecordsError, match="ask for fewer extras"):
            await client.project(min(fake.projects)).tasks(extra=["comments"])
        assert len(await client.project(min(fake.projects)).tasks(extra=["text"])) == 100


async def test_the_export_reads_comments_of_tasks_a_split_searched(
    clock: ManualClock, limit: Any
) -> None:
    """export(comments=True) of a split project: the tasks read by search_tasks come
    with their comments all the same (one get_comments each, the documented cost)."""
    limit(30)
    fake = spread_account(1, 40, minutes=600)
    closed = [t for t in fake.tasks.values() if t.is_done]
    fake.add_comment(closed[0], "Closed, with a comment")
    async with client_for(fake, clock) as client:
        tasks = await exported(client, comments=True)
    by_id = {t.id: t for t in tasks}
    comments = by_id[closed[0].id].comments
    assert comments is not None
    assert [c.text for c in comments] == ["Closed, with a comment"]
    assert fake.stats.by_action["get_comments"] == len(closed)


def test_assemble_merges_trees_and_rows_once_and_survives_a_loop() -> None:
    """Trees and flat rows become one tree per top, each task once, children by id; a
    row whose parent is elsewhere stays at the top; two rows naming each other as
    parent (a hostile answer) are kept, not lost or looped over."""
    from worksection_async.models import TaskRef

    def task(number: int, parent: int | None = None, child: tuple[Task, ...] | None = None) -> Task:
        ref = None
        if parent is not None:
            ref = TaskRef(id=parent, name="p", page=TaskPage(1, parent))
        page = TaskPage(1, number) if parent is None else SubtaskPage(1, parent, number)
        return Task(
            id=number,
            name=f"t{number}",
            page=page,
            status="active",
            priority=1,
            parent=ref,
            child=child,
        )

    open_tree = task(1, child=(task(3, parent=1),))
    parts = [open_tree, task(2), task(4, parent=1), task(3, parent=1), task(9, parent=8)]
    parts += [task(20, parent=21), task(21, parent=20)]
    shape = tree(split.assemble(parts, subtasks=True))
    assert shape == {1: (3, 4), 3: (), 4: (), 2: (), 9: (), 20: (21,), 21: ()}
    flat = split.assemble(parts, subtasks=False)
    assert [t.id for t in flat] == [1, 2]
    assert all(t.child is None for t in flat)
