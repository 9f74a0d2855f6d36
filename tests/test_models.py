"""Each conversion rule of the models layer, one behaviour per test."""

from __future__ import annotations

import copy
import datetime as dt
import gc
import json
import pickle
import sys
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import worksection_async.models as models_module
from worksection_async import ProjectPage, SubtaskPage, TaskPage, parse_page
from worksection_async._json import JSONValue
from worksection_async.models import (
    GC_PAUSE_MIN_ITEMS,
    RESPONSE_MODELS,
    Comment,
    Cost,
    CostReport,
    CostTotal,
    CostTotals,
    Event,
    EventObject,
    File,
    MyTimer,
    Project,
    ProjectGroup,
    ProjectOptions,
    ProjectRef,
    StructureError,
    Tag,
    Task,
    Timer,
    TokenResponse,
    Upload,
    User,
    UserGroup,
    UserRef,
    UserSchedule,
    Webhook,
    clear_intern_tables,
    structure,
    structure_list,
    structure_one,
    structure_response,
)
from worksection_async.models._base import extra_field

HENRY: dict[str, Any] = {"id": "3993", "email": "henry.gardner@ws.com", "name": "Henry Gardner"}
ANYONE: dict[str, Any] = {"id": "2", "email": "ANY", "name": "Anyone"}
NOT_ASSIGNED: dict[str, Any] = {"id": "1", "email": "NOONE", "name": "Executive isn't assigned"}
NO_MANAGER: dict[str, Any] = {"id": "0", "email": "NOONE", "name": "Manager isn't assigned"}
PROJECT: dict[str, Any] = {"id": "8562", "name": "Owl brand launch", "page": "/project/8562/"}


def task(**fields: Any) -> dict[str, Any]:
    """A minimal task as the API sends it, with ``fields`` added or replaced."""
    base: dict[str, Any] = {
        "id": "331894",
        "name": "Development",
        "page": "/project/8562/331894/",
        "status": "active",
        "priority": "7",
    }
    return {**base, **fields}


# ------------------------------------------------------------------------------- ids


def test_string_ids_become_int() -> None:
    """ "3993" and 3993 are the same id."""
    assert structure(HENRY, UserRef).id == 3993
    assert structure({**HENRY, "id": 3993}, UserRef).id == 3993


def test_priority_string_becomes_int() -> None:
    """Priorities arrive as "0".."10"."""
    assert structure(task(priority="10"), Task).priority == 10
    assert structure(task(priority=0), Task).priority == 0


def test_tag_ids_numeric_or_string() -> None:
    """Tag and tag group ids are numbers in some examples, strings in others (§7.8)."""
    numeric = structure({"title": "bug", "id": 104978}, Tag)
    text = structure({"title": "bug", "id": "104978"}, Tag)
    assert numeric == text
    group: dict[str, Any] = {
        "title": "Project status",
        "id": 97,
        "id_group": "-4",
        "type": "status",
    }
    tag = structure({"title": "Backlog", "id": 105114, "group": group}, Tag)
    assert tag.group is not None
    assert (tag.group.id, tag.group.id_group, tag.group.access) == (97, -4, None)


def test_file_size_becomes_int() -> None:
    """``size`` arrives as a string of bytes."""
    file = structure(
        {
            "id": "16246",
            "page": "/download/16246/102/",
            "name": "Text file.docx",
            "size": "111303",
            "date_added": "2021-01-01 10:00",
            "user_from": HENRY,
        },
        File,
    )
    assert (file.id, file.size, file.page) == (16246, 111303, "/download/16246/102/")


# ----------------------------------------------------------------------------- dates


def test_date_formats() -> None:
    """``date_added`` is a datetime, ``date_start`` a date, ``time_start`` a time."""
    parsed = structure(
        task(
            date_added="2021-01-07 10:01",
            date_start="2021-01-16",
            date_end="2021-02-16",
            time_start="08:00",
            time_end="18:00",
            date_closed="2021-01-02 12:43",
        ),
        Task,
    )
    assert parsed.date_added == dt.datetime(2021, 1, 7, 10, 1)
    assert parsed.date_start == dt.date(2021, 1, 16)
    assert parsed.date_end == dt.date(2021, 2, 16)
    assert parsed.time_start == dt.time(8, 0)
    assert parsed.time_end == dt.time(18, 0)
    assert parsed.date_closed == dt.datetime(2021, 1, 2, 12, 43)
    assert type(parsed.date_start) is dt.date


