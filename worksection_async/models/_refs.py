"""Small objects embedded everywhere: user, project, task and file references."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from .._json import JSONValue
from .._pages import ProjectPage, SubtaskPage, TaskPage
from ._base import extra_field

__all__ = ["ANYONE_EMAIL", "NOONE_EMAIL", "FileRef", "ProjectRef", "TaskRef", "UserRef"]

ANYONE_EMAIL: Final = "ANY"
"""The ``email`` of the "Anyone" placeholder assignee (``id`` 2)."""

NOONE_EMAIL: Final = "NOONE"
"""The ``email`` of "not assigned" (``id`` 1 for tasks, 0 for a project's manager)."""


@attrs.frozen(kw_only=True)
class UserRef:
    """A person as the API embeds it: ``{id, email, name}``.

    Two placeholders share this shape: "Anyone" (``email == "ANY"``, id 2) and
    "not assigned" (``email == "NOONE"``, id 1, or 0 for a project's manager). Use
    :attr:`is_anyone` / :attr:`is_unassigned` rather than comparing ids. Identical
    references in a response are one shared object.
    """

    id: int
    email: str
    name: str
    extra: Mapping[str, JSONValue] = extra_field()

    @property
    def is_anyone(self) -> bool:
        """The "Anyone" placeholder: the task may be taken by any member."""
        return self.email == ANYONE_EMAIL

    @property
    def is_unassigned(self) -> bool:
        """The "not assigned" placeholder (no executive, or a project without manager)."""
        return self.email == NOONE_EMAIL

    @property
    def is_person(self) -> bool:
        """A real member or contact, not one of the two placeholders."""
        return self.email not in (ANYONE_EMAIL, NOONE_EMAIL)


@attrs.frozen(kw_only=True)
class ProjectRef:
    """A project as a task embeds it: ``{id, name, page}``. Shared like :class:`UserRef`."""

    id: int
    name: str
    page: ProjectPage
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class TaskRef:
    """A task as a parent or a relation embeds it: ``{id, name, page, status, priority}``.

    ``parent`` continues the chain upwards for a sub-subtask's parent.
    """

    id: int
    name: str
    page: TaskPage | SubtaskPage
    status: str | None = None
    priority: int | None = None
    parent: TaskRef | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class FileRef:
    """A file attached to a task or a comment: ``{id, page, name, size}``.

    ``page`` is the download path (``/download/<id>/...``), not a project page.
    """

    id: int
    page: str
    name: str
    size: int
    extra: Mapping[str, JSONValue] = extra_field()
