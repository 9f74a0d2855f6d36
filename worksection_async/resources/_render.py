"""Validation and rendering of resource-method arguments, before any request.

Every resource method turns its typed keyword arguments into the API's wire strings
here: dates -> ``DD.MM.YYYY``, email lists -> comma strings,
``extra`` flags -> ``"text,files"``, numbers -> decimal text, cost times -> ``H:MM``,
project options -> ``options.<flag>`` = ``1``/``0``, ``get_events`` periods -> ``30m``.

Every rejection is a ``ValueError`` (a bad value) or a ``TypeError`` (a wrong type)
whose message names the argument, raised before anything is sent.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Final, Literal, Protocol, TypeAlias, get_args

from .._call import plain_decimal
from .._filters import Filter
from .._pages import Page, ProjectPage, SubtaskPage, TaskPage, parse_page
from ..models import ANYONE_EMAIL, NOONE_EMAIL, ProjectOptions

__all__ = [
    "AllTasksExtra",
    "Assignee",
    "CostBreakdown",
    "CostTime",
    "DayKind",
    "Emails",
    "HasId",
    "HasProjectPage",
    "HasTaskPage",
    "Hours",
    "Money",
    "OptionName",
    "Period",
    "ProjectExtra",
    "ProjectFilter",
    "ProjectLike",
    "ProjectOptionsArg",
    "SearchExtra",
    "TagAccess",
    "TagRefs",
    "TagType",
    "TaskExtra",
    "TaskLike",
    "TaskStatus",
    "UserRole",
    "WebhookEvent",
]

# ------------------------------------------------------------------------- the types

ProjectExtra: TypeAlias = Literal["text", "html", "options", "users"]
"""``extra`` of ``get_projects``, ``get_project``, ``post_project``, ``update_project``."""

TaskExtra: TypeAlias = Literal[
    "text", "html", "files", "comments", "relations", "subtasks", "subscribers", "custom_fields"
]
"""``extra`` of ``get_tasks`` and ``get_task`` (``custom_fields``: ``get_task``, per the SDK)."""

AllTasksExtra: TypeAlias = Literal[
    "text", "html", "files", "comments", "relations", "subtasks", "archive"
]
"""``extra`` of ``get_all_tasks`` (``archive`` includes archived projects)."""

SearchExtra: TypeAlias = Literal["text", "html", "files"]
"""``extra`` of ``search_tasks``."""

ProjectFilter: TypeAlias = Literal["active", "pending", "archive"]
"""``filter`` of ``get_projects`` (``pending``: sleeping projects)."""

TaskStatus: TypeAlias = Literal["active", "done"]
"""``status`` of ``search_tasks``."""

UserRole: TypeAlias = Literal["user", "guest", "reader"]
"""``role`` of ``add_user``."""

TagType: TypeAlias = Literal["status", "label"]
"""A tag group's ``type``: statuses exclude each other, labels combine."""

TagAccess: TypeAlias = Literal["public", "private"]
"""A tag group's ``access``: ``public`` for every team, ``private`` for company teams."""

DayKind: TypeAlias = Literal["vacation", "sick-leave", "workday", "unset"]
"""A schedule day's kind for ``update_users_schedule`` (``unset`` removes the day)."""

WebhookEvent: TypeAlias = Literal[
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
]
"""The events a webhook can subscribe to."""

CostBreakdown: TypeAlias = Literal["projects", "tasks", "top_level_tasks"]
"""``get_costs_total`` breakdown: per project, plus per task or per top-level task."""

OptionName: TypeAlias = Literal[
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
]
"""The 14 project flags, sent as ``options.<name>=1``/``0``."""


class HasProjectPage(Protocol):
    """Anything addressed by a project page: a project handle, a ``Project`` model."""

    @property
    def page(self) -> ProjectPage:
        """The object's page."""


class HasTaskPage(Protocol):
    """Anything addressed by a task page: a task handle, a ``Task`` or ``TaskRef`` model."""

    @property
    def page(self) -> TaskPage | SubtaskPage:
        """The object's page."""


class HasId(Protocol):
    """A model with an ``id`` (``Cost``, ``Timer``, ``File``, ``Webhook``...)."""

    @property
    def id(self) -> int:
        """The object's id."""


ProjectOptionsArg: TypeAlias = ProjectOptions | Mapping[OptionName, bool]
"""Project flags: a :class:`~worksection_async.models.ProjectOptions` (``None`` fields
are not sent) or a mapping of flag names to booleans."""

