"""The page handles: ``ProjectHandle`` (``client.project(x)``) and ``TaskHandle``
(``client.task(page)``), the actions on one project or task.

They navigate to each other (``project.task(2)``, ``task.project``), so they live
together here, above the modules they call (``_projects``, ``_tasks``, ``_costs``...).
A subtask is a task addressed by its own id: one handle class serves ``TaskPage`` and
``SubtaskPage``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import get_args

import attrs

from .._call import Call, ParamValue
from .._filters import Filter
from .._pages import ProjectPage, SubtaskPage, TaskPage
from ..models import (
    Comment,
    CostReport,
    Created,
    Event,
    File,
    Project,
    Task,
    Upload,
    astructure_list,
    structure,
    structure_one,
)
from . import _render as r
from ._costs import get_costs
from ._events import get_events
from ._extras import asked, fill_comments, fill_task
from ._files import AttachItem, attachments, get_files
from ._protocol import ClientLike
from ._split import list_tasks
from ._tags import update_tags
from ._tasks import create_task
from ._timers import start_my_timer

__all__ = ["ProjectHandle", "TaskHandle"]

_PROJECT_EXTRA = get_args(r.ProjectExtra)
_TASK_EXTRA = get_args(r.TaskExtra)


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
        is ``()`` for a task that has none (``None``: not asked for).

        A project over the API's 10,000 records per answer is read in parts (open and
        closed apart, then windows of ``dateadd``; see ``client.tasks.list``): every
        task once, open ones first; ``TooManyRecordsError`` if it cannot be split."""
        params: dict[str, ParamValue] = {
            "filter": "active" if r.true_flag("active_only", active_only) else None,
            "extra": r.flags("extra", extra, _TASK_EXTRA),
        }
        return await list_tasks(self.client.send, self.client.map, self.page, params)

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
class TaskHandle:
    """A task or subtask and the actions on it: ``client.task(page)``.

    ``client.project(1).task(2)`` and ``client.task("/project/1/2/").subtask(3)``
    navigate; nothing is sent until a method is awaited.
    """

    client: ClientLike = attrs.field(repr=False)
    page: TaskPage | SubtaskPage

    @property
    def id(self) -> int:
        """The task's own id (``id_task``)."""
        return self.page.id

    @property
    def project(self) -> ProjectHandle:
        """The project this task belongs to."""
        return ProjectHandle(self.client, self.page.project)

    def subtask(self, subtask_id: int) -> TaskHandle:
        """A subtask (or sub-subtask) below this task, by its id."""
        return TaskHandle(self.client, self.page.subtask(subtask_id))

    # -- reading -----------------------------------------------------------------

    async def get(
        self,
        *,
        extra: r.TaskExtra | Iterable[r.TaskExtra] | None = None,
        active_only: bool = False,
    ) -> Task:
        """The task (``get_task``); ``extra`` adds text, files, comments, relations,
        subtasks (``child``, only open ones with ``active_only``), subscribers...

        A list asked for in ``extra`` is ``()`` when the task has none; ``None`` means
        it was not asked for. The subtasks in ``child`` are brief (id, name, page,
        status, priority and their own ``child``).
        """
        params: dict[str, ParamValue] = {
            "extra": r.flags("extra", extra, _TASK_EXTRA),
            "filter": "active" if r.true_flag("active_only", active_only) else None,
        }
        payload = await self.client.send(Call.build("get_task", self.page, params))
        task = structure_one(payload, Task)
        return fill_task(task, asked(params["extra"]), brief_children=True)

    async def subtasks(self, *, active_only: bool = False) -> list[Task]:
        """The direct subtasks (``get_task`` with ``extra=subtasks``)."""
        task = await self.get(extra="subtasks", active_only=active_only)
        return list(task.child or ())

    async def comments(self, *, with_files: bool = False) -> list[Comment]:
        """The comments, newest first as the API lists them (``get_comments``).

        ``with_files``: each comment's ``files`` (``()`` for a comment without files;
        ``None`` without ``with_files``).
        """
        params: dict[str, ParamValue] = {
            "extra": "files" if r.true_flag("with_files", with_files) else None
        }
        payload = await self.client.send(Call.build("get_comments", self.page, params))
        return fill_comments(await astructure_list(payload, Comment), with_files)

    async def files(self) -> list[File]:
        """The files of the task's description and comments (``get_files``)."""
        return await get_files(self.client, self.page)

    async def costs(
        self,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        timer: bool | None = None,
        filter: Filter | str | None = None,
    ) -> CostReport:
        """The cost rows of this task and its subtasks, with their total (``get_costs``)."""
        return await get_costs(
            self.client, self.page, start=start, end=end, timer=timer, filter=filter
        )

    # -- writing -----------------------------------------------------------------

    async def update(
        self,
        *,
        title: str | None = None,
        assignee: r.Assignee | None = None,
        priority: int | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        closed: dt.date | None = None,
        max_time: r.Hours | None = None,
        max_money: r.Money | None = None,
        tags: r.TagRefs | None = None,
    ) -> Task:
        """Change the task (``update_task``); returns it as changed.

        ``tags`` replaces every tag (``[]`` removes them all); use :meth:`update_tags`
        to add or remove some. ``closed`` moves a done task's close date.
        """
        params: dict[str, ParamValue] = {
            "title": r.title("title", title) if title is not None else None,
            "email_user_to": r.assignee("assignee", assignee),
            "priority": r.priority(priority),
            "datestart": r.day("start", start),
            "dateend": r.day("end", end),
            "dateclosed": r.day("closed", closed),
            "max_time": r.decimal("max_time", max_time),
            "max_money": r.decimal("max_money", max_money),
            "tags": r.names("tags", tags, empty_means_none=False),
        }
        if all(value is None for value in params.values()):
            raise ValueError(
                "update() needs at least one of title, assignee, priority, start, end, "
                "closed, max_time, max_money, tags"
            )
        payload = await self.client.send(Call.build("update_task", self.page, params))
        return structure_one(payload, Task)

    async def complete(self) -> None:
        """Close the task (``complete_task``); its subtasks must be closed first."""
        await self.client.send(Call.build("complete_task", self.page))

    async def reopen(self) -> None:
        """Reopen a closed task (``reopen_task``)."""
        await self.client.send(Call.build("reopen_task", self.page))

    async def post_comment(
        self,
        text: str | None = None,
        *,
        todo: Sequence[str] | None = None,
        author: str | None = None,
        hidden: r.Emails | None = None,
        mention: r.Emails | None = None,
        attach: Sequence[AttachItem] | None = None,
    ) -> Comment:
        """Comment on the task (``post_comment``): ``text`` and/or a ``todo`` checklist.

        ``hidden``: only these members see it; ``mention``: members appended as
        mentions; ``attach``: files sent as ``attach[n]`` parts.
        """
        rendered_text = r.text("text", text)
        items = r.checklist("todo", todo)
        if (rendered_text is None or not rendered_text.strip()) and not items:
            raise ValueError("post_comment() needs a non-empty text or todo items")
        params: dict[str, ParamValue] = {
            "text": rendered_text,
            "todo": items,
            "email_user_from": r.optional_email("author", author),
            "hidden": r.emails("hidden", hidden),
            "mention": r.emails("mention", mention),
        }
        async with attachments("attach", attach, "attach[{n}]") as parts:
            payload = await self.client.send(Call.build("post_comment", self.page, params, parts))
        return structure_one(payload, Comment)

    async def post_subtask(
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
        """Create a subtask of this task (``post_task`` with ``id_parent``).

        Arguments as :meth:`ProjectHandle.post_task`.
        """
        return await create_task(
            self.client,
            self.page.project,
            title,
            parent=self.id,
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

    async def subscribe(self, email: str) -> None:
        """Subscribe a member to the task's notifications (``subscribe``)."""
        params = {"email_user": r.email("email", email)}
        await self.client.send(Call.build("subscribe", self.page, params))

    async def unsubscribe(self, email: str) -> None:
        """Unsubscribe a member (``unsubscribe``)."""
        params = {"email_user": r.email("email", email)}
        await self.client.send(Call.build("unsubscribe", self.page, params))

    async def update_tags(
        self, *, add: r.TagRefs | None = None, remove: r.TagRefs | None = None
    ) -> None:
        """Add and remove tags by name or id, keeping the others (``update_task_tags``)."""
        await update_tags(self.client, "update_task_tags", self.page, add=add, remove=remove)

    async def add_cost(
        self,
        *,
        time: r.CostTime | None = None,
        money: r.Money | None = None,
        from_rate: bool = False,
        author: str | None = None,
        comment: str | None = None,
        date: dt.date | None = None,
    ) -> int:
        """Record time and/or money spent (``add_costs``); returns the new cost's id.

        ``time`` is a ``timedelta`` of whole minutes or decimal hours; ``from_rate``
        computes the money from the author's hourly rate. With an admin key the API
        wants ``author`` (the member who spent it).
        """
        params: dict[str, ParamValue] = {
            "time": r.cost_time("time", time),
            "money": r.decimal("money", money),
            "is_rate": r.true_flag("from_rate", from_rate),
            "email_user_from": r.optional_email("author", author),
            "comment": r.text("comment", comment),
            "date": r.day("date", date),
        }
        if params["time"] is None and params["money"] is None:
            raise ValueError("add_cost() needs time or money")
        if from_rate and params["money"] is not None:
            raise ValueError("add_cost(): from_rate computes the money; do not pass money too")
        if from_rate and params["time"] is None:
            raise ValueError("add_cost(): from_rate needs the time to multiply the rate by")
        payload = await self.client.send(Call.build("add_costs", self.page, params))
        return structure(payload, Created).id

    async def start_timer(self) -> None:
        """Start the caller's timer on this task (``start_my_timer``, OAuth2 only)."""
        await start_my_timer(self.client, self.page)