@pytest.mark.parametrize("empty", ["", None, "0000-00-00"])
def test_empty_optional_dates_are_none(empty: str | None) -> None:
    """An optional date sent as "", null or a zero date is absent (``None``)."""
    parsed = structure(task(date_start=empty, date_end=empty, time_end=empty or None), Task)
    assert (parsed.date_start, parsed.date_end, parsed.time_end) == (None, None, None)


def test_zero_datetime_is_none() -> None:
    """ "0000-00-00 00:00" is PHP's "no date"."""
    assert structure(task(date_closed="0000-00-00 00:00"), Task).date_closed is None


def test_request_style_dates_are_accepted() -> None:
    """DD.MM.YYYY (the request format) is read too, should an answer use it."""
    parsed = structure(task(date_start="15.01.2021", date_added="15.01.2021 09:30"), Task)
    assert parsed.date_start == dt.date(2021, 1, 15)
    assert parsed.date_added == dt.datetime(2021, 1, 15, 9, 30)


def test_bad_date_is_an_error_naming_the_field() -> None:
    """A date that is not a date raises StructureError with the path and the value."""
    with pytest.raises(StructureError, match=r"'2021-13-01'.*\$\.date_start"):
        structure(task(date_start="2021-13-01"), Task)


def test_required_date_cannot_be_empty() -> None:
    """A required date (a comment's ``date_added``) left empty is an error, not None."""
    comment: dict[str, Any] = {
        "id": "1",
        "page": "/project/1/2/#com1",
        "text": "",
        "date_added": "",
        "user_from": HENRY,
    }
    with pytest.raises(StructureError, match="date_added"):
        structure(comment, Comment)


# ----------------------------------------------------------------------------- flags


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1, True), (0, False), ("1", True), ("0", False), (True, True), (False, False)],
)
def test_flags_become_bool(raw: Any, expected: bool) -> None:
    """``0``/``1`` (ints or strings) and JSON booleans are all flags."""
    assert structure(task(has_comments=raw), Task).has_comments is expected
    group = structure({"id": "1", "title": "T", "type": "company", "client": raw}, UserGroup)
    assert group.client is expected


@pytest.mark.parametrize("raw", [2, "yes", "2", 0.5, [], {}])
def test_other_flag_values_are_errors(raw: Any) -> None:
    """A flag that is not 0/1 is refused rather than guessed."""
    with pytest.raises(StructureError, match="has_comments"):
        structure(task(has_comments=raw), Task)


def test_project_options_are_fourteen_flags() -> None:
    """``options`` holds 14 0/1 flags; one the API left out is None."""
    flags: dict[str, Any] = {
        name: 1 for name in attrs.fields_dict(ProjectOptions) if name != "extra"
    }
    assert len(flags) == 14
    options = structure({**flags, "timer_only": 0}, ProjectOptions)
    assert options.allow_close is True
    assert options.timer_only is False
    del flags["deny_task_edit"]
    assert structure(flags, ProjectOptions).deny_task_edit is None


# ---------------------------------------------------------------------- maps and lists


def test_tag_maps_become_int_keyed() -> None:
    """``{"105554": "inner"}`` becomes ``{105554: "inner"}``."""
    parsed = structure(task(tags={"105554": "inner", "105570": "wiki"}), Task)
    assert parsed.tags == {105554: "inner", 105570: "wiki"}


def test_php_empty_array_for_a_map() -> None:
    """PHP sends an empty map as ``[]``: an empty map, not an error or None."""
    assert structure(task(tags=[]), Task).tags == {}


def test_tag_map_as_a_list_of_objects() -> None:
    """Leniency: tags as ``[{id, title}]`` still give the id → name map."""
    parsed = structure(task(tags=[{"id": "7", "title": "bug"}, {"id": 8, "name": "ui"}]), Task)
    assert parsed.tags == {7: "bug", 8: "ui"}


def test_nested_lists_are_tuples() -> None:
    """Lists inside models are tuples: models stay immutable and hashable."""
    parsed = structure(task(subscribers=[HENRY, ANYONE]), Task)
    assert isinstance(parsed.subscribers, tuple)
    assert [user.id for user in parsed.subscribers] == [3993, 2]
    assert hash(parsed) == hash(structure(task(subscribers=[HENRY, ANYONE]), Task))


def test_relations_from_and_to() -> None:
    """``relations.from`` is ``from_``; a missing direction is empty."""
    ref = {"id": "331902", "name": "Prototyping", "page": "/project/8562/331902/"}
    parsed = structure(task(relations={"from": [{"type": "finish-to-start", "task": ref}]}), Task)
    assert parsed.relations is not None
    (relation,) = parsed.relations.from_
    assert relation.type == "finish-to-start"
    assert relation.task.page == TaskPage(8562, 331902)
    assert relation.task.status is None
    assert parsed.relations.to == ()


