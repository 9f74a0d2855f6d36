"""Projects and folders: ``ProjectHandle`` (``client.project(x)``) and ``client.projects``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import get_args

import attrs

from .._call import Call, ParamValue
from .._filters import Filter
from .._pages import ProjectPage
from ..models import (
    CostReport,
    CustomField,
    Event,
    File,
    Project,
    ProjectGroup,
    Task,
    Upload,
    astructure_list,
    structure_list,
    structure_one,
)
from . import _render as r
from ._costs import get_costs
from ._events import get_events
from ._extras import asked, read_tasks
from ._files import AttachItem, attachments, get_files
from ._protocol import ClientLike
from ._tags import update_tags
from ._tasks import TaskHandle, create_task

__all__ = ["ProjectHandle", "ProjectsNamespace"]

_PROJECT_EXTRA = get_args(r.ProjectExtra)
_TASKS_EXTRA = get_args(r.TaskExtra)
_PROJECT_FILTERS = get_args(r.ProjectFilter)


@attrs.frozen
class ProjectHandle:
    """A project and the actions on it: ``client.project(1)``.

    ``client.project(1).task(2)`` navigates to a task; nothing is sent until a method
    is awaited.
    """

    client: ClientLike = attrs.field(repr=False)
    page: ProjectPage

    @property
    def id(self) -> int:
        """The project's id (``id_project``)."""
        return self.page.project_id

    def task(self, task_id: int) -> TaskHandle:
        """A task of this project, by its id."""
        return TaskHandle(self.client, self.page.task(task_id))

    # -- reading -----------------------------------------------------------------

    async def get(
        self, *, extra: r.ProjectExtra | Iterable[r.ProjectExtra] | None = None
    ) -> Project:
        """The project (``get_project``); ``extra`` adds ``text``/``html``, ``options``,
        ``users``."""
        params: dict[str, ParamValue] = {"extra": r.flags("extra", extra, _PROJECT_EXTRA)}
        payload = await self.client.send(Call.build("get_project", self.page, params))
        return structure_one(payload, Project)

    async def tasks(
        self,
        *,
        active_only: bool = False,
        extra: r.TaskExtra | Iterable[r.TaskExtra] | None = None,
    ) -> list[Task]:
        """The project's tasks (``get_tasks``); ``extra=["subtasks"]`` nests them in
        ``child``; ``active_only`` leaves out closed ones. A list asked for in ``extra``
        is ``()`` for a task that has none (``None``: not asked for)."""
        params: dict[str, ParamValue] = {
            "filter": "active" if r.true_flag("active_only", active_only) else None,
            "extra": r.flags("extra", extra, _TASKS_EXTRA),
        }
        payload = await self.client.send(Call.build("get_tasks", self.page, params))
        return await read_tasks(payload, asked(params["extra"]))

    async def files(self) -> list[File]:
        """The files of the project's description and Files section (``get_files``)."""
        return await get_files(self.client, self.page)

    async def costs(
        self,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        timer: bool | None = None,
        filter: Filter | str | None = None,
    ) -> CostReport:
        """The project's cost rows with their total (``get_costs``)."""
        return await get_costs(
            self.client, self.page, start=start, end=end, timer=timer, filter=filter
        )

    async def events(self, period: r.Period) -> list[Event]:
        """The project's events of the last ``period`` (``get_events``): ``"30m"``,
        ``"12h"``, ``"7d"`` or a ``timedelta``."""
        return await get_events(self.client, period, self.page)

    # -- writing -----------------------------------------------------------------

    async def post_task(
        self,
        title: str,
        *,
        assignee: r.Assignee | None = None,
        author: str | None = None,
        priority: int | None = None,
        text: str | None = None,
        todo: Sequence[str] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        subscribers: r.Emails | None = None,
        hidden: r.Emails | None = None,
        mention: r.Emails | None = None,
        max_time: r.Hours | None = None,
        max_money: r.Money | None = None,
        tags: r.TagRefs | None = None,
        attach: Sequence[AttachItem] | None = None,
        uploads: Sequence[Upload] | None = None,
    ) -> Task:
        """Create a task in the project (``post_task``).

        ``assignee`` (``email_user_to``): an email, ``"ANY"`` or ``"NOONE"``;
        ``author`` (``email_user_from``, automatic with OAuth2); ``priority`` 0..10;
        ``todo``: checklist items; ``start``/``end``: dates; ``subscribers``,
        ``hidden`` (only they see it), ``mention``: emails; ``max_time`` (hours),
        ``max_money``; ``tags``: names or ids; ``attach``: files sent as
        ``attach[n]``; ``uploads``: descriptors from ``client.files.upload()``.
        """
        return await create_task(
            self.client,
            self.page,
            title,
            assignee=assignee,
            author=author,
            priority=priority,
            text=text,
            todo=todo,
            start=start,
            end=end,
            subscribers=subscribers,
            hidden=hidden,
            mention=mention,
            max_time=max_time,
            max_money=max_money,
            tags=tags,
            attach=attach,
            uploads=uploads,
        )

    async def update(
        self,
        *,
        title: str | None = None,
        manager: str | None = None,
        assignee: r.Assignee | None = None,
        members: r.Emails | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        max_time: r.Hours | None = None,
        max_money: r.Money | None = None,
        tags: r.TagRefs | None = None,
        options: r.ProjectOptionsArg | None = None,
        extra: r.ProjectExtra | Iterable[r.ProjectExtra] | None = None,
    ) -> Project:
        """Change the project (``update_project``); returns it as changed.

        ``manager`` (``email_manager``), ``assignee`` (default assignee of new tasks),
        ``members`` (added; :meth:`remove_members` removes), ``tags`` (replaces every
        tag; ``[]`` removes them all), ``options`` (project flags). The author, the
        text and the folder cannot change.
        """
        params: dict[str, ParamValue] = {
            "title": r.title("title", title) if title is not None else None,
            "email_manager": r.optional_email("manager", manager),
            "email_user_to": r.assignee("assignee", assignee),
            "members": r.emails("members", members),
            "datestart": r.day("start", start),
            "dateend": r.day("end", end),
            "max_time": r.decimal("max_time", max_time),
            "max_money": r.decimal("max_money", max_money),
            "tags": r.names("tags", tags, empty_means_none=False),
            **r.options(options),
        }
        if all(value is None for value in params.values()):
            raise ValueError(
                "update() needs at least one of title, manager, assignee, members, start, "
                "end, max_time, max_money, tags, options"
            )
        params["extra"] = r.flags("extra", extra, _PROJECT_EXTRA)
        payload = await self.client.send(Call.build("update_project", self.page, params))
        return structure_one(payload, Project)

    async def close(self) -> None:
        """Archive the project (``close_project``)."""
        await self.client.send(Call.build("close_project", self.page))

    async def activate(self) -> None:
        """Make an archived or pending project active again (``activate_project``)."""
        await self.client.send(Call.build("activate_project", self.page))

    async def add_members(self, emails: r.Emails) -> None:
        """Add members to the project (``add_project_members``)."""
        params = {"members": r.emails("emails", emails, required=True)}
        await self.client.send(Call.build("add_project_members", self.page, params))

    async def remove_members(self, emails: r.Emails) -> None:
        """Remove members from the project (``delete_project_members``)."""
        params = {"members": r.emails("emails", emails, required=True)}
        await self.client.send(Call.build("delete_project_members", self.page, params))

    async def update_tags(
        self, *, add: r.TagRefs | None = None, remove: r.TagRefs | None = None
    ) -> None:
        """Add and remove tags by name or id, keeping the others (``update_project_tags``)."""
        await update_tags(self.client, "update_project_tags", self.page, add=add, remove=remove)


