"""Members and their teams, contacts and their folders, and members' schedules."""

from __future__ import annotations

import datetime as dt
import json

from ..._json import JSONObject, JSONValue
from .._records import Member
from .._render import fmt_day, render_contact, render_member, render_team
from .._values import CONTACT_PRESETS, is_email, parse_day
from ._args import as_id, day_param, flag_param, required
from ._core import ApiError, Ctx, Reply, ok


def me(ctx: Ctx) -> Reply:
    return ok(ctx.one(render_member(ctx.account, ctx.user, with_rate=False)))


def get_users(ctx: Ctx) -> Reply:
    acc = ctx.account
    return ok([render_member(acc, m) for m in sorted(acc.users.values(), key=lambda m: m.id)])


_ROLES = ("user", "guest", "reader")


def add_user(ctx: Ctx) -> Reply:
    email = required(ctx, "email")
    if not is_email(email):
        raise ApiError(11, "Invalid email", email)
    role = (ctx.params.filled("role") or "user").lower()
    if role not in _ROLES:
        raise ApiError(10, "Field is required", "role")
    acc = ctx.account
    member = acc.user_by_email(email)
    if member is None:
        team = ctx.params.filled("group")
        member = acc.add_user(
            email,
            ctx.params.filled("first_name") or "",
            ctx.params.filled("last_name") or "",
            team=team if team is not None else acc.default_team(),
            title=ctx.params.filled("title") or "",
            department=ctx.params.filled("department") or "",
            role=role,
        )
    return ok(render_member(acc, member))


def get_user_groups(ctx: Ctx) -> Reply:
    return ok([render_team(t) for t in ctx.account.teams.values()])


def add_user_group(ctx: Ctx) -> Reply:
    title = required(ctx, "title")
    client = flag_param(ctx, "client") or False
    team = ctx.account.team_named(title) or ctx.account.add_team(title, client=client)
    return ok(render_team(team))


def get_contacts(ctx: Ctx) -> Reply:
    acc = ctx.account
    return ok([render_contact(acc, c) for c in acc.contacts.values()])


def add_contact(ctx: Ctx) -> Reply:
    email = required(ctx, "email")
    name = required(ctx, "name")
    if not is_email(email):
        raise ApiError(11, "Invalid email", email)
    p = ctx.params
    contact = ctx.account.add_contact(
        name,
        email,
        folder=p.filled("group"),
        title=p.filled("title") or "",
        phone=(p.filled("phone") or "").lstrip("+"),
        phone2=p.filled("phone2") or "",
        phone3=p.filled("phone3") or "",
        phone4=p.filled("phone4") or "",
        address=p.filled("address") or "",
        address2=p.filled("address2") or "",
    )
    return ok(render_contact(ctx.account, contact))


def get_contact_groups(ctx: Ctx) -> Reply:
    data: list[JSONValue] = [
        {"id": preset_id, "title": title, "type": "preset"}
        for preset_id, title in CONTACT_PRESETS.items()
    ]
    data.extend(
        {"id": str(f.id), "title": f.title, "type": "folder"}
        for f in ctx.account.contact_folders.values()
    )
    return ok(data)


def add_contact_group(ctx: Ctx) -> Reply:
    title = required(ctx, "title")
    acc = ctx.account
    folder = acc.contact_folder_named(title) or acc.add_contact_folder(title)
    return ok({"id": str(folder.id), "title": folder.title, "type": "folder"})


_DAY_KINDS = ("vacation", "sick-leave", "workday")


def _schedule_member(ctx: Ctx, ref: str) -> Member | None:
    ref = ref.strip()
    user_id = as_id(ref)
    if user_id is not None:
        return ctx.account.users.get(user_id)
    return ctx.account.user_by_email(ref)


def get_users_schedule(ctx: Ctx) -> Reply:
    acc = ctx.account
    refs = ctx.params.csv("users")
    members: list[Member] = []
    for ref in refs:
        member = _schedule_member(ctx, ref)
        if member is None:
            raise ApiError(11, "Invalid email", ref)
        members.append(member)
    if not refs:
        members = sorted(acc.users.values(), key=lambda m: m.id)
    start, end = day_param(ctx, "datestart"), day_param(ctx, "dateend")
    data: JSONObject = {}
    for member in members:
        days = acc.schedules.get(member.id, {})
        schedule: JSONObject = {
            fmt_day(day): kind
            for day, kind in sorted(days.items())
            if not (isinstance(start, dt.date) and day < start)
            and not (isinstance(end, dt.date) and day > end)
        }
        team = acc.teams.get(member.team_id)
        data[str(member.id)] = {
            "id": str(member.id),
            "email": member.email,
            "name": member.name,
            "group": team.title if team else "",
            "department": member.department,
            "schedule": schedule,
        }
    return ok(data)


def update_users_schedule(ctx: Ctx) -> Reply:
    raw = ctx.params.raw("data")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            raise ApiError(10, "Field is required", "data") from None
    if not isinstance(raw, dict) or not raw:
        raise ApiError(10, "Field is required", "data")
    changes: list[tuple[int, dt.date, str]] = []
    for ref, days in raw.items():
        member = _schedule_member(ctx, ref)
        if member is None:
            raise ApiError(11, "Invalid email", ref)
        if not isinstance(days, dict):
            raise ApiError(10, "Field is required", "data")
        for day_text, kind in days.items():
            day = parse_day(day_text)
            if day is None or kind not in (*_DAY_KINDS, "unset"):
                raise ApiError(10, "Field is required", "data")
            changes.append((member.id, day, str(kind)))
    added = updated = 0
    for member_id, day, kind in changes:
        days_of = ctx.account.schedules.setdefault(member_id, {})
        if kind == "unset":
            if days_of.pop(day, None) is not None:
                updated += 1
            continue
        if day in days_of:
            updated += 1
        else:
            added += 1
        days_of[day] = kind
    return ok([], message=f"Days added: {added}, days updated: {updated}")
