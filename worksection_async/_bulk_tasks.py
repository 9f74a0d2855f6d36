"""``get_many``: read many tasks in the fewest requests the API allows.

The plan is made before anything is sent. Pages are grouped by project; a project with
two or more requested pages is read with one ``get_tasks`` call (``extra=subtasks`` when
subtask pages are among them), a project with a single page with one ``get_task``.
Units run concurrently through ``Client.map``, so they share the client's quota and
cancel together.

A project too big for one answer (more than 10,000 tasks: ``TooManyRecordsError``) is
read with ``search_tasks`` instead, only the pages asked for: ``filter=id in (...)`` for
task pages and ``parent in (...)`` for subtask pages (the documented grammar reaches
subtasks through their parents; see ``_search_pages``), as many ids per request as one
answer may hold, sent as a POST body when the URL would be too long. 5,000 pages of a
25,000-task project cost three requests (the refused ``get_tasks``, one search, one
more for sub-subtasks) where one ``get_task`` each cost 5,000. Only a page the filter
did not reach (a missing task, a parent with more than 10,000 subtasks) is read with
its own ``get_task``, whose answer (``InvalidTaskError`` for a missing one) is the
page's. Rows of ``search_tasks`` carry what its answer carries: no ``has_comments``.

Everything is linear in the pages (10,000 pages of one project cost what 10,000
spread over 100 projects do), and nothing holds the event loop for long: pages are
parsed, answers structured (``models.astructure``), filled in and indexed in time
slices with a turn for the other tasks between them.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Final, Literal, Protocol, TypeVar, overload

import attrs

from ._bulk import Breather, Progress
from ._call import Call
from ._exceptions import InvalidTaskError, TooManyRecordsError, WorksectionError
from ._json import JSONValue
from ._pages import Page, ProjectPage, SubtaskPage, TaskPage, parse_page
from .models import StructureError, Task, structure, structure_one
from .resources._extras import fill_task, read_tasks
from .resources._split import MAX_RECORDS

__all__ = ["BulkClient", "TaskPageLike", "get_many", "plan", "task_pages"]

T = TypeVar("T")
R = TypeVar("R")
P = TypeVar("P")


class BulkClient(Protocol):
    """What ``get_many`` needs of a client (``Client`` is one)."""

    async def send(self, call: Call, /) -> JSONValue: ...

    async def map(self, fn: Callable[[T], Awaitable[R]], items: Iterable[T], /) -> list[R]: ...


TaskPageLike = TaskPage | SubtaskPage | str
"""A task or subtask page, or its path / browser URL."""

BATCH_THRESHOLD = 2
"""A project with at least this many requested pages is read with one get_tasks."""

_SUBTASKS: Final = frozenset(("subtasks",))
_PARSE_CHUNK: Final = 512


@attrs.frozen
class Unit:
    """One request of the plan: ``get_tasks`` for a project, or ``get_task`` for a page.

    ``needs_subtasks`` (a subtask page is among ``pages``) is worked out once, here:
    reading it per returned task made a big project's answer quadratic.
    """

    project: ProjectPage
    pages: tuple[TaskPage | SubtaskPage, ...]
    batch: bool
    needs_subtasks: bool = attrs.field(init=False)

    @needs_subtasks.default
    def _any_subtask_page(self) -> bool:
        return any(isinstance(page, SubtaskPage) for page in self.pages)


def _task_page(value: TaskPageLike) -> TaskPage | SubtaskPage:
    page: Page = parse_page(value) if isinstance(value, str) else value
    if not isinstance(page, (TaskPage, SubtaskPage)):
        raise ValueError(f"get_many() takes task or subtask pages, got {value!r}")
    return page


async def task_pages(
    pages: Iterable[P], parse: Callable[[P], TaskPage | SubtaskPage]
) -> list[TaskPage | SubtaskPage]:
    """``parse`` over ``pages``, in time slices: 50,000 links take about 0.2 s to parse."""
    breathe = Breather()
    wanted: list[TaskPage | SubtaskPage] = []
    items = iter(pages)
    while chunk := list(map(parse, itertools.islice(items, _PARSE_CHUNK))):
        wanted += chunk
        await breathe()
    return wanted


def plan(pages: Sequence[TaskPage | SubtaskPage]) -> list[Unit]:
    """The requests that read ``pages``: one per project, or one per page for loners.

    Linear in ``pages``: duplicates are dropped with a dict (first occurrence wins, so
    the order within a project is the input order).
    """
    by_project: dict[int, dict[TaskPage | SubtaskPage, None]] = {}
    for page in pages:
        unique = by_project.get(page.project_id)
        if unique is None:
            unique = by_project[page.project_id] = {}
        unique[page] = None
    units: list[Unit] = []
    for project_id, unique in by_project.items():
        project = ProjectPage(project_id)
        if len(unique) >= BATCH_THRESHOLD:
            units.append(Unit(project, tuple(unique), batch=True))
        else:
            units.extend(Unit(project, (page,), batch=False) for page in unique)
    return units


def _missing(page: TaskPage | SubtaskPage) -> InvalidTaskError:
    """The error ``get_task`` would have given for a page that is not there."""
    return InvalidTaskError(5, "Task is invalid", action="get_task", page=page)


@overload
async def get_many(
    client: BulkClient,
    pages: Iterable[TaskPageLike],
    *,
    return_exceptions: Literal[False] = False,
    progress: Progress | None = None,
) -> list[Task]: ...


@overload
async def get_many(
    client: BulkClient,
    pages: Iterable[TaskPageLike],
    *,
    return_exceptions: Literal[True],
    progress: Progress | None = None,
) -> list[Task | WorksectionError]: ...


async def get_many(
    client: BulkClient,
    pages: Iterable[TaskPageLike],
    *,
    return_exceptions: bool = False,
    progress: Progress | None = None,
) -> list[Task] | list[Task | WorksectionError]:
    """Fetch the tasks at ``pages``, in input order (see the module docstring).

    With ``return_exceptions=True`` every failure lands in the items it concerns and
    the others still arrive: a missing task is ``InvalidTaskError``, a missing project
    ``InvalidProjectError``; a request that failed (``TransportError``,
    ``ProtocolError``, any ``APIError``) or an answer that does not fit
    (``StructureError``) is the error of every page that request was to read. When
    one task of a ``get_tasks`` answer does not fit, the other tasks of the answer
    still arrive, and the pages not found among them hold the ``StructureError``.
    Otherwise the first failure cancels the rest and is raised.
    """
    wanted = await task_pages(pages, _task_page)  # bad input fails before any request
    total = len(wanted)
    copies = Counter(wanted)
    found: dict[TaskPage | SubtaskPage, Task | WorksectionError] = {}
    done = 0

    def fail(unit_pages: Iterable[TaskPage | SubtaskPage], error: WorksectionError) -> None:
        if not return_exceptions:
            raise error
        for page in unit_pages:
            found[page] = error

    async def one(page: TaskPage | SubtaskPage) -> None:
        try:
            payload = await client.send(Call.build("get_task", page))
            found[page] = structure_one(payload, Task)
        except WorksectionError as exc:
            fail((page,), exc)

    async def read_batch(unit: Unit, payload: JSONValue) -> None:
        # structured, filled in and indexed in time slices: an answer of 10,000 tasks
        # is about a second of CPU, which must not hold the event loop in one piece
        breathe = Breather()
        failure: StructureError | None = None
        extras = _SUBTASKS if unit.needs_subtasks else frozenset()
        try:
            tops = await read_tasks(payload, extras, breathe=breathe)
        except StructureError as exc:
            if not return_exceptions:
                raise
            tops, failure = await _salvage(payload, extras, breathe), exc
        index: dict[int, Task] = {}
        for top in tops:
            if unit.needs_subtasks:
                for below in top.walk():
                    index[below.id] = below
            else:
                index[top.id] = top
            await breathe()
        for page in unit.pages:
            task = index.get(page.id)
            if task is not None:
                found[page] = task
            else:
                fail((page,), failure if failure is not None else _missing(page))

    async def search(unit: Unit) -> None:
        # a project too big for get_tasks: search_tasks by id, subtasks by parent
        reached: dict[int, Task] = {}
        try:
            await _search_pages(client, unit, reached)
        except WorksectionError as exc:
            fail(unit.pages, exc)
            return
        rest = []
        for page in unit.pages:
            task = reached.get(page.id)
            if task is not None:
                found[page] = task
            else:
                rest.append(page)
        await client.map(one, rest)  # what the filter did not reach: its own answer

    async def run(unit: Unit) -> None:
        nonlocal done
        if not unit.batch:
            await one(unit.pages[0])
        else:
            params = {"extra": "subtasks"} if unit.needs_subtasks else {}
            try:
                payload = await client.send(Call.build("get_tasks", unit.project, params))
            except TooManyRecordsError:
                await search(unit)  # narrower: only the pages asked for
            except WorksectionError as exc:
                fail(unit.pages, exc)
            else:
                await read_batch(unit, payload)
        done += sum(copies[page] for page in unit.pages)
        if progress is not None:
            progress(done, total)

    await client.map(run, plan(wanted))
    return [found[page] for page in wanted]


async def _salvage(payload: JSONValue, extras: frozenset[str], breathe: Breather) -> list[Task]:
    """The tasks of a ``get_tasks`` answer that fit, one by one (the answer did not),
    filled in as asked (``extras``)."""
    items: Iterable[JSONValue]
    if isinstance(payload, list):
        items = payload
    elif isinstance(payload, dict):
        items = payload.values()
    else:
        return []
    tasks: list[Task] = []
    for item in items:
        with contextlib.suppress(StructureError):  # its pages get the answer's error
            tasks.append(fill_task(structure(item, Task), extras))
        await breathe()
    return tasks


async def _search_pages(client: BulkClient, unit: Unit, reached: dict[int, Task]) -> None:
    """Read ``unit``'s pages into ``reached`` (by id) with ``search_tasks``.

    The documented grammar (the official documentation and Postman collection) has
    ``id=TASK_ID`` ("returns particular task") and ``parent=TASK_ID`` ("returns subtasks
    of a particular parent task"), both with ``in (...)``. It does not say that ``id``
    reaches a subtask, so subtask pages go through their parents: a subtask page names
    its top-level task, so round 1 asks ``id in (tasks) or parent in (tops)``, which
    also answers every subtask of those tops; a sub-subtask (its link names the top, not
    its own parent) is in round 2, ``parent in (the subtasks found under its top)``.
    Each round packs as many ids per request as one answer may hold (``MAX_RECORDS``:
    an id is at most one row, a parent at least one) and halves a request whose answer
    was too big. A page neither round reached is left out of ``reached``.
    """
    tasks = [page.id for page in unit.pages if isinstance(page, TaskPage)]
    subtasks = [page for page in unit.pages if isinstance(page, SubtaskPage)]
    tops = list(dict.fromkeys(page.task_id for page in subtasks))
    rows = await _search_ids(client, unit.project, tasks, tops)
    below: dict[int, list[int]] = {}  # top id -> its subtasks' ids
    for row in rows:
        reached.setdefault(row.id, row)
        if row.parent is not None:
            below.setdefault(row.parent.id, []).append(row.id)
    deeper = [page for page in subtasks if page.id not in reached]
    if deeper:
        parents = list(dict.fromkeys(i for page in deeper for i in below.get(page.task_id, ())))
        for row in await _search_ids(client, unit.project, [], parents):
            reached.setdefault(row.id, row)


async def _search_ids(
    client: BulkClient, project: ProjectPage, ids: list[int], parents: list[int]
) -> list[Task]:
    """``search_tasks`` rows with ``id in (ids)`` or ``parent in (parents)``: as few
    requests as the answer limit allows, a request halved while its answer is too big."""
    rows: list[Task] = []
    items = [("id", i) for i in ids] + [("parent", i) for i in parents]
    pending = [items[i : i + MAX_RECORDS] for i in range(0, len(items), MAX_RECORDS)]
    pending.reverse()
    while pending:
        chunk = pending.pop()
        clauses = [
            f"{field} in ({', '.join(str(i) for f, i in chunk if f == field)})"
            for field in ("id", "parent")
            if any(f == field for f, _ in chunk)
        ]
        call = Call.build("search_tasks", project, {"filter": " or ".join(clauses)})
        try:
            payload = await client.send(call)
        except TooManyRecordsError:
            if len(chunk) > 1:  # halve it; one parent with more: get_task reads them
                half = len(chunk) // 2
                pending += [chunk[half:], chunk[:half]]
            continue
        rows += [
            row
            for row in await read_tasks(payload, frozenset())
            if row.page.project_id == project.project_id
        ]
    return rows
