"""Webhook payloads: ``parse_webhook``, ``WebhookPayloadError``, and the event key.

Worksection POSTs a JSON array of events shaped like ``get_events`` items
(as the API documentation says). Events carry no id, so both ways of learning what
changed (the webhook receiver and ``client.events.watch()``) recognise a repeat by
its :func:`event_key`: the action, the object, the date, the author and the changed
fields with their values. :class:`SeenEvents` counts keys as a multiset, so two real
events that share a key (a task closed, reopened and closed again within one minute)
are both new, while a batch that repeats what was already seen yields nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Final, NoReturn, TypeAlias

from ._exceptions import WorksectionError
from .models import Event, StructureError, structure

__all__ = [
    "MAX_ERROR_CHARS",
    "EventKey",
    "SeenEvents",
    "WebhookPayloadError",
    "event_key",
    "key_text",
    "parse_items",
    "parse_webhook",
]

MAX_ERROR_CHARS: Final = 300
"""Longest error message :func:`parse_webhook` builds (the rest is cut with an ellipsis)."""

EventKey: TypeAlias = tuple[str, str, int, dt.datetime, int | None, str]
"""``(action, object type, object id, date_added, author id, changed fields as JSON)``."""


class WebhookPayloadError(WorksectionError, ValueError):
    """A webhook body is not a JSON array of events (or one event object).

    The message says what is wrong and where (``event 3: ...``); the cause, when
    there is one (a ``StructureError``), is chained.
    """


def _error(message: str) -> WebhookPayloadError:
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 1] + "…"
    return WebhookPayloadError(message)


def _refuse_constant(name: str) -> NoReturn:
    raise WebhookPayloadError(f"the body is not JSON: {name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise WebhookPayloadError(
            f"the body is not JSON this parser accepts: the number {text[:40]} is too large "
            "for a float (infinite)"
        )
    return value


_ESCAPED_SURROGATE: Final = re.compile(rb"\\u[dD][89a-fA-F]")
_RAW_SURROGATE: Final = re.compile(rb"\xed[\xa0-\xbf]")  # json.loads passes these through


def _may_hold_surrogates(body: str | bytes | bytearray) -> bool:
    if isinstance(body, str):
        return not body.isascii() or "\\u" in body
    raw = bytes(body)
    return bool(_ESCAPED_SURROGATE.search(raw) or _RAW_SURROGATE.search(raw)) or (
        raw[:1] == b"\x00" or raw[1:2] == b"\x00"  # UTF-16/32: check the decoded text
    )


def _refuse_surrogates(value: object) -> None:
    """Refuse text that cannot be encoded as UTF-8 (a lone surrogate such as ``\\ud800``):
    the rule the client applies to what it sends, and what a store could not keep."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise WebhookPayloadError(
            "the body is not JSON this parser accepts: it holds a lone surrogate "
            f"{exc.object[exc.start]!r}, which is not text"
        ) from None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def parse_webhook(body: bytes | bytearray | memoryview | str) -> list[Event]:
    """The events of a webhook delivery, in the order sent.

    ``body`` is the request body: a JSON array of events shaped like ``get_events``
    items (a single event object is accepted too; ``[]`` gives no events). Unknown
    fields are kept in each model's ``extra``. Anything else raises
    :class:`WebhookPayloadError` naming the problem; no other exception escapes.

    >>> [e.action for e in parse_webhook(b'[{"action": "close", "object": {"type": "task",'
    ...  b' "id": "2", "page": "/project/1/2/"}, "date_added": "2024-05-01 10:00"}]')]
    ['close']
    """
    return [event for _, event in parse_items(body)]