def test_empty_relations_as_php_array() -> None:
    """``relations: []`` (PHP) is no relations object."""
    assert structure(task(relations=[]), Task).relations is None


def test_children_and_parent_chain() -> None:
    """``child`` nests tasks; ``parent`` chains upwards; ``walk``/``ancestors`` follow them."""
    grandchild = task(id="3", page="/project/8562/2/3/", name="c")
    child = task(id="2", page="/project/8562/331894/2/", name="b", child=[grandchild])
    parsed = structure(task(child=[child]), Task)
    assert [t.id for t in parsed.walk()] == [331894, 2, 3]
    assert parsed.child is not None
    assert parsed.child[0].page == SubtaskPage(8562, 331894, 2)
    parent = {
        "id": "2",
        "name": "b",
        "page": "/project/8562/331894/2/",
        "status": "active",
        "priority": "1",
        "parent": {"id": "331894", "name": "a", "page": "/project/8562/331894/"},
    }
    subtask = structure(task(id="3", page="/project/8562/2/3/", parent=parent), Task)
    assert [ref.id for ref in subtask.ancestors] == [2, 331894]
    assert structure(task(), Task).ancestors == ()


def test_task_id_missing_is_taken_from_page() -> None:
    """Docs show timer task refs without ``id``: the page's last id is the task's id."""
    ref = task()
    del ref["id"]
    assert structure(ref, Task).id == 331894
    subtask = task(page="/project/1/2/3/")
    del subtask["id"]
    assert structure(subtask, Task).id == 3


# ------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (352, Decimal("352")),
        ("352", Decimal("352")),
        ("12.5", Decimal("12.5")),
        (12.5, Decimal("12.5")),
        (0.1, Decimal("0.1")),
        ("1,5", Decimal("1.5")),
        ("", None),
        (None, None),
    ],
)
def test_max_time_and_money_as_string_or_number(raw: Any, expected: Decimal | None) -> None:
    """``max_time``/``max_money`` are numbers or strings; both become exact Decimals."""
    parsed = structure(task(max_time=raw, max_money=raw), Task)
    assert parsed.max_time == expected
    assert parsed.max_money == expected
    if expected is not None:
        assert type(parsed.max_time) is Decimal


def test_money_and_rate_are_decimal() -> None:
    """Cost ``money`` and a user's ``rate`` are Decimals too (one numeric type)."""
    user = structure(
        {"id": "1", "first_name": "A", "last_name": "B", "name": "A B", "email": "a@b"}
        | {"rate": 25},
        User,
    )
    assert user.rate == Decimal(25)
    total = structure({"time": "10:12", "money": "75.17"}, CostTotal)
    assert total.money == Decimal("75.17")


def test_not_a_number_is_an_error() -> None:
    """A money field that is not a number is refused."""
    with pytest.raises(StructureError, match="max_money"):
        structure(task(max_money="lots"), Task)


# ------------------------------------------------------------------------ durations


def test_timer_time_formats() -> None:
    """get_timers sends "HH:MM:SS", get_my_timer int seconds: both are timedeltas."""
    timer = structure(
        {
            "id": "2918",
            "time": "00:11:13",
            "date_started": "2021-01-01 13:23",
            "user_from": HENRY,
            "task": task(),
        },
        Timer,
    )
    assert timer.time == dt.timedelta(minutes=11, seconds=13)
    mine = structure({"time": 4360, "date_started": "2021-01-01 12:00", "task": task()}, MyTimer)
    assert mine.time == dt.timedelta(seconds=4360)
    assert structure({"time": "4360", "date_started": "2021-01-01 12:00", "task": task()}, MyTimer)


def test_cost_time_is_hours_and_minutes() -> None:
    """Cost times are "H:MM" and totals may exceed 24 hours."""
    assert structure({"time": "6:50", "money": "0"}, CostTotal).time == dt.timedelta(
        hours=6, minutes=50
    )
    assert structure({"time": "103:39", "money": "0"}, CostTotal).time == dt.timedelta(
        hours=103, minutes=39
    )


@pytest.mark.parametrize("raw", ["6h50", "1:2:3:4", "", "1:-5", True])
def test_bad_durations_are_errors(raw: Any) -> None:
    """Durations in any other shape are refused."""
    with pytest.raises(StructureError, match="time"):
        structure({"time": raw, "money": "0"}, CostTotal)