Emails: TypeAlias = Sequence[str]
"""Email addresses (a single ``str`` is one address); sent as a comma list."""

Assignee: TypeAlias = str
"""An email, ``"ANY"`` (anyone may take the task) or ``"NOONE"`` (not assigned)."""

TagRefs: TypeAlias = Sequence[str | int]
"""Tag names (exact) or ids; sent as a comma list."""

Money: TypeAlias = Decimal | int | float
"""An amount of money (non-negative), sent as decimal text."""

Hours: TypeAlias = Decimal | int | float
"""A number of hours (non-negative), sent as decimal text."""

CostTime: TypeAlias = dt.timedelta | Decimal | int | float
"""Time spent: a ``timedelta`` of whole minutes (sent as ``H:MM``) or decimal hours."""

Period: TypeAlias = str | dt.timedelta
"""A ``get_events`` window: ``"30m"`` (1-360), ``"12h"`` (1-72), ``"7d"`` (1-30), or a
``timedelta`` expressible in one of those."""


ProjectLike: TypeAlias = ProjectPage | HasProjectPage | int | str
"""A project: its page, a handle or model with one, its id, or its link / browser URL."""

TaskLike: TypeAlias = TaskPage | SubtaskPage | HasTaskPage | str
"""A task or subtask: its page, a handle or model with one, or its link / browser URL."""

# --------------------------------------------------------------------- simple values

_EMAIL: Final = re.compile(r"[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"'.]+")
_SENTINELS: Final = {"ANY": ANYONE_EMAIL, "NOONE": NOONE_EMAIL}


def _type_name(value: object) -> str:
    return type(value).__name__


def text(name: str, value: str | None, *, required: bool = False) -> str | None:
    """A free text; ``required``: it must not be blank."""
    if value is None:
        if required:
            raise ValueError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {_type_name(value)}")
    if required and not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def title(name: str, value: str) -> str:
    """A title or name: a non-blank string."""
    result = text(name, value, required=True)
    assert result is not None
    return result


def email(name: str, value: str) -> str:
    """One email address."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be an email address (str), got {_type_name(value)}")
    candidate = value.strip()
    if not _EMAIL.fullmatch(candidate):
        raise ValueError(f"{name}: not an email address: {value!r}")
    return candidate


def optional_email(name: str, value: str | None) -> str | None:
    return None if value is None else email(name, value)


def emails(name: str, values: Emails | None, *, required: bool = False) -> str | None:
    """Email addresses as the API's comma list (a single ``str`` is one address)."""
    if values is None:
        if required:
            raise ValueError(f"{name}: give at least one email address")
        return None
    items = [values] if isinstance(values, str) else values
    if not isinstance(items, Iterable):
        raise TypeError(f"{name} must be a list of email addresses, got {_type_name(values)}")
    rendered = [email(name, item) for item in items]
    if not rendered:
        if required:
            raise ValueError(f"{name}: give at least one email address")
        return None
    return ",".join(dict.fromkeys(rendered))


def assignee(name: str, value: Assignee | None) -> str | None:
    """An email, or the placeholders ``"ANY"`` / ``"NOONE"``."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().upper() in _SENTINELS:
        return _SENTINELS[value.strip().upper()]
    return email(name, value)


def priority(value: int | None) -> str | None:
    """A priority, an ``int`` 0..10."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"priority must be an int from 0 to 10, got {value!r}")
    if not 0 <= value <= 10:
        raise ValueError(f"priority must be from 0 to 10, got {value}")
    return str(value)


def day(name: str, value: dt.date | None) -> str | None:
    """A request date as ``DD.MM.YYYY``."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise TypeError(
            f"{name} takes a datetime.date, not a datetime (the API keeps days only): "
            f"pass {value.date()!r}"
        )
    if not isinstance(value, dt.date):
        raise TypeError(
            f"{name} takes a datetime.date (sent as DD.MM.YYYY), got {value!r}; "
            "parse strings with datetime.date.fromisoformat()"
        )
    return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"


def decimal(name: str, value: Decimal | int | float | None) -> str | None:
    """A non-negative number as plain decimal text (``12.5``, never ``1e-07``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float)):
        raise TypeError(f"{name} must be a Decimal, int or float, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        if value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")
        return plain_decimal(name, value)
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return str(value)


