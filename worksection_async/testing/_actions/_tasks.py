"""Tasks: listing, searching, creating, changing, closing; their subscribers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Final

from ..._json import JSONObject
from .._records import Member, Tag, Task
from .._render import fmt_day, render_task, user_ref
from .._state import Account
from .._values import MAX_DEPTH, clip_text
from ._args import (
    _UNSET,
    _compiled,
    active_only,
    as_id,
    assignee_param,
    author,
    choice_param,
    day_param,
    done_only,
    extras,
    member_by_email,
    members_param,
    number_param,
    optional_project,
    optional_task,
    priority_param,
    project_arg,
    required,
    task_arg,
)
from ._core import ApiError, Ctx, Reply, ok
from ._costs import _save_timer
from ._files import _attach_files
from ._tags import _exclusive

MAX_RECORDS: Final = 10_000
"""Most tasks one answer may hold."""
TOO_MANY_TASKS_CODE: Final = 17
"""The fake's ``status_code`` for "Too many tasks (10000 max)" (the real code is unknown)."""


def _count(acc: Account, tasks: Iterable[Task], *, subtasks: bool, active: bool) -> int:
    total = 0
    for task in tasks:
        total += 1
        if subtasks:
            kids = [c for c in acc.children_of(task) if not (active and c.is_done)]
            total += _count(acc, kids, subtasks=True, active=active)
    return total


def _list_active_only(ctx: Ctx) -> bool:
    """``filter=active``, or ``status=active``: older documentation's name for it on the
    task lists; any other ``status`` is error 10, as ever."""
    by_status = choice_param(ctx, "status", ("active",)) == "active"
    return active_only(ctx) or by_status


def _task_list(ctx: Ctx, tasks: list[Task]) -> Reply:
    ext = extras(ctx)
    active, done = _list_active_only(ctx), done_only(ctx)
    acc = ctx.account
    rows = [t for t in tasks if not (active and t.is_done) and not (done and not t.is_done)]
    count = _count(acc, rows, subtasks="subtasks" in ext, active=active)
    if count > MAX_RECORDS:
        raise ApiError(TOO_MANY_TASKS_CODE, "Too many tasks (10000 max)", str(count))
    return ok(
        [
            render_task(acc, t, extras=ext, listing=True, children="full", active_only=active)
            for t in rows
        ]
    )


def get_all_tasks(ctx: Ctx) -> Reply:
    acc = ctx.account
    archive = "archive" in extras(ctx)
    tasks = [
        t
        for p in sorted(acc.projects.values(), key=lambda p: p.id)
        if archive or p.status != "archive"
        for t in acc.tasks_of(p)
    ]
    return _task_list(ctx, tasks)


def get_tasks(ctx: Ctx) -> Reply:
    project = project_arg(ctx)
    return _task_list(ctx, ctx.account.tasks_of(project))


def get_task(ctx: Ctx) -> Reply:
    task = task_arg(ctx)
    return ok(
        render_task(
            ctx.account,
            task,
            extras=extras(ctx),
            listing=True,
            children="brief",
            active_only=active_only(ctx),
        )
    )


def _task_tags(ctx: Ctx) -> list[Tag]:
    """``tags`` of ``post_task``/``update_task``: names or ids; unknown ones are ignored."""
    found: list[Tag] = []
    for ref in ctx.params.csv("tags"):
        tag = ctx.account.find_tag(ref, "task")
        if tag is not None and tag not in found:
            found.append(tag)
    return _exclusive(ctx.account, found)


def _checklist(text: str, items: list[str]) -> str:
    lines = [text] if text else []
    lines.extend(f"• {item}" for item in items)
    return "\r\n".join(lines)


def _mentions(ctx: Ctx, text: str) -> str:
    names = [m.name for m in members_param(ctx, "mention", strict=False)]
    return f"{text} {' '.join(names)}".strip() if names else text