def test_cost_row() -> None:
    """A cost row: timedelta, Decimal, date, JSON-bool ``is_timer``, the full task."""
    cost = structure(
        {
            "id": "3610",
            "comment": "",
            "time": "6:50",
            "money": "75.17",
            "date": "2021-01-01",
            "is_timer": True,
            "user_from": HENRY,
            "task": task(project=PROJECT),
        },
        Cost,
    )
    assert (cost.time, cost.money, cost.date) == (
        dt.timedelta(hours=6, minutes=50),
        Decimal("75.17"),
        dt.date(2021, 1, 1),
    )
    assert cost.is_timer is True
    assert cost.task.project is not None
    assert cost.task.project.page == ProjectPage(8562)


def test_cost_totals_with_projects_monthly_and_tasks() -> None:
    """get_costs_total with extra=projects,tasks (§6.7): maps keyed by ids and months."""
    answer: dict[str, Any] = {
        "status": "ok",
        "total": {"time": "103:39", "money": "5436.00"},
        "projects": {
            "6622": {
                "id": "6622",
                "name": "Performance improvement",
                "page": "/project/6622/",
                "time": "10:12",
                "money": "75.17",
                "monthly": {"2021-01": {"time": "10:12", "money": "75.17"}},
                "tasks": {
                    "330142": {
                        "id": "330142",
                        "name": "Workflow revision",
                        "page": "/project/6622/330142/",
                        "status": "done",
                        "priority": "1",
                        "time": "6:50",
                        "money": "75.17",
                    }
                },
            }
        },
    }
    totals = structure_response("get_costs_total", answer)
    assert isinstance(totals, CostTotals)
    assert totals.total.time == dt.timedelta(hours=103, minutes=39)
    assert totals.projects is not None
    project = totals.projects[6622]
    assert project.page == ProjectPage(6622)
    assert project.monthly == {
        "2021-01": CostTotal(time=dt.timedelta(hours=10, minutes=12), money=Decimal("75.17"))
    }
    assert project.tasks is not None
    assert project.tasks[330142].priority == 1
    assert project.tasks[330142].page == TaskPage(6622, 330142)


def test_cost_totals_projects_as_a_list() -> None:
    """SDK-PY reads ``projects`` as a list: the map is keyed by each item's id."""
    item: dict[str, Any] = {
        "id": "5",
        "name": "P",
        "page": "/project/5/",
        "time": "1:00",
        "money": "1",
    }
    totals = structure({"total": {"time": "1:00", "money": "1"}, "projects": [item]}, CostTotals)
    assert totals.projects is not None
    assert list(totals.projects) == [5]


def test_get_costs_answer() -> None:
    """get_costs answers rows in ``data`` and a top-level ``total``: one CostReport."""
    report = structure_response(
        "get_costs", {"status": "ok", "data": [], "total": {"time": "0:00", "money": "0.00"}}
    )
    assert isinstance(report, CostReport)
    assert report.costs == ()
    assert report.total == CostTotal(time=dt.timedelta(0), money=Decimal("0.00"))
    assert report.extra == {}


# ----------------------------------------------------------------------------- pages


def test_project_and_task_pages() -> None:
    """``page`` becomes a page value: project, task, or subtask."""
    assert structure(PROJECT, ProjectRef).page == ProjectPage(8562)
    assert structure(task(), Task).page == TaskPage(8562, 331894)
    assert structure(task(page="/project/1/2/3/"), Task).page == SubtaskPage(1, 2, 3)


def test_browser_url_page_is_accepted() -> None:
    """A non-canonical link (full URL, no trailing slash) still parses."""
    parsed = structure(task(page="https://acme.worksection.com/project/1/2"), Task)
    assert parsed.page == TaskPage(1, 2)


def test_wrong_kind_of_page_is_an_error() -> None:
    """A task whose page is a project link is refused."""
    with pytest.raises(StructureError, match="task page"):
        structure(task(page="/project/1/"), Task)
    with pytest.raises(StructureError, match="project page"):
        structure({**PROJECT, "page": "/project/1/2/"}, ProjectRef)


def test_comment_page_parsing() -> None:
    """ "/project/P/T/#com123" is the task's page, and ``path`` gives the link back."""
    comment = structure(
        {
            "id": "19978",
            "page": "/project/8562/331894/#com19978",
            "text": "Thanks",
            "date_added": "2021-01-07 16:38",
            "user_from": HENRY,
        },
        Comment,
    )
    assert comment.page == TaskPage(8562, 331894)
    assert comment.id == 19978
    assert comment.path == "/project/8562/331894/#com19978"
    on_subtask = structure(
        {
            "id": "5",
            "page": "/project/1/2/3/#com5",
            "text": "",
            "date_added": "2021-01-07 16:38",
            "user_from": HENRY,
        },
        Comment,
    )
    assert on_subtask.page == SubtaskPage(1, 2, 3)