def cost_time(name: str, value: CostTime | None) -> str | None:
    """Time spent: a ``timedelta`` of whole minutes -> ``H:MM``; a number -> hours."""
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        if value < dt.timedelta(0):
            raise ValueError(f"{name} must not be negative, got {value}")
        minutes, rest = divmod(value, dt.timedelta(minutes=1))
        if rest:
            raise ValueError(
                f"{name}: the API counts whole minutes; round {value} to a minute first"
            )
        return f"{minutes // 60}:{minutes % 60:02d}"
    return decimal(name, value)


def choice(name: str, value: str | None, allowed: Collection[str]) -> str | None:
    """One of a fixed set of strings."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {_type_name(value)}")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def flags(name: str, values: str | Iterable[str] | None, allowed: Collection[str]) -> str | None:
    """``extra``-style flags: one name or a collection of names -> ``"a,b"``."""
    if values is None:
        return None
    items = [values] if isinstance(values, str) else values
    if not isinstance(items, Iterable):
        raise TypeError(f"{name} must be a collection of flag names, got {_type_name(values)}")
    chosen = [choice(name, item, allowed) for item in items]
    if not chosen:
        return None
    return ",".join(dict.fromkeys(item for item in chosen if item is not None))


def names(name: str, values: TagRefs | None, *, empty_means_none: bool = True) -> str | None:
    """Tag names or ids (or titles) -> a comma list; a name may not contain a comma."""
    if values is None:
        return None
    items = [values] if isinstance(values, (str, int)) else values
    if not isinstance(items, Iterable):
        raise TypeError(f"{name} must be a list of names or ids, got {_type_name(values)}")
    rendered: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise TypeError(f"{name}: expected a name (str) or an id (int), got {item!r}")
        if isinstance(item, int):
            if item <= 0:
                raise ValueError(f"{name}: ids are positive, got {item}")
            rendered.append(str(item))
            continue
        if not item.strip():
            raise ValueError(f"{name}: a name must not be empty")
        if "," in item:
            raise ValueError(f"{name}: the API's comma list cannot carry a comma in {item!r}")
        rendered.append(item.strip())
    if not rendered and empty_means_none:
        return None
    return ",".join(dict.fromkeys(rendered))


def checklist(name: str, items: Sequence[str] | None) -> tuple[str, ...] | None:
    """Checklist items, sent as repeated ``todo[]``."""
    if items is None:
        return None
    if isinstance(items, str):
        raise TypeError(f"{name} must be a list of items, not a single str (wrap it in a list)")
    rendered: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name}: checklist items must be str, got {item!r}")
        if not item.strip():
            raise ValueError(f"{name}: a checklist item must not be empty")
        rendered.append(item)
    return tuple(rendered) or None


def positive_id(name: str, value: int | HasId) -> str:
    """An object id: a positive ``int`` or a model with one."""
    raw = value if isinstance(value, int) else getattr(value, "id", None)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise TypeError(f"{name} must be an id (int) or an object with one, got {value!r}")
    if raw <= 0:
        raise ValueError(f"{name} must be a positive id, got {raw}")
    return str(raw)


def true_flag(name: str, value: bool) -> str | None:
    """A flag sent as ``1`` when true and left out when false."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return "1" if value else None


