"""``client.tasks.export()``: every task, subtasks included, with complete comments.

The plan, made from the answers of the first requests and never widened after:

1. **Listings.** ``projects=None``: one ``get_all_tasks`` for the whole account, with
   ``extra=text,subtasks`` and ``comments`` / ``files`` when asked (it leaves out the
   tasks of archived projects, as the API does). An account over the API's 10,000
   records per answer (``TooManyRecordsError``) is read project by project instead:
   one ``get_projects`` and one ``get_tasks`` per project that is not archived. With
   ``projects`` named: one ``get_tasks`` per project (archived ones included). The
   listings run concurrently. A project over 10,000 records is split further (open
   tasks with ``get_tasks filter=active``, closed ones with ``search_tasks
   status=done``, then ``dateadd`` windows; ``resources._split``), every request
   counted; one that cannot be split is a ``TooManyRecordsError`` listing what was
   tried.
2. **Comments.** A listing inlines each task's last five comments (``INLINE_COMMENTS``).
   A task that shows fewer has no others, and its comments are complete as they are;
   a task that shows five may have more and is read with one ``get_comments``. With
   ``files=True`` as well, every task with comments is read with
   ``get_comments(extra=files)``: inline comments come without their files. A task a
   split read with ``search_tasks`` comes without inline comments and is read with
   ``get_comments`` when comments are asked for.

So an export costs **the listings (1, or one per project) plus one** ``get_comments``
**per task whose inline comments may be cut** (per task with comments when ``files``
is asked too), and nothing else. ``progress(done, planned)`` counts those requests;
``planned`` is final once the listings are answered (the first requests).

Tasks come out in listing order (for a split project: its open tasks, then its closed
ones window after window, oldest first), each followed by its subtasks depth first, each task
once with ``child`` left out (``None``: every subtask is an item of its own, linked by
``parent``). For a given account the order is always the same, so an export stopped
part-way and run again with ``skip`` (the ids already written) continues with exactly
the items an uninterrupted run would have given after them. The ``get_comments``
requests go in rounds of ``COMMENTS_ROUND`` (concurrently, through the client's quota),
and a round's tasks are yielded in order once its answers are in: nothing runs while
the caller holds an item, and stopping costs at most one round.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterable
from typing import Final

import attrs

from .._bulk import Breather, Progress
from .._call import Call, ParamValue
from .._events import Bulk, section_of, start_bulk
from .._exceptions import TooManyRecordsError
from .._json import JSONValue
from .._pages import ProjectPage, SubtaskPage, TaskPage
from ..models import Comment, Task, TaskRef, structure_list
from ._extras import asked, fill_comments, fill_tasks
from ._protocol import ClientLike
from ._split import Splitter

__all__ = ["COMMENTS_ROUND", "INLINE_COMMENTS", "ExportPlan", "export_tasks"]

INLINE_COMMENTS: Final = 5
"""The most comments a task listing inlines (its last ones): a task showing this many may
have more."""

COMMENTS_ROUND: Final = 8
"""``get_comments`` requests sent concurrently per round of an export."""


@attrs.frozen(kw_only=True)
class ExportPlan:
    """What to export (validated by ``TasksNamespace.export``)."""

    projects: tuple[ProjectPage, ...] | None
    active_only: bool
    comments: bool
    files: bool
    skip: frozenset[int]

    @property
    def extra(self) -> str:
        flags = ["text", "subtasks"]
        if self.comments:
            flags.append("comments")
        if self.files:
            flags.append("files")
        return ",".join(flags)

    def needs_comments(self, task: Task) -> bool:
        """Whether ``task``'s comments must be read with ``get_comments``."""
        if not self.comments:
            return False
        if task.comments is None:
            return True  # read through search_tasks (a split): no inline comments
        inline = task.comments
        if self.files:
            return bool(inline) or bool(task.has_comments)
        return len(inline) >= INLINE_COMMENTS


def _ref(task: Task, parent: TaskRef | None) -> TaskRef:
    return TaskRef(
        id=task.id,
        name=task.name,
        page=task.page,
        status=task.status,
        priority=task.priority,
        parent=parent,
    )


