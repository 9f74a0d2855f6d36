"""Limits, references and value parsing that the account and the actions share.

Text is clipped at ``MAX_TEXT_LENGTH``; request dates are ``DD.MM.YYYY`` only
(``parse_request_day``), while the seeding helpers also take ``YYYY-MM-DD`` and
date-times (``parse_day``, ``_to_date``, ``_to_datetime``).
"""

from __future__ import annotations

import datetime as dt
import re

from ._records import Member, Project, Task

__all__ = [
    "CONTACT_PRESETS",
    "DEFAULT_AVATAR",
    "MAX_DEPTH",
    "MAX_TEXT_LENGTH",
    "DateLike",
    "DateTimeLike",
    "MemberRef",
    "ProjectRef",
    "TaskRef",
    "clip_text",
    "is_email",
    "parse_day",
    "parse_request_day",
]

MAX_TEXT_LENGTH = 65_536
"""Longer text fields are silently truncated, as the real service does."""

DEFAULT_AVATAR = "/images/user/0m.gif"
"""A member's avatar unless given: a path on the account (see ``Account.link``)."""

MAX_DEPTH = 2
"""Subtasks and sub-subtasks: two levels below a task."""

CONTACT_PRESETS = {1: "USERS", 2: "DEFAULT", 3: "TEAM_ONLY", 4: "HIDDEN"}
"""The built-in contact folders (numeric ids in ``get_contact_groups``)."""

MemberRef = Member | int | str
"""A member given as a record, an id or an email."""
ProjectRef = Project | int
TaskRef = Task | int
DateLike = dt.date | str | None
DateTimeLike = dt.datetime | dt.date | str | None

_EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")


def clip_text(text: str) -> str:
    """Truncate ``text`` to ``MAX_TEXT_LENGTH`` characters."""
    return text[:MAX_TEXT_LENGTH]


def is_email(text: str) -> bool:
    return _EMAIL.fullmatch(text) is not None


def parse_day(text: str) -> dt.date | None:
    """``DD.MM.YYYY`` (requests) or ``YYYY-MM-DD`` (responses); ``None`` if neither."""
    text = text.strip()
    for fmt in ("%d.%m.%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


_REQUEST_DAY = re.compile(r"\d{2}\.\d{2}\.\d{4}")


def parse_request_day(text: str) -> dt.date | None:
    """A request date in the documented ``DD.MM.YYYY`` and nothing else; ``None`` if not."""
    text = text.strip()
    if _REQUEST_DAY.fullmatch(text) is None:
        return None
    try:
        return dt.datetime.strptime(text, "%d.%m.%Y").date()
    except ValueError:
        return None


def _to_date(value: DateLike, what: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    parsed = parse_day(value)
    if parsed is None:
        raise ValueError(f"{what}: not a date: {value!r} (use DD.MM.YYYY or YYYY-MM-DD)")
    return parsed


def _to_datetime(value: DateTimeLike, what: str) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(9, 0))
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M"):
        try:
            return dt.datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
    day = parse_day(value)
    if day is None:
        raise ValueError(f"{what}: not a date and time: {value!r}")
    return dt.datetime.combine(day, dt.time(9, 0))