def boolean(name: str, value: bool | None) -> str | None:
    """A ``1``/``0`` flag, ``None`` not sent."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return "1" if value else "0"


# ---------------------------------------------------------------------------- filters


def filter_text(name: str, value: Filter | str | None) -> str | None:
    """A ``filter``: a built :class:`Filter` or its text."""
    if value is None:
        return None
    if isinstance(value, Filter):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a Filter or a str, got {_type_name(value)}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


# ---------------------------------------------------------------------------- periods

_PERIOD: Final = re.compile(r"([1-9][0-9]*)([mhd])")
_PERIOD_UNITS: Final = (
    ("d", dt.timedelta(days=1), 30),
    ("h", dt.timedelta(hours=1), 72),
    ("m", dt.timedelta(minutes=1), 360),
)
_PERIOD_LIMITS: Final = {unit: limit for unit, _, limit in _PERIOD_UNITS}


def period(value: Period) -> str:
    """A ``get_events`` period: ``<n>m`` (1-360), ``<n>h`` (1-72), ``<n>d`` (1-30)."""
    if isinstance(value, dt.timedelta):
        if value <= dt.timedelta(0):
            raise ValueError(f"period must be positive, got {value}")
        for unit, size, limit in _PERIOD_UNITS:
            count, rest = divmod(value, size)
            if not rest and count <= limit:
                return f"{count}{unit}"
        raise ValueError(
            f"period {value} is not expressible as 1-360 minutes, 1-72 hours or 1-30 days"
        )
    if not isinstance(value, str):
        raise TypeError(f"period must be a str like '30m' or a timedelta, got {value!r}")
    match = _PERIOD.fullmatch(value.strip())
    if match is None:
        raise ValueError(
            f"period must look like '30m', '12h' or '7d' (minutes, hours, days), got {value!r}"
        )
    count, unit = int(match.group(1)), match.group(2)
    if count > _PERIOD_LIMITS[unit]:
        raise ValueError(
            f"period {value!r} is too long: at most 360m, 72h or 30d, got {count}{unit}"
        )
    return f"{count}{unit}"


# ---------------------------------------------------------------------------- options

_OPTION_NAMES: Final[tuple[str, ...]] = get_args(OptionName)
_EXCLUSIVE_OPTIONS: Final = ("time_require", "time_today", "timer_only")


def options(value: ProjectOptionsArg | None) -> dict[str, str]:
    """Project flags as ``{"options.<name>": "1" | "0"}``."""
    if value is None:
        return {}
    chosen: dict[str, bool] = {}
    if isinstance(value, ProjectOptions):
        for option in _OPTION_NAMES:
            setting = getattr(value, option)
            if setting is not None:
                chosen[option] = bool(setting)
        if value.extra:
            raise ValueError(f"options: unknown project flags {sorted(value.extra)}")
    elif isinstance(value, Mapping):
        for key, setting in value.items():
            if key not in _OPTION_NAMES:
                raise ValueError(
                    f"options: unknown project flag {key!r}; one of {', '.join(_OPTION_NAMES)}"
                )
            if not isinstance(setting, bool):
                raise TypeError(f"options: {key} must be a bool, got {setting!r}")
            chosen[key] = setting
    else:
        raise TypeError(
            f"options must be a ProjectOptions or a mapping of flag names to bools, "
            f"got {_type_name(value)}"
        )
    if sum(chosen.get(option, False) for option in _EXCLUSIVE_OPTIONS) > 1:
        raise ValueError("options: only one of time_require, time_today and timer_only may be true")
    return {f"options.{key}": "1" if setting else "0" for key, setting in chosen.items()}


# ------------------------------------------------------------------------------ pages


def project_page(name: str, value: ProjectLike) -> ProjectPage:
    """A project page from a page, a handle or model, an id, or a link / URL."""
    if isinstance(value, ProjectPage):
        return value
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a project, got {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"{name}: a project id is positive, got {value}")
        return ProjectPage(value)
    if isinstance(value, str):
        page = parse_page(value)
        if not isinstance(page, ProjectPage):
            raise ValueError(f"{name}: {value!r} is a task's page, not a project's")
        return page
    page_attr = getattr(value, "page", None)
    if isinstance(page_attr, ProjectPage):
        return page_attr
    raise TypeError(
        f"{name} must be a ProjectPage, a project id, a project link or an object with a "
        f"project page, got {_type_name(value)}"
    )


def task_page(name: str, value: TaskLike) -> TaskPage | SubtaskPage:
    """A task or subtask page from a page, a handle or model, or a link / URL."""
    if isinstance(value, (TaskPage, SubtaskPage)):
        return value
    if isinstance(value, str):
        page = parse_page(value)
        if not isinstance(page, (TaskPage, SubtaskPage)):
            raise ValueError(f"{name}: {value!r} is a project's page, not a task's")
        return page
    page_attr = getattr(value, "page", None)
    if isinstance(page_attr, (TaskPage, SubtaskPage)):
        return page_attr
    if isinstance(value, int) and not isinstance(value, bool):
        raise TypeError(
            f"{name}: a task is addressed by its page (project and task ids), not by an "
            "id alone: pass a TaskPage or a link, or use client.project(p).task(id)"
        )
    raise TypeError(
        f"{name} must be a TaskPage, a SubtaskPage, a task link or an object with a task "
        f"page, got {_type_name(value)}"
    )


def scope(project: ProjectLike | None, task: TaskLike | None) -> Page | None:
    """The page an optional project/task filter addresses (a task implies its project)."""
    project_value = project_page("project", project) if project is not None else None
    task_value = task_page("task", task) if task is not None else None
    if task_value is not None:
        if project_value is not None and project_value.project_id != task_value.project_id:
            raise ValueError(
                f"task {task_value} is not in project {project_value}: give one or the other"
            )
        return task_value
    return project_value