def _flatten(tops: Iterable[Task], seen: set[int]) -> list[Task]:
    """Every task of ``tops`` and below, depth first, each once, without ``child``; a
    subtask the listing gave without ``parent`` gets it from the tree. Iterative: a
    hostile answer may nest far deeper than the API's two levels."""
    out: list[Task] = []
    stack: list[tuple[Task, TaskRef | None]] = [(top, None) for top in reversed(list(tops))]
    while stack:
        task, parent = stack.pop()
        here = task.parent if task.parent is not None else parent
        if task.id not in seen:
            seen.add(task.id)
            out.append(attrs.evolve(task, child=None, parent=here))
        if task.child:
            ref = _ref(task, here)
            stack.extend((child, ref) for child in reversed(task.child))
    return out


def export_tasks(
    client: ClientLike, plan: ExportPlan, progress: Progress | None = None
) -> AsyncGenerator[Task, None]:
    """The tasks of ``plan`` (see the module docstring for the requests it sends)."""
    if getattr(client, "_on_event", None) is None:
        return _export(client, plan, progress, None)
    return _observed_export(client, plan, progress)


async def _observed_export(
    client: ClientLike, plan: ExportPlan, progress: Progress | None
) -> AsyncGenerator[Task, None]:
    """The export as one bulk operation for the client's event hook."""
    bulk = start_bulk(client, "export", None)
    given = 0
    try:
        async with contextlib.aclosing(_export(client, plan, progress, bulk)) as tasks:
            async for task in tasks:
                given += 1
                yield task
    except BaseException as exc:
        if bulk is not None:
            bulk.end(None if isinstance(exc, GeneratorExit) else exc, given)
        raise
    if bulk is not None:
        bulk.end(None, given)


async def _export(
    client: ClientLike, plan: ExportPlan, progress: Progress | None, bulk: Bulk | None
) -> AsyncGenerator[Task, None]:
    """The export itself; its calls belong to ``bulk``, if any (never across a yield)."""
    extra = plan.extra
    extras = asked(extra)
    params: dict[str, ParamValue] = {
        "extra": extra,
        "filter": "active" if plan.active_only else None,
    }
    done = 0
    planned = 1 if plan.projects is None else len(plan.projects)

    def tick() -> None:
        if progress is not None:
            progress(done, planned)

    async def send(call: Call) -> JSONValue:
        nonlocal done, planned
        try:
            with section_of(bulk):
                return await client.send(call)
        except TooManyRecordsError:
            planned += 1  # sent and answered, but the split needs more than planned
            raise
        finally:
            done += 1
            planned = max(planned, done)
            tick()

    tick()
    splitter = Splitter(send, client.map)
    search_extra = "text,files" if plan.files else "text"
    with section_of(bulk):
        if plan.projects is not None:
            tops = await splitter.projects(
                ((page, None) for page in plan.projects), params, search_extra=search_extra
            )
        else:
            tops = await splitter.account(params, archive=False, search_extra=search_extra)
    tops = fill_tasks(tops, extras - {"comments"})

    tasks = [task for task in _flatten(tops, set()) if task.id not in plan.skip]
    planned += sum(1 for task in tasks if plan.needs_comments(task))
    tick()

    async def comments_of(task: Task) -> list[Comment]:
        with_files = {"extra": "files" if plan.files else None}
        payload = await send(Call.build("get_comments", task.page, with_files))
        return fill_comments(structure_list(payload, Comment), plan.files)

    waiting: list[Task] = []  # tasks held back until the round's answers are in
    round_: list[Task] = []  # the tasks of this round that need get_comments
    breathe = Breather()  # 36,000 tasks in a row must not hold the loop (nor Ctrl-C)
    for position, task in enumerate(tasks):
        needs = plan.needs_comments(task)
        if needs:
            round_.append(task)
        elif not round_:
            yield task
            await breathe()
            continue
        waiting.append(task)
        if len(round_) < COMMENTS_ROUND and position + 1 < len(tasks):
            continue
        with section_of(bulk):
            answers = await client.map(comments_of, round_)
        complete = {task.id: tuple(found) for task, found in zip(round_, answers, strict=True)}
        for held in waiting:
            found = complete.get(held.id)
            yield held if found is None else attrs.evolve(held, comments=found)
            await breathe()
        waiting, round_ = [], []


def task_id(value: int | TaskPage | SubtaskPage) -> int:
    """The task id of a ``skip`` item: an id, or a task or subtask page."""
    if isinstance(value, (TaskPage, SubtaskPage)):
        return value.id
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"skip: expected task ids or task pages, got {value!r}")
    if value <= 0:
        raise ValueError(f"skip: a task id is positive, got {value}")
    return value
