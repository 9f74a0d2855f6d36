"""Projects: listing, creating, changing, closing; their members, folders and custom fields."""

from __future__ import annotations

import datetime as dt

from ..._json import JSONObject, JSONValue
from .._records import Tag, TagScope
from .._render import PROJECT_OPTIONS, fmt_day, render_project, render_team, user_ref
from .._values import clip_text
from ._args import (
    _UNSET,
    assignee_param,
    author,
    choice_param,
    day_param,
    extras,
    flag_param,
    member_by_email,
    members_param,
    number_param,
    project_arg,
    required,
)
from ._core import ApiError, Ctx, Reply, ok
from ._files import _attach_files

_PROJECT_FILTERS = {"active": "active", "pending": "pending", "archive": "archive"}
_TIME_OPTIONS = ("time_require", "time_today", "timer_only")
_OPTIONS_CONFLICT = (
    "Only one parameter (options.time_require or options.time_today or options.timer_only) "
    "can be set as 1."
)


def _options_param(ctx: Ctx) -> dict[str, int]:
    found: dict[str, int] = {}
    for name in PROJECT_OPTIONS:
        flag = flag_param(ctx, f"options.{name}")
        if flag is not None:
            found[name] = int(flag)
    return found


def _check_options(options: dict[str, int]) -> None:
    if sum(options.get(name, 0) for name in _TIME_OPTIONS) > 1:
        raise ApiError(11, _OPTIONS_CONFLICT)


def _project_tags(ctx: Ctx) -> list[Tag]:
    """``tags`` of ``post_project``/``update_project``: unknown names are ignored."""
    found: list[Tag] = []
    for ref in ctx.params.csv("tags"):
        tag = ctx.account.find_tag(ref, "project")
        if tag is not None and tag not in found:
            found.append(tag)
    return found


def get_projects(ctx: Ctx) -> Reply:
    acc = ctx.account
    wanted = choice_param(ctx, "filter", (*_PROJECT_FILTERS, "archived"))
    status = _PROJECT_FILTERS.get("archive" if wanted == "archived" else wanted or "")
    ext = extras(ctx)
    return ok(
        [
            render_project(acc, p, ext)
            for p in sorted(acc.projects.values(), key=lambda p: p.id)
            if status is None or p.status == status
        ]
    )


def get_project(ctx: Ctx) -> Reply:
    return ok(render_project(ctx.account, project_arg(ctx), extras(ctx)))


def _project_text(ctx: Ctx) -> str:
    return clip_text(ctx.params.text("text") or "")


def post_project(ctx: Ctx) -> Reply:
    acc = ctx.account
    title = required(ctx, "title")
    options = _options_param(ctx)
    _check_options(options)
    user_from = author(ctx)
    manager = member_by_email(ctx, "email_manager")
    default_assignee = assignee_param(ctx, "email_user_to")
    members = members_param(ctx, "members", strict=False)
    start, end = day_param(ctx, "datestart"), day_param(ctx, "dateend")
    max_time, max_money = number_param(ctx, "max_time"), number_param(ctx, "max_money")
    tags = _project_tags(ctx)
    company = ctx.params.filled("company")
    project = acc.add_project(
        title,
        company=company,
        author=user_from,
        manager=manager,
        text=_project_text(ctx),
        date_start=start if isinstance(start, dt.date) else None,
        date_end=end if isinstance(end, dt.date) else None,
        options=options,
        max_time=max_time if isinstance(max_time, float) else None,
        max_money=max_money if isinstance(max_money, float) else None,
        tags=[t.id for t in tags],
        members=members,
    )
    if default_assignee is not None:
        project.default_assignee_id = default_assignee
    _attach_files(ctx, project=project)
    acc.record_event(
        "post",
        "project",
        project.id,
        project.page,
        user_from.id,
        project_id=project.id,
        new={"title": project.name, "user_to": user_ref(acc, project.manager_id)},
    )
    return ok(render_project(acc, project, extras(ctx)))


