"""The resource layer: page handles and account-wide namespaces over ``Client.send``.

Handle style, by page::

    task = await client.project(1).task(2).get()
    await client.task("/project/1/2/").post_comment("Done", attach=["report.pdf"])

Namespace style, account-wide::

    projects = await client.projects.list(filter="active")
    found = await client.tasks.search(filter=TaskFilter.name.has("Report"), status="done")

``docs/actions.md`` maps each of the API's 63 actions to its method.
"""

from __future__ import annotations

from ._contacts import ContactsNamespace
from ._costs import CostsNamespace
from ._events import EventsNamespace, EventWatch
from ._files import AttachItem, FilesNamespace
from ._handles import ProjectHandle, TaskHandle
from ._members import MembersNamespace
from ._mixin import ResourcesMixin
from ._projects import ProjectsNamespace
from ._protocol import AsyncWritable, ClientLike, Destination
from ._render import (
    AllTasksExtra,
    Assignee,
    CostBreakdown,
    CostTime,
    DayKind,
    Emails,
    HasId,
    HasProjectPage,
    HasTaskPage,
    Hours,
    Money,
    OptionName,
    Period,
    ProjectExtra,
    ProjectFilter,
    ProjectLike,
    ProjectOptionsArg,
    SearchExtra,
    TagAccess,
    TagRefs,
    TagType,
    TaskExtra,
    TaskLike,
    TaskStatus,
    UserRole,
    WebhookEvent,
)
from ._schedules import SchedulesNamespace, ScheduleUpdate
from ._tags import TagsNamespace
from ._tasks import TasksNamespace
from ._timers import TimersNamespace
from ._webhooks import EnsuredWebhook, WebhooksNamespace

__all__ = [
    "AllTasksExtra",
    "Assignee",
    "AsyncWritable",
    "AttachItem",
    "ClientLike",
    "ContactsNamespace",
    "CostBreakdown",
    "CostTime",
    "CostsNamespace",
    "DayKind",
    "Destination",
    "Emails",
    "EnsuredWebhook",
    "EventWatch",
    "EventsNamespace",
    "FilesNamespace",
    "HasId",
    "HasProjectPage",
    "HasTaskPage",
    "Hours",
    "MembersNamespace",
    "Money",
    "OptionName",
    "Period",
    "ProjectExtra",
    "ProjectFilter",
    "ProjectHandle",
    "ProjectLike",
    "ProjectOptionsArg",
    "ProjectsNamespace",
    "ResourcesMixin",
    "ScheduleUpdate",
    "SchedulesNamespace",
    "SearchExtra",
    "TagAccess",
    "TagRefs",
    "TagType",
    "TagsNamespace",
    "TaskExtra",
    "TaskHandle",
    "TaskLike",
    "TaskStatus",
    "TasksNamespace",
    "TimersNamespace",
    "UserRole",
    "WebhookEvent",
    "WebhooksNamespace",
]
