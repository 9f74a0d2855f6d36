"""The 63 actions of the Worksection API, acting on an ``Account``.

Each handler takes a ``Ctx`` (the account, the request's parameters, the acting member)
and returns the JSON envelope, or raises ``ApiError`` with the service's code, message
and details. A handler validates everything before it changes anything, so an error never
leaves a half-done change behind.

Error codes follow the base document and the official examples; where the sources say
nothing, the choice is documented here:

* a missing ``id_project`` is 7 "Project is required", a missing ``id_task`` is 8 "Task is
  required" (``message_details`` names the parameter); other missing fields are 10;
* an id that is not a number is the same as an unknown id (4, 5, "File not found", ...);
* an invalid value (a date not in ``DD.MM.YYYY``, a flag other than ``1``/``0``, a value
  outside an enumeration, priority outside 0..10, a bad filter) is 10 "Field is
  required" with the field name, as the service answers a bad ``filter``; an unknown
  parameter is ignored;
* a ``page`` link of the wrong kind is 3 "Page is invalid" (a task link to a project
  action) or 8 "Task is required" (a project link to a task action), see ``page_of``;
* more than ``MAX_RECORDS`` tasks in one answer is ``TOO_MANY_TASKS_CODE`` (17) "Too many
  tasks (10000 max)" (the docs quote the message, not the code);
* an unknown cost row is 10 "Costs not found";
* nesting below a sub-subtask is 6 "Subtask is invalid".
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from typing import Final, Literal, get_args

import attrs

from .._json import JSONObject, JSONValue
from ._filters import FilterError, Predicate, compile_filter
from ._params import Params
from ._records import (
    ANYONE_ID,
    NOBODY_ID,
    Comment,
    Cost,
    File,
    Member,
    Project,
    Tag,
    TagGroup,
    TagScope,
    Task,
    Timer,
)
from ._render import (
    PROJECT_OPTIONS,
    fmt_datetime,
    fmt_day,
    fmt_minutes,
    fmt_money,
    render_comment,
    render_contact,
    render_cost,
    render_event,
    render_file,
    render_member,
    render_project,
    render_tag,
    render_tag_group,
    render_task,
    render_team,
    render_webhook,
    task_brief,
    user_ref,
)
from ._state import (
    CONTACT_PRESETS,
    MAX_DEPTH,
    Account,
    clip_text,
    is_email,
    parse_day,
    parse_request_day,
)

__all__ = [
    "ACTIONS",
    "ADMIN_ONLY",
    "DEFAULT_DIALECT",
    "DIALECTS",
    "MAX_RECORDS",
    "OAUTH_ONLY",
    "TOO_MANY_TASKS_CODE",
    "ApiError",
    "Ctx",
    "Dialect",
    "FileReply",
    "Reply",
    "check_dialect",
]

MAX_RECORDS: Final = 10_000
"""Most tasks one answer may hold."""
TOO_MANY_TASKS_CODE: Final = 17
"""The fake's ``status_code`` for "Too many tasks (10000 max)" (the real code is unknown)."""

OAUTH_ONLY: Final = frozenset(
    {"me", "get_my_timer", "start_my_timer", "stop_my_timer", "delete_my_timer"}
)
"""Actions that act as the token's user: only on ``/api/oauth2``."""
ADMIN_ONLY: Final = frozenset({"get_timers", "stop_timer"})
"""Actions only the admin API key may call."""

Dialect = Literal["postman", "ru-docs"]
"""Where the official sources disagree on a shape, whose shape the fake answers with:
``"postman"`` (the official examples) answers ``me`` and ``get_my_timer`` with an
object in ``data``; ``"ru-docs"`` (the Russian documentation, and what the official
PHP client reads) with a one-element list."""
DIALECTS: Final[tuple[Dialect, ...]] = get_args(Dialect)
DEFAULT_DIALECT: Final[Dialect] = "postman"


def check_dialect(dialect: str) -> Dialect:
    """``dialect`` if it is one of ``DIALECTS``, else ``ValueError``."""
    for known in DIALECTS:
        if dialect == known:
            return known
    raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}; got {dialect!r}")


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