def update_project(ctx: Ctx) -> Reply:
    acc = ctx.account
    project = project_arg(ctx)
    options = {**project.options, **_options_param(ctx)}
    _check_options(options)
    manager = member_by_email(ctx, "email_manager")
    default_assignee = assignee_param(ctx, "email_user_to")
    members = members_param(ctx, "members", strict=False)
    start, end = day_param(ctx, "datestart"), day_param(ctx, "dateend")
    max_time, max_money = number_param(ctx, "max_time"), number_param(ctx, "max_money")
    title = ctx.params.filled("title")
    new: JSONObject = {}
    old: JSONObject = {}
    if title is not None and title != project.name:
        old["title"], new["title"] = project.name, clip_text(title)
        project.name = clip_text(title)
    if manager is not None and manager.id != project.manager_id:
        old["user_to"] = user_ref(acc, project.manager_id)
        project.manager_id = manager.id
        new["user_to"] = user_ref(acc, manager.id)
        if manager.id not in project.member_ids:
            project.member_ids.append(manager.id)
    if default_assignee is not None:
        project.default_assignee_id = default_assignee
    for member in members:
        if member.id not in project.member_ids:
            project.member_ids.append(member.id)
    for key, value in (("date_start", start), ("date_end", end)):
        if value is not _UNSET:
            before = getattr(project, key)
            after = value if isinstance(value, dt.date) else None
            if before != after:
                old[key] = fmt_day(before) if before else ""
                new[key] = fmt_day(after) if after else ""
                setattr(project, key, after)
    for key, amount in (("max_time", max_time), ("max_money", max_money)):
        if amount is not _UNSET:
            setattr(project, key, amount if isinstance(amount, float) else None)
    if "tags" in ctx.params:
        project.tag_ids = [t.id for t in _project_tags(ctx)]
    project.options = options
    if new:
        acc.record_event(
            "update",
            "project",
            project.id,
            project.page,
            ctx.user.id,
            project_id=project.id,
            new=new,
            old=old,
        )
    return ok(render_project(acc, project, extras(ctx)))


def close_project(ctx: Ctx) -> Reply:
    project = project_arg(ctx)
    if project.status == "archive":
        raise ApiError(12, "Project is already closed")
    project.status = "archive"
    project.date_closed = ctx.now
    ctx.account.record_event(
        "close", "project", project.id, project.page, ctx.user.id, project_id=project.id
    )
    return ok()


def activate_project(ctx: Ctx) -> Reply:
    project = project_arg(ctx)
    if project.status == "active":
        raise ApiError(12, "Project is already active")
    project.status = "active"
    ctx.account.record_event(
        "reopen", "project", project.id, project.page, ctx.user.id, project_id=project.id
    )
    return ok()


def add_project_members(ctx: Ctx) -> Reply:
    project = project_arg(ctx)
    required(ctx, "members")
    for member in members_param(ctx, "members", strict=True):
        if member.id not in project.member_ids:
            project.member_ids.append(member.id)
    return ok()


def delete_project_members(ctx: Ctx) -> Reply:
    project = project_arg(ctx)
    required(ctx, "members")
    for member in members_param(ctx, "members", strict=True):
        if member.id in project.member_ids:
            project.member_ids.remove(member.id)
    return ok()


def get_project_groups(ctx: Ctx) -> Reply:
    acc = ctx.account
    data: list[JSONValue] = [
        {"id": str(f.id), "title": f.title, "type": "folder"} for f in acc.project_folders.values()
    ]
    data.extend(render_team(t) for t in acc.teams.values())
    return ok(data)


def add_project_group(ctx: Ctx) -> Reply:
    title = required(ctx, "title")
    acc = ctx.account
    folder = next(
        (f for f in acc.project_folders.values() if f.title.lower() == title.lower()), None
    ) or acc.add_project_folder(title)
    return ok({"id": str(folder.id), "title": folder.title, "type": "folder"})


def _custom_fields(ctx: Ctx, scope: TagScope) -> Reply:
    return ok(
        [
            {
                "id": str(f.id),
                "type": f.type,
                "name": f.name,
                "descr": f.descr,
                "options": list[JSONValue](f.options),
            }
            for f in ctx.account.custom_fields.values()
            if f.scope == scope
        ]
    )


def get_project_custom_fields(ctx: Ctx) -> Reply:
    return _custom_fields(ctx, "project")


def get_task_custom_fields(ctx: Ctx) -> Reply:
    return _custom_fields(ctx, "task")
