"""``get_many``: read many tasks in the fewest requests the API allows.

The plan is made before anything is sent. Pages are grouped by project; a project with
two or more requested pages is read with one ``get_tasks`` call (``extra=subtasks`` when
subtask pages are among them), a project with a single page with one ``get_task``. A
project too big for one answer (more than 10,000 tasks: ``TooManyRecordsError``) falls
back to one ``get_task`` per page. Units run concurrently through ``Client.map``, so
they share the client's quota and cancel together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Literal, Protocol, TypeVar, overload

import attrs

from ._bulk import Progress
from ._call import Call
from ._exceptions import APIError, InvalidTaskError, TooManyRecordsError
from ._json import JSONValue
from ._pages import Page, ProjectPage, SubtaskPage, TaskPage, parse_page
from .models import Task, structure_list, structure_one

__all__ = ["BulkClient", "TaskPageLike", "get_many", "plan"]

T = TypeVar("T")
R = TypeVar("R")


class BulkClient(Protocol):
    """What ``get_many`` needs of a client (``Client`` is one)."""

    async def send(self, call: Call, /) -> JSONValue: ...

    async def map(self, fn: Callable[[T], Awaitable[R]], items: Iterable[T], /) -> list[R]: ...


TaskPageLike = TaskPage | SubtaskPage | str
"""A task or subtask page, or its path / browser URL."""

BATCH_THRESHOLD = 2
"""A project with at least this many requested pages is read with one get_tasks."""


@attrs.frozen
class Unit:
    """One request of the plan: ``get_tasks`` for a project, or ``get_task`` for a page."""

    project: ProjectPage
    pages: tuple[TaskPage | SubtaskPage, ...]
    batch: bool

    @property
    def needs_subtasks(self) -> bool:
        return any(isinstance(page, SubtaskPage) for page in self.pages)


def _task_page(value: TaskPageLike) -> TaskPage | SubtaskPage:
    page: Page = parse_page(value) if isinstance(value, str) else value
    if not isinstance(page, (TaskPage, SubtaskPage)):
        raise ValueError(f"get_many() takes task or subtask pages, got {value!r}")
    return page


def plan(pages: Sequence[TaskPage | SubtaskPage]) -> list[Unit]:
    """The requests that read ``pages``: one per project, or one per page for loners."""
    by_project: dict[int, list[TaskPage | SubtaskPage]] = {}
    for page in pages:
        unique = by_project.setdefault(page.project_id, [])
        if page not in unique:
            unique.append(page)
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

    With ``return_exceptions=True`` an item that failed holds its exception (a missing
    task is ``InvalidTaskError``, a missing project ``InvalidProjectError``) and the
    others still arrive; otherwise the first failure cancels the rest and is raised.
    """
    wanted = [_task_page(page) for page in pages]  # bad input fails before any request
    total = len(wanted)
    copies = Counter(wanted)
    found: dict[TaskPage | SubtaskPage, Task | Exception] = {}
    done = 0

    def settle(page: TaskPage | SubtaskPage, outcome: Task | Exception) -> None:
        if isinstance(outcome, Exception) and not return_exceptions:
            raise outcome
        found[page] = outcome

    async def one(page: TaskPage | SubtaskPage) -> None:
        try:
            payload = await client.send(Call.build("get_task", page))
            settle(page, structure_one(payload, Task))
        except APIError as exc:
            settle(page, exc)

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
            except APIError as exc:
                for page in unit.pages:
                    settle(page, exc)
            else:
                index = {
                    task.id: task
                    for top in structure_list(payload, Task)
                    for task in (top.walk() if unit.needs_subtasks else (top,))
                }
                for page in unit.pages:
                    task = index.get(page.id)
                    settle(page, task if task is not None else _missing(page))
        done += sum(copies[page] for page in unit.pages)
        if progress is not None:
            progress(done, total)

    await client.map(run, plan(wanted))
    return [found[page] for page in wanted]