def test_event_object_page_or_text() -> None:
    """An event's page is a page value, or the string when it is not a project link."""
    event = structure(
        {
            "action": "post",
            "object": {"type": "comment", "id": "19870", "page": "/project/6622/330090/"},
            "date_added": "2021-01-02 11:07",
            "user_from": HENRY,
            "new": {"text": "Today we have a meetup."},
        },
        Event,
    )
    assert event.object.page == TaskPage(6622, 330090)
    assert event.new == {"text": "Today we have a meetup."}
    assert event.old is None
    odd = structure({"type": "comment", "id": "1", "page": "/task/77/"}, EventObject)
    assert odd.page == "/task/77/"


def test_event_new_and_old_stay_raw_json() -> None:
    """``new``/``old`` keep the API's values verbatim ("" dates, string priorities)."""
    event = structure(
        {
            "action": "update",
            "object": {"type": "task", "id": "1", "page": "/project/1/2/"},
            "date_added": "2021-01-02 14:37",
            "new": {"priority": "7", "date_end": "2024-01-11"},
            "old": [],
        },
        Event,
    )
    assert event.new == {"priority": "7", "date_end": "2024-01-11"}
    assert event.old == {}


@pytest.mark.parametrize("absent", [None, ""])
def test_event_new_and_old_null_are_none(absent: Any) -> None:
    """``null`` (or "") for ``new``/``old`` is absent, like any optional field (it was a
    StructureError)."""
    event = structure(
        {
            "action": "post",
            "object": {"type": "task", "id": "1", "page": "/project/1/2/"},
            "date_added": "2021-01-02 14:37",
            "new": absent,
            "old": absent,
        },
        Event,
    )
    assert event.new is None
    assert event.old is None


# ---------------------------------------------------------------- sentinels and users


def test_user_ref_sentinels() -> None:
    """ "Anyone" and "not assigned" (id 1 for tasks, 0 for a manager) are recognised."""
    anyone = structure(ANYONE, UserRef)
    assert (anyone.is_anyone, anyone.is_unassigned, anyone.is_person) == (True, False, False)
    for raw in (NOT_ASSIGNED, NO_MANAGER):
        nobody = structure(raw, UserRef)
        assert (nobody.is_anyone, nobody.is_unassigned, nobody.is_person) == (False, True, False)
    henry = structure(HENRY, UserRef)
    assert (henry.is_anyone, henry.is_unassigned, henry.is_person) == (False, False, True)


def test_project_without_manager() -> None:
    """A project's ``user_to`` of id 0 is the unassigned placeholder."""
    project = structure(
        {**PROJECT, "status": "pending", "user_to": NO_MANAGER, "date_added": "2021-01-05 16:21"},
        Project,
    )
    assert project.user_to is not None
    assert project.user_to.is_unassigned
    assert project.user_to.id == 0


def test_me_as_object_or_one_element_list() -> None:
    """``me`` is an object (Postman) or a one-element list (RU docs)."""
    me: dict[str, Any] = {"id": "3993", "first_name": "Henry", "last_name": "Gardner"}
    me["name"] = "Henry Gardner"
    me["email"] = "henry.gardner@ws.com"
    assert structure_one(me, User) == structure_one([me], User)
    assert structure_response("me", {"status": "ok", "data": [me]}) == structure(me, User)
    with pytest.raises(StructureError, match="one object"):
        structure_one([me, me], User)
    with pytest.raises(StructureError, match="one object"):
        structure_one([], User)


def test_get_my_timer_without_a_timer() -> None:
    """No running timer (empty data) gives None from structure_response."""
    assert structure_response("get_my_timer", {"status": "ok", "data": []}) is None
    assert structure_response("get_my_timer", {"status": "ok"}) is None


def test_users_schedule_keyed_by_id_or_list() -> None:
    """get_users_schedule: an object keyed by user id (docs) or a list (SDK-PY)."""
    entry: dict[str, Any] = {
        "id": "3993",
        "email": "henry.gardner@ws.com",
        "name": "Henry Gardner",
        "schedule": {"2021-06-07": "vacation", "2021-06-08": "sick-leave"},
    }
    by_id = structure_list({"3993": entry}, UserSchedule)
    as_list = structure_list([entry], UserSchedule)
    assert by_id == as_list
    assert by_id[0].schedule == {dt.date(2021, 6, 7): "vacation", dt.date(2021, 6, 8): "sick-leave"}
    assert structure_list(None, UserSchedule) == []


