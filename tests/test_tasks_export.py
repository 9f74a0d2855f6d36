"""client.tasks.export(): every task and subtask, complete comments, the fewest requests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from worksection_async import Client, ProjectPage, TaskPage, parse_page
from worksection_async.models import Task
from worksection_async.resources._export import COMMENTS_ROUND
from worksection_async.testing import FakeWorksection, ManualClock

from .fixtures.export_support import INLINE, commented_fake, cut_tasks

pytestmark = pytest.mark.anyio


@pytest.fixture
async def clock() -> AsyncIterator[ManualClock]:
    clock = ManualClock(start=10.0)
    async with clock.autojump():
        yield clock


def client_for(
    fake: FakeWorksection, clock: ManualClock, transport: httpx.AsyncBaseTransport | None = None
) -> Client:
    return Client(
        fake.account_url, fake.api_key, transport=transport or fake.transport, clock=clock
    )


async def exported(client: Client, **kwargs: Any) -> list[Task]:
    async with contextlib.aclosing(client.tasks.export(**kwargs)) as tasks:
        return [task async for task in tasks]


def account_order(fake: FakeWorksection, projects: list[int] | None = None) -> list[int]:
    """Task ids as a listing gives them: by project, each task then its subtasks."""
    ids = projects or sorted(p.id for p in fake.projects.values() if p.status != "archive")
    return [t.id for p in ids for t in fake.tasks_of(fake.projects[p], subtasks=True)]


async def test_comments_cost_one_request_per_task_that_may_be_cut(clock: ManualClock) -> None:
    """get_all_tasks once, get_comments only for tasks showing 5 inline; all complete."""
    fake = commented_fake(projects=4, tasks_per_project=10, long=12, quota="1/s", clock=clock)
    cut = cut_tasks(fake)
    assert len(cut) >= 12
    seen: list[tuple[int, int]] = []
    async with client_for(fake, clock) as client:
        tasks = await exported(client, comments=True, progress=lambda d, p: seen.append((d, p)))
    assert dict(fake.stats.by_action) == {"get_all_tasks": 1, "get_comments": len(cut)}
    assert fake.stats.rejected_quota == 0
    assert [t.id for t in tasks] == account_order(fake)  # subtasks included, each once
    for task in tasks:
        expected = [c.id for c in reversed(fake.comments_of(fake.tasks[task.id]))]
        assert task.comments is not None
        assert [c.id for c in task.comments] == expected  # newest first, none missing
        assert task.child is None
    assert seen[0] == (0, 1) and seen[-1] == (1 + len(cut), 1 + len(cut))
    assert [p for _, p in seen[2:]] == [1 + len(cut)] * (len(seen) - 2)  # final after listing
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


async def test_four_inline_comments_are_complete_five_may_not_be(clock: ManualClock) -> None:
    """A task showing 4 comments costs nothing more; one showing exactly 5 is read."""
    fake = FakeWorksection(clock=clock)
    project = fake.add_project("P")
    four, five = fake.add_task(project, "four"), fake.add_task(project, "five")
    for n in range(INLINE - 1):
        fake.add_comment(four, f"c{n}")
    for n in range(INLINE):
        fake.add_comment(five, f"c{n}")
    fake.add_task(project, "none")
    async with client_for(fake, clock) as client:
        tasks = await exported(client, comments=True)
    assert fake.stats.by_action["get_comments"] == 1
    assert [len(t.comments or ()) for t in tasks] == [4, 5, 0]
    assert tasks[2].comments == ()  # asked for, none: empty, not None


async def test_without_comments_one_request_and_no_comments(clock: ManualClock) -> None:
    """No comments asked: one get_all_tasks, comments None, descriptions included."""
    fake = commented_fake(projects=2, tasks_per_project=5, long=3, clock=clock)
    async with client_for(fake, clock) as client:
        tasks = await exported(client)
    assert dict(fake.stats.by_action) == {"get_all_tasks": 1}
    assert all(t.comments is None and t.files is None for t in tasks)
    assert all(t.text is not None for t in tasks)


async def test_subtasks_carry_their_parent(clock: ManualClock) -> None:
    """Every subtask follows its parent and links to it; tops have no parent."""
    fake = commented_fake(projects=3, tasks_per_project=20, long=3, clock=clock)
    async with client_for(fake, clock) as client:
        tasks = await exported(client)
    position = {t.id: n for n, t in enumerate(tasks)}
    subtasks = [t for t in tasks if not isinstance(t.page, TaskPage)]
    assert subtasks
    for task in tasks:
        record = fake.tasks[task.id]
        if record.parent_id is None:
            assert task.parent is None
        else:
            assert task.parent is not None and task.parent.id == record.parent_id
            assert position[record.parent_id] < position[task.id]


async def test_named_projects_one_get_tasks_each_in_order(clock: ManualClock) -> None:
    """get_tasks per named project (duplicates once), in the order given; archived too."""
    fake = commented_fake(projects=4, tasks_per_project=6, long=4, clock=clock)
    ids = sorted({fake.tasks[t].project_id for t in cut_tasks(fake)})
    ids += sorted(set(fake.projects) - set(ids))
    archived = fake.add_project("Old", status="archive")
    fake.add_task(archived, "Old task")
    wanted = [ids[2], archived.id, f"/project/{ids[0]}/", ProjectPage(ids[2])]
    async with client_for(fake, clock) as client:
        tasks = await exported(client, projects=wanted, comments=True)
    order = [ids[2], archived.id, ids[0]]
    assert [t.id for t in tasks] == account_order(fake, order)
    cut = {t for t in cut_tasks(fake) if fake.tasks[t].project_id in order}
    assert cut
    assert dict(fake.stats.by_action) == {"get_tasks": 3, "get_comments": len(cut)}


async def test_files_with_comments_reads_every_commented_task(clock: ManualClock) -> None:
    """files=True: description files; with comments, each comment's files too."""
    fake = commented_fake(projects=2, tasks_per_project=8, long=3, clock=clock)
    commented = {t.id for t in fake.tasks.values() if fake.comments_of(t)}
    async with client_for(fake, clock) as client:
        tasks = await exported(client, comments=True, files=True)
    assert dict(fake.stats.by_action) == {"get_all_tasks": 1, "get_comments": len(commented)}
    with_files = 0
    for task in tasks:
        assert task.files is not None
        for comment in task.comments or ():
            assert comment.files is not None
            with_files += bool(comment.files)
        assert {f.id for f in task.files} == {f.id for f in fake.files_of_task(fake.tasks[task.id])}
    assert with_files > 0


