"""The ``page`` parameter: which actions take a link, and what a link names."""

from __future__ import annotations

import re
from typing import Final

from .._records import Project, Task
from .._state import Account
from ._core import ApiError

_PAGE = re.compile(r"/?project/(\d{1,18})/(?:(\d{1,18})/(?:(\d{1,18})/)?)?")
_FILE_PAGE = re.compile(r"/?download/(\d{1,18})/?")


PROJECT_PAGE: Final = frozenset(
    {
        "get_project",
        "update_project",
        "close_project",
        "activate_project",
        "add_project_members",
        "delete_project_members",
        "get_tasks",
        "post_task",
        "get_events",
        "update_project_tags",
    }
)
"""Actions addressed by a project link ``/project/P/`` (page "P" in the reference)."""
TASK_PAGE: Final = frozenset(
    {
        "get_task",
        "update_task",
        "complete_task",
        "reopen_task",
        "subscribe",
        "unsubscribe",
        "get_comments",
        "post_comment",
        "update_task_tags",
        "add_costs",
        "update_costs",
        "delete_costs",
        "start_my_timer",
    }
)
"""Actions addressed by a task or subtask link (page "T" or "T/S" in the reference)."""
ANY_PAGE: Final = frozenset({"get_costs", "get_costs_total", "get_files", "search_tasks"})
"""Actions that take a project, task or subtask link."""
FILE_PAGE: Final = frozenset({"download"})
"""``download``: the page-era file link ``/download/ID/``."""
_PAGED: Final = PROJECT_PAGE | TASK_PAGE | ANY_PAGE | FILE_PAGE


def page_of(
    account: Account, action: str, page: str
) -> tuple[Project | None, Task | None, int | None]:
    """An action's ``page``: its project, task and file; ``ApiError`` for a bad link.

    A link of the wrong kind is 3 "Page is invalid" (a task link to a project action,
    a file link anywhere but ``download``), or 8 "Task is required" (a project link to
    a task action). An action that takes no page ignores the parameter.
    """
    if action not in _PAGED:
        return None, None, None
    project, task, file_id = resolve_page(account, page)
    if (file_id is not None) != (action in FILE_PAGE):
        raise ApiError(3, "Page is invalid")
    if action in PROJECT_PAGE and task is not None:
        raise ApiError(3, "Page is invalid")
    if action in TASK_PAGE and task is None:
        raise ApiError(8, "Task is required")
    return project, task, file_id


def resolve_page(account: Account, page: str) -> tuple[Project | None, Task | None, int | None]:
    """A ``page`` parameter's project, task and file; ``ApiError`` 3/4/5/6 when invalid.

    ``/project/P/T/`` names a top-level task T of P (a subtask in a two-part link is 5
    "Task is invalid"); ``/project/P/T/S/`` a subtask or sub-subtask S below T.
    """
    text = page.strip().split("#", 1)[0].split("?", 1)[0]
    text = re.sub(r"^https?://[^/]+", "", text)
    if not text.endswith("/"):
        text += "/"
    file_match = _FILE_PAGE.fullmatch(text)
    if file_match is not None:
        return None, None, int(file_match.group(1))
    match = _PAGE.fullmatch(text)
    if match is None:
        raise ApiError(3, "Page is invalid")
    project = account.projects.get(int(match.group(1)))
    if project is None:
        raise ApiError(4, "Project is invalid")
    if match.group(2) is None:
        return project, None, None
    task = account.tasks.get(int(match.group(2)))
    if task is None or task.project_id != project.id or task.parent_id is not None:
        raise ApiError(5, "Task is invalid")
    if match.group(3) is None:
        return project, task, None
    sub = account.tasks.get(int(match.group(3)))
    # Subtasks and sub-subtasks alike are linked below their top-level task.
    if sub is None or sub.id == task.id or sub.project_id != project.id or sub.top_id != task.id:
        raise ApiError(6, "Subtask is invalid")
    return project, sub, None