class ApiError(Exception):
    """An error envelope: ``{"status": "error", "status_code", "message", ...}``."""

    def __init__(self, code: int, message: str, details: JSONValue = None) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
        self.details = details

    def envelope(self) -> JSONObject:
        out: JSONObject = {"status": "error", "status_code": self.code, "message": self.message}
        if self.details is not None:
            out["message_details"] = self.details
        return out


@attrs.frozen
class FileReply:
    """``download``'s answer: the file itself."""

    file: File


Reply = JSONObject | FileReply


@attrs.define
class Ctx:
    """What a handler works with."""

    account: Account
    params: Params
    user: Member
    """The acting member: the owner for the admin key, the token's user for OAuth."""
    oauth: bool = False
    page_project: Project | None = None
    page_task: Task | None = None
    page_file_id: int | None = None
    webhook_check: Callable[[str], bool] = lambda url: True
    dialect: Dialect = DEFAULT_DIALECT

    def one(self, item: JSONObject) -> JSONValue:
        """An answer's single object, shaped for the dialect (``[item]`` for ru-docs)."""
        return [item] if self.dialect == "ru-docs" else item

    @property
    def now(self) -> dt.datetime:
        return self.account.wall_now()


Handler = Callable[[Ctx], Reply]
ACTIONS: dict[str, Handler] = {}
"""Action name -> handler (the 63 actions, plus the alias ``add_project_groups``)."""


