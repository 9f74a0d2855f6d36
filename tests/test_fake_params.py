"""The fake checks parameters like the service (reference §6), no more, no less.

* every action answers its minimal documented request, and an unknown parameter
  changes nothing in the answer (the service ignores what it does not know);
* a value of the wrong form is error 10 naming the field: dates other than the
  documented ``DD.MM.YYYY`` (ISO ``2025-06-30`` included), flags other than ``1``/``0``,
  enumerations (``filter``, ``status``, ``type``, ``access``) outside their values;
* a request refused this way changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.fake_support import client_for, hmac_authorization
from worksection_async.testing import FakeWorksection
from worksection_async.testing._actions import ACTIONS

NOW = 1_751_284_800.0  # 2025-06-30 12:00 UTC
OWNER = "owner@example.com"
DEV = "dev@example.com"
BUSY = "busy@example.com"


def account() -> FakeWorksection:
    """A small account, the same every time (fixed wall clock, fixed ids)."""
    fake = FakeWorksection("params-key", wall_clock=lambda: NOW)
    fake.add_user(OWNER, "Olga", "Owner", role="owner", rate=30)
    fake.add_user(DEV, "Dan", "Dev", rate=20)
    fake.add_user(BUSY, "Bea", "Busy")
    fake.add_project("Website", id=10)
    fake.add_project("Archive", id=11, status="archive")
    task = fake.add_task(10, "Task", id=100)
    fake.add_task(10, "Done", id=101, status="done")
    fake.add_cost(task, minutes=30, id=3000)
    fake.add_timer(task, OWNER, running_for=120, id=500)
    fake.add_timer(task, BUSY, running_for=60, id=501)
    fake.add_file("spec.txt", b"spec", project=10, id=20000)
    fake.add_webhook("https://hooks.example.com/ws", ["post_task"], id=100)
    labels = fake.add_tag_group("Labels", scope="task")
    fake.add_tag(labels, "bug")
    project_labels = fake.add_tag_group("Project labels", scope="project")
    fake.add_tag(project_labels, "paid")
    return fake


# action -> (minimal documented parameters, acting OAuth user or None for the admin key)
BASE: dict[str, tuple[dict[str, Any], str | None]] = {
    "me": ({}, DEV),
    "get_users": ({}, None),
    "add_user": ({"email": "new@example.com"}, None),
    "get_user_groups": ({}, None),
    "add_user_group": ({"title": "Sales"}, None),
    "get_contacts": ({}, None),
    "add_contact": ({"email": "c@example.org", "name": "Carl Client"}, None),
    "get_contact_groups": ({}, None),
    "add_contact_group": ({"title": "Clients"}, None),
    "subscribe": ({"id_task": 100, "email_user": DEV}, None),
    "unsubscribe": ({"id_task": 100, "email_user": DEV}, None),
    "get_users_schedule": ({}, None),
    "update_users_schedule": ({"data": json.dumps({DEV: {"01.07.2025": "vacation"}})}, None),
    "get_projects": ({}, None),
    "get_project": ({"id_project": 10}, None),
    "post_project": ({"title": "New"}, None),
    "update_project": ({"id_project": 10, "title": "Renamed"}, None),
    "close_project": ({"id_project": 10}, None),
    "activate_project": ({"id_project": 11}, None),
    "add_project_members": ({"id_project": 10, "members": DEV}, None),
    "delete_project_members": ({"id_project": 10, "members": DEV}, None),
    "get_project_groups": ({}, None),
    "add_project_group": ({"title": "Outsource"}, None),
    "add_project_groups": ({"title": "Outsource"}, None),
    "get_project_custom_fields": ({}, None),
    "get_events": ({"period": "1d"}, None),
    "get_all_tasks": ({}, None),
    "get_tasks": ({"id_project": 10}, None),
    "get_task": ({"id_task": 100}, None),
    "post_task": ({"id_project": 10, "title": "New task"}, None),
    "update_task": ({"id_task": 100, "title": "Renamed"}, None),
    "complete_task": ({"id_task": 100}, None),
    "reopen_task": ({"id_task": 101}, None),
    "search_tasks": ({"id_project": 10}, None),
    "get_task_custom_fields": ({}, None),
    "get_comments": ({"id_task": 100}, None),
    "post_comment": ({"id_task": 100, "text": "Hello"}, None),
    "get_task_tags": ({}, None),
    "add_task_tags": ({"group": "Labels", "title": "feature"}, None),
    "update_task_tags": ({"id_task": 100, "plus": "bug"}, None),
    "get_task_tag_groups": ({}, None),
    "add_task_tag_groups": ({"title": "Stages", "type": "status", "access": "public"}, None),
    "get_project_tags": ({}, None),
    "add_project_tags": ({"group": "Project labels", "title": "wiki"}, None),
    "update_project_tags": ({"id_project": 10, "plus": "paid"}, None),
    "get_project_tag_groups": ({}, None),
    "add_project_tag_groups": ({"title": "Budget", "access": "private"}, None),
    "get_costs": ({}, None),
    "get_costs_total": ({}, None),
    "add_costs": ({"id_task": 100, "time": "1:30"}, None),
    "update_costs": ({"id_costs": 3000, "time": "0,5"}, None),
    "delete_costs": ({"id_costs": 3000}, None),
    "get_timers": ({}, None),
    "stop_timer": ({"timer": 500}, None),
    "get_my_timer": ({}, BUSY),
    "start_my_timer": ({"id_task": 100}, DEV),
    "stop_my_timer": ({}, BUSY),
    "delete_my_timer": ({}, BUSY),
    "get_files": ({"id_project": 10}, None),
    "download": ({"id_file": 20000}, None),
    "get_webhooks": ({}, None),
    "add_webhook": ({"url": "https://hooks.example.com/new", "events": "post_task"}, None),
    "delete_webhook": ({"id": 100}, None),
}
MULTIPART_ONLY = {"upload_files": "its files come as multipart parts (tests/test_fake_actions)"}


def test_the_table_covers_every_action() -> None:
    """Each action of the fake has its minimal request here (or a stated reason)."""
    assert set(BASE) | set(MULTIPART_ONLY) == set(ACTIONS)
    assert len(ACTIONS) == 64  # the 63 actions and the add_project_groups alias


@pytest.mark.parametrize("action", sorted(BASE))
def test_unknown_parameters_are_ignored(action: str) -> None:
    """The minimal request succeeds, and succeeds identically with unknown parameters."""
    params, user = BASE[action]
    plain, noisy = account(), account()
    expected = plain.call(action, as_user=user, **params)
    assert expected["status"] == "ok", expected
    unknown: dict[str, Any] = {"colour": "blue", "id_user": "3000", "options.unknown": "yes"}
    answer = noisy.call(action, as_user=user, **params, **unknown)
    assert answer == expected


def _fingerprint(fake: FakeWorksection) -> tuple[int, ...]:
    return (
        len(fake.projects),
        len(fake.tasks),
        len(fake.comments),
        len(fake.costs),
        len(fake.timers),
        len(fake.teams),
        len(fake.events),
        len(fake.webhooks),
        sum(len(days) for days in fake.schedules.values()),
    )


ISO = "2025-06-30"
DATE_PARAMS = [
    ("post_project", "datestart"),
    ("post_project", "dateend"),
    ("update_project", "datestart"),
    ("update_project", "dateend"),
    ("post_task", "datestart"),
    ("post_task", "dateend"),
    ("update_task", "datestart"),
    ("update_task", "dateend"),
    ("update_task", "dateclosed"),
    ("get_costs", "datestart"),
    ("get_costs", "dateend"),
    ("get_costs_total", "datestart"),
    ("get_costs_total", "dateend"),
    ("add_costs", "date"),
    ("update_costs", "date"),
    ("get_users_schedule", "datestart"),
    ("get_users_schedule", "dateend"),
]


@pytest.mark.parametrize(("action", "key"), DATE_PARAMS)
@pytest.mark.parametrize(
    "value",
    [ISO, "2025-6-30", "30/06/2025", "30.06.25", "1.7.2025", "31.06.2025", "30.06.2025 10:00"],
)
def test_dates_other_than_dd_mm_yyyy_are_error_10(action: str, key: str, value: str) -> None:
    """Every request date takes DD.MM.YYYY only: anything else is 10 naming the field,
    and nothing changes."""
    fake = account()
    params, user = BASE[action]
    before = _fingerprint(fake)
    answer = fake.call(action, as_user=user, **params, **{key: value})
    assert answer == {
        "status": "error",
        "status_code": 10,
        "message": "Field is required",
        "message_details": key,
    }
    assert _fingerprint(fake) == before


@pytest.mark.parametrize(("action", "key"), DATE_PARAMS)
def test_dd_mm_yyyy_dates_are_taken(action: str, key: str) -> None:
    """The documented format passes for the same parameters."""
    fake = account()
    params, user = BASE[action]
    assert fake.call(action, as_user=user, **params, **{key: "30.06.2025"})["status"] == "ok"


def test_dates_take_effect_and_schedules_take_both_formats() -> None:
    """A DD.MM.YYYY date is stored; update_users_schedule documents ISO days as well."""
    fake = account()
    fake.call("update_task", id_task=100, datestart="01.07.2025", dateend="15.07.2025")
    task = fake.tasks[100]
    assert (str(task.date_start), str(task.date_end)) == ("2025-07-01", "2025-07-15")
    data = json.dumps({DEV: {"2025-07-02": "sick-leave", "03.07.2025": "vacation"}})
    assert fake.call("update_users_schedule", data=data)["status"] == "ok"
    shown = fake.call("get_users_schedule", users=DEV, datestart="01.07.2025")
    assert shown["data"]["3001"]["schedule"] == {  # type: ignore[index,call-overload]
        "2025-07-02": "sick-leave",
        "2025-07-03": "vacation",
    }


BAD_VALUES = [
    # filter date literals are DD.MM.YYYY too
    ("search_tasks", {"filter": f"dateend > '{ISO}'"}, "filter"),
    ("get_costs", {"filter": f"dateadd = '{ISO}'"}, "filter"),
    # flags are 1 or 0
    ("get_costs", {"is_timer": "true"}, "is_timer"),
    ("get_costs_total", {"is_timer": "yes"}, "is_timer"),
    ("add_costs", {"is_rate": "true"}, "is_rate"),
    ("update_costs", {"is_rate": "on"}, "is_rate"),
    ("add_user_group", {"client": "yes"}, "client"),
    ("post_project", {"options.allow_close": "true"}, "options.allow_close"),
    ("update_project", {"options.timer_only": "on"}, "options.timer_only"),
    # enumerations
    ("get_projects", {"filter": "closed"}, "filter"),
    ("get_all_tasks", {"filter": "closed"}, "filter"),
    ("get_tasks", {"filter": "completed"}, "filter"),
    ("get_task", {"filter": "inactive"}, "filter"),
    ("search_tasks", {"status": "closed"}, "status"),
    ("get_task_tags", {"type": "tag"}, "type"),
    ("get_task_tags", {"access": "everyone"}, "access"),
    ("get_project_tags", {"type": "stage"}, "type"),
    ("get_task_tag_groups", {"access": "team"}, "access"),
    ("get_project_tag_groups", {"type": "labels"}, "type"),
    ("add_user", {"role": "admin"}, "role"),
    # numbers and periods (checked before this issue too)
    ("post_task", {"priority": "high"}, "priority"),
    ("update_task", {"priority": "11"}, "priority"),
    ("post_task", {"max_time": "-1"}, "max_time"),
    ("update_project", {"max_money": "lots"}, "max_money"),
    ("add_costs", {"time": "90 minutes"}, "time"),
    ("get_events", {"period": "1w"}, "period"),
]


@pytest.mark.parametrize(
    ("action", "bad", "key"), BAD_VALUES, ids=[f"{a}-{k}" for a, _, k in BAD_VALUES]
)
def test_values_of_the_wrong_form_are_error_10(action: str, bad: dict[str, Any], key: str) -> None:
    """A value outside the documented ones is 10 naming the field; nothing changes."""
    fake = account()
    params, user = BASE[action]
    before = _fingerprint(fake)
    answer = fake.call(action, as_user=user, **{**params, **bad})
    assert answer == {
        "status": "error",
        "status_code": 10,
        "message": "Field is required",
        "message_details": key,
    }
    assert _fingerprint(fake) == before


GOOD_VALUES = [
    ("get_costs", {"is_timer": "1"}),
    ("get_costs", {"is_timer": "0"}),
    ("get_costs", {"is_timer": True}),
    ("add_costs", {"is_rate": "1"}),
    ("add_user_group", {"client": "1"}),
    ("post_project", {"options.allow_close": "1", "options.timer_only": "0"}),
    ("get_projects", {"filter": "archive"}),
    ("get_projects", {"filter": "archived"}),
    ("get_projects", {"filter": "Pending"}),
    ("get_all_tasks", {"filter": "active"}),
    ("search_tasks", {"status": "done"}),
    ("get_task_tags", {"type": "label", "access": "public"}),
    ("search_tasks", {"filter": "dateend > '30.06.2025'"}),
    ("get_projects", {"extra": "text, options, users, unknown"}),
]


@pytest.mark.parametrize(("action", "good"), GOOD_VALUES)
def test_documented_values_pass(action: str, good: dict[str, Any]) -> None:
    """The documented values (and JSON true for a flag) are taken."""
    fake = account()
    params, user = BASE[action]
    assert fake.call(action, as_user=user, **{**params, **good})["status"] == "ok"


def test_flags_and_filters_take_effect() -> None:
    """is_timer selects rows, options are stored, filter=active drops done tasks."""
    fake = account()
    fake.add_cost(100, minutes=15, is_timer=True, id=3001)
    timer_rows = fake.call("get_costs", is_timer="1")["data"]
    assert [row["id"] for row in timer_rows] == ["3001"]  # type: ignore[index,union-attr]
    project = fake.call("post_project", title="Flags", **{"options.allow_give": "1"})
    assert fake.projects[int(project["data"]["id"])].options == {"allow_give": 1}  # type: ignore[index,call-overload]
    active = fake.call("get_tasks", id_project=10, filter="active")["data"]
    assert [t["id"] for t in active] == ["100"]  # type: ignore[index,union-attr]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
async def test_json_bodies_are_checked_the_same_way() -> None:
    """The SDK's JSON bodies: an ISO date is 10, JSON true is the flag 1, ints are ids."""
    fake = account()

    async def post(action: str, body: dict[str, Any]) -> dict[str, Any]:
        async with client_for(fake) as http:
            response = await http.post(
                f"/api/admin/v2?action={action}",
                json=body,
                headers={"Authorization": hmac_authorization(action, fake.api_key, int(NOW))},
            )
        answer = response.json()
        assert isinstance(answer, dict)
        return answer

    refused = await post("update_task", {"id_task": 100, "dateend": ISO})
    assert (refused["status_code"], refused["message_details"]) == (10, "dateend")
    assert (await post("get_costs", {"id_task": 100, "is_timer": False}))["status"] == "ok"
    wrong = await post("get_costs", {"is_timer": "false"})
    assert (wrong["status_code"], wrong["message_details"]) == (10, "is_timer")
    assert fake.internal_errors == []
