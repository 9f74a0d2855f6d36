"""Records to JSON: the response shapes of the official examples.

Ids are strings (tag and tag group ids are numbers, as in the examples), priorities are
strings, ``date_added`` is ``YYYY-MM-DD HH:MM``, days are ``YYYY-MM-DD``, amounts of time
``H:MM`` and of money ``"12.34"``. Optional fields are left out when empty, as the
service does; which extras a list shows follows the request's ``extra``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from .._json import JSONObject, JSONValue
from ._records import (
    ANYONE_ID,
    NO_MANAGER_ID,
    NOBODY_ID,
    ROLE_LABELS,
    Comment,
    Contact,
    Cost,
    Event,
    File,
    Member,
    Project,
    Tag,
    TagGroup,
    Task,
    Team,
    Webhook,
)
from ._state import Account

__all__ = [
    "PROJECT_OPTIONS",
    "fmt_datetime",
    "fmt_day",
    "fmt_minutes",
    "fmt_money",
    "number",
    "project_ref",
    "render_comment",
    "render_contact",
    "render_cost",
    "render_event",
    "render_file",
    "render_member",
    "render_project",
    "render_tag",
    "render_tag_group",
    "render_task",
    "render_team",
    "render_webhook",
    "task_brief",
    "user_ref",
]

PROJECT_OPTIONS = (
    "allow_close",
    "allow_give",
    "allow_term",
    "allow_limit",
    "require_term",
    "require_tag",
    "require_limit",
    "require_hidden",
    "deny_comments_edit",
    "deny_task_edit",
    "deny_task_delete",
    "time_require",
    "time_today",
    "timer_only",
)
"""The 14 project option flags, in the order the API lists them."""

LAST_COMMENTS = 5
"""``extra=comments`` shows a task's last five comments, newest first."""

_SENTINELS: dict[int, JSONObject] = {
    NO_MANAGER_ID: {"id": "0", "email": "NOONE", "name": "Manager isn't assigned"},
    NOBODY_ID: {"id": "1", "email": "NOONE", "name": "Executive isn't assigned"},
    ANYONE_ID: {"id": "2", "email": "ANY", "name": "Anyone"},
}


def fmt_datetime(value: dt.datetime) -> str:
    """``YYYY-MM-DD HH:MM`` (formatted by hand: ``strftime`` dominates big lists)."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}"


def fmt_day(value: dt.date) -> str:
    """``YYYY-MM-DD``."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def fmt_minutes(minutes: int) -> str:
    """``H:MM`` (hours are not wrapped at 24: ``"103:39"``)."""
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{rest:02d}"


def fmt_money(amount: float) -> str:
    return f"{amount:.2f}"


def number(value: float) -> int | float:
    """A JSON number: integral values as ``int`` (``352``, not ``352.0``)."""
    return int(value) if float(value).is_integer() else round(value, 2)


def user_ref(account: Account, user_id: int) -> JSONObject:
    """``{id, email, name}``, with the API's NOONE/ANY sentinels."""
    if user_id in _SENTINELS:
        return dict(_SENTINELS[user_id])
    member = account.users.get(user_id)
    if member is None:
        contact = account.contacts.get(user_id)
        if contact is None:
            return {"id": str(user_id), "email": "", "name": ""}
        return {"id": str(contact.id), "email": contact.email, "name": contact.name}
    return {"id": str(member.id), "email": member.email, "name": member.name}


_CONTACT_FIELDS = ("phone", "phone2", "phone3", "phone4", "address", "address2")


def render_member(account: Account, member: Member, *, with_rate: bool = True) -> JSONObject:
    team = account.teams.get(member.team_id)
    out: JSONObject = {
        "id": str(member.id),
        "first_name": member.first_name,
        "last_name": member.last_name,
        "name": member.name,
        "title": member.title,
    }
    if with_rate:
        out["rate"] = number(member.rate)
    out.update(
        avatar=account.link(member.avatar),
        group=team.title if team is not None else "",
        department=member.department,
        role=(
            ROLE_LABELS.get(member.role, member.role)
            if account.role_style == "postman"
            else member.role
        ),
        email=member.email,
    )
    for field in _CONTACT_FIELDS:
        value = getattr(member, field)
        if value:
            out[field] = value
    return out


def render_contact(account: Account, contact: Contact) -> JSONObject:
    out: JSONObject = {
        "id": str(contact.id),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "name": contact.name,
        "title": contact.title,
        "group": account.contact_folder_title(contact),
    }
    if contact.email:
        out["email"] = contact.email
    for field in _CONTACT_FIELDS:
        value = getattr(contact, field)
        if value:
            out[field] = value
    return out


