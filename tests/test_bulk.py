"""Bulk reads: get_many plans the fewest requests; map keeps order, errors, cancellation."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

import anyio
import pytest

import worksection_async as ws
from worksection_async import Client, SubtaskPage, TaskPage, parse_page
from worksection_async._bulk_tasks import get_many, plan
from worksection_async._call import Call
from worksection_async._json import JSONValue
from worksection_async.testing import FakeWorksection, Fault, ManualClock

pytestmark = pytest.mark.anyio

T = TypeVar("T")
R = TypeVar("R")


@pytest.fixture
async def clock() -> AsyncIterator[ManualClock]:
    clock = ManualClock(start=50.0)
    async with clock.autojump():
        yield clock


def top_pages(fake: FakeWorksection) -> list[TaskPage]:
    pages = [parse_page(t.page) for t in fake.tasks.values() if t.depth == 0]
    assert all(isinstance(p, TaskPage) for p in pages)
    return pages  # type: ignore[return-value]


def client_for(fake: FakeWorksection, clock: ManualClock, **kwargs: object) -> Client:
    return Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_2000_pages_in_20_projects_take_at_most_25_requests(clock: ManualClock) -> None:
    """One get_tasks per project: 20 requests for 2,000 tasks, results in input order."""
    fake = FakeWorksection.populated(projects=20, tasks_per_project=100, clock=clock, quota="1/s")
    pages = top_pages(fake)
    assert len(pages) == 2000
    random.Random(7).shuffle(pages)
    seen: list[tuple[int, int]] = []
    async with client_for(fake, clock) as client:
        tasks = await client.tasks.get_many(pages, progress=lambda d, t: seen.append((d, t)))
    assert fake.stats.requests <= 25
    assert fake.stats.by_action["get_tasks"] == 20
    assert [task.page for task in tasks] == pages
    assert all(isinstance(task, ws.models.Task) for task in tasks)
    assert seen[-1] == (2000, 2000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert fake.stats.rejected_quota == 0


async def test_subtask_pages_are_found_in_the_tree(clock: ManualClock) -> None:
    """Subtask pages ask for extra=subtasks and come back from the children."""
    fake = FakeWorksection(clock=clock)
    project = fake.add_project("P")
    top = fake.add_task(project, "top")
    sub = fake.add_task(project, "sub", parent=top)
    subsub = fake.add_task(project, "subsub", parent=sub)
    other = fake.add_task(project, "other")
    pages = [parse_page(p) for p in (subsub.page, top.page, sub.page, other.page)]
    async with client_for(fake, clock, rate_limit=None) as client:
        tasks = await get_many(client, pages)
    assert [t.name for t in tasks] == ["subsub", "top", "sub", "other"]
    assert isinstance(pages[0], SubtaskPage)
    assert tasks[0].child == ()  # subtasks were asked for: none is (), not None
    assert tasks[3].child == ()
    assert fake.stats.requests == 1


async def test_missing_items_fail_alone(clock: ManualClock) -> None:
    """A missing task and a missing project fail for their items only."""
    fake = FakeWorksection.populated(projects=2, tasks_per_project=5, clock=clock)
    pages: list[TaskPage | SubtaskPage] = list(top_pages(fake)[:4])
    ghost_task = TaskPage(pages[0].project_id, 999_999)
    ghost_project = TaskPage(888_888, 1)
    mixed = [pages[0], ghost_task, pages[1], ghost_project, TaskPage(888_888, 2), pages[3]]
    async with client_for(fake, clock, rate_limit=None) as client:
        results = await client.tasks.get_many(mixed, return_exceptions=True)
        with pytest.raises(ws.InvalidTaskError) as info:
            await get_many(client, mixed[:3])
    assert isinstance(results[1], ws.InvalidTaskError)
    assert results[1].page == ghost_task
    assert isinstance(results[3], ws.InvalidProjectError)
    assert isinstance(results[4], ws.InvalidProjectError)
    for i in (0, 2, 5):
        assert isinstance(results[i], ws.models.Task)
        assert results[i].page == mixed[i]  # type: ignore[union-attr]
    assert info.value.page == ghost_task


async def test_single_pages_use_get_task(clock: ManualClock) -> None:
    """One page of a project costs one get_task; duplicates are fetched once."""
    fake = FakeWorksection.populated(projects=3, tasks_per_project=3, clock=clock)
    by_project: dict[int, TaskPage] = {}
    for page in top_pages(fake):
        by_project.setdefault(page.project_id, page)
    pages = list(by_project.values())
    async with client_for(fake, clock, rate_limit=None) as client:
        tasks = await get_many(client, [*pages, pages[0]])
    assert fake.stats.by_action["get_task"] == 3
    assert tasks[0] is tasks[-1] or tasks[0] == tasks[-1]
    assert [u.batch for u in plan(pages)] == [False, False, False]


async def test_huge_project_falls_back_to_narrower_calls(clock: ManualClock) -> None:
    """Over 10,000 tasks get_tasks refuses: the pages are read with one search_tasks by
    id instead (one get_task each, before)."""
    fake = FakeWorksection(clock=clock)
    project = fake.add_project("Huge")
    tasks = [fake.add_task(project, f"t{i}") for i in range(10_001)]
    pages = [parse_page(tasks[i].page) for i in (5, 500, 10_000)]
    async with client_for(fake, clock, rate_limit=None) as client:
        found = await get_many(client, pages)  # type: ignore[arg-type]
    assert [t.name for t in found] == ["t5", "t500", "t10000"]
    assert fake.stats.by_action["get_tasks"] == 1
    assert fake.stats.by_action["search_tasks"] == 1
    assert fake.stats.requests == 2


async def test_bad_input_fails_before_any_request(clock: ManualClock) -> None:
    """A project page or a malformed string is refused before anything is sent."""
    fake = FakeWorksection(clock=clock)
    async with client_for(fake, clock) as client:
        with pytest.raises(ValueError, match="task or subtask pages"):
            await get_many(client, ["/project/1/"])
        with pytest.raises(ValueError, match="not a Worksection page"):
            await get_many(client, ["/project/1/2/", "/tasks/3/"])
    assert fake.stats.requests == 0


async def test_cancelling_get_many_leaves_nothing_running(clock: ManualClock) -> None:
    """Cancel halfway: no request in flight, nothing runs later, the client still works."""
    fake = FakeWorksection.populated(projects=10, tasks_per_project=2, clock=clock)
    fake.faults.add(Fault.latency(5.0), times=None)
    pages = top_pages(fake)
    progress: list[int] = []
    async with client_for(fake, clock, max_concurrency=2) as client:
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                await get_many(client, pages, progress=lambda d, t: progress.append(d))

            tg.start_soon(run)
            while len(progress) < 3:
                await clock.sleep(0.5)
            tg.cancel_scope.cancel()
        sent = fake.stats.requests
        assert 3 <= len(progress) < 10
        assert fake.stats.in_flight == 0
        assert client.quota.in_flight == 0
        assert client.quota.waiting == 0
        await clock.sleep(60)  # time passes: nothing left behind sends anything
        assert fake.stats.requests == sent
        fake.faults.clear()
        assert isinstance(await client.call("get_projects"), list)


async def test_map_keeps_order_and_collects_errors(clock: ManualClock) -> None:
    """client.map: input order, exceptions in place or raised first-come."""
    fake = FakeWorksection(clock=clock)

    async def slow_square(n: int) -> int:
        await clock.sleep((10 - n) * 0.1)
        if n == 4:
            raise KeyError(n)
        return n * n

    async with client_for(fake, clock) as client:
        results = await client.map(slow_square, range(8), return_exceptions=True)
        with pytest.raises(KeyError):
            await client.map(slow_square, range(8))
        assert await client.map(slow_square, []) == []
    assert [r for i, r in enumerate(results) if i != 4] == [0, 1, 4, 9, 25, 36, 49]
    assert isinstance(results[4], KeyError)


# -- every failure of a unit lands in its items (return_exceptions=True) -------------


def _by_project(pages: list[TaskPage], per_project: int) -> list[TaskPage]:
    """``per_project`` pages of each project (so each project is one get_tasks)."""
    chosen: dict[int, list[TaskPage]] = {}
    for page in pages:
        group = chosen.setdefault(page.project_id, [])
        if len(group) < per_project:
            group.append(page)
    return [page for group in chosen.values() for page in group]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.drop_connection(), ws.TransportError),
        (Fault.http_error(502), ws.ProtocolError),
        (Fault.truncated_json(), ws.ProtocolError),
    ],
    ids=["dropped", "http-502", "truncated"],
)
async def test_a_failed_project_read_fails_its_pages_only(
    clock: ManualClock, fault: Fault, error: type[Exception]
) -> None:
    """One get_tasks fails with a TransportError or ProtocolError: its project's pages
    hold that error, the other projects' tasks still arrive (it was raised, and every
    result lost)."""
    fake = FakeWorksection.populated(projects=4, tasks_per_project=5, clock=clock)
    pages = _by_project(top_pages(fake), per_project=3)
    fake.faults.add(fault, action="get_tasks", times=1)
    seen: list[int] = []
    async with client_for(fake, clock, rate_limit=None) as client:
        results = await client.tasks.get_many(
            pages, return_exceptions=True, progress=lambda d, t: seen.append(d)
        )
    failed = {
        page.project_id for page, r in zip(pages, results, strict=True) if isinstance(r, Exception)
    }
    assert len(failed) == 1
    for page, result in zip(pages, results, strict=True):
        if page.project_id in failed:
            assert isinstance(result, error)
        else:
            assert isinstance(result, ws.models.Task)
            assert result.page == page
    assert seen[-1] == len(pages)


async def test_a_failed_single_read_fails_its_page_only(clock: ManualClock) -> None:
    """A get_task (a project with one requested page) that gets no answer: that page
    holds the TransportError."""
    fake = FakeWorksection.populated(projects=3, tasks_per_project=2, clock=clock)
    pages = _by_project(top_pages(fake), per_project=1)
    fake.faults.add(Fault.drop_connection(), action="get_task", times=1)
    async with client_for(fake, clock, rate_limit=None) as client:
        results = await get_many(client, pages, return_exceptions=True)
    assert sum(isinstance(r, ws.TransportError) for r in results) == 1
    assert sum(isinstance(r, ws.models.Task) for r in results) == 2


async def test_an_answer_that_does_not_fit_fails_only_the_pages_it_concerns(
    clock: ManualClock,
) -> None:
    """A task the models cannot read (a bad time) in a get_tasks answer: the pages
    of that task hold the StructureError; the same answer's good tasks and the other
    projects' tasks arrive. A single get_task that does not fit fails its page."""
    fake = FakeWorksection(clock=clock)
    first, second, third = (fake.add_project(name) for name in ("A", "B", "C"))
    good = [fake.add_task(first, f"a{i}") for i in range(3)]
    bad = fake.add_task(first, "broken")
    bad.time_start = "25:99"
    others = [fake.add_task(second, f"b{i}") for i in range(2)]
    lonely_bad = fake.add_task(third, "lonely")
    lonely_bad.time_end = "not a time"
    pages = [parse_page(t.page) for t in (*good, bad, *others, lonely_bad)]
    async with client_for(fake, clock, rate_limit=None) as client:
        results = await get_many(client, pages, return_exceptions=True)  # type: ignore[arg-type]
        with pytest.raises(ws.models.StructureError):
            await get_many(client, pages)  # type: ignore[arg-type]
    names = [r.name if isinstance(r, ws.models.Task) else type(r).__name__ for r in results]
    assert names == ["a0", "a1", "a2", "StructureError", "b0", "b1", "StructureError"]
    assert "time_start" in str(results[3])
    assert "time_end" in str(results[6])


async def test_a_project_answer_of_the_wrong_shape_fails_its_pages(clock: ManualClock) -> None:
    """get_tasks answers with something that is no list of tasks at all: the
    project's pages hold the StructureError, the other project's arrive."""
    fake = FakeWorksection.populated(projects=2, tasks_per_project=3, clock=clock)
    pages = _by_project(top_pages(fake), per_project=2)
    broken = pages[0].project_id

    class Garbling:
        """A BulkClient whose get_tasks of one project answers with a string."""

        def __init__(self, client: Client) -> None:
            self.client = client

        async def send(self, call: Call, /) -> JSONValue:
            answer = await self.client.send(call)
            if call.action == "get_tasks" and call.page == ws.ProjectPage(broken):
                return "not a list"
            return answer

        async def map(self, fn: Callable[[T], Awaitable[R]], items: Iterable[T], /) -> list[R]:
            return await self.client.map(fn, items)

    async with client_for(fake, clock, rate_limit=None) as client:
        results = await get_many(Garbling(client), pages, return_exceptions=True)
    for page, result in zip(pages, results, strict=True):
        expected = ws.models.StructureError if page.project_id == broken else ws.models.Task
        assert isinstance(result, expected)
