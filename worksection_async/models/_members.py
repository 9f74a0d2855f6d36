"""Members, contacts, teams and folders, schedules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

import attrs

from .._json import JSONValue
from ._base import RAW_JSON, extra_field

__all__ = ["Contact", "ContactGroup", "User", "UserGroup", "UserSchedule"]


@attrs.frozen(kw_only=True)
class User:
    """An account member (``get_users``, ``add_user``, ``me``).

    ``role`` is kept as sent ("Owner", "Account admin", "User"... capitalised in the
    examples, lowercase in the docs). ``rate`` is the hourly rate; ``date_added`` (the
    invitation date) only comes with an admin token.
    """

    id: int
    first_name: str
    last_name: str
    name: str
    email: str
    title: str | None = None
    role: str | None = None
    group: str | None = None
    department: str | None = None
    avatar: str | None = None
    rate: Decimal | None = None
    url: str | None = None
    date_added: dt.datetime | None = None
    phone: str | None = None
    phone2: str | None = None
    phone3: str | None = None
    phone4: str | None = None
    address: str | None = None
    address2: str | None = None
    services: JSONValue = attrs.field(default=None, hash=False, metadata=RAW_JSON)
    contacts: JSONValue = attrs.field(default=None, hash=False, metadata=RAW_JSON)
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class Contact:
    """An address-book contact (``get_contacts``, ``add_contact``); ``group`` is its folder."""

    id: int
    first_name: str
    last_name: str
    name: str
    title: str | None = None
    group: str | None = None
    email: str | None = None
    url: str | None = None
    date_added: dt.datetime | None = None
    phone: str | None = None
    phone2: str | None = None
    phone3: str | None = None
    phone4: str | None = None
    address: str | None = None
    address2: str | None = None
    services: JSONValue = attrs.field(default=None, hash=False, metadata=RAW_JSON)
    contacts: JSONValue = attrs.field(default=None, hash=False, metadata=RAW_JSON)
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class UserGroup:
    """A team (``get_user_groups``): ``type`` "company"; ``client`` marks a client team."""

    id: int
    title: str
    type: str
    client: bool | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class ContactGroup:
    """A contact folder (``get_contact_groups``): ``type`` "preset" or "folder"."""

    id: int
    title: str
    type: str
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class UserSchedule:
    """A member's non-working days (``get_users_schedule``).

    ``schedule`` maps each day to its kind: "vacation", "sick-leave" or "workday".
    """

    id: int
    email: str | None = None
    name: str | None = None
    group: str | None = None
    department: str | None = None
    schedule: Mapping[dt.date, str] = attrs.field(hash=False)
    extra: Mapping[str, JSONValue] = extra_field()