# ------------------------------------------------------------------------- webhooks


def test_webhook_comma_strings_become_tuples() -> None:
    """``events``/``projects`` arrive as comma strings (with or without spaces)."""
    hook = structure(
        {
            "id": "130",
            "url": "https://example.com/hook",
            "events": "post_task,post_comment",
            "status": "active",
            "projects": "8522, 8530",
        },
        Webhook,
    )
    assert hook.events == ("post_task", "post_comment")
    assert hook.projects == (8522, 8530)
    as_lists = structure({"id": 130, "url": "u", "events": ["post_task"], "projects": [5]}, Webhook)
    assert (as_lists.events, as_lists.projects, as_lists.status) == (("post_task",), (5,), None)
    assert structure({"id": 1, "url": "u", "events": ""}, Webhook).events == ()


# -------------------------------------------------------------------- extra and None


def test_unknown_fields_are_kept_in_extra() -> None:
    """Unknown keys at any level land in that object's ``extra``, verbatim."""
    parsed = structure(
        task(user_to={**HENRY, "avatar": "a.png"}, new_flag=1, labels=["x", {"y": None}]), Task
    )
    assert parsed.extra == {"new_flag": 1, "labels": ["x", {"y": None}]}
    assert parsed.user_to is not None
    assert parsed.user_to.extra == {"avatar": "a.png"}
    assert parsed.user_to.id == 3993
    with pytest.raises(TypeError, match="read-only"):
        parsed.extra["new_flag"] = 2  # type: ignore[index]
    with pytest.raises(TypeError, match="read-only"):
        parsed.extra.clear()  # type: ignore[attr-defined]
    assert json.loads(json.dumps(parsed.extra)) == {"new_flag": 1, "labels": ["x", {"y": None}]}
    restored = pickle.loads(pickle.dumps(parsed))
    assert restored == parsed
    assert restored.extra == parsed.extra
    assert copy.deepcopy(parsed) == parsed


def test_no_unknown_fields_means_empty_extra() -> None:
    """``extra`` is an empty mapping (shared, read-only) when every key is known."""
    assert structure(HENRY, UserRef).extra == {}
    assert structure(task(), Task).extra == {}


def test_missing_optional_fields_are_none() -> None:
    """Every optional field absent from the JSON is None (lists too: not requested)."""
    parsed = structure(task(), Task)
    optional = [a.name for a in attrs.fields(Task) if a.default is None]
    assert "files" in optional
    assert "child" in optional
    assert all(getattr(parsed, name) is None for name in optional)


def test_missing_required_field_is_an_error() -> None:
    """A required field absent from the JSON is a StructureError naming it."""
    raw = task()
    del raw["name"]
    with pytest.raises(StructureError, match=r"required field missing @ \$\.name"):
        structure(raw, Task)


def test_error_paths_name_list_indices() -> None:
    """Errors inside lists say which item failed."""
    with pytest.raises(StructureError, match=r"\$\[1\]\.priority"):
        structure_list([task(), task(priority="high")], Task)
    with pytest.raises(StructureError, match=r"\$\.comments\[0\]\.user_from"):
        structure(task(comments=[{"id": "1", "page": "/project/1/2/", "text": ""}]), Task)


def test_structure_error_is_a_value_error_with_the_cause() -> None:
    """StructureError is a ValueError and chains the converter's error."""
    with pytest.raises(ValueError, match="cannot structure Task") as info:
        structure("not an object", Task)
    assert isinstance(info.value, StructureError)
    assert info.value.__cause__ is not None


# ------------------------------------------------------------------------ interning


def test_identical_refs_are_one_object() -> None:
    """Equal user and project refs in an answer are the same object (memory, speed)."""
    tasks = structure_list(
        [
            task(id="1", user_from=HENRY, user_to=dict(HENRY), project=dict(PROJECT)),
            task(id="2", user_from=dict(HENRY), user_to=ANYONE, project=dict(PROJECT)),
        ],
        Task,
    )
    assert tasks[0].user_from is tasks[0].user_to
    assert tasks[0].user_from is tasks[1].user_from
    assert tasks[0].project is tasks[1].project
    assert tasks[1].user_to is not tasks[1].user_from


def test_interning_survives_across_calls_and_clears() -> None:
    """Refs are shared across answers until the tables are cleared."""
    first = structure(HENRY, UserRef)
    assert structure(dict(HENRY), UserRef) is first
    clear_intern_tables()
    again = structure(HENRY, UserRef)
    assert again == first
    assert again is not first