def post_task(ctx: Ctx) -> Reply:
    acc = ctx.account
    project = project_arg(ctx)
    title = required(ctx, "title")
    parent: Task | None
    if ctx.params.filled("id_parent") is not None:
        parent = acc.tasks.get(as_id(ctx.params.filled("id_parent")) or 0)
        if parent is None or parent.project_id != project.id:
            raise ApiError(5, "Task is invalid")
    else:
        parent = ctx.page_task
    if parent is not None:
        if parent.is_done:
            raise ApiError(8, "Task is closed")
        if parent.depth >= MAX_DEPTH:
            raise ApiError(6, "Subtask is invalid", "id_parent")
    user_from = author(ctx)
    user_to = assignee_param(ctx, "email_user_to")
    priority = priority_param(ctx)
    start, end = day_param(ctx, "datestart"), day_param(ctx, "dateend")
    max_time, max_money = number_param(ctx, "max_time"), number_param(ctx, "max_money")
    subscribers = members_param(ctx, "subscribe", strict=False)
    hidden = members_param(ctx, "hidden", strict=False)
    tags = _task_tags(ctx)
    text = _mentions(ctx, _checklist(ctx.params.text("text") or "", ctx.params.items("todo")))
    task = acc.add_task(
        project,
        title,
        parent=parent,
        priority=priority if priority is not None else 1,
        author=user_from,
        text=text,
        date_start=start if isinstance(start, dt.date) else None,
        date_end=end if isinstance(end, dt.date) else None,
        max_time=max_time if isinstance(max_time, float) else None,
        max_money=max_money if isinstance(max_money, float) else None,
        tags=[t.id for t in tags],
        subscribers=subscribers,
    )
    task.assignee_id = user_to if user_to is not None else project.default_assignee_id
    task.hidden_ids = [m.id for m in hidden]
    _attach_files(ctx, task=task)
    acc.record_event(
        "post",
        "task",
        task.id,
        task.page,
        user_from.id,
        project_id=project.id,
        new={"title": task.name, "user_to": user_ref(acc, task.assignee_id)},
    )
    return ok(render_task(acc, task, extras=extras(ctx)))


def update_task(ctx: Ctx) -> Reply:
    acc = ctx.account
    task = task_arg(ctx)
    user_to = assignee_param(ctx, "email_user_to")
    priority = priority_param(ctx)
    start, end = day_param(ctx, "datestart"), day_param(ctx, "dateend")
    closed = day_param(ctx, "dateclosed")
    max_time, max_money = number_param(ctx, "max_time"), number_param(ctx, "max_money")
    title = ctx.params.filled("title")
    tags = _task_tags(ctx) if "tags" in ctx.params else None
    new: JSONObject = {}
    old: JSONObject = {}
    if title is not None and clip_text(title) != task.name:
        old["title"], new["title"] = task.name, clip_text(title)
        task.name = clip_text(title)
    if priority is not None and priority != task.priority:
        old["priority"], new["priority"] = str(task.priority), str(priority)
        task.priority = priority
    if user_to is not None and user_to != task.assignee_id:
        old["user_to"] = user_ref(acc, task.assignee_id)
        new["user_to"] = user_ref(acc, user_to)
        task.assignee_id = user_to
    for key, time_key, value in (
        ("date_start", "time_start", start),
        ("date_end", "time_end", end),
    ):
        if value is _UNSET:
            continue
        before = getattr(task, key)
        after = value if isinstance(value, dt.date) else None
        if before != after:
            old[key] = fmt_day(before) if before else ""
            old[time_key] = getattr(task, time_key)
            setattr(task, key, after)
            new[key] = fmt_day(after) if after else ""
            new[time_key] = getattr(task, time_key)
    if isinstance(closed, dt.date) and task.is_done:
        task.date_closed = dt.datetime.combine(closed, (task.date_closed or ctx.now).time())
    for key, amount in (("max_time", max_time), ("max_money", max_money)):
        if amount is not _UNSET:
            setattr(task, key, amount if isinstance(amount, float) else None)
    if tags is not None:
        task.tag_ids = [t.id for t in tags]
    if new:
        acc.record_event(
            "update",
            "task",
            task.id,
            task.page,
            ctx.user.id,
            project_id=task.project_id,
            new=new,
            old=old,
        )
    return ok(render_task(acc, task, extras=extras(ctx)))


