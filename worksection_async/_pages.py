"""Typed page paths: the system links that address Worksection objects.

A Worksection object is addressed by its system link, the path part of the URL that
the browser shows on its page::

    /project/P/        a project            -> ProjectPage(P)
    /project/P/T/      a task               -> TaskPage(P, T)
    /project/P/T/S/    a subtask (any depth) -> SubtaskPage(P, T, S)

Pages are frozen, hashable, ordered values. ``parse_page`` accepts a path (with or
without the trailing slash) or a full browser URL and returns the right type.
"""

from __future__ import annotations

import re
from typing import TypeAlias
from urllib.parse import urlsplit

import attrs

__all__ = ["Page", "ProjectPage", "SubtaskPage", "TaskPage", "parse_page"]


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    # bool is an int subclass; a page id of True is a bug, not an id.
    if type(value) is not int or value <= 0:
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must be a positive integer, got {value!r}"
        )


@attrs.frozen(order=True)
class ProjectPage:
    """A project, addressed as ``/project/<project_id>/``."""

    project_id: int = attrs.field(validator=_positive)

    @property
    def path(self) -> str:
        """The page's link, as the API writes it (``/project/1/2/``)."""
        return f"/project/{self.project_id}/"

    @property
    def project(self) -> ProjectPage:
        """The page of the project this page belongs to."""
        return self

    def task(self, task_id: int) -> TaskPage:
        """The page of task ``task_id`` in this project."""
        return TaskPage(self.project_id, task_id)

    def __str__(self) -> str:
        return self.path


@attrs.frozen(order=True)
class TaskPage:
    """A top-level task, addressed as ``/project/<project_id>/<task_id>/``."""

    project_id: int = attrs.field(validator=_positive)
    task_id: int = attrs.field(validator=_positive)

    @property
    def path(self) -> str:
        """The page's link, as the API writes it (``/project/1/2/``)."""
        return f"/project/{self.project_id}/{self.task_id}/"

    @property
    def project(self) -> ProjectPage:
        """The page of the project this page belongs to."""
        return ProjectPage(self.project_id)

    @property
    def parent(self) -> ProjectPage:
        """The page one level up: the task of a subtask, the project of a task."""
        return self.project

    @property
    def id(self) -> int:
        """The id the API knows this task by (``id_task``)."""
        return self.task_id

    def subtask(self, subtask_id: int) -> SubtaskPage:
        """The page of subtask ``subtask_id`` of this task."""
        return SubtaskPage(self.project_id, self.task_id, subtask_id)

    def __str__(self) -> str:
        return self.path


@attrs.frozen(order=True)
class SubtaskPage:
    """A subtask or sub-subtask, addressed as ``/project/<p>/<task_id>/<subtask_id>/``.

    The API addresses sub-subtasks with the same three-segment link, and ``task_id`` is
    always the *top-level* task (the official examples show a sub-subtask of 331910 under
    331894 as ``/project/8562/331894/331914/``). So ``parent`` is the top-level task's
    page; the direct parent of a sub-subtask is not part of its link (``Task.parent``
    of a fetched task has it).
    """

    project_id: int = attrs.field(validator=_positive)
    task_id: int = attrs.field(validator=_positive)
    subtask_id: int = attrs.field(validator=_positive)

    @property
    def path(self) -> str:
        """The page's link, as the API writes it (``/project/1/2/``)."""
        return f"/project/{self.project_id}/{self.task_id}/{self.subtask_id}/"

    @property
    def project(self) -> ProjectPage:
        """The page of the project this page belongs to."""
        return ProjectPage(self.project_id)

    @property
    def parent(self) -> TaskPage:
        """The top-level task this (sub-)subtask belongs to."""
        return TaskPage(self.project_id, self.task_id)

    @property
    def id(self) -> int:
        """The id the API knows this subtask by (``id_task``)."""
        return self.subtask_id

    def subtask(self, subtask_id: int) -> SubtaskPage:
        """A sub-subtask below this subtask: its link names the same top-level task."""
        return SubtaskPage(self.project_id, self.task_id, subtask_id)

    def __str__(self) -> str:
        return self.path


Page: TypeAlias = ProjectPage | TaskPage | SubtaskPage
"""Any page value."""

_PATH = re.compile(r"/project/(?P<ids>[^/]+(?:/[^/]+){0,2})/?")
_ID = re.compile(r"[1-9][0-9]{0,17}")


def parse_page(text: str) -> Page:
    """Parse a system link or a browser URL into a page value.

    >>> parse_page("/project/1/2/")
    TaskPage(project_id=1, task_id=2)
    >>> parse_page("https://acme.worksection.com/project/1/2/3/?x=1#com9")
    SubtaskPage(project_id=1, task_id=2, subtask_id=3)

    Raises ``ValueError`` naming the input for anything else.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_page() expects a str, got {type(text).__name__}")
    candidate = text.strip()
    if "://" in candidate:
        parts = urlsplit(candidate)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not a Worksection page URL: {text!r}")
        path = parts.path
    else:
        path = candidate.split("#", 1)[0].split("?", 1)[0]
    match = _PATH.fullmatch(path)
    if match is None:
        raise ValueError(
            f"not a Worksection page: {text!r} "
            "(expected /project/P/, /project/P/T/ or /project/P/T/S/)"
        )
    raw_ids = match["ids"].split("/")
    if not all(_ID.fullmatch(raw) for raw in raw_ids):
        raise ValueError(f"not a Worksection page: {text!r} (ids must be positive integers)")
    ids = [int(raw) for raw in raw_ids]
    if len(ids) == 1:
        return ProjectPage(ids[0])
    if len(ids) == 2:
        return TaskPage(ids[0], ids[1])
    return SubtaskPage(ids[0], ids[1], ids[2])
