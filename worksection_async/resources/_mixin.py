"""``ResourcesMixin``: what ``Client`` exposes of the resource layer.

``Client`` inherits this mixin: ``client.project(x)``, ``client.task(x)`` and the
namespaces (``client.projects``, ``client.tasks``, ...) are defined here, next to the
resources they return, so the client module stays about transport and quota.

Handles and namespaces are small frozen values holding the client: building one costs
one object and sends nothing.
"""

from __future__ import annotations

from . import _render as r
from ._contacts import ContactsNamespace
from ._costs import CostsNamespace
from ._events import EventsNamespace
from ._files import FilesNamespace
from ._handles import ProjectHandle, TaskHandle
from ._members import MembersNamespace
from ._projects import ProjectsNamespace
from ._protocol import ClientLike
from ._schedules import SchedulesNamespace
from ._tags import TagsNamespace
from ._tasks import TasksNamespace
from ._timers import TimersNamespace
from ._webhooks import WebhooksNamespace

__all__ = ["ResourcesMixin"]


class ResourcesMixin:
    """Page handles and account-wide namespaces (``Client`` inherits them)."""

    __slots__ = ()

    def project(self: ClientLike, project: r.ProjectLike) -> ProjectHandle:
        """A project by its page, id, link or browser URL (or a ``Project`` model)."""
        return ProjectHandle(self, r.project_page("project", project))

    def task(self: ClientLike, task: r.TaskLike) -> TaskHandle:
        """A task or subtask by its page, link or browser URL (or a ``Task`` model)."""
        return TaskHandle(self, r.task_page("task", task))

    @property
    def projects(self: ClientLike) -> ProjectsNamespace:
        """Projects: ``list``, ``create``, folders, custom fields."""
        return ProjectsNamespace(self)

    @property
    def tasks(self: ClientLike) -> TasksNamespace:
        """Tasks: ``list`` (all), ``search``, ``get_many``, custom fields."""
        return TasksNamespace(self)

    @property
    def members(self: ClientLike) -> MembersNamespace:
        """Members and teams: ``me``, ``list``, ``add``, ``groups``, ``add_group``."""
        return MembersNamespace(self)

    @property
    def contacts(self: ClientLike) -> ContactsNamespace:
        """The address book: ``list``, ``add``, ``groups``, ``add_group``."""
        return ContactsNamespace(self)

    @property
    def tags(self: ClientLike) -> TagsNamespace:
        """Task and project tags and tag groups."""
        return TagsNamespace(self)

    @property
    def costs(self: ClientLike) -> CostsNamespace:
        """Costs: ``list``, ``total``, ``update``, ``delete``."""
        return CostsNamespace(self)

    @property
    def timers(self: ClientLike) -> TimersNamespace:
        """Timers: everyone's (admin) and the caller's own (OAuth2)."""
        return TimersNamespace(self)

    @property
    def files(self: ClientLike) -> FilesNamespace:
        """Files: ``upload`` and ``download``."""
        return FilesNamespace(self)

    @property
    def webhooks(self: ClientLike) -> WebhooksNamespace:
        """Webhooks: ``list``, ``add``, ``delete``."""
        return WebhooksNamespace(self)

    @property
    def events(self: ClientLike) -> EventsNamespace:
        """Recent events: ``list(period)``, and ``watch()`` for new ones as they happen."""
        return EventsNamespace(self)

    @property
    def schedules(self: ClientLike) -> SchedulesNamespace:
        """Members' non-working days: ``get``, ``update``."""
        return SchedulesNamespace(self)
