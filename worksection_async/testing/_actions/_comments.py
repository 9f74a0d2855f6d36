"""Comments on tasks."""

from __future__ import annotations

from .._render import render_comment
from ._args import author, extras, members_param, task_arg
from ._core import ApiError, Ctx, Reply, ok
from ._files import _attach_files, _has_files
from ._tasks import _checklist, _mentions


def get_comments(ctx: Ctx) -> Reply:
    acc = ctx.account
    task = task_arg(ctx)
    with_files = "files" in extras(ctx)
    return ok(
        [render_comment(acc, c, with_files=with_files) for c in reversed(acc.comments_of(task))]
    )


def post_comment(ctx: Ctx) -> Reply:
    acc = ctx.account
    task = task_arg(ctx)
    todo = ctx.params.items("todo")
    text = ctx.params.text("text") or ""
    if not text.strip() and not todo and not _has_files(ctx):
        raise ApiError(10, "Field is required", "text")
    user_from = author(ctx)
    members_param(ctx, "hidden", strict=False)
    body = _mentions(ctx, _checklist(text, todo))
    comment = acc.add_comment(task, body, author=user_from)
    _attach_files(ctx, comment=comment)
    acc.record_event(
        "post",
        "comment",
        comment.id,
        task.page,
        user_from.id,
        project_id=task.project_id,
        new={"text": comment.text},
    )
    return ok(render_comment(acc, comment))