def test_refs_with_extra_keys_are_not_interned() -> None:
    """A ref with unknown keys keeps them (it is not replaced by a shared plain ref)."""
    plain = structure(HENRY, UserRef)
    special = structure({**HENRY, "avatar": "a.png"}, UserRef)
    assert special is not plain
    assert special.extra == {"avatar": "a.png"}
    assert structure(HENRY, UserRef) is plain


def test_interned_page_values_are_equal_values() -> None:
    """Pages parsed within one answer are shared; they are still plain values."""
    tasks = structure_list([task(id="1"), task(id="2")], Task)
    assert tasks[0].page == tasks[1].page
    assert tasks[0].page is tasks[1].page


@given(
    ids=st.lists(
        st.one_of(st.integers(-2, 10**18 + 1), st.sampled_from(["01", "x", ""])),
        min_size=1,
        max_size=3,
    ),
    tail=st.sampled_from(["/", "", "/#com5", "/?a=1", "//"]),
)
def test_links_read_as_parse_page_reads_them(ids: list[int | str], tail: str) -> None:
    """The shortcut for canonical links gives parse_page's page, or its refusal."""
    link = "/project/" + "/".join(map(str, ids)) + tail
    try:
        expected: object = parse_page(link)
    except ValueError:
        expected = ValueError
    try:
        got: object = structure({"id": 1, "name": "P", "page": link}, ProjectRef).page
    except StructureError:
        got = ValueError
    if isinstance(expected, ProjectPage) or expected is ValueError:
        assert got == expected
    try:
        found: object = structure(task(page=link), Task).page
    except StructureError:
        found = ValueError
    assert found == (expected if isinstance(expected, (TaskPage, SubtaskPage)) else ValueError)


# ------------------------------------------------------------------- value semantics


def test_models_are_frozen_keyword_only_values() -> None:
    """Models are frozen, slotted, keyword-only, comparable, hashable and picklable."""
    ref = structure(HENRY, UserRef)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ref.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        UserRef(3993, "a@b", "A")  # type: ignore[call-arg]
    assert not hasattr(ref, "__dict__")
    assert ref == UserRef(id=3993, email="henry.gardner@ws.com", name="Henry Gardner")
    assert {ref, UserRef(id=3993, email="henry.gardner@ws.com", name="Henry Gardner")} == {ref}
    parsed = structure(task(tags={"1": "a"}, user_to=HENRY), Task)
    assert pickle.loads(pickle.dumps(parsed)) == parsed


def test_extra_takes_part_in_equality_not_hash() -> None:
    """Two refs differing only in ``extra`` are unequal but hash alike (a dict has no hash)."""
    plain = structure(HENRY, UserRef)
    special = structure({**HENRY, "avatar": "a.png"}, UserRef)
    assert plain != special
    assert hash(plain) == hash(special)


def test_token_response_repr_hides_tokens() -> None:
    """Access and refresh tokens never appear in repr."""
    token = structure(
        {
            "token_type": "Bearer",
            "expires_in": 86400,
            "access_token": "eyJ-secret-access",
            "refresh_token": "def502-secret-refresh",
            "account_url": "https://acc1234.worksection.com",
        },
        TokenResponse,
    )
    assert token.access_token == "eyJ-secret-access"
    assert "secret" not in repr(token)
    assert "***" in repr(token)


def test_upload_keeps_its_token_and_round_trips() -> None:
    """An upload's id stays the string the API wants back in ``files``."""
    raw: dict[str, Any] = {"id": "a1b2", "ext": "png", "name": "shot.png", "icon": "img"}
    raw["size"] = 10
    upload = structure(raw, Upload)
    assert upload.id == "a1b2"
    assert upload.to_json() == raw
    failed = structure({"id": "", "ext": "", "name": "big.bin", "error": "too large"}, Upload)
    assert failed.error == "too large"
    assert failed.to_json()["error"] == "too large"


# -------------------------------------------------------------------- response table


def test_structure_response_reads_data_or_top_level() -> None:
    """Payload in ``data`` for most actions; top-level ``id`` for add_costs/add_webhook."""
    created = structure_response("add_costs", {"status": "ok", "id": 3706})
    assert getattr(created, "id", None) == 3706
    folders = structure_response(
        "get_project_groups",
        {"status": "ok", "data": [{"id": "4302", "title": "Design", "type": "folder"}]},
    )
    assert folders == [ProjectGroup(id=4302, title="Design", type="folder")]
    assert structure_response("get_project_groups", {"status": "ok"}) == []
    assert structure_response("complete_task", {"status": "ok"}) is None


