"""What an ``extra=`` request asked for, made visible in the models it returns.

The API leaves an empty list out of its answer: a task read with ``extra=comments``
that has no comments comes without a ``comments`` key, exactly like a task read
without ``extra=comments``. The resource layer knows what it asked for, so it tells
the two apart: a list that was asked for and left out becomes empty (``()``, or an
empty :class:`~worksection_async.models.TaskRelations`), and ``None`` keeps meaning
"not asked for".

Which tasks an ``extra`` reaches: ``get_tasks`` and ``get_all_tasks`` render subtasks
in ``child`` like their parent (same extras, at every level); ``get_task`` renders
them briefly (id, name, page, status, priority and their own ``child``), so only
``child`` is filled in below the task itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from .._bulk import Breather
from .._call import ParamValue
from .._json import JSONValue
from ..models import Comment, Task, TaskRelations, astructure_list

__all__ = ["asked", "fill_comments", "fill_task", "fill_tasks", "read_tasks"]

_EMPTY_RELATIONS: Final = TaskRelations()

_TASK_FIELDS: Final[Mapping[str, tuple[str, object]]] = {
    # extra flag: (Task field, its value when asked for and left out)
    "files": ("files", ()),
    "comments": ("comments", ()),
    "relations": ("relations", _EMPTY_RELATIONS),
    "subtasks": ("child", ()),
    "subscribers": ("subscribers", ()),
    "custom_fields": ("custom_fields", ()),
}

_CHILD_ONLY: Final = frozenset(("subtasks",))


def asked(extra: ParamValue) -> frozenset[str]:
    """The flags of a rendered ``extra`` parameter (``"files,comments"``)."""
    if not isinstance(extra, str):
        return frozenset()
    return frozenset(flag.strip() for flag in extra.split(",") if flag.strip())


def fill_task(task: Task, extras: frozenset[str], *, brief_children: bool = False) -> Task:
    """``task`` with every list ``extras`` asked for and the answer left out empty.

    ``brief_children``: the subtasks in ``child`` carry only ``child`` (``get_task``).
    """
    if not extras.intersection(_TASK_FIELDS):
        return task
    changes: dict[str, Any] = {}
    for flag in extras:
        spec = _TASK_FIELDS.get(flag)
        if spec is not None and getattr(task, spec[0]) is None:
            changes[spec[0]] = spec[1]
    if task.child:
        below = extras & _CHILD_ONLY if brief_children else extras
        child = tuple(fill_task(sub, below, brief_children=brief_children) for sub in task.child)
        if any(new is not old for new, old in zip(child, task.child, strict=True)):
            changes["child"] = child
    return attrs.evolve(task, **changes) if changes else task


def fill_tasks(
    tasks: Iterable[Task], extras: frozenset[str], *, brief_children: bool = False
) -> list[Task]:
    """:func:`fill_task` over a list of tasks."""
    if not extras.intersection(_TASK_FIELDS):
        return list(tasks)
    return [fill_task(task, extras, brief_children=brief_children) for task in tasks]


async def read_tasks(
    payload: JSONValue, extras: frozenset[str], *, breathe: Breather | None = None
) -> list[Task]:
    """A list of tasks answered with ``extra=extras``: structured and filled in (as
    :func:`fill_tasks`) in time slices, never holding the event loop for long."""
    tasks = await astructure_list(payload, Task)
    if not extras.intersection(_TASK_FIELDS):
        return tasks
    breathe = breathe if breathe is not None else Breather()
    filled: list[Task] = []
    for task in tasks:
        filled.append(fill_task(task, extras))
        await breathe()
    return filled


def fill_comments(comments: list[Comment], with_files: bool) -> list[Comment]:
    """Comments read with ``extra=files``: a comment without files has ``files == ()``."""
    if not with_files:
        return comments
    return [
        attrs.evolve(comment, files=()) if comment.files is None else comment
        for comment in comments
    ]
