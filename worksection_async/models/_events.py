"""Webhooks and events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs

from .._json import JSONValue
from .._pages import Page
from ._base import extra_field, json_object_field
from ._refs import UserRef

__all__ = ["Event", "EventObject", "Webhook"]


@attrs.frozen(kw_only=True)
class Webhook:
    """A webhook (``get_webhooks``): ``status`` "active" or "paused".

    ``events`` and ``projects`` arrive as comma strings ("post_task,post_comment",
    "8522, 8530") and become tuples; ``projects`` is ``None`` for "all projects".
    """

    id: int
    url: str
    events: tuple[str, ...]
    status: str | None = None
    projects: tuple[int, ...] | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class EventObject:
    """What an event is about: ``type`` "project", "task" or "comment", its ``id``, and
    ``page``.

    ``page`` is a page value when it is a project or task link (a comment event
    carries its task's page), else the string as sent (one integrator saw
    ``/task/<id>/``).
    """

    type: str
    id: int
    page: Page | str | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class Event:
    """An event (``get_events``, webhook payloads).

    ``action`` is "post", "update", "close", "reopen" or "delete". ``new`` holds the
    changed fields' new values (the initial fields for "post") and ``old`` their
    previous values ("update" only), both kept as raw JSON.
    """

    action: str
    object: EventObject
    date_added: dt.datetime
    user_from: UserRef | None = None
    new: Mapping[str, JSONValue] | None = json_object_field(None)
    old: Mapping[str, JSONValue] | None = json_object_field(None)
    extra: Mapping[str, JSONValue] = extra_field()
