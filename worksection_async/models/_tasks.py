"""Tasks, subtasks, their relations and comments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal

import attrs

from .._json import JSONValue
from .._pages import SubtaskPage, TaskPage
from ._base import extra_field, key, mapping_field
from ._custom_fields import CustomFieldValue
from ._refs import FileRef, ProjectRef, TaskRef, UserRef

__all__ = ["Comment", "Relation", "Task", "TaskRelations"]


@attrs.frozen(kw_only=True)
class Relation:
    """A dependency: ``type`` "finish-to-start" or "start-to-start", and the other task."""

    type: str
    task: TaskRef
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class TaskRelations:
    """A task's dependencies (``extra=relations``).

    ``from_`` (JSON ``from``) are the tasks this one depends on, ``to`` the tasks that
    depend on it; a direction the API left out is empty.
    """

    from_: tuple[Relation, ...] = key("from", ())
    to: tuple[Relation, ...] = ()
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class Comment:
    """A comment (``get_comments``, ``post_comment``, a task's ``comments``).

    The API's ``page`` (``/project/P/T/#com<id>``) becomes the page of the task or
    subtask the comment is on; :attr:`path` rebuilds the comment's own link. ``files``
    is ``None`` unless asked for (``comments(with_files=True)``), then ``()`` for a
    comment without files.
    """

    id: int
    page: TaskPage | SubtaskPage
    text: str
    date_added: dt.datetime
    user_from: UserRef
    files: tuple[FileRef, ...] | None = None
    extra: Mapping[str, JSONValue] = extra_field()

    @property
    def path(self) -> str:
        """The comment's system link, ``/project/P/T/#com<id>``."""
        return f"{self.page.path}#com{self.id}"


@attrs.frozen(kw_only=True)
class Task:
    """A task or subtask (``get_all_tasks``, ``get_tasks``, ``get_task``, ``post_task``...).

    ``page`` is a :class:`TaskPage` or, for a subtask, a :class:`SubtaskPage`.
    ``priority`` is 0..10. ``user_to`` may be a placeholder (:attr:`UserRef.is_anyone`,
    :attr:`UserRef.is_unassigned`). ``parent`` (a subtask's parent, with its own
    ``parent`` for a sub-subtask) and ``child`` (the subtasks, ``extra=subtasks``, two
    levels deep) link the tree. ``project`` is ``None`` when the API leaves it out.
    ``max_time`` (hours) and ``max_money`` are :class:`~decimal.Decimal`.

    ``files``, ``comments``, ``relations``, ``subscribers``, ``child`` and
    ``custom_fields`` come only on request (``extra=files,comments,relations,...``):
    ``None`` means they were not asked for; asked for and there are none, they are
    empty (``()``, or an empty :class:`TaskRelations`). The API leaves an empty list
    out of its answer, so this is the resource methods' doing: they know what they asked
    for. (:func:`~worksection_async.models.structure` alone cannot tell, and gives
    ``None`` for a list the data does not have.)
    """

    id: int
    name: str
    page: TaskPage | SubtaskPage
    status: str
    priority: int
    user_from: UserRef | None = None
    user_to: UserRef | None = None
    project: ProjectRef | None = None
    parent: TaskRef | None = None
    text: str | None = None
    date_added: dt.datetime | None = None
    date_start: dt.date | None = None
    date_end: dt.date | None = None
    time_start: dt.time | None = None
    time_end: dt.time | None = None
    date_closed: dt.datetime | None = None
    max_time: Decimal | None = None
    max_money: Decimal | None = None
    tags: Mapping[int, str] | None = mapping_field(None)
    has_comments: bool | None = None
    files: tuple[FileRef, ...] | None = None
    comments: tuple[Comment, ...] | None = None
    relations: TaskRelations | None = None
    subscribers: tuple[UserRef, ...] | None = None
    child: tuple[Task, ...] | None = None
    custom_fields: tuple[CustomFieldValue, ...] | None = None
    extra: Mapping[str, JSONValue] = extra_field()

    @property
    def is_done(self) -> bool:
        """The task is closed (``status == "done"``)."""
        return self.status == "done"

    @property
    def ancestors(self) -> tuple[TaskRef, ...]:
        """The ``parent`` chain, nearest first (empty for a top-level task)."""
        chain: list[TaskRef] = []
        parent = self.parent
        while parent is not None:
            chain.append(parent)
            parent = parent.parent
        return tuple(chain)

    def walk(self) -> Iterator[Task]:
        """This task, then every task in ``child``, depth first."""
        yield self
        for child in self.child or ():
            yield from child.walk()
