"""State transitions and errors of the fake's actions, through its httpx transport."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.fake_support import admin, api, client_for, md5_hex, page_hash, query_hash
from worksection_async.testing import MAX_RECORDS, TOO_MANY_TASKS_CODE, FakeWorksection


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


pytestmark = pytest.mark.anyio
DEV = "dev@example.com"


@pytest.fixture
def fake() -> FakeWorksection:
    fake = FakeWorksection()
    fake.add_user("owner@example.com", "Olga", "Owner", role="owner", rate=30)
    fake.add_user("dev@example.com", "Dan", "Dev", rate=20)
    fake.add_project("Website", id=10)
    return fake


@pytest.fixture
async def http(fake: FakeWorksection) -> Any:
    async with client_for(fake) as client:
        yield client


def error_of(body: dict[str, Any]) -> tuple[Any, Any, Any]:
    return body.get("status_code"), body.get("message"), body.get("message_details")


async def test_post_task_assigns_string_ids_and_system_links(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """Tasks, subtasks and sub-subtasks get increasing ids and their page paths."""
    task = (await api(http, fake, "post_task", id_project=10, title="Task"))["data"]
    sub = (await api(http, fake, "post_task", id_project=10, id_parent=task["id"], title="Sub"))[
        "data"
    ]
    subsub = (
        await api(http, fake, "post_task", id_project=10, id_parent=sub["id"], title="Subsub")
    )["data"]
    assert isinstance(task["id"], str) and int(sub["id"]) == int(task["id"]) + 1
    assert task["page"] == f"/project/10/{task['id']}/"
    assert sub["page"] == f"/project/10/{task['id']}/{sub['id']}/"
    assert subsub["page"] == f"/project/10/{task['id']}/{subsub['id']}/"
    assert subsub["parent"] == {
        "id": sub["id"],
        "name": "Sub",
        "page": sub["page"],
        "status": "active",
        "priority": "1",
        "parent": {
            "id": task["id"],
            "name": "Task",
            "page": task["page"],
            "status": "active",
            "priority": "1",
        },
    }
    too_deep = await api(http, fake, "post_task", id_project=10, id_parent=subsub["id"], title="x")
    assert error_of(too_deep)[:2] == (6, "Subtask is invalid")
    assert [t.name for t in fake.children_of(int(task["id"]))] == ["Sub"]
    assert fake.tasks[int(subsub["id"])].depth == 2


async def test_close_and_reopen_follow_the_rules(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """12 already closed/active, 13 open children, 14 "Parent task is done"."""
    parent = fake.add_task(10, "Parent")
    child = fake.add_task(10, "Child", parent=parent)
    assert error_of(await api(http, fake, "complete_task", id_task=parent.id)) == (
        13,
        "Task has children",
        None,
    )
    assert fake.tasks[parent.id].status == "active"
    assert (await api(http, fake, "complete_task", id_task=child.id))["status"] == "ok"
    assert error_of(await api(http, fake, "complete_task", id_task=child.id))[:2] == (
        12,
        "Task is already closed",
    )
    assert (await api(http, fake, "complete_task", id_task=parent.id))["status"] == "ok"
    assert fake.tasks[parent.id].status == "done"
    assert fake.tasks[parent.id].date_closed is not None
    assert error_of(await api(http, fake, "reopen_task", id_task=child.id))[:2] == (
        14,
        "Parent task is done",
    )
    assert fake.tasks[child.id].status == "done"
    assert (await api(http, fake, "reopen_task", id_task=parent.id))["status"] == "ok"
    assert (await api(http, fake, "reopen_task", id_task=child.id))["status"] == "ok"
    assert error_of(await api(http, fake, "reopen_task", id_task=child.id))[:2] == (
        12,
        "Task is already active",
    )
    closed = await api(http, fake, "post_task", id_project=10, id_parent=parent.id, title="x")
    assert closed["status"] == "ok"
    await api(http, fake, "complete_task", id_task=int(closed["data"]["id"]))
    await api(http, fake, "complete_task", id_task=child.id)
    await api(http, fake, "complete_task", id_task=parent.id)
    into_closed = await api(http, fake, "post_task", id_project=10, id_parent=parent.id, title="y")
    assert error_of(into_closed)[:2] == (8, "Task is closed")


async def test_unknown_and_missing_ids(http: httpx.AsyncClient, fake: FakeWorksection) -> None:
    """Unknown ids are 4/5 (non-numeric ones too); missing ids are 7/8 naming the field."""
    task = fake.add_task(10, "Task")
    assert error_of(await api(http, fake, "get_project", id_project=999)) == (
        4,
        "Project is invalid",
        None,
    )
    assert error_of(await api(http, fake, "get_tasks", id_project="abc"))[0] == 4
    assert error_of(await api(http, fake, "get_task", id_task=task.id + 100))[:2] == (
        5,
        "Task is invalid",
    )
    assert error_of(await api(http, fake, "get_comments", id_task="1e3"))[0] == 5
    assert error_of(await api(http, fake, "get_tasks")) == (7, "Project is required", "id_project")
    assert error_of(await api(http, fake, "get_task")) == (8, "Task is required", "id_task")
    assert error_of(await api(http, fake, "download", id_file=5))[:2] == (4, "File not found")


async def test_pages_address_projects_tasks_and_subtasks(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """``page=`` maps to the ids; a bad link is 3, unknown objects 4, 5 and 6."""
    task = fake.add_task(10, "Task")
    sub = fake.add_task(10, "Sub", parent=task)

    async def by_page(action: str, page: str) -> dict[str, Any]:
        response = await http.post(f"/api/admin/v2/?{page_hash(action, [], fake.api_key, page)}")
        body = response.json()
        assert isinstance(body, dict)
        return body

    assert (await by_page("get_task", f"/project/10/{task.id}/{sub.id}/"))["data"]["name"] == "Sub"
    assert (await by_page("get_project", "/project/10/"))["data"]["id"] == "10"
    assert error_of(await by_page("get_task", "/projects/10/"))[:2] == (3, "Page is invalid")
    assert error_of(await by_page("get_task", "/project/11/"))[0] == 4
    assert error_of(await by_page("get_task", f"/project/10/{task.id + 50}/"))[0] == 5
    assert error_of(await by_page("get_task", f"/project/10/{task.id}/{task.id + 50}/")) == (
        6,
        "Subtask is invalid",
        None,
    )
    created = await by_page("post_task", "/project/10/")
    assert error_of(created) == (10, "Field is required", "title")


async def test_required_fields_and_invalid_values(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """Error 10 names the field; error 11 lists the bad emails; nothing is created."""
    before = len(fake.tasks)
    assert error_of(await api(http, fake, "post_task", id_project=10)) == (
        10,
        "Field is required",
        "title",
    )
    assert error_of(await api(http, fake, "post_task", id_project=10, title="x", priority=11)) == (
        10,
        "Field is required",
        "priority",
    )
    bad_date = await api(http, fake, "post_task", id_project=10, title="x", datestart="31.02.2024")
    assert error_of(bad_date) == (10, "Field is required", "datestart")
    bad_assignee = await api(
        http, fake, "post_task", id_project=10, title="x", email_user_to="nobody@example.com"
    )
    assert error_of(bad_assignee) == (11, "Invalid email", "nobody@example.com")
    assert len(fake.tasks) == before
    assert error_of(await api(http, fake, "add_user", email="not-an-email")) == (
        11,
        "Invalid email",
        "not-an-email",
    )
    project = fake.projects[10]
    members = await api(
        http, fake, "add_project_members", id_project=10, members="dev@example.com, x@y.org"
    )
    assert error_of(members) == (11, "Invalid email", "x@y.org")
    assert fake.user_by_email("dev@example.com") is not None
    assert fake.user_by_email("dev@example.com").id not in project.member_ids  # type: ignore[union-attr]


async def test_tags_unknown_is_16_and_status_tags_exclude_each_other(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """update_task_tags: 16 for an unknown tag (no change); one status per status group."""
    task = fake.add_task(10, "Task")
    flow = fake.add_tag_group("Flow", type="status")
    todo, doing = fake.add_tag(flow, "To-do"), fake.add_tag(flow, "Doing")
    bug = fake.add_tag(fake.add_tag_group("Labels"), "bug")
    assert (await api(http, fake, "update_task_tags", id_task=task.id, plus="To-do,bug"))[
        "status"
    ] == "ok"
    assert fake.tasks[task.id].tag_ids == [todo.id, bug.id]
    unknown = await api(http, fake, "update_task_tags", id_task=task.id, plus="Doing,nope")
    assert error_of(unknown) == (16, "Tag is invalid", "nope")
    assert fake.tasks[task.id].tag_ids == [todo.id, bug.id]
    await api(http, fake, "update_task_tags", id_task=task.id, plus=str(doing.id), minus="bug")
    assert fake.tasks[task.id].tag_ids == [doing.id]
    shown = await api(http, fake, "get_task", id_task=task.id)
    assert shown["data"]["tags"] == {str(doing.id): "Doing"}


async def test_more_than_ten_thousand_tasks_is_an_error(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """get_all_tasks, get_tasks and search_tasks refuse answers over 10,000 tasks."""
    for number in range(MAX_RECORDS):
        fake.add_task(10, f"Task {number}")
    assert len((await api(http, fake, "get_tasks", id_project=10))["data"]) == MAX_RECORDS
    extra = fake.add_task(10, "One too many")
    expected = (TOO_MANY_TASKS_CODE, "Too many tasks (10000 max)", str(MAX_RECORDS + 1))
    assert error_of(await api(http, fake, "get_all_tasks")) == expected
    assert error_of(await api(http, fake, "get_tasks", id_project=10)) == expected
    assert error_of(await api(http, fake, "search_tasks", id_project=10)) == expected
    fake.call("complete_task", id_task=extra.id)
    active = await api(http, fake, "get_all_tasks", filter="active")
    assert len(active["data"]) == MAX_RECORDS


async def test_comments_checklists_mentions_and_truncation(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """todo[] items become a checklist, mentions are appended, long text is cut at 65,536."""
    task = fake.add_task(10, "Task")
    posted = await api(
        http,
        fake,
        "post_comment",
        id_task=task.id,
        text="Please",
        todo=["one", "two"],
        mention="dev@example.com",
    )
    assert posted["data"]["text"] == "Please\r\n• one\r\n• two Dan Dev"
    assert posted["data"]["page"] == f"{task.page}#com{posted['data']['id']}"
    long_text = "x" * 70_000
    response = await http.post(
        "/api/admin/v2/",
        content=_form(
            fake, [("action", "post_comment"), ("id_task", str(task.id)), ("text", long_text)]
        ),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.json()["status"] == "ok"
    assert [len(c.text) for c in fake.comments_of(task)] == [len(posted["data"]["text"]), 65_536]
    assert error_of(await api(http, fake, "post_comment", id_task=task.id)) == (
        10,
        "Field is required",
        "text",
    )
    listed = await api(http, fake, "get_comments", id_task=task.id)
    assert [c["text"][:6] for c in listed["data"]] == ["xxxxxx", "Please"]


def _form(fake: FakeWorksection, pairs: list[tuple[str, str]]) -> bytes:
    return query_hash(pairs, fake.api_key).encode()


async def test_events_record_what_requests_changed(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """Posts, updates and closes appear in get_events, with old and new values."""
    task = fake.add_task(10, "Task", priority=1)
    await api(http, fake, "update_task", id_task=task.id, priority=5, title="Renamed")
    await api(http, fake, "complete_task", id_task=task.id)
    events = (await api(http, fake, "get_events", period="1h"))["data"]
    assert [(e["action"], e["object"]["type"]) for e in events] == [
        ("update", "task"),
        ("close", "task"),
    ]
    assert events[0]["new"] == {"title": "Renamed", "priority": "5"}
    assert events[0]["old"] == {"title": "Task", "priority": "1"}
    for period in ("0h", "73h", "31d", "361m", "1w", "h"):
        assert error_of(await api(http, fake, "get_events", period=period)) == (
            10,
            "Field is required",
            "period",
        )


async def test_search_tasks_filter_grammar(http: httpx.AsyncClient, fake: FakeWorksection) -> None:
    """search_tasks needs a criterion and filters with the documented grammar."""
    report = fake.add_task(10, "Weekly report", date_end="2021-05-27")
    fake.add_task(10, "Approval of budget", date_end="2021-06-10")
    sub = fake.add_task(10, "Report draft", parent=report, status="done")
    assert error_of(await api(http, fake, "search_tasks")) == (
        10,
        "At least one of fields required",
        "filter, id_project, id_task, email_user_from, email_user_to",
    )
    found = await api(
        http,
        fake,
        "search_tasks",
        filter="(name has 'report' or name has 'Approval') and "
        "(dateend>'25.05.2021' and dateend<'31.05.2021')",
    )
    assert [t["id"] for t in found["data"]] == [str(report.id)]
    done = await api(http, fake, "search_tasks", filter=f"parent={report.id}", status="done")
    assert [t["id"] for t in done["data"]] == [str(sub.id)]
    ids = await api(http, fake, "search_tasks", filter=f"id in ({report.id}, {sub.id})")
    assert {t["id"] for t in ids["data"]} == {str(report.id), str(sub.id)}
    bad = await api(http, fake, "search_tasks", filter="priority = 3")
    assert error_of(bad) == (10, "Field is required", "filter")


async def test_costs_and_totals(http: httpx.AsyncClient, fake: FakeWorksection) -> None:
    """add_costs parses hours, update/delete change rows, get_costs sums them."""
    task = fake.add_task(10, "Task")
    first = await api(http, fake, "add_costs", id_task=task.id, time="1,5", money="10.5")
    assert first["status"] == "ok" and isinstance(first["id"], int)
    await api(http, fake, "add_costs", id_task=task.id, time="0:45", date="02.01.2024")
    rate = await api(
        http, fake, "add_costs", id_task=task.id, time="2", is_rate=1, email_user_from=DEV
    )
    assert fake.costs[rate["id"]].money == 40.0
    costs = await api(http, fake, "get_costs", id_task=task.id)
    assert [c["time"] for c in costs["data"]] == ["1:30", "0:45", "2:00"]
    assert costs["total"] == {"time": "4:15", "money": "50.50"}
    await api(http, fake, "update_costs", id_costs=first["id"], time="2:15")
    assert fake.costs[first["id"]].minutes == 135
    await api(http, fake, "delete_costs", id_costs=first["id"])
    assert first["id"] not in fake.costs
    missing = await api(http, fake, "delete_costs", id_costs=first["id"])
    assert error_of(missing)[:2] == (10, "Costs not found")
    total = await api(http, fake, "get_costs_total", extra="projects")
    assert total["total"] == {"time": "2:45", "money": "40.00"}
    assert total["projects"]["10"]["monthly"]["2024-01"]["time"] == "0:45"
    none = await api(http, fake, "add_costs", id_task=task.id)
    assert error_of(none) == (10, "Field is required", "time or money")


async def test_timers_save_costs(http: httpx.AsyncClient, fake: FakeWorksection) -> None:
    """The user's timer: start, 6 "already started", stop saves a timer cost, 7 after."""
    task = fake.add_task(10, "Task")
    token = fake.issue_token("dev@example.com")

    async def mine(action: str, **params: object) -> dict[str, Any]:
        response = await http.post(
            "/api/oauth2",
            params={"action": action, **{k: str(v) for k, v in params.items()}},
            headers={"Authorization": f"Bearer {token.access_token}"},
        )
        body = response.json()
        assert isinstance(body, dict)
        return body

    assert (await mine("get_my_timer"))["data"] == []
    assert (await mine("start_my_timer", id_task=task.id))["status"] == "ok"
    assert error_of(await mine("start_my_timer", id_task=task.id))[:2] == (
        6,
        "Timer is already started",
    )
    [running] = (await mine("get_my_timer"))["data"]  # sdk-2026: a one-element list
    assert running["task"]["id"] == str(task.id)
    timers = await api(http, fake, "get_timers")
    assert [t["user_from"]["email"] for t in timers["data"]] == ["dev@example.com"]
    assert (await mine("stop_my_timer", comment="done"))["status"] == "ok"
    assert [(c.comment, c.is_timer) for c in fake.costs_of(task)] == [("done", True)]
    assert error_of(await mine("stop_my_timer"))[:2] == (7, "Timer is not started")
    assert error_of(await mine("get_timers"))[0] == 0
    assert error_of(await api(http, fake, "get_my_timer"))[0] == 0
    stopped = await api(http, fake, "stop_timer", timer=12345)
    assert error_of(stopped) == (7, "Timer not found", None)