async def test_active_only_leaves_out_closed_tasks(clock: ManualClock) -> None:
    """active_only: filter=active; no closed task comes out."""
    fake = commented_fake(projects=2, tasks_per_project=15, long=4, clock=clock)
    assert any(t.is_done for t in fake.tasks.values())
    async with client_for(fake, clock) as client:
        tasks = await exported(client, active_only=True, comments=True)
    assert tasks and not any(t.is_done for t in tasks)
    assert {t.id for t in tasks} < set(account_order(fake))


async def test_skip_continues_with_the_same_items(clock: ManualClock) -> None:
    """skip: the rest in the same order; no get_comments for the skipped tasks."""
    fake = commented_fake(projects=3, tasks_per_project=10, long=10, clock=clock)
    cut = cut_tasks(fake)
    async with client_for(fake, clock) as client:
        whole = await exported(client, comments=True)
        half = len(whole) // 2
        before = fake.stats.by_action["get_comments"]
        rest = await exported(client, comments=True, skip=[t.id for t in whole[:half]])
    assert rest == whole[half:]
    skipped_cut = {t.id for t in whole[:half]} & cut
    assert fake.stats.by_action["get_comments"] - before == len(cut) - len(skipped_cut)
    assert fake.stats.by_action["get_all_tasks"] == 2