def action(*names: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        for name in names:
            ACTIONS[name] = func
        return func

    return register


# ── parameter helpers ───────────────────────────────────────────────────────────

_ID = re.compile(r"\s*\d{1,18}\s*")
_PAGE = re.compile(r"/?project/(\d{1,18})/(?:(\d{1,18})/(?:(\d{1,18})/)?)?")
_FILE_PAGE = re.compile(r"/?download/(\d{1,18})/?")
_UNSET: Final = object()


def ok(data: JSONValue = None, **top: JSONValue) -> JSONObject:
    out: JSONObject = {"status": "ok"}
    if data is not None:
        out["data"] = data
    out.update(top)
    return out


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


def active_only(ctx: Ctx) -> bool:
    """``filter=active`` (the only value of the task lists' ``filter``)."""
    return choice_param(ctx, "filter", ("active",)) == "active"


PROJECT_PAGE: Final = frozenset(
    {
        "get_project",
        "update_project",
        "close_project",
        "activate_project",
        "add_project_members",
        "delete_project_members",
        "get_tasks",
        "post_task",
        "get_events",
        "update_project_tags",
    }
)
"""Actions addressed by a project link ``/project/P/`` (page "P" in the reference)."""
TASK_PAGE: Final = frozenset(
    {
        "get_task",
        "update_task",
        "complete_task",
        "reopen_task",
        "subscribe",
        "unsubscribe",
        "get_comments",
        "post_comment",
        "update_task_tags",
        "add_costs",
        "update_costs",
        "delete_costs",
        "start_my_timer",
    }
)
"""Actions addressed by a task or subtask link (page "T" or "T/S" in the reference)."""
ANY_PAGE: Final = frozenset({"get_costs", "get_costs_total", "get_files", "search_tasks"})
"""Actions that take a project, task or subtask link."""
FILE_PAGE: Final = frozenset({"download"})
"""``download``: the page-era file link ``/download/ID/``."""
_PAGED: Final = PROJECT_PAGE | TASK_PAGE | ANY_PAGE | FILE_PAGE


def page_of(
    account: Account, action: str, page: str
) -> tuple[Project | None, Task | None, int | None]:
    """An action's ``page``: its project, task and file; ``ApiError`` for a bad link.

    A link of the wrong kind is 3 "Page is invalid" (a task link to a project action,
    a file link anywhere but ``download``), or 8 "Task is required" (a project link to
    a task action). An action that takes no page ignores the parameter.
    """
    if action not in _PAGED:
        return None, None, None
    project, task, file_id = resolve_page(account, page)
    if (file_id is not None) != (action in FILE_PAGE):
        raise ApiError(3, "Page is invalid")
    if action in PROJECT_PAGE and task is not None:
        raise ApiError(3, "Page is invalid")
    if action in TASK_PAGE and task is None:
        raise ApiError(8, "Task is required")
    return project, task, file_id


def resolve_page(account: Account, page: str) -> tuple[Project | None, Task | None, int | None]:
    """A ``page`` parameter's project, task and file; ``ApiError`` 3/4/5/6 when invalid.

    ``/project/P/T/`` names a top-level task T of P (a subtask in a two-part link is 5
    "Task is invalid"); ``/project/P/T/S/`` a subtask or sub-subtask S below T.
    """
    text = page.strip().split("#", 1)[0].split("?", 1)[0]
    text = re.sub(r"^https?://[^/]+", "", text)
    if not text.endswith("/"):
        text += "/"
    file_match = _FILE_PAGE.fullmatch(text)
    if file_match is not None:
        return None, None, int(file_match.group(1))
    match = _PAGE.fullmatch(text)
    if match is None:
        raise ApiError(3, "Page is invalid")
    project = account.projects.get(int(match.group(1)))
    if project is None:
        raise ApiError(4, "Project is invalid")
    if match.group(2) is None:
        return project, None, None
    task = account.tasks.get(int(match.group(2)))
    if task is None or task.project_id != project.id or task.parent_id is not None:
        raise ApiError(5, "Task is invalid")
    if match.group(3) is None:
        return project, task, None
    sub = account.tasks.get(int(match.group(3)))
    # Subtasks and sub-subtasks alike are linked below their top-level task.
    if sub is None or sub.id == task.id or sub.project_id != project.id or sub.top_id != task.id:
        raise ApiError(6, "Subtask is invalid")
    return project, sub, None


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


# ── members, teams, contacts ────────────────────────────────────────────────────


@action("me")
def me(ctx: Ctx) -> Reply:
    return ok(ctx.one(render_member(ctx.account, ctx.user, with_rate=False)))


@action("get_users")
def get_users(ctx: Ctx) -> Reply:
    acc = ctx.account
    return ok([render_member(acc, m) for m in sorted(acc.users.values(), key=lambda m: m.id)])


_ROLES = ("user", "guest", "reader")


@action("add_user")
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


@action("get_user_groups")
def get_user_groups(ctx: Ctx) -> Reply:
    return ok([render_team(t) for t in ctx.account.teams.values()])


@action("add_user_group")
def add_user_group(ctx: Ctx) -> Reply:
    title = required(ctx, "title")
    client = flag_param(ctx, "client") or False
    team = ctx.account.team_named(title) or ctx.account.add_team(title, client=client)
    return ok(render_team(team))


@action("get_contacts")
def get_contacts(ctx: Ctx) -> Reply:
    acc = ctx.account
    return ok([render_contact(acc, c) for c in acc.contacts.values()])


@action("add_contact")
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


@action("get_contact_groups")
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


@action("add_contact_group")
def add_contact_group(ctx: Ctx) -> Reply:
    title = required(ctx, "title")
    acc = ctx.account
    folder = acc.contact_folder_named(title) or acc.add_contact_folder(title)
    return ok({"id": str(folder.id), "title": folder.title, "type": "folder"})


def _subscriber(ctx: Ctx) -> tuple[Task, Member]:
    task = task_arg(ctx)
    required(ctx, "email_user")
    member = member_by_email(ctx, "email_user")
    assert member is not None
    return task, member


@action("subscribe")
def subscribe(ctx: Ctx) -> Reply:
    task, member = _subscriber(ctx)
    if member.id not in task.subscriber_ids:
        task.subscriber_ids.append(member.id)
    return ok()


@action("unsubscribe")
def unsubscribe(ctx: Ctx) -> Reply:
    task, member = _subscriber(ctx)
    if member.id in task.subscriber_ids:
        task.subscriber_ids.remove(member.id)
    return ok()


# ── schedules ───────────────────────────────────────────────────────────────────

_DAY_KINDS = ("vacation", "sick-leave", "workday")


def _schedule_member(ctx: Ctx, ref: str) -> Member | None:
    ref = ref.strip()
    user_id = as_id(ref)
    if user_id is not None:
        return ctx.account.users.get(user_id)
    return ctx.account.user_by_email(ref)


@action("get_users_schedule")
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


@action("update_users_schedule")
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


# ── projects ────────────────────────────────────────────────────────────────────

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


@action("get_projects")
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


@action("get_project")
def get_project(ctx: Ctx) -> Reply:
    return ok(render_project(ctx.account, project_arg(ctx), extras(ctx)))


def _project_text(ctx: Ctx) -> str:
    return clip_text(ctx.params.text("text") or "")


@action("post_project")
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


@action("update_project")
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


@action("close_project")
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


@action("activate_project")
def activate_project(ctx: Ctx) -> Reply:
    project = project_arg(ctx)
    if project.status == "active":
        raise ApiError(12, "Project is already active")
    project.status = "active"
    ctx.account.record_event(
        "reopen", "project", project.id, project.page, ctx.user.id, project_id=project.id
    )
    return ok()


@action("add_project_members")
def add_project_members(ctx: Ctx) -> Reply:
    project = project_arg(ctx)
    required(ctx, "members")
    for member in members_param(ctx, "members", strict=True):
        if member.id not in project.member_ids:
            project.member_ids.append(member.id)
    return ok()


@action("delete_project_members")
def delete_project_members(ctx: Ctx) -> Reply:
    project = project_arg(ctx)
    required(ctx, "members")
    for member in members_param(ctx, "members", strict=True):
        if member.id in project.member_ids:
            project.member_ids.remove(member.id)
    return ok()


@action("get_project_groups")
def get_project_groups(ctx: Ctx) -> Reply:
    acc = ctx.account
    data: list[JSONValue] = [
        {"id": str(f.id), "title": f.title, "type": "folder"} for f in acc.project_folders.values()
    ]
    data.extend(render_team(t) for t in acc.teams.values())
    return ok(data)


@action("add_project_group", "add_project_groups")
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


@action("get_project_custom_fields")
def get_project_custom_fields(ctx: Ctx) -> Reply:
    return _custom_fields(ctx, "project")


@action("get_task_custom_fields")
def get_task_custom_fields(ctx: Ctx) -> Reply:
    return _custom_fields(ctx, "task")


_PERIOD = re.compile(r"(\d{1,3})([mhd])")
_PERIOD_LIMITS = {"m": (360, 60), "h": (72, 3600), "d": (30, 86400)}


@action("get_events")
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


# ── tasks ───────────────────────────────────────────────────────────────────────


def _count(acc: Account, tasks: Iterable[Task], *, subtasks: bool, active: bool) -> int:
    total = 0
    for task in tasks:
        total += 1
        if subtasks:
            kids = [c for c in acc.children_of(task) if not (active and c.is_done)]
            total += _count(acc, kids, subtasks=True, active=active)
    return total


def _task_list(ctx: Ctx, tasks: list[Task]) -> Reply:
    ext = extras(ctx)
    active = active_only(ctx)
    acc = ctx.account
    rows = [t for t in tasks if not (active and t.is_done)]
    count = _count(acc, rows, subtasks="subtasks" in ext, active=active)
    if count > MAX_RECORDS:
        raise ApiError(TOO_MANY_TASKS_CODE, "Too many tasks (10000 max)", str(count))
    return ok(
        [
            render_task(acc, t, extras=ext, listing=True, children="full", active_only=active)
            for t in rows
        ]
    )


@action("get_all_tasks")
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


@action("get_tasks")
def get_tasks(ctx: Ctx) -> Reply:
    project = project_arg(ctx)
    return _task_list(ctx, ctx.account.tasks_of(project))


@action("get_task")
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


def _exclusive(acc: Account, tags: list[Tag]) -> list[Tag]:
    """Keep one tag per status group (the last one given)."""
    out: list[Tag] = []
    for tag in tags:
        group = acc.tag_groups[tag.group_id]
        if group.type == "status":
            out = [t for t in out if t.group_id != tag.group_id]
        out.append(tag)
    return out


def _checklist(text: str, items: list[str]) -> str:
    lines = [text] if text else []
    lines.extend(f"• {item}" for item in items)
    return "\r\n".join(lines)


def _mentions(ctx: Ctx, text: str) -> str:
    names = [m.name for m in members_param(ctx, "mention", strict=False)]
    return f"{text} {' '.join(names)}".strip() if names else text


@action("post_task")
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


@action("update_task")
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


@action("complete_task")
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


@action("reopen_task")
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


def _compiled(ctx: Ctx, fields: dict[str, str]) -> Predicate | None:
    text = ctx.params.filled("filter")
    if text is None:
        return None
    try:
        return compile_filter(text, fields)
    except FilterError:
        raise ApiError(10, "Field is required", "filter") from None


@action("search_tasks")
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


# ── comments ────────────────────────────────────────────────────────────────────


@action("get_comments")
def get_comments(ctx: Ctx) -> Reply:
    acc = ctx.account
    task = task_arg(ctx)
    with_files = "files" in extras(ctx)
    return ok(
        [render_comment(acc, c, with_files=with_files) for c in reversed(acc.comments_of(task))]
    )


@action("post_comment")
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


# ── files ───────────────────────────────────────────────────────────────────────


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


@action("get_files")
def get_files(ctx: Ctx) -> Reply:
    acc = ctx.account
    task = optional_task(ctx)
    if task is not None:
        files = acc.files_of_task(task, with_comments=True)
    else:
        project = project_arg(ctx)
        files = [f for f in acc.files.values() if f.project_id == project.id and f.task_id is None]
    return ok([render_file(acc, f) for f in sorted(files, key=lambda f: -f.id)])


@action("download")
def download(ctx: Ctx) -> Reply:
    text = ctx.params.filled("id_file")
    file_id = as_id(text) if text is not None else ctx.page_file_id
    if text is None and file_id is None:
        raise ApiError(10, "Field is required", "id_file")
    file = ctx.account.files.get(file_id or 0)
    if file is None:
        raise ApiError(4, "File not found")
    return FileReply(file)


@action("upload_files")
def upload_files(ctx: Ctx) -> Reply:
    if not ctx.params.files:
        raise ApiError(10, "Field is required", "files")
    data: list[JSONValue] = []
    for part in ctx.params.files:
        file = ctx.account.add_file(part.filename or "file", part.content, author=author(ctx))
        data.append({"id": str(file.id), "ext": file.ext, "name": file.name})
    return ok(data)


# ── tags ────────────────────────────────────────────────────────────────────────


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


@action("get_task_tags")
def get_task_tags(ctx: Ctx) -> Reply:
    return _get_tags(ctx, "task")


@action("add_task_tags")
def add_task_tags(ctx: Ctx) -> Reply:
    return _add_tags(ctx, "task")


@action("update_task_tags")
def update_task_tags(ctx: Ctx) -> Reply:
    return _update_tags(ctx, task_arg(ctx), "task")


@action("get_task_tag_groups")
def get_task_tag_groups(ctx: Ctx) -> Reply:
    return _get_tag_groups(ctx, "task")


@action("add_task_tag_groups")
def add_task_tag_groups(ctx: Ctx) -> Reply:
    return _add_tag_groups(ctx, "task")


@action("get_project_tags")
def get_project_tags(ctx: Ctx) -> Reply:
    return _get_tags(ctx, "project")


@action("add_project_tags")
def add_project_tags(ctx: Ctx) -> Reply:
    return _add_tags(ctx, "project")


@action("update_project_tags")
def update_project_tags(ctx: Ctx) -> Reply:
    return _update_tags(ctx, project_arg(ctx), "project")


@action("get_project_tag_groups")
def get_project_tag_groups(ctx: Ctx) -> Reply:
    return _get_tag_groups(ctx, "project")


@action("add_project_tag_groups")
def add_project_tag_groups(ctx: Ctx) -> Reply:
    return _add_tag_groups(ctx, "project")


# ── costs ───────────────────────────────────────────────────────────────────────

_COST_FIELDS = {
    "id": "int",
    "task": "int",
    "project": "int",
    "comment": "str",
    "dateadd": "date",
    "date": "date",
}


def _selected_costs(ctx: Ctx) -> list[Cost]:
    acc = ctx.account
    project = optional_project(ctx)
    task = optional_task(ctx)
    start, end = day_param(ctx, "datestart"), day_param(ctx, "dateend")
    timer = flag_param(ctx, "is_timer")
    predicate = _compiled(ctx, _COST_FIELDS)
    if task is not None:
        task_ids = {t.id for t in acc.walk(task)}
    selected: list[Cost] = []
    for cost in sorted(acc.costs.values(), key=lambda c: c.id):
        owner = acc.tasks[cost.task_id]
        if project is not None and owner.project_id != project.id:
            continue
        if task is not None and cost.task_id not in task_ids:
            continue
        if isinstance(start, dt.date) and cost.date < start:
            continue
        if isinstance(end, dt.date) and cost.date > end:
            continue
        if timer is not None and cost.is_timer != timer:
            continue
        if predicate is not None and not predicate(_cost_row(cost, owner)):
            continue
        selected.append(cost)
    return selected


def _cost_row(cost: Cost, task: Task) -> Callable[[str], int | str | dt.date | None]:
    def row(field: str) -> int | str | dt.date | None:
        if field in ("id", "task"):
            return task.id
        if field == "project":
            return task.project_id
        if field == "comment":
            return cost.comment
        return cost.date

    return row


def _total(costs: Iterable[Cost]) -> JSONObject:
    rows = list(costs)
    return {
        "time": fmt_minutes(sum(c.minutes for c in rows)),
        "money": fmt_money(sum(c.money for c in rows)),
    }


@action("get_costs")
def get_costs(ctx: Ctx) -> Reply:
    costs = _selected_costs(ctx)
    return ok([render_cost(ctx.account, c) for c in costs], total=_total(costs))


@action("get_costs_total")
def get_costs_total(ctx: Ctx) -> Reply:
    acc = ctx.account
    costs = _selected_costs(ctx)
    reply = ok(total=_total(costs))
    ext = extras(ctx)
    if "projects" not in ext:
        return reply
    by_project: dict[int, list[Cost]] = {}
    for cost in costs:
        by_project.setdefault(acc.tasks[cost.task_id].project_id, []).append(cost)
    projects: JSONObject = {}
    for project_id, rows in sorted(by_project.items()):
        project = acc.projects[project_id]
        monthly: dict[str, list[Cost]] = {}
        for cost in rows:
            monthly.setdefault(cost.date.strftime("%Y-%m"), []).append(cost)
        entry: JSONObject = {
            "id": str(project.id),
            "name": project.name,
            "page": project.page,
            **_total(rows),
            "monthly": {month: _total(items) for month, items in sorted(monthly.items())},
        }
        if ("tasks" in ext or "tasks_top_level" in ext) and optional_task(ctx) is None:
            by_task: dict[int, list[Cost]] = {}
            for cost in rows:
                owner = acc.tasks[cost.task_id]
                key = owner.top_id if "tasks_top_level" in ext else owner.id
                by_task.setdefault(key, []).append(cost)
            entry["tasks"] = {
                str(task_id): {**task_brief(acc.tasks[task_id]), **_total(items)}
                for task_id, items in sorted(by_task.items())
            }
        projects[str(project.id)] = entry
    reply["projects"] = projects
    return reply


def _cost_values(ctx: Ctx, *, creating: bool) -> tuple[int | None, float | None]:
    time_text = ctx.params.filled("time")
    money_text = ctx.params.filled("money")
    is_rate = flag_param(ctx, "is_rate") or False
    if creating and time_text is None and money_text is None and not is_rate:
        raise ApiError(10, "Field is required", "time or money")
    minutes = None
    if time_text is not None:
        minutes = parse_minutes(time_text)
        if minutes is None:
            raise ApiError(10, "Field is required", "time")
    money = number_param(ctx, "money")
    return minutes, money if isinstance(money, float) else None


@action("add_costs")
def add_costs(ctx: Ctx) -> Reply:
    acc = ctx.account
    task = task_arg(ctx)
    minutes, money = _cost_values(ctx, creating=True)
    user_from = author(ctx)
    day = day_param(ctx, "date")
    if ctx.params.filled("is_rate") == "1":
        money = (minutes or 0) / 60 * user_from.rate
    cost = acc.add_cost(
        task,
        minutes=minutes or 0,
        money=round(money or 0.0, 2),
        comment=ctx.params.text("comment") or "",
        date=day if isinstance(day, dt.date) else None,
        author=user_from,
    )
    return ok(id=cost.id)


def _cost_arg(ctx: Ctx) -> Cost:
    text = ctx.params.filled("id_costs") or ctx.params.filled("id")
    if text is None:
        raise ApiError(10, "Field is required", "id_costs")
    cost = ctx.account.costs.get(as_id(text) or 0)
    if cost is None:
        raise ApiError(10, "Costs not found", "id_costs")
    return cost


@action("update_costs")
def update_costs(ctx: Ctx) -> Reply:
    cost = _cost_arg(ctx)
    minutes, money = _cost_values(ctx, creating=False)
    day = day_param(ctx, "date")
    comment = ctx.params.text("comment")
    if minutes is not None:
        cost.minutes = minutes
    if ctx.params.filled("is_rate") == "1":
        money = cost.minutes / 60 * ctx.account.users[cost.author_id].rate
    if money is not None:
        cost.money = round(money, 2)
    if isinstance(day, dt.date):
        cost.date = day
    if comment is not None:
        cost.comment = clip_text(comment)
    return ok()


@action("delete_costs")
def delete_costs(ctx: Ctx) -> Reply:
    ctx.account.remove_cost(_cost_arg(ctx))
    return ok()


# ── timers ──────────────────────────────────────────────────────────────────────


def _elapsed(ctx: Ctx, started: float) -> int:
    return max(0, int(ctx.account.wall_time() - started))


def _started_at(started: float) -> str:
    moment = dt.datetime.fromtimestamp(int(started), tz=dt.timezone.utc).replace(tzinfo=None)
    return fmt_datetime(moment)


def _save_timer(ctx: Ctx, timer: Timer, comment: str) -> None:
    acc = ctx.account
    minutes = max(1, round(_elapsed(ctx, timer.started) / 60))
    user = acc.users.get(timer.user_id)
    acc.add_cost(
        timer.task_id,
        minutes=minutes,
        money=round(minutes / 60 * (user.rate if user else 0), 2),
        comment=comment,
        is_timer=True,
        author=timer.user_id if user else None,
    )
    del acc.timers[timer.id]


@action("get_timers")
def get_timers(ctx: Ctx) -> Reply:
    acc = ctx.account
    data: list[JSONValue] = []
    for timer in sorted(acc.timers.values(), key=lambda t: -t.id):
        seconds = _elapsed(ctx, timer.started)
        data.append(
            {
                "id": str(timer.id),
                "time": f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}",
                "date_started": _started_at(timer.started),
                "user_from": user_ref(acc, timer.user_id),
                "task": render_task(acc, acc.tasks[timer.task_id]),
            }
        )
    return ok(data)


