"""``unstructure``: models back to JSON-ready data, one rule per test."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import attrs

from worksection_async import ProjectPage, SubtaskPage, TaskPage
from worksection_async.models import (
    Comment,
    CostTotal,
    Event,
    Task,
    TaskRelations,
    Timer,
    UserRef,
    UserSchedule,
    structure,
    unstructure,
)

USER: dict[str, Any] = {"id": "5", "email": "ann@example.com", "name": "Ann Lee"}


def task(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "2",
        "name": "Write",
        "page": "/project/1/2/",
        "status": "active",
        "priority": "7",
    }
    return {**base, **fields}


def test_dates_decimals_and_pages_become_strings() -> None:
    """date, datetime and time in ISO form (minutes as the API sends them),
    Decimal exactly, pages as paths, ids as numbers."""
    model = structure(
        task(
            date_added="2021-01-07 10:01",
            date_start="2021-01-16",
            time_start="08:00",
            max_money="5280.50",
            max_time=352,
            project={"id": "1", "name": "P", "page": "/project/1/"},
        ),
        Task,
    )
    data = unstructure(model)
    assert data["date_added"] == "2021-01-07 10:01"
    assert data["date_start"] == "2021-01-16"
    assert data["time_start"] == "08:00"
    assert data["max_money"] == "5280.50"
    assert data["max_time"] == "352"
    assert data["page"] == "/project/1/2/"
    assert data["project"] == {"id": 1, "name": "P", "page": "/project/1/"}
    assert data["id"] == 2
    assert data["priority"] == 7
    json.dumps(data, allow_nan=False)


def test_seconds_are_kept_when_there_are_some() -> None:
    """A datetime or time with seconds keeps them."""
    model = structure(task(date_added="2021-01-07 10:01:30", time_end="18:00:05"), Task)
    data = unstructure(model)
    assert data["date_added"] == "2021-01-07 10:01:30"
    assert data["time_end"] == "18:00:05"


def test_durations_are_hours_and_minutes() -> None:
    """timedelta is "H:MM" (hours beyond 24), "H:MM:SS" with seconds."""
    assert unstructure(CostTotal(time=dt.timedelta(hours=252, minutes=30), money=Decimal(0))) == {
        "time": "252:30",
        "money": "0",
    }
    timer = structure(
        {
            "id": "1",
            "time": "00:10:05",
            "date_started": "2024-01-02 10:00",
            "user_from": USER,
            "task": task(),
        },
        Timer,
    )
    assert unstructure(timer)["time"] == "0:10:05"


def test_none_fields_are_left_out_and_empty_lists_kept() -> None:
    """An absent (None) field is not in the data; an empty list is []."""
    data = unstructure(attrs.evolve(structure(task(), Task), comments=()))
    assert "text" not in data
    assert "child" not in data
    assert data["comments"] == []


def test_extra_is_merged_back() -> None:
    """Unknown keys come back at their place, verbatim; fields win a name clash."""
    model = structure(task(surprise={"a": [1, 2]}, label="x"), Task)
    data = unstructure(model)
    assert data["surprise"] == {"a": [1, 2]}
    assert data["label"] == "x"
    clash = attrs.evolve(model, extra={"name": "from extra"})
    assert unstructure(clash)["name"] == "Write"


def test_renamed_keys_and_nested_models() -> None:
    """``from_`` is written as ``from``; nested models and tuples become dicts and lists."""
    relations = structure(
        {
            "from": [{"type": "finish-to-start", "task": task(id="3", page="/project/1/3/")}],
            "to": [],
        },
        TaskRelations,
    )
    data = unstructure(relations)
    assert data["to"] == []
    assert data["from"][0]["task"]["page"] == "/project/1/3/"
    assert "from_" not in data


def test_map_keys_are_strings() -> None:
    """Tag ids and schedule dates become string keys."""
    model = structure(task(tags={"12": "Urgent"}), Task)
    assert unstructure(model)["tags"] == {"12": "Urgent"}
    schedule = structure(
        {"id": "5", "email": "a@x.io", "schedule": {"2024-01-02": "vacation"}}, UserSchedule
    )
    assert unstructure(schedule)["schedule"] == {"2024-01-02": "vacation"}


def test_lists_pages_and_raw_json() -> None:
    """A list of models is a list; a page alone is its path; raw JSON stays as it is."""
    refs = [UserRef(id=2, email="ANY", name="Anyone"), UserRef(id=1, email="NOONE", name="-")]
    assert unstructure(refs) == [
        {"id": 2, "email": "ANY", "name": "Anyone"},
        {"id": 1, "email": "NOONE", "name": "-"},
    ]
    assert unstructure(SubtaskPage(1, 2, 3)) == "/project/1/2/3/"
    assert unstructure(ProjectPage(1)) == "/project/1/"
    event = structure(
        {
            "action": "update",
            "object": {"type": "task", "id": "1", "page": "/project/1/2/"},
            "date_added": "2021-01-02 14:37",
            "new": {"priority": "7", "date_end": "2024-01-11"},
        },
        Event,
    )
    assert unstructure(event)["new"] == {"priority": "7", "date_end": "2024-01-11"}


def test_round_trip_gives_an_equal_model() -> None:
    """structure(unstructure(model)) == model, comments' pages included."""
    comment = {
        "id": "9",
        "page": "/project/1/2/#com9",
        "text": "Hi",
        "date_added": "2024-01-02 10:00",
        "user_from": USER,
    }
    model = structure(
        task(
            comments=[comment],
            child=[task(id="3", page="/project/1/2/3/")],
            parent={"id": "1", "name": "Top", "page": "/project/1/1/"},
            extra_key=[1],
        ),
        Task,
    )
    data = json.loads(json.dumps(unstructure(model)))
    assert structure(data, Task) == model
    assert isinstance(structure(data, Task).comments[0], Comment)  # type: ignore[index]
    assert structure(data, Task).comments[0].page == TaskPage(1, 2)  # type: ignore[index]
