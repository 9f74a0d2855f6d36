"""Projects, their options and folders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

import attrs

from .._json import JSONValue
from .._pages import ProjectPage
from ._base import extra_field, mapping_field
from ._custom_fields import CustomFieldValue
from ._refs import UserRef

__all__ = ["Project", "ProjectGroup", "ProjectOptions"]


@attrs.frozen(kw_only=True)
class ProjectOptions:
    """The 14 project flags (``extra=options``); ``None`` if the API left one out."""

    allow_close: bool | None = None
    allow_give: bool | None = None
    allow_term: bool | None = None
    allow_limit: bool | None = None
    require_term: bool | None = None
    require_tag: bool | None = None
    require_limit: bool | None = None
    require_hidden: bool | None = None
    deny_comments_edit: bool | None = None
    deny_task_edit: bool | None = None
    deny_task_delete: bool | None = None
    time_require: bool | None = None
    time_today: bool | None = None
    timer_only: bool | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class Project:
    """A project (``get_projects``, ``get_project``, ``post_project``, ``update_project``).

    ``status`` is "active", "pending" or "archive"; ``company`` is its folder;
    ``user_to`` its manager (:attr:`UserRef.is_unassigned` when there is none).
    ``max_time`` (hours) and ``max_money`` are :class:`~decimal.Decimal`. ``text``,
    ``options`` and ``users`` come with ``extra=text,options,users``.
    """

    id: int
    name: str
    page: ProjectPage
    status: str
    company: str | None = None
    user_from: UserRef | None = None
    user_to: UserRef | None = None
    text: str | None = None
    date_added: dt.datetime | None = None
    date_start: dt.date | None = None
    date_end: dt.date | None = None
    date_closed: dt.datetime | None = None
    options: ProjectOptions | None = None
    max_time: Decimal | None = None
    max_money: Decimal | None = None
    tags: Mapping[int, str] | None = mapping_field(None)
    users: tuple[UserRef, ...] | None = None
    custom_fields: tuple[CustomFieldValue, ...] | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class ProjectGroup:
    """A project folder (``get_project_groups``): ``type`` "folder" or "company".

    A "company" folder is a team's folder; ``client`` then marks a client team.
    """

    id: int
    title: str
    type: str
    client: bool | None = None
    extra: Mapping[str, JSONValue] = extra_field()
