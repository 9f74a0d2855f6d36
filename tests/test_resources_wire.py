"""The exact wire request of every resource method, and the model it returns (respx).

One table row per method call: the action, the page, every other parameter as sent
(``PageHash`` signer: ``action``, ``page``, params, ``hash`` in the query string), the
answer the mock gives, and a check of the returned value. Runs on asyncio and trio.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import attrs
import httpx
import pytest
import respx

from worksection_async import Client, CostFilter, SubtaskPage, TaskFilter, TaskPage
from worksection_async.models import (
    Comment,
    Contact,
    ContactGroup,
    CostReport,
    CostTotals,
    CustomField,
    Event,
    File,
    MyTimer,
    Project,
    ProjectGroup,
    ProjectOptions,
    Tag,
    TagGroup,
    Task,
    Timer,
    User,
    UserGroup,
    UserSchedule,
    Webhook,
)
from worksection_async.resources import ScheduleUpdate

pytestmark = pytest.mark.anyio

USER_REF = {"id": "5", "email": "ann@example.com", "name": "Ann Lee"}
TASK = {"id": "2", "name": "Write", "page": "/project/1/2/", "status": "active", "priority": "1"}
SUBTASK = {"id": "3", "name": "Sub", "page": "/project/1/2/3/", "status": "active", "priority": "0"}
PROJECT = {"id": "1", "name": "Site", "page": "/project/1/", "status": "active"}
COMMENT = {
    "id": "9",
    "page": "/project/1/2/#com9",
    "text": "Hi",
    "date_added": "2024-01-02 10:00",
    "user_from": USER_REF,
}
USER = {"id": "5", "first_name": "Ann", "last_name": "Lee", "name": "Ann Lee", "email": "a@x.io"}
CONTACT = {"id": "6", "first_name": "Cy", "last_name": "Do", "name": "Cy Do"}
TEAM = {"id": "7", "title": "Clients", "type": "company", "client": 1}
FOLDER = {"id": "8", "title": "Partners", "type": "folder"}
TAG = {"id": "3", "title": "Urgent"}
TAG_GROUP = {"id": "4", "title": "Stages", "type": "status", "access": "public"}
FIELD = {"id": "8", "name": "Budget", "type": "number"}
EVENT = {
    "action": "post",
    "object": {"type": "task", "id": "2", "page": "/project/1/2/"},
    "date_added": "2024-01-02 10:00",
}
TOTAL = {"time": "1:30", "money": "10.00"}
FILE = {"id": "11", "page": "/download/11/", "name": "a.txt", "size": "3"}
WEBHOOK = {"id": "13", "url": "https://hooks.example.com/ws", "events": "post_task,close_task"}
TIMER = {"id": "21", "time": "00:10:00", "date_started": "2024-01-02 10:00", "user_from": USER_REF}
ANN, BOB, CY = "ann@example.com", "bob@example.com", "cy@example.com"
DAY1, DAY2 = dt.date(2024, 1, 2), dt.date(2024, 2, 29)

Answer = dict[str, Any]


def ok(data: Any = None, **top: Any) -> Answer:
    body: Answer = {"status": "ok"}
    if data is not None:
        body["data"] = data
    body.update(top)
    return body


@attrs.frozen
class Case:
    id: str
    call: Callable[[Client], Awaitable[object]]
    action: str
    page: str | None
    params: dict[str, str | list[str]]
    answer: Answer
    check: Callable[[Any], bool]


def is_list_of(model: type) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(isinstance(v, model) for v in value)


def is_a(model: type) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, model)


def is_none(value: Any) -> bool:
    return value is None


T = "/project/1/2/"
S = "/project/1/2/3/"

CASES = [
    # -- members, teams, contacts ---------------------------------------------------
    Case("me", lambda c: c.members.me(), "me", None, {}, ok(USER), is_a(User)),
    Case(
        "get_users", lambda c: c.members.list(), "get_users", None, {}, ok([USER]), is_list_of(User)
    ),
    Case(
        "add_user",
        lambda c: c.members.add(
            ANN,
            first_name="Ann",
            last_name="Lee",
            title="CTO",
            group="Core",
            department="R&D",
            role="guest",
        ),
        "add_user",
        None,
        {
            "email": ANN,
            "first_name": "Ann",
            "last_name": "Lee",
            "title": "CTO",
            "group": "Core",
            "department": "R&D",
            "role": "guest",
        },
        ok(USER),
        lambda u: isinstance(u, User) and u.id == 5,
    ),
    Case(
        "add_user_min",
        lambda c: c.members.add(ANN),
        "add_user",
        None,
        {"email": ANN},
        ok(USER),
        is_a(User),
    ),
    Case(
        "get_user_groups",
        lambda c: c.members.groups(),
        "get_user_groups",
        None,
        {},
        ok([TEAM]),
        is_list_of(UserGroup),
    ),
    Case(
        "add_user_group",
        lambda c: c.members.add_group("Clients", client=True),
        "add_user_group",
        None,
        {"title": "Clients", "client": "1"},
        ok(TEAM),
        lambda g: isinstance(g, UserGroup) and g.client is True,
    ),
    Case(
        "add_user_group_company",
        lambda c: c.members.add_group("Core"),
        "add_user_group",
        None,
        {"title": "Core"},
        ok(TEAM),
        is_a(UserGroup),
    ),
    Case(
        "get_contacts",
        lambda c: c.contacts.list(),
        "get_contacts",
        None,
        {},
        ok([CONTACT]),
        is_list_of(Contact),
    ),
    Case(
        "add_contact",
        lambda c: c.contacts.add(
            CY,
            "Cy Do",
            title="Buyer",
            group="Partners",
            phone="+1 1",
            office_phone="2",
            mobile_phone="3",
            home_phone="4",
            address="Main St 1",
            address2="Apt 2",
        ),
        "add_contact",
        None,
        {
            "email": CY,
            "name": "Cy Do",
            "title": "Buyer",
            "group": "Partners",
            "phone": "+1 1",
            "phone2": "2",
            "phone3": "3",
            "phone4": "4",
            "address": "Main St 1",
            "address2": "Apt 2",
        },
        ok(CONTACT),
        is_a(Contact),
    ),
    Case(
        "get_contact_groups",
        lambda c: c.contacts.groups(),
        "get_contact_groups",
        None,
        {},
        ok([FOLDER]),
        is_list_of(ContactGroup),
    ),
    Case(
        "add_contact_group",
        lambda c: c.contacts.add_group("Partners"),
        "add_contact_group",
        None,
        {"title": "Partners"},
        ok(FOLDER),
        is_a(ContactGroup),
    ),
    Case(
        "subscribe",
        lambda c: c.task(T).subscribe(ANN),
        "subscribe",
        T,
        {"email_user": ANN},
        ok(),
        is_none,
    ),
    Case(
        "unsubscribe",
        lambda c: c.task(S).unsubscribe(ANN),
        "unsubscribe",
        S,
        {"email_user": ANN},
        ok(),
        is_none,
    ),
    # -- schedules -------------------------------------------------------------------
    Case(
        "get_users_schedule",
        lambda c: c.schedules.get([ANN, 5], start=DAY1, end=DAY2),
        "get_users_schedule",
        None,
        {"users": f"{ANN},5", "datestart": "02.01.2024", "dateend": "29.02.2024"},
        ok({"5": {"id": "5", "email": ANN, "schedule": {"2024-01-02": "vacation"}}}),
        lambda s: (
            isinstance(s, list)
            and isinstance(s[0], UserSchedule)
            and s[0].schedule == {DAY1: "vacation"}
        ),
    ),
    Case(
        "get_users_schedule_all",
        lambda c: c.schedules.get(),
        "get_users_schedule",
        None,
        {},
        ok([]),
        lambda s: s == [],
    ),
    Case(
        "update_users_schedule",
        lambda c: c.schedules.update(
            {ANN: {DAY1: "vacation", DAY2: "sick-leave"}, 5: {DAY1: "unset"}}
        ),
        "update_users_schedule",
        None,
        {
            "data": (
                '{"ann@example.com":{"02.01.2024":"vacation","29.02.2024":"sick-leave"},'
                '"5":{"02.01.2024":"unset"}}'
            )
        },
        ok([], message="Days added: 2, days updated: 1"),
        lambda u: u == ScheduleUpdate(message="Days added: 2, days updated: 1", added=2, updated=1),
    ),
    # -- projects --------------------------------------------------------------------
    Case(
        "get_projects",
        lambda c: c.projects.list(filter="archive", extra=["text", "users", "text"]),
        "get_projects",
        None,
        {"filter": "archive", "extra": "text,users"},
        ok([PROJECT]),
        is_list_of(Project),
    ),
    Case(
        "get_projects_all",
        lambda c: c.projects.list(),
        "get_projects",
        None,
        {},
        ok([]),
        lambda v: v == [],
    ),
    Case(
        "get_project",
        lambda c: c.project(1).get(extra="options"),
        "get_project",
        "/project/1/",
        {"extra": "options"},
        ok(PROJECT),
        lambda p: isinstance(p, Project) and p.id == 1,
    ),
    Case(
        "post_project",
        lambda c: c.projects.create(
            "Site",
            author=ANN,
            manager=BOB,
            assignee="any",
            members=[ANN, BOB, ANN],
            text="About",
            folder="Clients",
            start=DAY1,
            end=DAY2,
            max_time=Decimal("10.50"),
            max_money=1000,
            tags=["Big", 3],
            options={"allow_close": True, "timer_only": True, "deny_task_edit": False},
            extra=["options"],
        ),
        "post_project",
        None,
        {
            "title": "Site",
            "email_user_from": ANN,
            "email_manager": BOB,
            "email_user_to": "ANY",
            "members": f"{ANN},{BOB}",
            "text": "About",
            "company": "Clients",
            "datestart": "02.01.2024",
            "dateend": "29.02.2024",
            "max_time": "10.5",
            "max_money": "1000",
            "tags": "Big,3",
            "extra": "options",
            "options.allow_close": "1",
            "options.timer_only": "1",
            "options.deny_task_edit": "0",
        },
        ok(PROJECT),
        is_a(Project),
    ),
    Case(
        "update_project",
        lambda c: c.project("https://acme.worksection.com/project/1/").update(
            title="Site 2",
            manager=BOB,
            assignee="NOONE",
            members=CY,
            start=DAY1,
            end=DAY2,
            max_time=2,
            max_money=Decimal("99.90"),
            tags=[],
            options=ProjectOptions(time_today=True, allow_give=False),
        ),
        "update_project",
        "/project/1/",
        {
            "title": "Site 2",
            "email_manager": BOB,
            "email_user_to": "NOONE",
            "members": CY,
            "datestart": "02.01.2024",
            "dateend": "29.02.2024",
            "max_time": "2",
            "max_money": "99.9",
            "tags": "",
            "options.allow_give": "0",
            "options.time_today": "1",
        },
        ok(PROJECT),
        is_a(Project),
    ),
    Case(
        "close_project",
        lambda c: c.project(1).close(),
        "close_project",
        "/project/1/",
        {},
        ok(),
        is_none,
    ),
    Case(
        "activate_project",
        lambda c: c.project(1).activate(),
        "activate_project",
        "/project/1/",
        {},
        ok(),
        is_none,
    ),
    Case(
        "add_project_members",
        lambda c: c.project(1).add_members([ANN, BOB]),
        "add_project_members",
        "/project/1/",
        {"members": f"{ANN},{BOB}"},
        ok(),
        is_none,
    ),
    Case(
        "delete_project_members",
        lambda c: c.project(1).remove_members([BOB]),
        "delete_project_members",
        "/project/1/",
        {"members": BOB},
        ok(),
        is_none,
    ),
    Case(
        "get_project_groups",
        lambda c: c.projects.groups(),
        "get_project_groups",
        None,
        {},
        ok([FOLDER, TEAM]),
        is_list_of(ProjectGroup),
    ),
    Case(
        "add_project_group",
        lambda c: c.projects.add_group("Partners"),
        "add_project_group",
        None,
        {"title": "Partners"},
        ok(FOLDER),
        is_a(ProjectGroup),
    ),
    Case(
        "get_project_custom_fields",
        lambda c: c.projects.custom_fields(),
        "get_project_custom_fields",
        None,
        {},
        ok([FIELD]),
        is_list_of(CustomField),
    ),
    Case(
        "get_events",
        lambda c: c.events.list("12h", project=1),
        "get_events",
        "/project/1/",
        {"period": "12h"},
        ok([EVENT]),
        is_list_of(Event),
    ),
    Case(
        "get_events_account",
        lambda c: c.events.list(dt.timedelta(minutes=90)),
        "get_events",
        None,
        {"period": "90m"},
        ok([]),
        lambda v: v == [],
    ),
    Case(
        "get_events_project",
        lambda c: c.project(1).events(dt.timedelta(days=2)),
        "get_events",
        "/project/1/",
        {"period": "2d"},
        ok([EVENT]),
        is_list_of(Event),
    ),
    # -- tasks -----------------------------------------------------------------------
    Case(
        "get_all_tasks",
        lambda c: c.tasks.list(active_only=True, extra=["archive", "files"]),
        "get_all_tasks",
        None,
        {"filter": "active", "extra": "archive,files"},
        ok([TASK]),
        is_list_of(Task),
    ),
    Case(
        "get_tasks",
        lambda c: c.project(1).tasks(extra=["subtasks"]),
        "get_tasks",
        "/project/1/",
        {"extra": "subtasks"},
        ok([TASK]),
        is_list_of(Task),
    ),
    Case(
        "get_tasks_active",
        lambda c: c.project(1).tasks(active_only=True),
        "get_tasks",
        "/project/1/",
        {"filter": "active"},
        ok([]),
        lambda v: v == [],
    ),
    Case(
        "get_task",
        lambda c: c.task(TaskPage(1, 2)).get(
            extra=["relations", "custom_fields"], active_only=True
        ),
        "get_task",
        T,
        {"extra": "relations,custom_fields", "filter": "active"},
        ok(TASK),
        lambda t: isinstance(t, Task) and t.page == TaskPage(1, 2),
    ),
    Case(
        "get_task_subtasks",
        lambda c: c.project(1).task(2).subtasks(),
        "get_task",
        T,
        {"extra": "subtasks"},
        ok({**TASK, "child": [SUBTASK]}),
        lambda v: [t.page for t in v] == [SubtaskPage(1, 2, 3)],
    ),
    Case(
        "get_task_no_subtasks",
        lambda c: c.task(T).subtasks(active_only=True),
        "get_task",
        T,
        {"extra": "subtasks", "filter": "active"},
        ok(TASK),
        lambda v: v == [],
    ),
    Case(
        "post_task",
        lambda c: c.project(1).post_task(
            "Write",
            assignee=ANN,
            author=BOB,
            priority=7,
            text="Details",
            todo=["one", "two"],
            start=DAY1,
            end=DAY2,
            subscribers=[ANN, CY],
            hidden=[BOB],
            mention=[CY],
            max_time=1.5,
            max_money=20,
            tags=["Big", 4],
        ),
        "post_task",
        "/project/1/",
        {
            "title": "Write",
            "email_user_from": BOB,
            "email_user_to": ANN,
            "priority": "7",
            "text": "Details",
            "todo[]": ["one", "two"],
            "datestart": "02.01.2024",
            "dateend": "29.02.2024",
            "subscribe": f"{ANN},{CY}",
            "hidden": BOB,
            "mention": CY,
            "max_time": "1.5",
            "max_money": "20",
            "tags": "Big,4",
        },
        ok(TASK),
        lambda t: isinstance(t, Task) and t.id == 2,
    ),
    Case(
        "post_task_subtask",
        lambda c: c.task(T).post_subtask("Sub", priority=0),
        "post_task",
        "/project/1/",
        {"title": "Sub", "id_parent": "2", "priority": "0"},
        ok(SUBTASK),
        lambda t: isinstance(t, Task) and t.page == SubtaskPage(1, 2, 3),
    ),
    Case(
        "post_task_subsubtask",
        lambda c: c.task(T).subtask(3).post_subtask("Deeper"),
        "post_task",
        "/project/1/",
        {"title": "Deeper", "id_parent": "3"},
        ok({**SUBTASK, "id": "4", "page": "/project/1/2/4/"}),
        is_a(Task),
    ),
    Case(
        "update_task",
        lambda c: c.task(S).update(
            title="Renamed",
            assignee="ANY",
            priority=10,
            start=DAY1,
            end=DAY2,
            closed=DAY2,
            max_time=Decimal("0.25"),
            max_money=Decimal("1E+3"),
            tags=["Done", 6],
        ),
        "update_task",
        S,
        {
            "title": "Renamed",
            "email_user_to": "ANY",
            "priority": "10",
            "datestart": "02.01.2024",
            "dateend": "29.02.2024",
            "dateclosed": "29.02.2024",
            "max_time": "0.25",
            "max_money": "1000",
            "tags": "Done,6",
        },
        ok(SUBTASK),
        is_a(Task),
    ),
    Case(
        "complete_task", lambda c: c.task(T).complete(), "complete_task", T, {}, ok(TASK), is_none
    ),
    Case("reopen_task", lambda c: c.task(T).reopen(), "reopen_task", T, {}, ok(), is_none),
    Case(
        "search_tasks",
        lambda c: c.tasks.search(
            filter=TaskFilter.name.has("Report") & (TaskFilter.dateend > DAY1),
            project=1,
            author=ANN,
            assignee="noone",
            status="done",
            extra=["html"],
        ),
        "search_tasks",
        "/project/1/",
        {
            "filter": "name has 'Report' and dateend>'02.01.2024'",
            "email_user_from": ANN,
            "email_user_to": "NOONE",
            "status": "done",
            "extra": "html",
        },
        ok([TASK]),
        is_list_of(Task),
    ),
    Case(
        "search_tasks_task",
        lambda c: c.tasks.search(project="/project/1/", task=T),
        "search_tasks",
        T,
        {},
        ok([]),
        lambda v: v == [],
    ),
    Case(
        "search_tasks_text",
        lambda c: c.tasks.search(filter="id in (1, 2)"),
        "search_tasks",
        None,
        {"filter": "id in (1, 2)"},
        ok([TASK]),
        is_list_of(Task),
    ),
    Case(
        "get_task_custom_fields",
        lambda c: c.tasks.custom_fields(),
        "get_task_custom_fields",
        None,
        {},
        ok([FIELD]),
        is_list_of(CustomField),
    ),
    # -- comments --------------------------------------------------------------------
    Case(
        "get_comments",
        lambda c: c.task(T).comments(with_files=True),
        "get_comments",
        T,
        {"extra": "files"},
        ok([COMMENT]),
        is_list_of(Comment),
    ),
    Case(
        "get_comments_plain",
        lambda c: c.task(T).comments(),
        "get_comments",
        T,
        {},
        ok([]),
        lambda v: v == [],
    ),
    Case(
        "post_comment",
        lambda c: c.task(T).post_comment(
            "Hi", todo=["check"], author=ANN, hidden=[BOB, CY], mention=ANN
        ),
        "post_comment",
        T,
        {
            "text": "Hi",
            "todo[]": ["check"],
            "email_user_from": ANN,
            "hidden": f"{BOB},{CY}",
            "mention": ANN,
        },
        ok(COMMENT),
        lambda m: isinstance(m, Comment) and m.path == "/project/1/2/#com9",
    ),
    Case(
        "post_comment_todo_only",
        lambda c: c.task(T).post_comment(todo=["a", "b"]),
        "post_comment",
        T,
        {"todo[]": ["a", "b"]},
        ok(COMMENT),
        is_a(Comment),
    ),
    # -- tags ------------------------------------------------------------------------
    Case(
        "get_task_tags",
        lambda c: c.tags.task_tags(group="Stages", type="status", access="public"),
        "get_task_tags",
        None,
        {"group": "Stages", "type": "status", "access": "public"},
        ok([TAG]),
        is_list_of(Tag),
    ),
    Case(
        "add_task_tags",
        lambda c: c.tags.add_task_tags(4, ["New", "Old"]),
        "add_task_tags",
        None,
        {"group": "4", "title": "New,Old"},
        ok([TAG]),
        is_list_of(Tag),
    ),
    Case(
        "update_task_tags",
        lambda c: c.task(T).update_tags(add=["New"], remove=[3]),
        "update_task_tags",
        T,
        {"plus": "New", "minus": "3"},
        ok(),
        is_none,
    ),
    Case(
        "get_task_tag_groups",
        lambda c: c.tags.task_groups(access="private"),
        "get_task_tag_groups",
        None,
        {"access": "private"},
        ok([TAG_GROUP]),
        is_list_of(TagGroup),
    ),
    Case(
        "add_task_tag_groups",
        lambda c: c.tags.add_task_groups(["Stages", "Kinds"], type="label", access="public"),
        "add_task_tag_groups",
        None,
        {"title": "Stages,Kinds", "type": "label", "access": "public"},
        ok([TAG_GROUP]),
        is_list_of(TagGroup),
    ),
    Case(
        "get_project_tags",
        lambda c: c.tags.project_tags(),
        "get_project_tags",
        None,
        {},
        ok([TAG]),
        is_list_of(Tag),
    ),
    Case(
        "add_project_tags",
        lambda c: c.tags.add_project_tags("Sizes", "Big"),
        "add_project_tags",
        None,
        {"group": "Sizes", "title": "Big"},
        ok([TAG]),
        is_list_of(Tag),
    ),
    Case(
        "update_project_tags",
        lambda c: c.project(1).update_tags(remove=["Big", "Small"]),
        "update_project_tags",
        "/project/1/",
        {"minus": "Big,Small"},
        ok(),
        is_none,
    ),
    Case(
        "get_project_tag_groups",
        lambda c: c.tags.project_groups(type="label"),
        "get_project_tag_groups",
        None,
        {"type": "label"},
        ok([TAG_GROUP]),
        is_list_of(TagGroup),
    ),
    Case(
        "add_project_tag_groups",
        lambda c: c.tags.add_project_groups("Sizes", access="private"),
        "add_project_tag_groups",
        None,
        {"title": "Sizes", "access": "private"},
        ok([TAG_GROUP]),
        is_list_of(TagGroup),
    ),
    # -- costs -----------------------------------------------------------------------
    Case(
        "get_costs",
        lambda c: c.costs.list(
            project=1, start=DAY1, end=DAY2, timer=False, filter=CostFilter.comment.has("review")
        ),
        "get_costs",
        "/project/1/",
        {
            "datestart": "02.01.2024",
            "dateend": "29.02.2024",
            "is_timer": "0",
            "filter": "comment has 'review'",
        },
        ok([], total=TOTAL),
        lambda r: (
            isinstance(r, CostReport)
            and r.total is not None
            and r.total.time == dt.timedelta(minutes=90)
        ),
    ),
    Case(
        "get_costs_task",
        lambda c: c.task(S).costs(timer=True),
        "get_costs",
        S,
        {"is_timer": "1"},
        ok([], total=TOTAL),
        is_a(CostReport),
    ),
    Case(
        "get_costs_project",
        lambda c: c.project(1).costs(),
        "get_costs",
        "/project/1/",
        {},
        ok([]),
        lambda r: isinstance(r, CostReport) and r.costs == (),
    ),
    Case(
        "get_costs_bare_ok",
        lambda c: c.costs.list(),
        "get_costs",
        None,
        {},
        ok(),
        lambda r: isinstance(r, CostReport) and r.costs == () and r.total is None,
    ),
    Case(
        "get_costs_total",
        lambda c: c.costs.total(task=T, breakdown="top_level_tasks", filter="project = 1"),
        "get_costs_total",
        T,
        {"extra": "projects,tasks_top_level", "filter": "project = 1"},
        ok(total=TOTAL),
        lambda t: isinstance(t, CostTotals) and t.total.money == Decimal("10.00"),
    ),
    Case(
        "get_costs_total_all",
        lambda c: c.costs.total(breakdown="projects"),
        "get_costs_total",
        None,
        {"extra": "projects"},
        ok(total=TOTAL, projects={}),
        is_a(CostTotals),
    ),
    Case(
        "add_costs",
        lambda c: c.task(T).add_cost(
            time=dt.timedelta(hours=1, minutes=5),
            money=Decimal("12.50"),
            author=ANN,
            comment="Review",
            date=DAY1,
        ),
        "add_costs",
        T,
        {
            "time": "1:05",
            "money": "12.5",
            "email_user_from": ANN,
            "comment": "Review",
            "date": "02.01.2024",
        },
        ok(id=77),
        lambda v: v == 77,
    ),
    Case(
        "add_costs_rate",
        lambda c: c.task(T).add_cost(time=0.25, from_rate=True),
        "add_costs",
        T,
        {"time": "0.25", "is_rate": "1"},
        ok(id="78"),
        lambda v: v == 78,
    ),
    Case(
        "update_costs",
        lambda c: c.costs.update(77, time=2, comment="Again", date=DAY2),
        "update_costs",
        None,
        {"id_costs": "77", "time": "2", "comment": "Again", "date": "29.02.2024"},
        ok(),
        is_none,
    ),
    Case(
        "delete_costs",
        lambda c: c.costs.delete(77),
        "delete_costs",
        None,
        {"id_costs": "77"},
        ok(),
        is_none,
    ),
    # -- timers ----------------------------------------------------------------------
    Case(
        "get_timers",
        lambda c: c.timers.list(),
        "get_timers",
        None,
        {},
        ok([{**TIMER, "task": TASK}]),
        is_list_of(Timer),
    ),
    Case(
        "stop_timer",
        lambda c: c.timers.stop(21),
        "stop_timer",
        None,
        {"timer": "21"},
        ok(),
        is_none,
    ),
    Case(
        "get_my_timer",
        lambda c: c.timers.mine(),
        "get_my_timer",
        None,
        {},
        ok({"time": 600, "date_started": "2024-01-02 10:00", "task": TASK}),
        lambda t: isinstance(t, MyTimer) and t.time == dt.timedelta(minutes=10),
    ),
    Case("get_my_timer_none", lambda c: c.timers.mine(), "get_my_timer", None, {}, ok([]), is_none),
    Case("start_my_timer", lambda c: c.timers.start(T), "start_my_timer", T, {}, ok(), is_none),
    Case(
        "start_my_timer_handle",
        lambda c: c.task(S).start_timer(),
        "start_my_timer",
        S,
        {},
        ok(),
        is_none,
    ),
    Case(
        "stop_my_timer",
        lambda c: c.timers.stop_mine(comment="Done"),
        "stop_my_timer",
        None,
        {"comment": "Done"},
        ok(),
        is_none,
    ),
    Case(
        "delete_my_timer",
        lambda c: c.timers.delete_mine(),
        "delete_my_timer",
        None,
        {},
        ok(),
        is_none,
    ),
    # -- files -----------------------------------------------------------------------
    Case(
        "get_files_project",
        lambda c: c.project(1).files(),
        "get_files",
        "/project/1/",
        {},
        ok([FILE]),
        is_list_of(File),
    ),
    Case(
        "get_files_task",
        lambda c: c.task(T).files(),
        "get_files",
        T,
        {},
        ok([FILE]),
        is_list_of(File),
    ),
    # -- webhooks --------------------------------------------------------------------
    Case(
        "get_webhooks",
        lambda c: c.webhooks.list(),
        "get_webhooks",
        None,
        {},
        ok([WEBHOOK]),
        lambda v: isinstance(v[0], Webhook) and v[0].events == ("post_task", "close_task"),
    ),
    Case(
        "add_webhook",
        lambda c: c.webhooks.add(
            "https://hooks.example.com/ws",
            ["post_task", "close_task"],
            projects=[1, "/project/2/"],
            http_user="hook",
            http_pass="secret",
        ),
        "add_webhook",
        None,
        {
            "url": "https://hooks.example.com/ws",
            "events": "post_task,close_task",
            "projects": "1,2",
            "http_user": "hook",
            "http_pass": "secret",
        },
        ok(id=130),
        lambda v: v == 130,
    ),
    Case(
        "delete_webhook",
        lambda c: c.webhooks.delete(130),
        "delete_webhook",
        None,
        {"id": "130"},
        ok(),
        is_none,
    ),
]


def sent(request: httpx.Request) -> tuple[str, str | None, dict[str, str | list[str]]]:
    """The action, the page and the other parameters of a PageHash request."""
    pairs = parse_qsl(request.url.query.decode(), keep_blank_values=True)
    params: dict[str, str | list[str]] = {}
    for key, value in pairs:
        if key.endswith("[]"):
            listed = params.setdefault(key, [])
            assert isinstance(listed, list)
            listed.append(value)
        else:
            assert key not in params, f"{key} sent twice"
            params[key] = value
    action = params.pop("action")
    page = params.pop("page", None)
    assert isinstance(params.pop("hash"), str)
    assert isinstance(action, str)
    assert page is None or isinstance(page, str)
    return action, page, params


def test_every_action_has_a_wire_case() -> None:
    """The table covers all 63 actions but ``download`` and ``upload_files`` (their
    bodies are files: see test_resources_files.py)."""
    from .test_actions_table import API_ACTIONS

    covered = {case.action for case in CASES}
    assert covered == API_ACTIONS - {"download", "upload_files"}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_wire_request(case: Case, router: respx.MockRouter, client: Client) -> None:
    """The method sends exactly this action, page and parameters, and returns the model."""
    route = router.post("/api/admin/v2/").mock(return_value=httpx.Response(200, json=case.answer))
    result = await case.call(client)
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert not request.content  # everything in the signed query string
    action, page, params = sent(request)
    assert (action, page) == (case.action, case.page)
    assert params == case.params
    assert case.check(result), result
