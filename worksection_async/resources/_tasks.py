"""Tasks and subtasks: ``TaskHandle`` (``client.task(page)``) and ``client.tasks``.

A subtask is a task addressed by its own id: one handle class serves ``TaskPage`` and
``SubtaskPage``. Creating a subtask is ``post_task`` on the parent's project with
``id_parent``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncGenerator, Iterable, Sequence
from typing import TYPE_CHECKING, Literal, get_args, overload

import attrs

from .._bulk import Progress
from .._call import Call, JSONParam, ParamValue
from .._events import bulk_of
from .._filters import Filter
from .._json import JSONValue
from .._pages import ProjectPage, SubtaskPage, TaskPage
from ..models import (
    Comment,
    CostReport,
    Created,
    CustomField,
    File,
    Task,
    Upload,
    astructure_list,
    structure,
    structure_list,
    structure_one,
)
from . import _render as r
from ._costs import get_costs
from ._export import ExportPlan, export_tasks, task_id
from ._extras import asked, fill_comments, fill_task, read_tasks
from ._files import AttachItem, attachments, get_files
from ._protocol import ClientLike
from ._tags import update_tags
from ._timers import start_my_timer

if TYPE_CHECKING:
    from ._projects import ProjectHandle

__all__ = ["TaskHandle", "TasksNamespace", "create_task"]

_TASK_EXTRA = get_args(r.TaskExtra)
_ALL_TASKS_EXTRA = get_args(r.AllTasksExtra)
_SEARCH_EXTRA = get_args(r.SearchExtra)
_STATUSES = get_args(r.TaskStatus)


def _uploads(uploads: Sequence[Upload] | None) -> JSONParam | None:
    """``upload_files`` descriptors, sent on as the JSON parameter ``files``."""
    if uploads is None:
        return None
    if isinstance(uploads, Upload):
        raise TypeError("uploads must be a list of Upload; wrap a single one in a list")
    descriptors: list[JSONValue] = []
    for upload in uploads:
        if not isinstance(upload, Upload):
            raise TypeError(
                f"uploads: expected Upload descriptors from client.files.upload(), "
                f"got {type(upload).__name__}"
            )
        if upload.error is not None:
            raise ValueError(f"uploads: {upload.name!r} failed to upload: {upload.error}")
        descriptors.append(upload.to_json())
    return JSONParam(descriptors) if descriptors else None


async def create_task(
    client: ClientLike,
    project: ProjectPage,
    title: str,
    *,
    parent: int | None = None,
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
    """``post_task`` in ``project`` (a subtask of task id ``parent`` if given)."""
    params: dict[str, ParamValue] = {
        "title": r.title("title", title),
        "id_parent": str(parent) if parent is not None else None,
        "email_user_from": r.optional_email("author", author),
        "email_user_to": r.assignee("assignee", assignee),
        "priority": r.priority(priority),
        "text": r.text("text", text),
        "todo": r.checklist("todo", todo),
        "datestart": r.day("start", start),
        "dateend": r.day("end", end),
        "subscribe": r.emails("subscribers", subscribers),
        "hidden": r.emails("hidden", hidden),
        "mention": r.emails("mention", mention),
        "max_time": r.decimal("max_time", max_time),
        "max_money": r.decimal("max_money", max_money),
        "tags": r.names("tags", tags),
        "files": _uploads(uploads),
    }
    async with attachments("attach", attach, "attach[{n}]") as parts:
        payload = await client.send(Call.build("post_task", project, params, parts))
    return structure_one(payload, Task)


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
        from ._projects import ProjectHandle

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


@attrs.frozen
class TasksNamespace:
    """Account-wide task actions: ``client.tasks``."""

    client: ClientLike = attrs.field(repr=False)

    async def search(
        self,
        *,
        filter: Filter | str | None = None,
        project: r.ProjectLike | None = None,
        task: r.TaskLike | None = None,
        author: str | None = None,
        assignee: r.Assignee | None = None,
        status: r.TaskStatus | None = None,
        extra: r.SearchExtra | Iterable[r.SearchExtra] | None = None,
    ) -> list[Task]:
        """Find tasks and subtasks (``search_tasks``).

        At least one criterion: ``filter`` (a :data:`~worksection_async.TaskFilter`
        expression or its text), ``project``, ``task`` (it and its subtasks),
        ``author`` or ``assignee`` (an email, ``"ANY"`` or ``"NOONE"``). ``status``
        narrows to ``"active"`` or ``"done"``.
        """
        if all(value is None for value in (filter, project, task, author, assignee)):
            raise ValueError(
                "search() needs at least one of filter, project, task, author, assignee"
            )
        page = r.scope(project, task)
        params: dict[str, ParamValue] = {
            "email_user_from": r.optional_email("author", author),
            "email_user_to": r.assignee("assignee", assignee),
            "filter": r.filter_text("filter", filter),
            "status": r.choice("status", status, _STATUSES),
            "extra": r.flags("extra", extra, _SEARCH_EXTRA),
        }
        payload = await self.client.send(Call.build("search_tasks", page, params))
        return await read_tasks(payload, asked(params["extra"]))

    async def custom_fields(self) -> list[CustomField]:
        """The account's task custom field definitions (``get_task_custom_fields``)."""
        payload = await self.client.send(Call.build("get_task_custom_fields"))
        return structure_list(payload, CustomField)

    @overload
    async def get_many(
        self,
        pages: Iterable[r.TaskLike],
        *,
        return_exceptions: Literal[False] = False,
        progress: Progress | None = None,
    ) -> list[Task]: ...

    @overload
    async def get_many(
        self,
        pages: Iterable[r.TaskLike],
        *,
        return_exceptions: Literal[True],
        progress: Progress | None = None,
    ) -> list[Task | Exception]: ...

    async def get_many(
        self,
        pages: Iterable[r.TaskLike],
        *,
        return_exceptions: bool = False,
        progress: Progress | None = None,
    ) -> list[Task] | list[Task | Exception]:
        """Fetch many tasks in the fewest requests, in input order.

        The pages of one project are read with one ``get_tasks``; see
        ``worksection_async._bulk_tasks``. ``return_exceptions=True`` puts a failed
        item's exception in its slot, whatever failed (a missing task, a request that
        got no answer or a broken one, an answer the models cannot read), and the other
        items still arrive; ``progress(done, total)`` reports as units finish.
        """
        from .._bulk_tasks import get_many, task_pages

        wanted = await task_pages(pages, functools.partial(r.task_page, "pages"))
        client = self.client
        with bulk_of(client, "get_many", len(wanted)):
            if return_exceptions:
                return await get_many(client, wanted, return_exceptions=True, progress=progress)
            return await get_many(client, wanted, progress=progress)

    def export(
        self,
        projects: Iterable[r.ProjectLike] | None = None,
        *,
        active_only: bool = False,
        comments: bool = False,
        files: bool = False,
        progress: Progress | None = None,
        skip: Iterable[int | TaskPage | SubtaskPage] = (),
    ) -> AsyncGenerator[Task, None]:
        """Every task and subtask, with their complete comments when asked, in the
        fewest requests: ``async for task in client.tasks.export(comments=True)``.

        ``projects``: only these projects (ids, pages or links; ``None``: the whole
        account but archived projects). ``active_only`` leaves out closed tasks (and
        the subtasks of closed tasks). Each task carries its description (``text``);
        ``comments``: all its comments, newest first; ``files``: its description's
        files (and, with ``comments``, each comment's files).

        **Requests**: one ``get_all_tasks`` (or one ``get_tasks`` per project named),
        plus one ``get_comments`` per task whose comments the listing may have cut
        (it inlines the last 5; with ``files`` too, per task with comments), and
        nothing else. ``progress(done, planned)`` counts them; ``planned`` is final
        once the listings are answered. See ``worksection_async.resources._export``.

        Tasks come in listing order, each followed by its subtasks depth first, once
        each and with ``child`` left out (``None``: a subtask is an item of its own,
        linked by ``parent``). ``skip``: ids (or pages) of tasks not to give again,
        such as those an interrupted export already wrote; no ``get_comments`` is
        sent for them, and the order of the rest is the same as without ``skip``.

        Bad arguments raise ``TypeError``/``ValueError`` here, before any request.
        """
        if projects is None:
            pages = None
        else:
            if isinstance(projects, (str, bytes, ProjectPage)) or not isinstance(
                projects, Iterable
            ):
                raise TypeError(
                    f"projects must be a list of projects (ids, pages or links), got "
                    f"{type(projects).__name__}; wrap a single project in a list"
                )
            unique = dict.fromkeys(r.project_page("projects", p) for p in projects)
            if not unique:
                raise ValueError("projects is empty: pass None to export every project")
            pages = tuple(unique)
        plan = ExportPlan(
            projects=pages,
            active_only=r.true_flag("active_only", active_only) is not None,
            comments=r.true_flag("comments", comments) is not None,
            files=r.true_flag("files", files) is not None,
            skip=frozenset(task_id(item) for item in skip),
        )
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be a callable(done, planned), got {progress!r}")
        return export_tasks(self.client, plan, progress)

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(
        self,
        *,
        active_only: bool = False,
        extra: r.AllTasksExtra | Iterable[r.AllTasksExtra] | None = None,
    ) -> list[Task]:
        """Every task of the account (``get_all_tasks``), at most 10,000.

        ``active_only`` leaves out closed tasks; ``extra`` adds text, files, comments,
        relations, subtasks (``child``), or ``archive`` (archived projects' tasks too).
        """
        params: dict[str, ParamValue] = {
            "filter": "active" if r.true_flag("active_only", active_only) else None,
            "extra": r.flags("extra", extra, _ALL_TASKS_EXTRA),
        }
        payload = await self.client.send(Call.build("get_all_tasks", None, params))
        return await read_tasks(payload, asked(params["extra"]))
