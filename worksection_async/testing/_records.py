"""The records a ``FakeWorksection`` account holds.

Plain mutable attrs classes, one per kind of object. They store what the service would
store (ids as ``int``, dates as ``datetime``/``date``); ``_render`` turns them into the
API's JSON shapes (ids as strings, dates as text).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import attrs

from .._json import JSONValue

__all__ = [
    "ANYONE_ID",
    "NO_MANAGER_ID",
    "NOBODY_ID",
    "ROLE_LABELS",
    "ROLE_STYLES",
    "RoleStyle",
    "Comment",
    "Contact",
    "ContactFolder",
    "Cost",
    "CustomField",
    "Event",
    "File",
    "Member",
    "Project",
    "ProjectFolder",
    "Tag",
    "TagGroup",
    "Task",
    "Team",
    "Timer",
    "Webhook",
]

NO_MANAGER_ID = 0
"""``user_to`` of a project without a manager: ``{"id": "0", "email": "NOONE"}``."""
NOBODY_ID = 1
"""``user_to`` of an unassigned task: ``{"id": "1", "email": "NOONE"}``."""
ANYONE_ID = 2
"""``user_to`` of a task for "Anyone": ``{"id": "2", "email": "ANY"}``."""

ROLE_LABELS = {
    "owner": "Owner",
    "account admin": "Account admin",
    "team admin": "Team admin",
    "department admin": "Department admin",
    "user": "User",
    "guest": "Guest",
    "reader": "Reader",
}
"""Roles capitalised, as the Postman examples spell them (``role_style="postman"``)."""

RoleStyle = Literal["docs", "postman"]
"""How answers spell a member's ``role``: ``"docs"`` (the default) lower case, as the
documentation and both official 2026 SDKs (whose ``is_owner()`` compares with
``"owner"``); ``"postman"`` capitalised (``"Owner"``, ``"Account admin"``), as the
official Postman examples."""
ROLE_STYLES: tuple[RoleStyle, ...] = ("docs", "postman")

TagScope = Literal["task", "project"]


@attrs.define(eq=False)
class Team:
    """A team of members (``get_user_groups``); ``client`` marks an external team."""

    id: int
    title: str
    client: bool = False


@attrs.define(eq=False)
class ContactFolder:
    """A contact folder (``get_contact_groups``, type ``folder``)."""

    id: int
    title: str


@attrs.define(eq=False)
class ProjectFolder:
    """A project folder (``get_project_groups``, type ``folder``)."""

    id: int
    title: str


@attrs.define(eq=False)
class Member:
    """A member of the account (``get_users``)."""

    id: int
    email: str
    first_name: str
    last_name: str
    team_id: int
    title: str = ""
    department: str = ""
    role: str = "user"
    rate: float = 0
    avatar: str = ""
    date_added: dt.datetime | None = None
    phone: str = ""
    phone2: str = ""
    phone3: str = ""
    phone4: str = ""
    address: str = ""
    address2: str = ""

    @property
    def name(self) -> str:
        """The full name, as the API answers it."""
        return f"{self.first_name} {self.last_name}".strip() or self.email


@attrs.define(eq=False)
class Contact:
    """A contact (``get_contacts``): a person who is not a member."""

    id: int
    first_name: str
    last_name: str
    email: str = ""
    folder_id: int | None = None
    title: str = ""
    phone: str = ""
    phone2: str = ""
    phone3: str = ""
    phone4: str = ""
    address: str = ""
    address2: str = ""
    date_added: dt.datetime | None = None

    @property
    def name(self) -> str:
        """The full name, as the API answers it."""
        return f"{self.first_name} {self.last_name}".strip()


@attrs.define(eq=False)
class Project:
    """A project (``/project/<id>/``)."""

    id: int
    name: str
    author_id: int
    date_added: dt.datetime
    company: str = ""
    status: str = "active"
    manager_id: int = NO_MANAGER_ID
    default_assignee_id: int = NOBODY_ID
    text: str = ""
    date_start: dt.date | None = None
    date_end: dt.date | None = None
    date_closed: dt.datetime | None = None
    options: dict[str, int] = attrs.Factory(dict)
    max_time: float | None = None
    max_money: float | None = None
    tag_ids: list[int] = attrs.Factory(list)
    member_ids: list[int] = attrs.Factory(list)
    custom_fields: dict[int, str] = attrs.Factory(dict)
    """Custom field id -> value (shown with ``extra=custom_fields``)."""

    @property
    def page(self) -> str:
        """The object's page (its link)."""
        return f"/project/{self.id}/"


