"""The 63 actions of the Worksection API, acting on an ``Account``.

Each handler takes a ``Ctx`` (the account, the request's parameters, the acting member)
and returns the JSON envelope, or raises ``ApiError`` with the service's code, message
and details. A handler validates everything before it changes anything, so an error never
leaves a half-done change behind.

Error codes follow the base document and the official examples; where the sources say
nothing, the choice is documented here:

* a missing ``id_project`` is 7 "Project is required", a missing ``id_task`` is 8 "Task is
  required" (``message_details`` names the parameter); other missing fields are 10;
* an id that is not a number is the same as an unknown id (4, 5, "File not found", ...);
* an invalid value (a date not in ``DD.MM.YYYY``, a flag other than ``1``/``0``, a value
  outside an enumeration, priority outside 0..10, a bad filter) is 10 "Field is
  required" with the field name, as the service answers a bad ``filter``; an unknown
  parameter is ignored;
* a ``page`` link of the wrong kind is 3 "Page is invalid" (a task link to a project
  action) or 8 "Task is required" (a project link to a task action), see ``page_of``;
* more than ``MAX_RECORDS`` tasks in one answer is ``TOO_MANY_TASKS_CODE`` (17) "Too many
  tasks (10000 max)" (the docs quote the message, not the code);
* an unknown cost row is 10 "Costs not found";
* nesting below a sub-subtask is 6 "Subtask is invalid".

Where each action lives (the table below is the one list of them all):

* ``_members``: members and teams, contacts and their folders, schedules;
* ``_projects``: projects, their members, folders and custom fields (of tasks too);
* ``_tasks``: tasks, their search and subscribers;
* ``_comments``, ``_files``, ``_tags``: comments, files, tags and tag groups;
* ``_costs``: costs and timers;
* ``_webhooks``: webhooks and ``get_events``.

What they share sits below them: ``_core`` (``Ctx``, ``ApiError``, the reply),
``_args`` (parameters to values) and ``_pages`` (the ``page`` parameter).
"""

from __future__ import annotations

from typing import Final

from . import _comments, _costs, _files, _members, _projects, _tags, _tasks, _webhooks
from ._core import (
    DEFAULT_DIALECT,
    DIALECT_SHAPES,
    DIALECTS,
    SHAPED_ACTIONS,
    SHAPES,
    ApiError,
    Ctx,
    Dialect,
    FileReply,
    Handler,
    Reply,
    Shape,
    check_dialect,
    check_shape,
)
from ._pages import page_of
from ._tasks import MAX_RECORDS, TOO_MANY_TASKS_CODE

__all__ = [
    "ACTIONS",
    "ACTION_SCOPES",
    "ADMIN_ONLY",
    "DEFAULT_DIALECT",
    "DIALECTS",
    "DIALECT_SHAPES",
    "SHAPED_ACTIONS",
    "SHAPES",
    "MAX_RECORDS",
    "OAUTH_ONLY",
    "TOO_MANY_TASKS_CODE",
    "ApiError",
    "Ctx",
    "Dialect",
    "FileReply",
    "Reply",
    "Shape",
    "check_dialect",
    "check_shape",
    "page_of",
]

OAUTH_ONLY: Final = frozenset(
    {"me", "get_my_timer", "start_my_timer", "stop_my_timer", "delete_my_timer"}
)
"""Actions that act as the token's user: only on ``/api/oauth2``."""
ADMIN_ONLY: Final = frozenset({"get_timers", "stop_timer"})
"""Actions only the admin API key may call."""

