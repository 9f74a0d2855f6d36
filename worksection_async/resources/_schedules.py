"""Members' non-working days: ``client.schedules`` (``get_users_schedule``,
``update_users_schedule``)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Final, get_args

import attrs

from .._call import Call, JSONParam, ParamValue
from .._json import JSONValue
from ..models import UserSchedule, structure_list
from . import _render as r
from ._protocol import ClientLike

__all__ = ["ScheduleUpdate", "SchedulesNamespace"]

_KINDS: Final = get_args(r.DayKind)
_COUNTS: Final = re.compile(
    r"added:\s*([0-9]{1,18})(?![0-9]).*?updated:\s*([0-9]{1,18})(?![0-9])",
    re.IGNORECASE | re.DOTALL,
)
"""The counts in "Days added: 2, days updated: 1" (ASCII digits, at most 18 of them)."""
_MESSAGE_SCAN: Final = 200
"""Only the message's start is searched: the real one is short, and a regular
expression over megabytes of a hostile answer would take minutes."""


@attrs.frozen(kw_only=True)
class ScheduleUpdate:
    """What ``update_users_schedule`` did: its ``message`` ("Days added: 2, days
    updated: 1") and the two counts read from it (``None`` if it said otherwise)."""

    message: str
    added: int | None = None
    updated: int | None = None


def _member(value: str | int) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"users: expected an email (str) or a member id (int), got {value!r}")
    if isinstance(value, int):
        return r.positive_id("users", value)
    return r.email("users", value)


@attrs.frozen
class SchedulesNamespace:
    """Vacations, sick leaves and extra working days: ``client.schedules``."""

    client: ClientLike = attrs.field(repr=False)

    async def get(
        self,
        users: Sequence[str | int] | None = None,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> list[UserSchedule]:
        """Members' non-working days between ``start`` and ``end`` (inclusive)
        (``get_users_schedule``); ``users`` are emails or member ids, default all."""
        rendered: str | None = None
        if users is not None:
            items = [users] if isinstance(users, (str, int)) else users
            rendered = ",".join(dict.fromkeys(_member(user) for user in items)) or None
        params: dict[str, ParamValue] = {
            "users": rendered,
            "datestart": r.day("start", start),
            "dateend": r.day("end", end),
        }
        payload = await self.client.send(Call.build("get_users_schedule", None, params))
        return structure_list(payload, UserSchedule)

    async def update(self, days: Mapping[str | int, Mapping[dt.date, r.DayKind]]) -> ScheduleUpdate:
        """Set members' days (``update_users_schedule``): ``{email or id: {date: kind}}``
        with kinds ``"vacation"``, ``"sick-leave"``, ``"workday"`` or ``"unset"``.
        A new value overwrites the old one."""
        if not isinstance(days, Mapping):
            raise TypeError(f"days must be a mapping of members to days, got {days!r}")
        data: dict[str, JSONValue] = {}
        for member, schedule in days.items():
            if not isinstance(schedule, Mapping):
                raise TypeError(f"days[{member!r}] must map dates to kinds, got {schedule!r}")
            entries: dict[str, JSONValue] = {}
            for day, kind in schedule.items():
                rendered_day = r.day(f"days[{member!r}]", day)
                chosen = r.choice(f"days[{member!r}][{day}]", kind, _KINDS)
                if rendered_day is None or chosen is None:
                    raise TypeError(f"days[{member!r}]: expected date: kind pairs, got None")
                entries[rendered_day] = chosen
            if entries:
                data[_member(member)] = entries
        if not data:
            raise ValueError("days: give at least one member's day")
        params: dict[str, ParamValue] = {"data": JSONParam(data)}
        payload = await self.client.send(Call.build("update_users_schedule", None, params))
        message = ""
        if isinstance(payload, dict) and isinstance(payload.get("message"), str):
            message = str(payload["message"])
        found = _COUNTS.search(message[:_MESSAGE_SCAN])
        if found is None:
            return ScheduleUpdate(message=message)
        return ScheduleUpdate(message=message, added=int(found[1]), updated=int(found[2]))
