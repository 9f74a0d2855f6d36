"""``parse_webhook``, ``event_key`` and ``SeenEvents``: payloads in, events or a typed error out."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import worksection_async
from worksection_async import TaskPage, WorksectionError
from worksection_async import webhooks as public
from worksection_async._webhooks import SeenEvents
from worksection_async.models import Event
from worksection_async.webhooks import WebhookPayloadError, event_key, parse_webhook

POSTMAN = Path(__file__).parent / "fixtures" / "postman-examples.json"


def postman_events() -> list[dict[str, Any]]:
    """Every event of every ``get_events`` success example in the Postman collection."""
    found: list[dict[str, Any]] = []
    for request in json.loads(POSTMAN.read_text(encoding="utf-8")):
        if request["name"] != "get_events":
            continue
        for example in request["examples"]:
            body = example["body"]
            if isinstance(body, dict) and body.get("status") == "ok":
                found.extend(body["data"])
    return found


# Shapes from the reference (§7.10, §9, §6.11): a reopen, a comment deletion, custom
# fields in ``new``, and the ``/task/<id>/`` page one integrator saw on comment events.
REFERENCE_EVENTS: list[dict[str, Any]] = [
    {
        "action": "reopen",
        "object": {"type": "task", "id": "331786", "page": "/project/6622/331786/"},
        "date_added": "2024-01-11 16:00",
        "user_from": {"id": "5514", "email": "frank.harper@ws.com", "name": "Frank Harper"},
    },
    {
        "action": "delete",
        "object": {"type": "comment", "id": "19870", "page": "/task/330090/"},
        "date_added": "2024-01-11 16:01",
        "user_from": {"id": "3993", "email": "henry.gardner@ws.com", "name": "Henry Gardner"},
    },
    {
        "action": "update",
        "object": {"type": "task", "id": "331786", "page": "/project/6622/331786/"},
        "date_added": "2024-01-11 16:02",
        "user_from": {"id": "3993", "email": "henry.gardner@ws.com", "name": "Henry Gardner"},
        "new": {"custom_fields": [{"id": "1", "type": "text", "name": "Env", "value": "prod"}]},
        "old": [],
    },
]


def test_public_module_exports() -> None:
    """worksection_async.webhooks lists its public names; the error is also top-level."""
    for name in public.__all__:
        assert hasattr(public, name), name
    assert list(public.__all__) == sorted(public.__all__)
    assert worksection_async.WebhookPayloadError is WebhookPayloadError
    assert issubclass(WebhookPayloadError, WorksectionError)
    assert issubclass(WebhookPayloadError, ValueError)


def test_postman_events_parse_without_losing_a_field() -> None:
    """Every Postman get_events item parses as a webhook payload, fields intact."""
    items = postman_events()
    assert len(items) >= 4
    events = parse_webhook(json.dumps(items).encode())
    assert [e.action for e in events] == [item["action"] for item in items]
    for event, item in zip(events, items, strict=True):
        assert event.object.id == int(item["object"]["id"])
        assert event.date_added == dt.datetime.fromisoformat(item["date_added"])
        assert event.user_from is not None and event.user_from.id == int(item["user_from"]["id"])
        assert (dict(event.new) if event.new is not None else None) == item.get("new")
        assert (dict(event.old) if event.old is not None else None) == item.get("old")
        assert event.extra == {}
    assert events[1].object.page == TaskPage(6622, 330090)  # a comment carries its task's page


def test_reference_shapes_parse() -> None:
    """reopen, delete, custom fields in ``new``, a ``/task/<id>/`` page, PHP's [] for {}."""
    reopen, delete, update = parse_webhook(json.dumps(REFERENCE_EVENTS).encode())
    assert reopen.action == "reopen" and reopen.object.page == TaskPage(6622, 331786)
    assert delete.object.type == "comment" and delete.object.page == "/task/330090/"
    assert update.new == REFERENCE_EVENTS[2]["new"] and update.old == {}