def parse_items(
    body: bytes | bytearray | memoryview | str,
) -> list[tuple[dict[str, object], Event]]:
    """:func:`parse_webhook`, with each event's JSON object beside its model."""
    if isinstance(body, memoryview):
        body = body.tobytes()
    if not (body.strip() if isinstance(body, str) else bytes(body).strip()):
        raise _error("the body is empty: expected a JSON array of events")
    try:
        data = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite)
    except WebhookPayloadError:
        raise
    except RecursionError:
        raise _error("the body is not JSON this parser accepts: it nests too deeply") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise _error(f"the body is not JSON: {exc}") from None
    if _may_hold_surrogates(body):
        _refuse_surrogates(data)
    if isinstance(data, dict):
        items: list[object] = [data]
    elif isinstance(data, list):
        items = data
    else:
        raise _error(
            f"expected a JSON array of events (or one event object), got {_json_type(data)}"
        )
    events: list[tuple[dict[str, object], Event]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _error(f"event {index}: expected an object, got {_json_type(item)}")
        try:
            events.append((item, structure(item, Event)))
        except StructureError as exc:
            raise _error(f"event {index}: {exc}") from exc
    return events


def _changes(event: Event) -> str:
    if event.new is None and event.old is None:
        return ""
    # sort_keys: the same change arrives with its fields in any order; default=str for
    # values json would refuse (never produced by json.loads, but models can be built).
    return json.dumps([event.new, event.old], sort_keys=True, separators=(",", ":"), default=str)


def event_key(event: Event) -> EventKey:
    """What identifies an event that carries no id.

    Two events with the same key are indistinguishable to a client: same action on the
    same object, in the same minute (the API's precision), by the same person, with the
    same changed fields and values.
    """
    return (
        event.action,
        event.object.type,
        event.object.id,
        event.date_added,
        event.user_from.id if event.user_from is not None else None,
        _changes(event),
    )


def key_text(key: EventKey) -> str:
    """``key`` as one line of JSON (what stores keep)."""
    action, kind, ident, date, author, changes = key
    return json.dumps(
        [action, kind, ident, date.isoformat(), author, changes],
        ensure_ascii=False,
        separators=(",", ":"),
    )


class SeenEvents:
    """A multiset of event keys: which events of a batch have not been seen yet.

    A batch that holds a key ``n`` times while ``m < n`` were seen brings ``n - m``
    new events (the last ones of the batch); after it, the key counts ``max(m, n)``.
    So a repeated delivery or an overlapping poll yields nothing twice, and real events
    that share a key are not merged when they arrive together. Forgetting keys (by
    time or by date) is the owner's policy: see :meth:`forget`.
    """

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[EventKey, int] = {}

    def __len__(self) -> int:
        return len(self._counts)

    def __contains__(self, key: object) -> bool:
        return key in self._counts

    def fresh(self, events: Sequence[Event]) -> list[tuple[EventKey, Event]]:
        """The events of ``events`` not seen before, in batch order; marks them seen."""
        keys = [event_key(event) for event in events]
        in_batch = Counter(keys)
        new_count: dict[EventKey, int] = {}
        for key, count in in_batch.items():
            seen = self._counts.get(key, 0)
            if count > seen:
                new_count[key] = count - seen
                self._counts[key] = count
        if not new_count:
            return []
        # The last ``new_count[key]`` occurrences of each key are the new ones.
        remaining = dict(in_batch)
        fresh: list[tuple[EventKey, Event]] = []
        for key, event in zip(keys, events, strict=True):
            remaining[key] -= 1
            if remaining[key] < new_count.get(key, 0):
                fresh.append((key, event))
        return fresh

    def unmark(self, key: EventKey) -> None:
        """Undo one :meth:`fresh` sighting of ``key`` (the event was not taken after all)."""
        count = self._counts.get(key, 0) - 1
        if count > 0:
            self._counts[key] = count
        else:
            self._counts.pop(key, None)

    def forget(self, keys: Iterable[EventKey]) -> None:
        """Drop ``keys``: a later sighting is new again."""
        for key in keys:
            self._counts.pop(key, None)

    def __iter__(self) -> Iterator[EventKey]:
        """The keys seen (a copy: forgetting while iterating is fine)."""
        return iter(list(self._counts))