def complete_task(ctx: Ctx) -> Reply:
    acc = ctx.account
    task = task_arg(ctx)
    if task.is_done:
        raise ApiError(12, "Task is already closed")
    if any(not c.is_done for c in acc.children_of(task)):
        raise ApiError(13, "Task has children")
    # Like the service, the answer shows the task as it was loaded, before closing.
    before = render_task(acc, task)
    task.status = "done"
    task.date_closed = ctx.now
    timers = [t for t in acc.timers.values() if t.task_id == task.id]
    for timer in timers:
        _save_timer(ctx, timer, "")
    acc.record_event(
        "close", "task", task.id, task.page, author(ctx).id, project_id=task.project_id
    )
    return ok(before)


def reopen_task(ctx: Ctx) -> Reply:
    acc = ctx.account
    task = task_arg(ctx)
    if not task.is_done:
        raise ApiError(12, "Task is already active")
    if task.parent_id is not None and acc.tasks[task.parent_id].is_done:
        raise ApiError(14, "Parent task is done")
    task.status = "active"
    acc.record_event(
        "reopen", "task", task.id, task.page, author(ctx).id, project_id=task.project_id
    )
    return ok()


def _subscriber(ctx: Ctx) -> tuple[Task, Member]:
    task = task_arg(ctx)
    required(ctx, "email_user")
    member = member_by_email(ctx, "email_user")
    assert member is not None
    return task, member


def subscribe(ctx: Ctx) -> Reply:
    task, member = _subscriber(ctx)
    if member.id not in task.subscriber_ids:
        task.subscriber_ids.append(member.id)
    return ok()


def unsubscribe(ctx: Ctx) -> Reply:
    task, member = _subscriber(ctx)
    if member.id in task.subscriber_ids:
        task.subscriber_ids.remove(member.id)
    return ok()


_SEARCH_FIELDS = {
    "id": "int",
    "project": "int",
    "parent": "int",
    "name": "str",
    "dateadd": "date",
    "datestart": "date",
    "dateend": "date",
    "dateclose": "date",
    "date_added": "date",
    "date_start": "date",
    "date_end": "date",
    "date_closed": "date",
}
_SEARCH_REQUIRED = "filter, id_project, id_task, email_user_from, email_user_to"


def _task_row(task: Task) -> Callable[[str], int | str | dt.date | None]:
    def row(field: str) -> int | str | dt.date | None:
        if field == "id":
            return task.id
        if field == "project":
            return task.project_id
        if field == "parent":
            return task.parent_id or 0
        if field == "name":
            return task.name
        if field in ("dateadd", "date_added"):
            return task.date_added.date()
        if field in ("datestart", "date_start"):
            return task.date_start
        if field in ("dateend", "date_end"):
            return task.date_end
        return task.date_closed.date() if task.date_closed and task.is_done else None

    return row


def search_tasks(ctx: Ctx) -> Reply:
    acc = ctx.account
    p = ctx.params
    if not any(
        p.filled(k) for k in ("filter", "id_project", "id_task", "email_user_from", "email_user_to")
    ) and (ctx.page_project is None and ctx.page_task is None):
        raise ApiError(10, "At least one of fields required", _SEARCH_REQUIRED)
    project = optional_project(ctx)
    root = optional_task(ctx)
    user_from = member_by_email(ctx, "email_user_from")
    to_text = p.filled("email_user_to")
    user_to: int | None = None
    if to_text is not None:
        user_to = assignee_param(ctx, "email_user_to")
    predicate = _compiled(ctx, _SEARCH_FIELDS)
    status = choice_param(ctx, "status", ("active", "done")) or ""
    if root is not None:
        pool: Iterable[Task] = acc.walk(root)
    elif project is not None:
        pool = acc.tasks_of(project, subtasks=True)
    else:
        pool = (
            t
            for proj in sorted(acc.projects.values(), key=lambda x: x.id)
            for t in acc.tasks_of(proj, subtasks=True)
        )
    found = [
        t
        for t in pool
        if (status not in ("active", "done") or t.status == status)
        and (user_from is None or t.author_id == user_from.id)
        and (user_to is None or t.assignee_id == user_to)
        and (predicate is None or predicate(_task_row(t)))
    ]
    if len(found) > MAX_RECORDS:
        raise ApiError(TOO_MANY_TASKS_CODE, "Too many tasks (10000 max)", str(len(found)))
    ext = extras(ctx) & {"text", "html", "files"}
    return ok([render_task(acc, t, extras=ext) for t in found])
