"""Tags and tag groups of tasks and projects."""

from __future__ import annotations

from collections.abc import Callable

from ..._json import JSONValue
from .._records import Project, Tag, TagGroup, TagScope, Task
from .._render import render_tag, render_tag_group
from .._state import Account
from ._args import choice_param, project_arg, required, task_arg
from ._core import ApiError, Ctx, Reply, ok


def _exclusive(acc: Account, tags: list[Tag]) -> list[Tag]:
    """Keep one tag per status group (the last one given)."""
    out: list[Tag] = []
    for tag in tags:
        group = acc.tag_groups[tag.group_id]
        if group.type == "status":
            out = [t for t in out if t.group_id != tag.group_id]
        out.append(tag)
    return out


def _group_filter(ctx: Ctx, scope: TagScope) -> Callable[[TagGroup], bool]:
    wanted = ctx.params.filled("group")
    kind = choice_param(ctx, "type", ("status", "label"))
    access = choice_param(ctx, "access", ("public", "private"))

    def keep(group: TagGroup) -> bool:
        return (
            group.scope == scope
            and (wanted is None or wanted in (group.title, str(group.id)))
            and (not kind or group.type == kind)
            and (not access or group.access == access)
        )

    return keep


def _get_tags(ctx: Ctx, scope: TagScope) -> Reply:
    acc = ctx.account
    keep = _group_filter(ctx, scope)
    return ok([render_tag(acc, t) for t in acc.tags.values() if keep(acc.tag_groups[t.group_id])])


def _add_tags(ctx: Ctx, scope: TagScope) -> Reply:
    acc = ctx.account
    ref = required(ctx, "group", "group (id or title)")
    group = next(
        (g for g in acc.tag_groups.values() if g.scope == scope and ref in (g.title, str(g.id))),
        None,
    )
    if group is None:
        raise ApiError(10, "Field is required", "group (id or title)")
    titles = ctx.params.csv("title")
    if not titles:
        raise ApiError(10, "Field is required", "title")
    data: list[JSONValue] = []
    for title in titles:
        tag = next(
            (t for t in acc.tags.values() if t.group_id == group.id and t.title == title), None
        ) or acc.add_tag(group, title)
        data.append({"title": tag.title, "id": tag.id})
    return ok(data)


def _update_tags(ctx: Ctx, holder: Project | Task, scope: TagScope) -> Reply:
    acc = ctx.account
    plus: list[Tag] = []
    minus: list[Tag] = []
    for key, into in (("plus", plus), ("minus", minus)):
        for ref in ctx.params.csv(key):
            tag = acc.find_tag(ref, scope)
            if tag is None:
                raise ApiError(16, "Tag is invalid", ref)
            into.append(tag)
    current = [acc.tags[i] for i in holder.tag_ids if i in acc.tags and acc.tags[i] not in minus]
    holder.tag_ids = [t.id for t in _exclusive(acc, [*current, *plus])]
    return ok()


def _get_tag_groups(ctx: Ctx, scope: TagScope) -> Reply:
    keep = _group_filter(ctx, scope)
    return ok([render_tag_group(g) for g in ctx.account.tag_groups.values() if keep(g)])


def _add_tag_groups(ctx: Ctx, scope: TagScope) -> Reply:
    acc = ctx.account
    titles = ctx.params.csv("title")
    if not titles:
        raise ApiError(10, "Field is required", "title")
    kind = (ctx.params.filled("type") or "").lower()
    if scope == "task" and kind not in ("status", "label"):
        raise ApiError(10, "Field is required", "type")
    if kind not in ("", "status", "label"):
        raise ApiError(10, "Field is required", "type")
    access = (ctx.params.filled("access") or "").lower()
    if access not in ("public", "private"):
        raise ApiError(10, "Field is required", "access")
    data: list[JSONValue] = []
    for title in titles:
        group = next(
            (g for g in acc.tag_groups.values() if g.scope == scope and g.title == title), None
        ) or acc.add_tag_group(title, scope=scope, type=kind, access=access)
        data.append(render_tag_group(group))
    return ok(data)


def get_task_tags(ctx: Ctx) -> Reply:
    return _get_tags(ctx, "task")


def add_task_tags(ctx: Ctx) -> Reply:
    return _add_tags(ctx, "task")


def update_task_tags(ctx: Ctx) -> Reply:
    return _update_tags(ctx, task_arg(ctx), "task")


def get_task_tag_groups(ctx: Ctx) -> Reply:
    return _get_tag_groups(ctx, "task")


def add_task_tag_groups(ctx: Ctx) -> Reply:
    return _add_tag_groups(ctx, "task")


def get_project_tags(ctx: Ctx) -> Reply:
    return _get_tags(ctx, "project")


def add_project_tags(ctx: Ctx) -> Reply:
    return _add_tags(ctx, "project")


def update_project_tags(ctx: Ctx) -> Reply:
    return _update_tags(ctx, project_arg(ctx), "project")


def get_project_tag_groups(ctx: Ctx) -> Reply:
    return _get_tag_groups(ctx, "project")


def add_project_tag_groups(ctx: Ctx) -> Reply:
    return _add_tag_groups(ctx, "project")