def test_single_object_unknown_fields_and_empty_array() -> None:
    """One event object is accepted; unknown fields land in ``extra``; [] is no events."""
    item = {**postman_events()[0], "account": "acme", "hook_id": 7}
    item["object"] = {**item["object"], "title": "Prototyping"}
    (event,) = parse_webhook(json.dumps(item))
    assert event.extra == {"account": "acme", "hook_id": 7}
    assert event.object.extra == {"title": "Prototyping"}
    assert parse_webhook(b"[]") == []
    assert parse_webhook(bytearray(b" [] ")) == []
    assert parse_webhook(memoryview(b"[]")) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the body is empty"),
        (b"  \n", "the body is empty"),
        (b"{not json", "the body is not JSON"),
        (b"\xff\xfe\xfa", "the body is not JSON"),
        (b"[NaN]", "NaN is not a JSON value"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'"post"', "expected a JSON array of events (or one event object), got a string"),
        (b"42", "got a number"),
        (b"null", "got null"),
        (b"[1]", "event 0: expected an object, got a number"),
        (b'[{"action": "post"}]', "event 0: cannot structure Event"),
        (
            b'[{"action":"post","object":{"type":"task","id":"1"},"date_added":"2024-01-01 10:00"},'
            b'{"action":"post","object":{"type":"task","id":"x"},"date_added":"2024-01-01 10:00"}]',
            "event 1: cannot structure Event",
        ),
    ],
)
def test_malformed_bodies_raise_a_typed_error_naming_the_problem(body: bytes, message: str) -> None:
    """Each malformed body: WebhookPayloadError whose message says what is wrong."""
    with pytest.raises(WebhookPayloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_webhook(body)


def test_error_messages_are_bounded() -> None:
    """A huge offending value does not make a huge message."""
    item = {"action": "post", "object": {"type": "task", "id": "1"}, "date_added": "x" * 100_000}
    with pytest.raises(WebhookPayloadError) as raised:
        parse_webhook(json.dumps([item]))
    message = str(raised.value)
    assert len(message) <= 300
    assert "date_added" in message  # still says what is wrong


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["post", "update", "close"]) | json_values,
        "object": st.fixed_dictionaries(
            {"type": st.sampled_from(["task", "comment"]), "id": st.integers(-5, 10**20)},
            optional={"page": st.sampled_from(["/project/1/2/", "/task/3/", "", "/x"])},
        )
        | json_values,
        "date_added": st.sampled_from(["2024-01-01 10:00", "01.02.2024 10:00", "soon", ""])
        | json_values,
    },
    optional={"new": json_values, "old": json_values, "user_from": json_values},
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_garbage_gives_events_or_the_typed_error(body: bytes) -> None:
    """Random bytes and random JSON: a list of events or WebhookPayloadError, nothing else."""
    try:
        events = parse_webhook(body)
    except WebhookPayloadError:
        return
    assert all(isinstance(event, Event) for event in events)


@settings(max_examples=150, deadline=None)
@given(st.lists(event_like, max_size=4) | event_like)
def test_event_shaped_garbage_gives_events_or_the_typed_error(payload: object) -> None:
    """Event-shaped objects with wrong values: events or WebhookPayloadError, nothing else."""
    try:
        events = parse_webhook(json.dumps(payload).encode())
    except WebhookPayloadError:
        return
    assert all(isinstance(event, Event) for event in events)
    for event in events:
        event_key(event)  # every parsed event has a key


def make_event(action: str = "close", *, minute: int = 0, **extra: Any) -> Event:
    item: dict[str, Any] = {
        "action": action,
        "object": {"type": "task", "id": "2", "page": "/project/1/2/"},
        "date_added": f"2024-05-01 10:{minute:02d}",
        "user_from": {"id": "7", "email": "a@b.co", "name": "A"},
        **extra,
    }
    return parse_webhook(json.dumps(item))[0]


def test_event_key_tells_apart_what_differs_and_ignores_field_order() -> None:
    """Action, minute, author and changed values change the key; key order does not."""
    base = make_event("update", new={"a": 1, "b": 2})
    assert event_key(base) == event_key(make_event("update", new={"b": 2, "a": 1}))
    assert event_key(base) != event_key(make_event("update", new={"a": 1, "b": 3}))
    assert event_key(base) != event_key(make_event("update", minute=1, new={"a": 1, "b": 2}))
    assert event_key(base) != event_key(make_event("close"))
    other = make_event("update", new={"a": 1, "b": 2})
    assert event_key(other) == event_key(base)


def test_seen_events_is_a_multiset() -> None:
    """A repeat yields nothing; a key twice in a batch is two events; more later is new."""
    seen = SeenEvents()
    close = make_event("close")
    reopen = make_event("reopen")
    first = seen.fresh([close, reopen, close])  # closed, reopened, closed within a minute
    assert [e.action for _, e in first] == ["close", "reopen", "close"]
    assert seen.fresh([close, reopen, close]) == []  # the same batch again
    assert seen.fresh([close]) == []  # part of it
    third = seen.fresh([close, reopen, close, reopen, close])  # and once more each
    assert [e.action for _, e in third] == ["reopen", "close"]
    key = event_key(close)
    seen.unmark(key)
    assert [e.action for _, e in seen.fresh([close] * 3)] == ["close"]
    seen.forget([key])
    assert key not in seen
    assert len(seen.fresh([close])) == 1