@action("stop_timer")
def stop_timer(ctx: Ctx) -> Reply:
    text = required(ctx, "timer")
    timer = ctx.account.timers.get(as_id(text) or 0)
    if timer is None:
        raise ApiError(7, "Timer not found")
    _save_timer(ctx, timer, "")
    return ok()


@action("get_my_timer")
def get_my_timer(ctx: Ctx) -> Reply:
    acc = ctx.account
    timer = acc.timer_of(ctx.user)
    if timer is None:
        return ok([])
    return ok(
        ctx.one(
            {
                "time": _elapsed(ctx, timer.started),
                "date_started": _started_at(timer.started),
                "task": render_task(acc, acc.tasks[timer.task_id]),
            }
        )
    )


@action("start_my_timer")
def start_my_timer(ctx: Ctx) -> Reply:
    task = task_arg(ctx)
    if ctx.account.timer_of(ctx.user) is not None:
        raise ApiError(6, "Timer is already started")
    ctx.account.add_timer(task, ctx.user)
    return ok()


@action("stop_my_timer")
def stop_my_timer(ctx: Ctx) -> Reply:
    timer = ctx.account.timer_of(ctx.user)
    if timer is None:
        raise ApiError(7, "Timer is not started")
    _save_timer(ctx, timer, ctx.params.text("comment") or "")
    return ok()


@action("delete_my_timer")
def delete_my_timer(ctx: Ctx) -> Reply:
    timer = ctx.account.timer_of(ctx.user)
    if timer is None:
        raise ApiError(7, "Timer is not started")
    del ctx.account.timers[timer.id]
    return ok()


# ── webhooks ────────────────────────────────────────────────────────────────────


@action("get_webhooks")
def get_webhooks(ctx: Ctx) -> Reply:
    return ok([render_webhook(h) for h in ctx.account.webhooks.values()])


@action("add_webhook")
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


@action("delete_webhook")
def delete_webhook(ctx: Ctx) -> Reply:
    text = required(ctx, "id")
    hook_id = as_id(text)
    if hook_id is None or hook_id not in ctx.account.webhooks:
        raise ApiError(10, "WebHook not found")
    del ctx.account.webhooks[hook_id]
    return ok()
