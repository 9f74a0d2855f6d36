"""Files: listing, downloading, uploading, and attaching the ones a request carries."""

from __future__ import annotations

import json

from ..._json import JSONValue
from .._records import Comment, Project, Task
from .._render import render_file
from ._args import as_id, author, optional_task, project_arg
from ._core import ApiError, Ctx, FileReply, Reply, ok


def _descriptors(ctx: Ctx) -> list[JSONValue] | None:
    """The ``files`` upload descriptors: a JSON array in a JSON body, or its JSON text
    in a query string or form (how the query-string dialects send structured values)."""
    raw = ctx.params.raw("files")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    return raw if isinstance(raw, list) else None


def _has_files(ctx: Ctx) -> bool:
    return bool(ctx.params.files) or _descriptors(ctx) is not None


def _attach_files(
    ctx: Ctx,
    *,
    project: Project | None = None,
    task: Task | None = None,
    comment: Comment | None = None,
) -> None:
    """Attach the request's ``attach[n]`` parts and ``files`` upload descriptors."""
    acc = ctx.account
    for part in ctx.params.files:
        acc.add_file(
            part.filename or "file",
            part.content,
            project=project,
            task=task,
            comment=comment,
            author=author(ctx),
        )
    descriptors = _descriptors(ctx)
    if descriptors is None:
        return
    for item in descriptors:
        ref = item.get("id") if isinstance(item, dict) else item
        file_id = as_id(str(ref)) if isinstance(ref, (str, int)) else None
        file = acc.files.get(file_id or 0)
        if file is None or file.project_id is not None:
            continue
        if comment is not None:
            file.task_id = comment.task_id
            file.comment_id = comment.id
            comment.file_ids.append(file.id)
            file.project_id = acc.tasks[comment.task_id].project_id
        elif task is not None:
            file.task_id = task.id
            file.project_id = task.project_id
        elif project is not None:
            file.project_id = project.id


def get_files(ctx: Ctx) -> Reply:
    acc = ctx.account
    task = optional_task(ctx)
    if task is not None:
        files = acc.files_of_task(task, with_comments=True)
    else:
        project = project_arg(ctx)
        files = [f for f in acc.files.values() if f.project_id == project.id and f.task_id is None]
    return ok([render_file(acc, f) for f in sorted(files, key=lambda f: -f.id)])


def download(ctx: Ctx) -> Reply:
    text = ctx.params.filled("id_file")
    file_id = as_id(text) if text is not None else ctx.page_file_id
    if text is None and file_id is None:
        raise ApiError(10, "Field is required", "id_file")
    file = ctx.account.files.get(file_id or 0)
    if file is None:
        raise ApiError(4, "File not found")
    return FileReply(file)


def upload_files(ctx: Ctx) -> Reply:
    if not ctx.params.files:
        raise ApiError(10, "Field is required", "files")
    data: list[JSONValue] = []
    for part in ctx.params.files:
        file = ctx.account.add_file(part.filename or "file", part.content, author=author(ctx))
        data.append({"id": str(file.id), "ext": file.ext, "name": file.name})
    return ok(data)