async def test_stopping_early_sends_no_more_than_a_round(clock: ManualClock) -> None:
    """The caller stops after the first items: at most one round of get_comments."""
    fake = commented_fake(projects=4, tasks_per_project=20, long=3 * COMMENTS_ROUND, clock=clock)
    async with (
        client_for(fake, clock) as client,
        contextlib.aclosing(client.tasks.export(comments=True)) as tasks,
    ):
        async for task in tasks:
            if fake.stats.by_action.get("get_comments"):
                break
            del task
    assert fake.stats.by_action["get_comments"] == COMMENTS_ROUND


async def test_too_many_records_reads_project_by_project(clock: ManualClock) -> None:
    """An account over 10,000 records: get_projects, then get_tasks per open project."""
    fake = commented_fake(projects=3, tasks_per_project=5, long=2, clock=clock)
    fake.add_task(fake.add_project("Old", status="archive"), "Archived")
    inner = fake.transport

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("action") == "get_all_tasks":
            body = {"status": "error", "status_code": 17, "message": "Too many tasks (10000 max)"}
            return httpx.Response(200, json=body)
        return await inner.handle_async_request(request)

    seen: list[tuple[int, int]] = []
    async with client_for(fake, clock, httpx.MockTransport(handler)) as client:
        tasks = await exported(client, progress=lambda d, p: seen.append((d, p)))
    assert [t.id for t in tasks] == account_order(fake)  # archived project left out
    assert dict(fake.stats.by_action) == {"get_projects": 1, "get_tasks": 3}
    assert seen[-1] == (5, 5)  # the refused get_all_tasks counts


async def test_bad_arguments_fail_before_any_request(clock: ManualClock) -> None:
    """Wrong types and values raise at the call, before anything is sent."""
    fake = FakeWorksection(clock=clock)
    async with client_for(fake, clock) as client:
        with pytest.raises(TypeError, match="wrap a single project in a list"):
            client.tasks.export("/project/1/")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="projects is empty"):
            client.tasks.export([])
        with pytest.raises(ValueError, match="task's page, not a project's"):
            client.tasks.export(["/project/1/2/"])
        with pytest.raises(TypeError, match="comments must be a bool"):
            client.tasks.export(comments="yes")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="skip"):
            client.tasks.export(skip=[True])
        with pytest.raises(TypeError, match="progress"):
            client.tasks.export(progress=3)  # type: ignore[arg-type]
    assert fake.stats.requests == 0


async def test_a_missing_project_is_an_api_error(clock: ManualClock) -> None:
    """A project that does not exist raises its APIError (code 4)."""
    from worksection_async import InvalidProjectError

    fake = FakeWorksection(clock=clock)
    async with client_for(fake, clock) as client:
        with pytest.raises(InvalidProjectError):
            await exported(client, projects=[999])


def test_unstructured_tasks_are_json() -> None:
    """What export yields unstructures to JSON that structures back equal (the CLI's use)."""
    import anyio

    from worksection_async.models import structure, unstructure

    fake = commented_fake(projects=1, tasks_per_project=8, long=2)

    async def run() -> list[Task]:
        async with Client(
            fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
        ) as client:
            client_tasks = client.tasks.export(comments=True, files=True)
            return [task async for task in client_tasks]

    for task in anyio.run(run):
        data = json.loads(json.dumps(unstructure(task)))
        assert structure(data, Task) == task
        assert parse_page(data["page"]) == task.page


async def test_a_deeply_nested_listing_is_flattened(clock: ManualClock) -> None:
    """A listing nesting subtasks 50 levels deep (the API nests 2): every task once,
    in order, each linked to its parent."""
    depth = 50
    node: dict[str, Any] = {}
    top = node
    for level in range(depth):
        node.update(id=str(level + 1), name=f"t{level}", page=f"/project/1/{level + 1}/")
        node.update(status="active", priority="1")
        if level + 1 < depth:
            child: dict[str, Any] = {}
            node["child"] = [child]
            node = child

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "ok", "data": [top]})

    async with Client(
        "https://acme.worksection.com", "k", transport=httpx.MockTransport(handler), clock=clock
    ) as client:
        tasks = await exported(client)
    assert [t.id for t in tasks] == list(range(1, depth + 1))
    assert tasks[0].parent is None
    assert all(t.parent is not None and t.parent.id == t.id - 1 for t in tasks[1:])