@attrs.frozen
class ProjectsNamespace:
    """Account-wide project actions: ``client.projects``."""

    client: ClientLike = attrs.field(repr=False)

    async def create(
        self,
        title: str,
        *,
        author: str | None = None,
        manager: str | None = None,
        assignee: r.Assignee | None = None,
        members: r.Emails | None = None,
        text: str | None = None,
        folder: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        max_time: r.Hours | None = None,
        max_money: r.Money | None = None,
        tags: r.TagRefs | None = None,
        options: r.ProjectOptionsArg | None = None,
        extra: r.ProjectExtra | Iterable[r.ProjectExtra] | None = None,
        attach: Sequence[AttachItem] | None = None,
    ) -> Project:
        """Create a project (``post_project``).

        ``author`` (``email_user_from``), ``manager`` (``email_manager``), ``assignee``
        (default assignee of new tasks: an email, ``"ANY"`` or ``"NOONE"``),
        ``members`` (emails), ``folder`` (``company``, a folder's name), ``options``
        (project flags; ``extra="options"`` returns them), ``attach`` (files sent as
        ``attach[n]``).
        """
        params: dict[str, ParamValue] = {
            "title": r.title("title", title),
            "email_user_from": r.optional_email("author", author),
            "email_manager": r.optional_email("manager", manager),
            "email_user_to": r.assignee("assignee", assignee),
            "members": r.emails("members", members),
            "text": r.text("text", text),
            "company": r.text("folder", folder),
            "datestart": r.day("start", start),
            "dateend": r.day("end", end),
            "max_time": r.decimal("max_time", max_time),
            "max_money": r.decimal("max_money", max_money),
            "tags": r.names("tags", tags),
            "extra": r.flags("extra", extra, _PROJECT_EXTRA),
            **r.options(options),
        }
        async with attachments("attach", attach, "attach[{n}]") as parts:
            payload = await self.client.send(Call.build("post_project", None, params, parts))
        return structure_one(payload, Project)

    async def groups(self) -> list[ProjectGroup]:
        """Project folders and team folders (``get_project_groups``)."""
        payload = await self.client.send(Call.build("get_project_groups"))
        return structure_list(payload, ProjectGroup)

    async def add_group(self, title: str) -> ProjectGroup:
        """Create a project folder unless one has this name (``add_project_group``)."""
        params = {"title": r.title("title", title)}
        payload = await self.client.send(Call.build("add_project_group", None, params))
        return structure_one(payload, ProjectGroup)

    async def custom_fields(self) -> list[CustomField]:
        """The account's project custom field definitions (``get_project_custom_fields``)."""
        payload = await self.client.send(Call.build("get_project_custom_fields"))
        return structure_list(payload, CustomField)

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(
        self,
        *,
        filter: r.ProjectFilter | None = None,
        extra: r.ProjectExtra | Iterable[r.ProjectExtra] | None = None,
    ) -> list[Project]:
        """The account's projects (``get_projects``): ``filter`` ``"active"``,
        ``"pending"`` (sleeping) or ``"archive"``; ``extra`` as :meth:`ProjectHandle.get`.
        """
        params: dict[str, ParamValue] = {
            "filter": r.choice("filter", filter, _PROJECT_FILTERS),
            "extra": r.flags("extra", extra, _PROJECT_EXTRA),
        }
        payload = await self.client.send(Call.build("get_projects", None, params))
        return await astructure_list(payload, Project)
