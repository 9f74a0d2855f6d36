"""Webhooks, and the event log ``get_events`` reads."""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from .._render import render_event, render_webhook
from ._args import as_id, optional_project, required
from ._core import ApiError, Ctx, Reply, ok

_PERIOD = re.compile(r"(\d{1,3})([mhd])")
_PERIOD_LIMITS = {"m": (360, 60), "h": (72, 3600), "d": (30, 86400)}


def get_events(ctx: Ctx) -> Reply:
    text = (ctx.params.filled("period") or "").lower()
    match = _PERIOD.fullmatch(text)
    if match is None:
        raise ApiError(10, "Field is required", "period")
    amount, unit = int(match.group(1)), match.group(2)
    limit, seconds = _PERIOD_LIMITS[unit]
    if not 1 <= amount <= limit:
        raise ApiError(10, "Field is required", "period")
    project = optional_project(ctx)
    since = ctx.now - dt.timedelta(seconds=amount * seconds)
    acc = ctx.account
    return ok(
        [
            render_event(acc, e)
            for e in acc.events
            if e.date_added >= since and (project is None or e.project_id == project.id)
        ]
    )


WEBHOOK_EVENTS: Final = (
    "post_task",
    "post_comment",
    "post_project",
    "update_task",
    "update_comment",
    "update_project",
    "delete_task",
    "delete_comment",
    "close_task",
    "reopen_task",
)


def get_webhooks(ctx: Ctx) -> Reply:
    return ok([render_webhook(h) for h in ctx.account.webhooks.values()])


def add_webhook(ctx: Ctx) -> Reply:
    acc = ctx.account
    url = required(ctx, "url")
    if not re.match(r"https?://[^/\s]+", url) or not ctx.webhook_check(url):
        raise ApiError(11, "Url should respond 200 HTTP_CODE and JSON {status:OK}", url)
    events = ctx.params.csv("events")
    if not events or any(e not in WEBHOOK_EVENTS for e in events):
        raise ApiError(10, "Field is required", "events")
    project_ids: list[int] = []
    for ref in ctx.params.csv("projects"):
        project_id = as_id(ref)
        if project_id is None or project_id not in acc.projects:
            raise ApiError(4, "Project is invalid")
        project_ids.append(project_id)
    hook = acc.add_webhook(
        url,
        events,
        projects=project_ids,
        http_user=ctx.params.filled("http_user") or "",
        http_pass=ctx.params.filled("http_pass") or "",
    )
    return ok(id=hook.id)


def delete_webhook(ctx: Ctx) -> Reply:
    text = required(ctx, "id")
    hook_id = as_id(text)
    if hook_id is None or hook_id not in ctx.account.webhooks:
        raise ApiError(10, "WebHook not found")
    del ctx.account.webhooks[hook_id]
    return ok()