async def test_files_attach_upload_and_download(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """attach[n] parts on post_task, upload_files + files descriptors, download bytes."""
    query = _signed_query(fake, [("action", "post_task"), ("id_project", "10"), ("title", "T")])
    created = await http.post(
        f"/api/admin/v2/?{query}",
        files=[("attach[0]", ("spec.txt", b"hello", "text/plain"))],
    )
    task_id = int(created.json()["data"]["id"])
    [spec] = fake.files_of_task(task_id)
    assert (spec.name, spec.content) == ("spec.txt", b"hello")
    query = _signed_query(fake, [("action", "upload_files")])
    uploaded = await http.post(
        f"/api/admin/v2/?{query}", files=[("files[]", ("r\u00e9sum\u00e9.pdf", b"%PDF", "x/y"))]
    )
    [descriptor] = uploaded.json()["data"]
    assert descriptor["ext"] == "pdf"
    await api(http, fake, "post_comment", id_task=task_id, text="see file")
    response = await http.post(
        f"/api/admin/v2/?{_signed_query(fake, [('action', 'post_comment')])}",
        json={"id_task": task_id, "text": "attached", "files": [descriptor]},
    )
    assert response.json()["status"] == "ok"
    listed = await api(http, fake, "get_files", id_task=task_id)
    assert sorted(f["name"] for f in listed["data"]) == ["r\u00e9sum\u00e9.pdf", "spec.txt"]
    download = await admin(http, fake, "download", id_file=descriptor["id"])
    assert download.content == b"%PDF"
    assert download.headers["content-disposition"].endswith("filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")
    missing = await admin(http, fake, "download", id_file=1)
    assert missing.headers["content-type"] == "application/json; charset=utf-8"
    assert missing.json()["message"] == "File not found"


def _signed_query(fake: FakeWorksection, pairs: list[tuple[str, str]]) -> str:
    return query_hash(pairs, fake.api_key)


async def test_projects_members_webhooks_and_schedules(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """post_project with options, close/activate, webhooks, schedules."""
    conflict = await api(
        http, fake, "post_project", title="P", **{"options.time_today": 1, "options.timer_only": 1}
    )
    assert error_of(conflict)[0] == 11
    project = await api(
        http,
        fake,
        "post_project",
        title="New",
        email_manager="dev@example.com",
        extra="options,users",
        **{"options.allow_close": 1},
    )
    data = project["data"]
    assert data["options"]["allow_close"] == 1 and data["user_to"]["email"] == "dev@example.com"
    assert [u["email"] for u in data["users"]] == ["owner@example.com", "dev@example.com"]
    pid = int(data["id"])
    assert (await api(http, fake, "close_project", id_project=pid))["status"] == "ok"
    assert error_of(await api(http, fake, "close_project", id_project=pid))[:2] == (
        12,
        "Project is already closed",
    )
    archived = await api(http, fake, "get_projects", filter="archive")
    assert [p["id"] for p in archived["data"]] == [str(pid)]
    hook = await api(http, fake, "add_webhook", url="https://h.example.com/x", events="post_task")
    assert fake.webhooks[hook["id"]].events == ["post_task"]
    assert (await api(http, fake, "delete_webhook", id=hook["id"]))["status"] == "ok"
    assert error_of(await api(http, fake, "delete_webhook", id=hook["id"])) == (
        10,
        "WebHook not found",
        None,
    )
    signature = md5_hex("update_users_schedule" + fake.api_key)
    schedule = await http.post(
        f"/api/admin/v2?action=update_users_schedule&hash={signature}",
        json={"data": {DEV: {"07.06.2021": "vacation", "08.06.2021": "sick-leave"}}},
    )
    assert schedule.json()["message"] == "Days added: 2, days updated: 0"
    days = await api(http, fake, "get_users_schedule", users=DEV, dateend="07.06.2021")
    [entry] = days["data"].values()
    assert entry["schedule"] == {"2021-06-07": "vacation"}


async def test_request_errors_before_any_action(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """No action is 1, an unknown action 0, a URL over 8 kB HTTP 414, other paths 404."""
    no_action = await http.post(f"/api/admin/v2/?hash={md5_hex(fake.api_key)}")
    assert error_of(no_action.json()) == (1, "Action is required", None)
    unknown = await api(http, fake, "delete_task", id_task=1)
    assert error_of(unknown) == (0, "Action is invalid", None)
    long_url = await http.get("/api/admin/v2/?action=get_users&text=" + "a" * 8200)
    assert long_url.status_code == 414
    assert "414" in long_url.text
    assert (await http.get("/nowhere")).status_code == 404
    assert fake.internal_errors == []


async def test_call_runs_actions_directly(fake: FakeWorksection) -> None:
    """fake.call runs an action without HTTP, signature or quota, and is not counted."""
    posted = fake.call("post_task", id_project=10, title="Direct", todo=["a", "b"])
    data = posted["data"]
    assert isinstance(data, dict) and isinstance(data["id"], str)
    assert fake.tasks[int(data["id"])].text == "• a\r\n• b"
    assert fake.call("get_task", id_task=0)["status_code"] == 5
    me = fake.call("me", as_user=DEV)["data"]
    assert isinstance(me, dict) and me["email"] == DEV and "rate" not in me
    assert fake.stats.requests == 0
    with pytest.raises(ValueError, match="unknown action"):
        fake.call("nope")


async def test_a_page_of_the_wrong_kind_is_an_error(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """Project actions refuse task links (3), task actions project links (8); a subtask
    is linked below its top-level task only; actions without a page ignore one."""
    task = fake.add_task(10, "Task")
    sub = fake.add_task(10, "Sub", parent=task)
    subsub = fake.add_task(10, "Subsub", parent=sub)
    other = fake.add_task(10, "Other")

    async def by_page(action: str, page: str) -> dict[str, Any]:
        response = await http.post(f"/api/admin/v2/?{page_hash(action, [], fake.api_key, page)}")
        body = response.json()
        assert isinstance(body, dict)
        return body

    invalid_page = (3, "Page is invalid", None)
    assert error_of(await by_page("get_tasks", task.page)) == invalid_page
    assert error_of(await by_page("get_tasks", sub.page)) == invalid_page
    assert error_of(await by_page("get_project", task.page)) == invalid_page
    assert error_of(await by_page("get_task", "/download/5/")) == invalid_page
    assert error_of(await by_page("get_task", "/project/10/")) == (8, "Task is required", None)
    assert error_of(await by_page("complete_task", "/project/10/")) == (8, "Task is required", None)
    assert error_of(await by_page("get_task", f"/project/10/{sub.id}/")) == (
        5,
        "Task is invalid",
        None,
    )
    assert error_of(await by_page("get_task", f"/project/10/{sub.id}/{subsub.id}/"))[0] == 5
    assert error_of(await by_page("get_task", f"/project/10/{other.id}/{sub.id}/")) == (
        6,
        "Subtask is invalid",
        None,
    )
    assert error_of(await by_page("get_task", f"/project/10/{task.id}/{task.id}/"))[0] == 6
    assert (await by_page("get_task", subsub.page))["data"]["name"] == "Subsub"
    assert subsub.page == f"/project/10/{task.id}/{subsub.id}/"
    assert [t["id"] for t in (await by_page("get_tasks", "/project/10/"))["data"]] == [
        str(task.id),
        str(other.id),
    ]
    assert (await by_page("get_files", sub.page))["status"] == "ok"
    assert (await by_page("get_users", "/nonsense/"))["status"] == "ok"
    assert [c.name for c in fake.children_of(task)] == ["Sub"]


@pytest.mark.parametrize(
    ("dialect", "shapes"),
    [
        (None, ("object", "list")),
        ("sdk-2026", ("object", "list")),
        ("postman", ("object", "object")),
        ("ru-docs", ("list", "list")),
        ("me=list", ("list", "list")),
        ("get_my_timer=object", ("object", "object")),
    ],
)
async def test_me_and_my_timer_in_every_dialect(
    fake: FakeWorksection, dialect: str | None, shapes: tuple[str, str]
) -> None:
    """By default (sdk-2026, the newest official client) me answers an object and
    get_my_timer a one-element list; postman: both objects; ru-docs: both lists; one
    action's shape can be set alone. The library's client reads them all the same way."""
    from worksection_async import BearerToken, Client, TaskPage

    if dialect is not None and "=" in dialect:
        action, _, shape = dialect.partition("=")
        fake.set_shape(action, shape)  # type: ignore[arg-type]
    elif dialect is not None:
        fake.dialect = dialect  # type: ignore[assignment]
    task = fake.add_task(10, "Timed")
    token = fake.issue_token(DEV)
    headers = {"Authorization": f"Bearer {token.access_token}"}
    async with client_for(fake) as http:
        me = (await http.post("/api/oauth2?action=me", headers=headers)).json()["data"]
        none = (await http.post("/api/oauth2?action=get_my_timer", headers=headers)).json()
        fake.add_timer(task, DEV, running_for=90)
        timer = (await http.post("/api/oauth2?action=get_my_timer", headers=headers)).json()
    kinds = {"object": dict, "list": list}
    assert (type(me), type(timer["data"])) == (kinds[shapes[0]], kinds[shapes[1]])
    if shapes[0] == "list":
        [me] = me
    if shapes[1] == "list":
        [timer["data"]] = timer["data"]
    assert me["email"] == DEV
    assert none == {"status": "ok", "data": []}
    assert (timer["data"]["time"], timer["data"]["task"]["id"]) == (90, str(task.id))
    async with Client(
        fake.account_url, signer=BearerToken(token.access_token), transport=fake.transport
    ) as client:
        assert (await client.members.me()).email == DEV
        mine = await client.timers.mine()
        assert mine is not None and mine.task.page == TaskPage(10, task.id)
        await client.timers.delete_mine()
        assert await client.timers.mine() is None


def test_dialect_shapes_and_role_style_are_checked() -> None:
    """An unknown dialect, shape, shaped action or role style is a ValueError naming
    the choices."""
    with pytest.raises(ValueError, match="dialect must be one of sdk-2026, postman, ru-docs"):
        FakeWorksection(dialect="ru")  # type: ignore[arg-type]
    fake = FakeWorksection()
    with pytest.raises(ValueError, match="shape must be one of object, list"):
        fake.set_shape("me", "array")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="action must be one of me, get_my_timer"):
        fake.set_shape("get_users", "list")
    with pytest.raises(ValueError, match="role_style must be one of docs, postman"):
        FakeWorksection(role_style="Owner")  # type: ignore[arg-type]


@pytest.mark.parametrize(("style", "owner"), [(None, "owner"), ("postman", "Owner")])
async def test_roles_are_lower_case_as_documented(
    http: httpx.AsyncClient, fake: FakeWorksection, style: str | None, owner: str
) -> None:
    """Roles are spelled as the docs and the official 2026 SDKs do (owner, account
    admin, user), so an SDK's is_owner() holds; role_style="postman" capitalises them."""
    if style is not None:
        fake.role_style = style  # type: ignore[assignment]
    fake.add_user("admin@example.com", "Ada", "Admin", role="account admin")
    users = (await api(http, fake, "get_users"))["data"]
    roles = {u["email"]: u["role"] for u in users}
    expected = {"owner": owner, "account admin": "Account admin", "user": "User"}
    if style is None:
        expected = {k: k for k in expected}
    assert roles == {
        "owner@example.com": expected["owner"],
        "admin@example.com": expected["account admin"],
        "dev@example.com": expected["user"],
    }


async def test_task_lists_take_filter_all_and_done(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """filter=all lists every task and filter=done the closed ones, no error 10 (pbv7,
    live: the service takes both); active lists the open ones; anything else is 10."""
    open_task = fake.add_task(10, "Open")
    closed = fake.add_task(10, "Closed")
    fake.call("complete_task", id_task=closed.id)
    for action, where in (("get_tasks", {"id_project": 10}), ("get_all_tasks", {})):
        ids = {}
        for value in ("all", "done", "active", "ALL"):
            body = await api(http, fake, action, filter=value, **where)
            assert body["status"] == "ok", body
            ids[value] = [t["id"] for t in body["data"]]
        assert ids["all"] == ids["ALL"] == [str(open_task.id), str(closed.id)]
        assert ids["done"] == [str(closed.id)]
        assert ids["active"] == [str(open_task.id)]
        bad = await api(http, fake, action, filter="closed", **where)
        assert error_of(bad) == (10, "Field is required", "filter")
    whole = await api(http, fake, "get_task", id_task=open_task.id, filter="all")
    assert whole["status"] == "ok"


async def test_oauth_tokens_act_within_their_scopes(
    http: httpx.AsyncClient, fake: FakeWorksection
) -> None:
    """A token's rights are its user's within the app's scopes: projects_read reads
    projects but cannot post tasks, book costs, add users, read costs or webhooks
    (get_webhooks needs administrative); nothing changes; the admin key is not scoped."""
    task = fake.add_task(10, "Task")
    narrow = fake.issue_token(DEV, scopes=("projects_read",))
    wide = fake.issue_token(DEV, scopes=("tasks_write", "costs_read", "administrative"))

    async def call(token: Any, action: str, **params: object) -> dict[str, Any]:
        response = await http.post(
            "/api/oauth2",
            params={"action": action, **{k: str(v) for k, v in params.items()}},
            headers={"Authorization": f"Bearer {token.access_token}"},
        )
        assert response.status_code == 200
        body = response.json()
        assert isinstance(body, dict)
        return body

    assert (await call(narrow, "get_projects"))["status"] == "ok"
    assert (await call(narrow, "me"))["status"] == "ok"
    refused = {
        "post_task": ({"id_project": 10, "title": "New"}, "tasks_write"),
        "add_costs": ({"id_task": task.id, "time": "1:00"}, "costs_write"),
        "add_user": ({"email": "new@example.com"}, "users_write"),
        "get_costs": ({}, "costs_read"),
        "get_webhooks": ({}, "administrative"),
        "get_tasks": ({"id_project": 10}, "tasks_read"),
    }
    for action, (params, scope) in refused.items():
        assert error_of(await call(narrow, action, **params)) == (0, "Access denied", scope)
    assert len(fake.tasks) == 1 and fake.costs == {} and len(fake.users) == 2
    assert (await call(wide, "post_task", id_project=10, title="New"))["status"] == "ok"
    assert (await call(wide, "get_costs"))["status"] == "ok"
    assert (await call(wide, "get_webhooks"))["status"] == "ok"
    assert error_of(await call(wide, "get_projects"))[2] == "projects_read"
    assert (await api(http, fake, "get_webhooks"))["status"] == "ok"  # the admin key
