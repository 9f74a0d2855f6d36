"""``get_many``: read many tasks in the fewest requests the API allows.

The plan is made before anything is sent. Pages are grouped by project; a project with
two or more requested pages is read with one ``get_tasks`` call (``extra=subtasks`` when
subtask pages are among them), a project with a single page with one ``get_task``. A
project too big for one answer (more than 10,000 tasks: ``TooManyRecordsError``) falls
back to one ``get_task`` per page. Units run concurrently through ``Client.map``, so
they share the client's quota and cancel together.

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
from ._exceptions import InvalidTaskError, TooManyRecordsError
from ._json import JSONValue
from ._pages import Page, ProjectPage, SubtaskPage, TaskPage, parse_page
from .models import StructureError, Task, structure, structure_one
from .resources._extras import fill_task, read_tasks

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
) -> list[Task | Exception]: ...


async def get_many(
    client: BulkClient,
    pages: Iterable[TaskPageLike],
    *,
    return_exceptions: bool = False,
    progress: Progress | None = None,
) -> list[Task] | list[Task | Exception]:
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
    found: dict[TaskPage | SubtaskPage, Task | Exception] = {}
    done = 0

    def fail(unit_pages: Iterable[TaskPage | SubtaskPage], error: Exception) -> None:
        if not return_exceptions:
            raise error
        for page in unit_pages:
            found[page] = error

    async def one(page: TaskPage | SubtaskPage) -> None:
        try:
            payload = await client.send(Call.build("get_task", page))
            found[page] = structure_one(payload, Task)
        except Exception as exc:
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

    async def run(unit: Unit) -> None:
        nonlocal done
        if not unit.batch:
            await one(unit.pages[0])
        else:
            params = {"extra": "subtasks"} if unit.needs_subtasks else {}
            try:
                payload = await client.send(Call.build("get_tasks", unit.project, params))
            except TooManyRecordsError:
                await client.map(one, unit.pages)  # narrower: one get_task per page
            except Exception as exc:
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