def render_team(team: Team) -> JSONObject:
    return {"id": str(team.id), "title": team.title, "type": "company", "client": int(team.client)}


def project_ref(project: Project) -> JSONObject:
    return {"id": str(project.id), "name": project.name, "page": project.page}


def _tags(account: Account, tag_ids: list[int]) -> JSONObject:
    return {str(i): account.tags[i].title for i in tag_ids if i in account.tags}


def _text(text: str, extras: Collection[str]) -> str:
    if "html" in extras and "text" not in extras:
        return text.replace("\r\n", "<br>").replace("\n", "<br>")
    return text


def render_project(account: Account, project: Project, extras: Collection[str] = ()) -> JSONObject:
    out: JSONObject = {
        "id": str(project.id),
        "name": project.name,
        "page": project.page,
        "status": project.status,
        "company": project.company,
        "user_from": user_ref(account, project.author_id),
        "user_to": user_ref(account, project.manager_id),
    }
    if "text" in extras or "html" in extras:
        out["text"] = _text(project.text, extras)
    out["date_added"] = fmt_datetime(project.date_added)
    if project.date_start is not None:
        out["date_start"] = fmt_day(project.date_start)
    if project.date_end is not None:
        out["date_end"] = fmt_day(project.date_end)
    if project.date_closed is not None:
        out["date_closed"] = fmt_datetime(project.date_closed)
    if "options" in extras:
        out["options"] = {name: int(project.options.get(name, 0)) for name in PROJECT_OPTIONS}
    if project.max_time is not None:
        out["max_time"] = number(project.max_time)
    if project.max_money is not None:
        out["max_money"] = number(project.max_money)
    if project.tag_ids:
        out["tags"] = _tags(account, project.tag_ids)
    if "users" in extras:
        out["users"] = [user_ref(account, i) for i in project.member_ids if i in account.users]
    if "custom_fields" in extras and project.custom_fields:
        out["custom_fields"] = _custom_values(account, project.custom_fields)
    return out


def _custom_values(account: Account, values: dict[int, str]) -> list[JSONValue]:
    """``[{id, type, name, value}]`` for the fields still defined."""
    return [
        {
            "id": str(field_id),
            "type": account.custom_fields[field_id].type,
            "name": account.custom_fields[field_id].name,
            "value": value,
        }
        for field_id, value in values.items()
        if field_id in account.custom_fields
    ]


def task_brief(task: Task) -> JSONObject:
    """``{id, name, page, status, priority}``: how relations and parents show a task."""
    return {
        "id": str(task.id),
        "name": task.name,
        "page": task.page,
        "status": task.status,
        "priority": str(task.priority),
    }


def _parent_chain(account: Account, task: Task) -> JSONObject | None:
    if task.parent_id is None:
        return None
    parent = account.tasks[task.parent_id]
    out = task_brief(parent)
    grand = _parent_chain(account, parent)
    if grand is not None:
        out["parent"] = grand
    return out


def render_file_ref(file: File) -> JSONObject:
    return {"id": str(file.id), "page": file.page, "name": file.name, "size": str(file.size)}


def render_file(account: Account, file: File) -> JSONObject:
    out = render_file_ref(file)
    out["date_added"] = fmt_datetime(file.date_added)
    out["user_from"] = user_ref(account, file.author_id)
    return out


def render_comment(account: Account, comment: Comment, *, with_files: bool = False) -> JSONObject:
    task = account.tasks[comment.task_id]
    out: JSONObject = {
        "id": str(comment.id),
        "page": f"{task.page}#com{comment.id}",
        "text": comment.text,
        "date_added": fmt_datetime(comment.date_added),
        "user_from": user_ref(account, comment.author_id),
    }
    if with_files and comment.file_ids:
        out["files"] = [
            render_file_ref(account.files[i]) for i in comment.file_ids if i in account.files
        ]
    return out


def _relations(account: Account, task: Task) -> JSONObject:
    out: JSONObject = {}
    for key, links in (("from", task.relations_from), ("to", task.relations_to)):
        items: list[JSONValue] = [
            {"type": kind, "task": task_brief(account.tasks[other])}
            for kind, other in links
            if other in account.tasks
        ]
        if items:
            out[key] = items
    return out