ACTIONS: dict[str, Handler] = {
    "me": _members.me,
    "get_users": _members.get_users,
    "add_user": _members.add_user,
    "get_user_groups": _members.get_user_groups,
    "add_user_group": _members.add_user_group,
    "get_contacts": _members.get_contacts,
    "add_contact": _members.add_contact,
    "get_contact_groups": _members.get_contact_groups,
    "add_contact_group": _members.add_contact_group,
    "subscribe": _tasks.subscribe,
    "unsubscribe": _tasks.unsubscribe,
    "get_users_schedule": _members.get_users_schedule,
    "update_users_schedule": _members.update_users_schedule,
    "get_projects": _projects.get_projects,
    "get_project": _projects.get_project,
    "post_project": _projects.post_project,
    "update_project": _projects.update_project,
    "close_project": _projects.close_project,
    "activate_project": _projects.activate_project,
    "add_project_members": _projects.add_project_members,
    "delete_project_members": _projects.delete_project_members,
    "get_project_groups": _projects.get_project_groups,
    "add_project_group": _projects.add_project_group,
    "add_project_groups": _projects.add_project_group,
    "get_project_custom_fields": _projects.get_project_custom_fields,
    "get_task_custom_fields": _projects.get_task_custom_fields,
    "get_events": _webhooks.get_events,
    "get_all_tasks": _tasks.get_all_tasks,
    "get_tasks": _tasks.get_tasks,
    "get_task": _tasks.get_task,
    "post_task": _tasks.post_task,
    "update_task": _tasks.update_task,
    "complete_task": _tasks.complete_task,
    "reopen_task": _tasks.reopen_task,
    "search_tasks": _tasks.search_tasks,
    "get_comments": _comments.get_comments,
    "post_comment": _comments.post_comment,
    "get_files": _files.get_files,
    "download": _files.download,
    "upload_files": _files.upload_files,
    "get_task_tags": _tags.get_task_tags,
    "add_task_tags": _tags.add_task_tags,
    "update_task_tags": _tags.update_task_tags,
    "get_task_tag_groups": _tags.get_task_tag_groups,
    "add_task_tag_groups": _tags.add_task_tag_groups,
    "get_project_tags": _tags.get_project_tags,
    "add_project_tags": _tags.add_project_tags,
    "update_project_tags": _tags.update_project_tags,
    "get_project_tag_groups": _tags.get_project_tag_groups,
    "add_project_tag_groups": _tags.add_project_tag_groups,
    "get_costs": _costs.get_costs,
    "get_costs_total": _costs.get_costs_total,
    "add_costs": _costs.add_costs,
    "update_costs": _costs.update_costs,
    "delete_costs": _costs.delete_costs,
    "get_timers": _costs.get_timers,
    "stop_timer": _costs.stop_timer,
    "get_my_timer": _costs.get_my_timer,
    "start_my_timer": _costs.start_my_timer,
    "stop_my_timer": _costs.stop_my_timer,
    "delete_my_timer": _costs.delete_my_timer,
    "get_webhooks": _webhooks.get_webhooks,
    "add_webhook": _webhooks.add_webhook,
    "delete_webhook": _webhooks.delete_webhook,
}
"""Action name -> handler (the 63 actions, plus the alias ``add_project_groups``)."""

_READ_WRITE: Final = {
    "users": (
        ("get_users", "get_user_groups", "get_users_schedule"),
        ("add_user", "add_user_group", "update_users_schedule"),
    ),
    "contacts": (
        ("get_contacts", "get_contact_groups"),
        ("add_contact", "add_contact_group"),
    ),
    "projects": (
        ("get_projects", "get_project", "get_project_groups", "get_project_custom_fields"),
        (
            "post_project",
            "update_project",
            "close_project",
            "activate_project",
            "add_project_members",
            "delete_project_members",
            "add_project_group",
            "add_project_groups",
        ),
    ),
    "tasks": (
        ("get_all_tasks", "get_tasks", "get_task", "search_tasks", "get_task_custom_fields"),
        (
            "post_task",
            "update_task",
            "complete_task",
            "reopen_task",
            "subscribe",
            "unsubscribe",
        ),
    ),
    "comments": (("get_comments",), ("post_comment",)),
    "files": (("get_files", "download"), ("upload_files",)),
    "tags": (
        ("get_task_tags", "get_task_tag_groups", "get_project_tags", "get_project_tag_groups"),
        (
            "add_task_tags",
            "update_task_tags",
            "add_task_tag_groups",
            "add_project_tags",
            "update_project_tags",
            "add_project_tag_groups",
        ),
    ),
    "costs": (
        ("get_costs", "get_costs_total", "get_timers", "get_my_timer"),
        (
            "add_costs",
            "update_costs",
            "delete_costs",
            "stop_timer",
            "start_my_timer",
            "stop_my_timer",
            "delete_my_timer",
        ),
    ),
}

ACTION_SCOPES: Final[dict[str, str | None]] = {
    "me": None,
    "get_events": "projects_read",
    "get_webhooks": "administrative",
    "add_webhook": "administrative",
    "delete_webhook": "administrative",
    **{
        action: f"{area}_{kind}"
        for area, (reads, writes) in _READ_WRITE.items()
        for kind, actions in (("read", reads), ("write", writes))
        for action in actions
    },
}
"""The OAuth2 scope an access token needs for each action (``None``: any token).

The documentation says only that a token's rights are its user's within the app's
scopes and that ``get_webhooks`` needs ``administrative``; the rest follows the scope
names (``tasks_read`` reads tasks, ``tasks_write`` changes them; timers are costs,
subscribers are tasks, the event log is projects', as wsectl guesses; every webhook
action is ``administrative``). A token without it is answered ``SCOPE_ERROR``."""
