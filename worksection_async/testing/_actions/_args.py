"""Request parameters to values: ids, flags, dates, members, filters; ``ApiError`` when bad."""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from .._filters import FilterError, Predicate, compile_filter
from .._records import ANYONE_ID, NOBODY_ID, Member, Project, Task
from .._values import is_email, parse_request_day
from ._core import ApiError, Ctx

_ID = re.compile(r"\s*\d{1,18}\s*")


_UNSET: Final = object()


def as_id(text: str | None) -> int | None:
    """A positive id from its text, or ``None`` for anything else."""
    if text is None or not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if value > 0 else None


def required(ctx: Ctx, key: str, details: str | None = None) -> str:
    value = ctx.params.filled(key)
    if value is None:
        raise ApiError(10, "Field is required", details or key)
    return value


def extras(ctx: Ctx) -> frozenset[str]:
    return frozenset(part.lower() for part in ctx.params.csv("extra"))


def choice_param(ctx: Ctx, key: str, allowed: tuple[str, ...]) -> str | None:
    """One of ``allowed`` (any case); ``None`` if absent or blank; 10 for anything else."""
    text = ctx.params.filled(key)
    if text is None:
        return None
    if text.lower() not in allowed:
        raise ApiError(10, "Field is required", key)
    return text.lower()


def flag_param(ctx: Ctx, key: str) -> bool | None:
    """A ``1``/``0`` flag; ``None`` if absent or blank; 10 for anything else (``true``)."""
    value = choice_param(ctx, key, ("1", "0"))
    return None if value is None else value == "1"


TASK_LIST_FILTERS = ("active", "done", "all")
"""The task lists' ``filter``: ``active`` is documented ("completed tasks filtering is
not available"), yet the live service takes ``all`` (every task) and ``done`` (pbv7,
live: no error, though the list may be incomplete); the fake answers ``done`` with
every closed task."""


def active_only(ctx: Ctx) -> bool:
    """``filter=active``; ``done``/``all`` are not errors (``TASK_LIST_FILTERS``)."""
    return choice_param(ctx, "filter", TASK_LIST_FILTERS) == "active"


def done_only(ctx: Ctx) -> bool:
    """``filter=done``: the task lists keep their closed top-level tasks only."""
    return choice_param(ctx, "filter", TASK_LIST_FILTERS) == "done"


def project_arg(ctx: Ctx, key: str = "id_project") -> Project:
    text = ctx.params.filled(key)
    if text is None:
        if ctx.page_project is not None:
            return ctx.page_project
        raise ApiError(7, "Project is required", key)
    project = ctx.account.projects.get(as_id(text) or 0)
    if project is None:
        raise ApiError(4, "Project is invalid")
    return project


def optional_project(ctx: Ctx) -> Project | None:
    if ctx.params.filled("id_project") is None and ctx.page_project is None:
        return None
    return project_arg(ctx)


def task_arg(ctx: Ctx, key: str = "id_task") -> Task:
    text = ctx.params.filled(key)
    if text is None:
        if ctx.page_task is not None:
            return ctx.page_task
        raise ApiError(8, "Task is required", key)
    task = ctx.account.tasks.get(as_id(text) or 0)
    if task is None:
        raise ApiError(5, "Task is invalid")
    return task


def optional_task(ctx: Ctx) -> Task | None:
    if ctx.params.filled("id_task") is None and ctx.page_task is None:
        return None
    return task_arg(ctx)


def day_param(ctx: Ctx, key: str) -> dt.date | object | None:
    """A request date, ``DD.MM.YYYY`` only: ``_UNSET`` if absent, ``None`` if blank.

    ISO dates (``2025-06-30``) and anything else are 10 naming the field.
    """
    if key not in ctx.params:
        return _UNSET
    text = ctx.params.filled(key)
    if text is None:
        return None
    day = parse_request_day(text)
    if day is None:
        raise ApiError(10, "Field is required", key)
    return day


def number_param(ctx: Ctx, key: str) -> float | object | None:
    """A decimal number (``1.5`` or ``1,5``): ``_UNSET`` if absent, ``None`` if blank."""
    if key not in ctx.params:
        return _UNSET
    text = ctx.params.filled(key)
    if text is None:
        return None
    try:
        value = float(text.replace(",", ".").replace(" ", ""))
    except ValueError:
        raise ApiError(10, "Field is required", key) from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise ApiError(10, "Field is required", key)
    return value


def priority_param(ctx: Ctx) -> int | None:
    text = ctx.params.filled("priority")
    if text is None:
        return None
    if not re.fullmatch(r"\d{1,2}", text) or int(text) > 10:
        raise ApiError(10, "Field is required", "priority")
    return int(text)


def member_by_email(ctx: Ctx, key: str) -> Member | None:
    """A single-email parameter naming a member; ``ApiError`` 11 for anything else."""
    text = ctx.params.filled(key)
    if text is None:
        return None
    member = ctx.account.user_by_email(text) if is_email(text) else None
    if member is None:
        raise ApiError(11, "Invalid email", text)
    return member


def assignee_param(ctx: Ctx, key: str) -> int | None:
    """``email_user_to``: a member, ``ANY`` or ``NOONE``/blank; ``None`` if absent."""
    if key not in ctx.params:
        return None
    text = ctx.params.filled(key)
    if text is None or text.upper() == "NOONE":
        return NOBODY_ID
    if text.upper() == "ANY":
        return ANYONE_ID
    member = member_by_email(ctx, key)
    return member.id if member is not None else NOBODY_ID


def members_param(ctx: Ctx, key: str, *, strict: bool) -> list[Member]:
    """A comma list of member emails; unknown ones are error 11 (or skipped)."""
    found: list[Member] = []
    invalid: list[str] = []
    for email in ctx.params.csv(key):
        member = ctx.account.user_by_email(email) if is_email(email) else None
        if member is None:
            invalid.append(email)
        elif member not in found:
            found.append(member)
    if strict and invalid:
        raise ApiError(11, "Invalid email", ",".join(invalid))
    return found


def author(ctx: Ctx) -> Member:
    """Who writes: the token's user, or ``email_user_from`` (default the owner)."""
    if ctx.oauth:
        return ctx.user
    return member_by_email(ctx, "email_user_from") or ctx.user


def parse_minutes(text: str) -> int | None:
    """``H:MM`` or decimal hours (``1.5``, ``1,5``) to minutes."""
    text = text.strip()
    hm = re.fullmatch(r"(\d{1,6}):([0-5]?\d)", text)
    if hm is not None:
        return int(hm.group(1)) * 60 + int(hm.group(2))
    if re.fullmatch(r"\d{1,6}(?:[.,]\d{1,6})?", text):
        return round(float(text.replace(",", ".")) * 60)
    return None


def _compiled(ctx: Ctx, fields: dict[str, str]) -> Predicate | None:
    text = ctx.params.filled("filter")
    if text is None:
        return None
    try:
        return compile_filter(text, fields)
    except FilterError:
        raise ApiError(10, "Field is required", "filter") from None