def test_structure_response_unknown_action() -> None:
    """Actions without a model (status-only answers) are not in the table."""
    assert "subscribe" not in RESPONSE_MODELS
    with pytest.raises(KeyError):
        structure_response("subscribe", {"status": "ok"})


def test_response_table_models_are_exported() -> None:
    """Every model of the table is a public name of the package."""
    for spec in RESPONSE_MODELS.values():
        assert getattr(models_module, spec.model.__name__) is spec.model


def test_all_is_sorted_and_matches_public_names() -> None:
    """``__all__`` is sorted and lists exactly the public names."""
    exported = models_module.__all__
    assert exported == sorted(exported)
    public = {name for name in vars(models_module) if not name.startswith("_")}
    public -= {"annotations"}
    assert set(exported) == public


# ------------------------------------------------------------------------- GC pause


def _collections_while(run: Any) -> int:
    """How many cyclic GC passes start while ``run()`` executes (low threshold)."""
    passes = 0

    def count(phase: str, info: dict[str, int]) -> None:
        nonlocal passes
        if phase == "start":
            passes += 1

    old = gc.get_threshold()
    gc.set_threshold(10, 10, 10)
    gc.callbacks.append(count)
    try:
        run()
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*old)
    return passes


def test_large_lists_are_structured_with_the_gc_paused() -> None:
    """A long list runs without collector passes; a short one is left alone."""
    many: list[Any] = [task(id=str(i + 1), user_to=dict(HENRY)) for i in range(GC_PAUSE_MIN_ITEMS)]
    few = many[: GC_PAUSE_MIN_ITEMS - 1]
    assert _collections_while(lambda: structure_list(few, Task)) > 5
    # at most the one pass the re-enabled collector may start right away
    assert _collections_while(lambda: structure_list(many, Task)) <= 1
    assert gc.isenabled()


def test_gc_pause_restores_the_previous_state() -> None:
    """The GC is re-enabled after an error, and stays off if the caller had it off."""
    bad: list[Any] = [task(priority="high")] * GC_PAUSE_MIN_ITEMS
    with pytest.raises(StructureError):
        structure_list(bad, Task)
    assert gc.isenabled()
    gc.disable()
    try:
        good: list[Any] = [task()] * GC_PAUSE_MIN_ITEMS
        structure_list(good, Task)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_pause_is_reentrant_across_threads() -> None:
    """Overlapping pauses re-enable the GC only when the last one ends."""
    from worksection_async.models._converter import _gc_paused

    first_in = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with _gc_paused():
            first_in.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    assert first_in.wait(5)
    with _gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other pause is still running
    release.set()
    thread.join(5)
    assert gc.isenabled()


@attrs.frozen(kw_only=True)
class _Node:
    """A fresh self-referential model: its hooks are built on first use."""

    id: int
    kids: tuple[_Node, ...] | None = None
    extra: Mapping[str, JSONValue] = extra_field()


def test_first_use_from_many_threads_builds_one_hook() -> None:
    """Threads structuring a model for the first time all get complete hooks."""
    data: dict[str, Any] = {"id": "1", "kids": [{"id": "2", "kids": [{"id": "3"}]}]}
    barrier = threading.Barrier(8)
    results: list[object] = []

    def work() -> None:
        barrier.wait(5)
        results.append(structure(data, _Node))

    threads = [threading.Thread(target=work) for _ in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: widen any race window
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
    finally:
        sys.setswitchinterval(interval)
    expected = _Node(id=1, kids=(_Node(id=2, kids=(_Node(id=3),)),))
    assert results == [expected] * 8


def test_structure_response_refuses_a_non_object_answer() -> None:
    """An answer that is not a JSON object is a StructureError for every kind of action."""
    for action in ("get_tasks", "add_costs"):
        with pytest.raises(StructureError, match=action):
            structure_response(action, ["not", "an", "envelope"])  # type: ignore[arg-type]


def test_every_model_keeps_unknown_keys() -> None:
    """Every exported model has ``extra``; a class without one is refused, not lossy."""
    classes = [
        value
        for name in models_module.__all__
        if attrs.has(value := getattr(models_module, name)) and name != "ResponseModel"
    ]
    assert len(classes) >= 35
    for cls in classes:
        assert "extra" in attrs.fields_dict(cls), cls

    @attrs.frozen(kw_only=True)
    class Lossy:
        id: int

    with pytest.raises(StructureError, match="no 'extra' field"):
        structure({"id": 1, "surprise": 2}, Lossy)