def render_task(
    account: Account,
    task: Task,
    *,
    extras: Collection[str] = (),
    listing: bool = False,
    children: str | None = None,
    active_only: bool = False,
    with_parent: bool = True,
) -> JSONObject:
    """One task.

    ``listing`` adds ``has_comments`` (the list and get actions show it); ``children`` is
    ``"full"`` (``get_tasks``: subtasks rendered like their parent) or ``"brief"``
    (``get_task``: id, name, page, status, priority), shown with ``extra=subtasks``.
    """
    out: JSONObject = {
        "id": str(task.id),
        "name": task.name,
        "page": task.page,
        "status": task.status,
        "priority": str(task.priority),
        "user_from": user_ref(account, task.author_id),
        "user_to": user_ref(account, task.assignee_id),
        "project": project_ref(account.projects[task.project_id]),
    }
    if with_parent:
        parent = _parent_chain(account, task)
        if parent is not None:
            out["parent"] = parent
    if "text" in extras or "html" in extras:
        out["text"] = _text(task.text, extras)
    out["date_added"] = fmt_datetime(task.date_added)
    if task.date_start is not None:
        out["date_start"] = fmt_day(task.date_start)
    if task.date_end is not None:
        out["date_end"] = fmt_day(task.date_end)
    if task.time_start:
        out["time_start"] = task.time_start
    if task.time_end:
        out["time_end"] = task.time_end
    if task.date_closed is not None and task.is_done:
        out["date_closed"] = fmt_datetime(task.date_closed)
    if task.max_time is not None:
        out["max_time"] = number(task.max_time)
    if task.max_money is not None:
        out["max_money"] = number(task.max_money)
    if task.tag_ids:
        out["tags"] = _tags(account, task.tag_ids)
    if "subscribers" in extras:
        out["subscribers"] = [
            user_ref(account, i) for i in task.subscriber_ids if i in account.users
        ]
    if "files" in extras:
        files = account.files_of_task(task)
        if files:
            out["files"] = [render_file_ref(f) for f in files]
    if listing:
        out["has_comments"] = int(account.has_comments(task.id))
    comments = account.comments_of(task) if "comments" in extras else []
    if comments:
        out["comments"] = [render_comment(account, c) for c in reversed(comments[-LAST_COMMENTS:])]
    if "custom_fields" in extras and task.custom_fields:
        out["custom_fields"] = _custom_values(account, task.custom_fields)
    if "relations" in extras:
        relations = _relations(account, task)
        if relations:
            out["relations"] = relations
    if children is not None and "subtasks" in extras:
        kids = [c for c in account.children_of(task) if not (active_only and c.is_done)]
        if kids:
            if children == "brief":
                out["child"] = [_brief_tree(account, c, active_only) for c in kids]
            else:
                out["child"] = [
                    render_task(
                        account,
                        c,
                        extras=extras,
                        listing=listing,
                        children=children,
                        active_only=active_only,
                        with_parent=False,
                    )
                    for c in kids
                ]
    return out


def _brief_tree(account: Account, task: Task, active_only: bool) -> JSONObject:
    out = task_brief(task)
    kids = [c for c in account.children_of(task) if not (active_only and c.is_done)]
    if kids:
        out["child"] = [_brief_tree(account, c, active_only) for c in kids]
    return out


def render_cost(account: Account, cost: Cost) -> JSONObject:
    return {
        "id": str(cost.id),
        "comment": cost.comment,
        "time": fmt_minutes(cost.minutes),
        "money": fmt_money(cost.money),
        "date": fmt_day(cost.date),
        "is_timer": cost.is_timer,
        "user_from": user_ref(account, cost.author_id),
        "task": render_task(account, account.tasks[cost.task_id]),
    }


def render_tag_group(group: TagGroup) -> JSONObject:
    return {"title": group.title, "id": group.id, "type": group.type, "access": group.access}


def render_tag(account: Account, tag: Tag) -> JSONObject:
    group = account.tag_groups[tag.group_id]
    return {
        "title": tag.title,
        "id": tag.id,
        "group": {
            "title": group.title,
            "id": group.id,
            "id_group": str(group.id),
            "type": group.type,
            "access": group.access,
        },
    }


def render_webhook(hook: Webhook) -> JSONObject:
    out: JSONObject = {
        "id": str(hook.id),
        "url": hook.url,
        "events": ",".join(hook.events),
        "status": hook.status,
    }
    if hook.project_ids:
        out["projects"] = ",".join(str(i) for i in hook.project_ids)
    return out


def render_event(account: Account, event: Event) -> JSONObject:
    out: JSONObject = {
        "action": event.action,
        "object": {"type": event.object_type, "id": str(event.object_id), "page": event.page},
        "date_added": fmt_datetime(event.date_added),
        "user_from": user_ref(account, event.user_id),
    }
    if event.new is not None:
        out["new"] = event.new
    if event.old is not None:
        out["old"] = event.old
    return out
