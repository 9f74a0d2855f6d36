"""Tasks and subtasks: ``create_task`` and ``client.tasks``.

Creating a subtask is ``post_task`` on the parent's project with ``id_parent``. The
handle on one task, ``TaskHandle`` (``client.task(page)``), is in ``_handles``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncGenerator, Iterable, Sequence
from typing import Literal, get_args, overload

import attrs

from .._bulk import Progress
from .._bulk_tasks import get_many, task_pages
from .._call import Call, JSONParam, ParamValue
from .._events import bulk_of
from .._exceptions import WorksectionError
from .._filters import Filter
from .._json import JSONValue
from .._pages import ProjectPage, SubtaskPage, TaskPage
from ..models import (
    CustomField,
    Task,
    Upload,
    structure_list,
    structure_one,
)
from . import _render as r
from ._export import ExportPlan, export_tasks, task_id
from ._extras import asked, read_tasks
from ._files import AttachItem, attachments
from ._protocol import ClientLike
from ._split import list_tasks

__all__ = ["TasksNamespace", "create_task"]

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
    ) -> list[Task | WorksectionError]: ...

    async def get_many(
        self,
        pages: Iterable[r.TaskLike],
        *,
        return_exceptions: bool = False,
        progress: Progress | None = None,
    ) -> list[Task] | list[Task | WorksectionError]:
        """Fetch many tasks in the fewest requests, in input order.

        The pages of one project are read with one ``get_tasks``; those of a project
        over the API's 10,000 records per answer with ``search_tasks`` by id (subtasks
        by parent), as many per request as an answer holds (the bulk guide has the
        plan). ``return_exceptions=True`` puts a failed
        item's exception in its slot, whatever failed (a missing task, a request that
        got no answer or a broken one, an answer the models cannot read), and the other
        items still arrive; ``progress(done, total)`` reports as units finish.
        """
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
        """Every task of the account (``get_all_tasks``), whatever its size.

        ``active_only`` leaves out closed tasks; ``extra`` adds text, files, comments,
        relations, subtasks (``child``), or ``archive`` (archived projects' tasks too).

        An account over the API's 10,000 records per answer is read project by project,
        then open and closed tasks apart, then in windows of ``dateadd``
        (``worksection_async.resources._split``): every task once, projects in
        ``get_projects`` order, open tasks before closed ones. What cannot be split
        (more than 10,000 tasks added on one day; ``comments``, ``relations`` for the
        parts only ``search_tasks`` can read) is a ``TooManyRecordsError`` listing what
        was tried.
        """
        params: dict[str, ParamValue] = {
            "filter": "active" if r.true_flag("active_only", active_only) else None,
            "extra": r.flags("extra", extra, _ALL_TASKS_EXTRA),
        }
        return await list_tasks(self.client.send, self.client.map, None, params)