@attrs.define(eq=False)
class Task:
    """A task, subtask or sub-subtask (``parent_id`` says which)."""

    id: int
    project_id: int
    name: str
    author_id: int
    date_added: dt.datetime
    parent_id: int | None = None
    top_id: int = 0
    """The top-level task this one belongs to (its own id for a top-level task)."""
    depth: int = 0
    """0 for a task, 1 for a subtask, 2 for a sub-subtask."""
    status: str = "active"
    priority: int = 1
    assignee_id: int = NOBODY_ID
    text: str = ""
    date_start: dt.date | None = None
    date_end: dt.date | None = None
    time_start: str = ""
    time_end: str = ""
    date_closed: dt.datetime | None = None
    max_time: float | None = None
    max_money: float | None = None
    tag_ids: list[int] = attrs.Factory(list)
    subscriber_ids: list[int] = attrs.Factory(list)
    hidden_ids: list[int] = attrs.Factory(list)
    custom_fields: dict[int, str] = attrs.Factory(dict)
    relations_from: list[tuple[str, int]] = attrs.Factory(list)
    """Predecessors: ``(type, task id)`` pairs (``relations.from``)."""
    relations_to: list[tuple[str, int]] = attrs.Factory(list)
    """Successors: ``(type, task id)`` pairs (``relations.to``)."""

    @property
    def page(self) -> str:
        """The object's page (its link)."""
        if self.parent_id is None:
            return f"/project/{self.project_id}/{self.id}/"
        return f"/project/{self.project_id}/{self.top_id}/{self.id}/"

    @property
    def is_done(self) -> bool:
        """Whether the task is closed."""
        return self.status == "done"


@attrs.define(eq=False)
class Comment:
    """A comment on a task."""

    id: int
    task_id: int
    text: str
    author_id: int
    date_added: dt.datetime
    file_ids: list[int] = attrs.Factory(list)


@attrs.define(eq=False)
class File:
    """A file attached to a project, a task or a comment (or uploaded, not yet attached)."""

    id: int
    name: str
    content: bytes = attrs.field(repr=False)
    author_id: int
    date_added: dt.datetime
    project_id: int | None = None
    task_id: int | None = None
    comment_id: int | None = None

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return len(self.content)

    @property
    def page(self) -> str:
        """The object's page (its link)."""
        return f"/download/{self.id}/"

    @property
    def ext(self) -> str:
        """The file name's extension, without the dot."""
        return self.name.rsplit(".", 1)[1].lower() if "." in self.name else ""


@attrs.define(eq=False)
class Cost:
    """A time and money row on a task."""

    id: int
    task_id: int
    author_id: int
    minutes: int
    money: float
    date: dt.date
    date_added: dt.datetime
    comment: str = ""
    is_timer: bool = False


@attrs.define(eq=False)
class Timer:
    """A running timer: one per member."""

    id: int
    user_id: int
    task_id: int
    started: float
    """Wall-clock time (Unix seconds) the timer was started."""


@attrs.define(eq=False)
class Webhook:
    """A webhook registration (delivered to where ``fake.webhook_delivery`` routes it)."""

    id: int
    url: str
    events: list[str]
    project_ids: list[int] = attrs.Factory(list)
    status: str = "active"
    http_user: str = ""
    http_pass: str = attrs.field(default="", repr=False)


@attrs.define(eq=False)
class TagGroup:
    """A tag group ("set") of task tags or project tags: statuses or labels."""

    id: int
    scope: TagScope
    title: str
    type: str = "label"
    access: str = "public"


@attrs.define(eq=False)
class Tag:
    """A tag (a status or a label) in a tag group."""

    id: int
    group_id: int
    title: str


@attrs.define(eq=False)
class CustomField:
    """A custom field definition (``get_project_custom_fields``, ``get_task_custom_fields``)."""

    id: int
    scope: TagScope
    name: str
    type: str = "text"
    descr: str = ""
    options: list[str] = attrs.Factory(list)


@attrs.define(eq=False)
class Event:
    """One entry of the account's event log (``get_events``)."""

    action: str
    object_type: str
    object_id: int
    page: str
    date_added: dt.datetime
    user_id: int
    project_id: int | None = None
    new: dict[str, JSONValue] | None = None
    old: dict[str, JSONValue] | None = None
