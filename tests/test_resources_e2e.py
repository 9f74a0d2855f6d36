"""Every resource method end to end against FakeWorksection: models back, state changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio

from worksection_async import (
    BearerToken,
    Client,
    CostFilter,
    InvalidTaskError,
    ProjectPage,
    QueryHash,
    SubtaskPage,
    TaskFilter,
    TaskHasChildrenError,
    TaskPage,
)
from worksection_async.models import ProjectOptions
from worksection_async.resources import ProjectHandle, ScheduleUpdate, TaskHandle
from worksection_async.testing import FakeWorksection

# Many end-to-end runs on asyncio through pytest-asyncio; test_resources_wire.py runs
# the same methods on both anyio backends.
pytestmark = pytest.mark.asyncio

OWNER, ANN, BOB = "owner@example.com", "ann@example.com", "bob@example.com"


@pytest.fixture
def fake() -> FakeWorksection:
    fake = FakeWorksection()
    fake.add_user(OWNER, "Olga", "Owner", role="owner", rate=60)
    fake.add_user(ANN, "Ann", "Lee")
    fake.add_user(BOB, "Bob", "Ray")
    fake.add_project("Website", id=1, members=[OWNER, ANN])
    fake.add_task(1, "Launch", id=2, assignee=ANN)
    fake.add_task(1, "Design", id=3, parent=2)
    return fake


@pytest_asyncio.fixture
async def client(fake: FakeWorksection) -> AsyncIterator[Client]:
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
    ) as client:
        yield client


@pytest_asyncio.fixture
async def oauth(fake: FakeWorksection) -> AsyncIterator[Client]:
    """A client acting as Ann through an OAuth2 token (for me and *_my_timer)."""
    token = fake.issue_token(ANN)
    async with Client(
        fake.account_url,
        signer=BearerToken(token.access_token),
        transport=fake.transport,
        rate_limit=None,
    ) as client:
        yield client


# -- members, teams, contacts --------------------------------------------------------


async def test_members(client: Client, oauth: Client, fake: FakeWorksection) -> None:
    """me, get_users, add_user, get_user_groups, add_user_group."""
    me = await oauth.members.me()
    assert me.email == ANN
    assert {u.email for u in await client.members.list()} == {OWNER, ANN, BOB}
    added = await client.members.add(
        "cy@example.com", first_name="Cy", last_name="Do", group="Support", role="guest"
    )
    assert (added.name, added.group) == ("Cy Do", "Support")
    assert fake.user_by_email("cy@example.com") is not None
    team = await client.members.add_group("Acme Inc", client=True)
    assert team.client is True
    assert {g.title for g in await client.members.groups()} >= {"Support", "Acme Inc"}


async def test_contacts(client: Client, fake: FakeWorksection) -> None:
    """get_contacts, add_contact, get_contact_groups, add_contact_group."""
    folder = await client.contacts.add_group("Suppliers")
    assert folder.type == "folder"
    contact = await client.contacts.add(
        "dan@example.com", "Dan Fox", group="Suppliers", mobile_phone="555"
    )
    assert contact.group == "Suppliers"
    assert contact.phone3 == "555"
    assert [c.email for c in await client.contacts.list()] == ["dan@example.com"]
    titles = {g.title for g in await client.contacts.groups()}
    assert "Suppliers" in titles
    assert len(fake.contacts) == 1


async def test_subscribe_and_unsubscribe(client: Client, fake: FakeWorksection) -> None:
    """subscribe / unsubscribe change the task's subscribers."""
    task = client.task("/project/1/2/")
    await task.subscribe(BOB)
    bob = fake.user_by_email(BOB)
    assert bob is not None
    assert bob.id in fake.tasks[2].subscriber_ids
    fetched = await task.get(extra="subscribers")
    assert [s.email for s in fetched.subscribers or ()] == [BOB]
    await task.unsubscribe(BOB)
    assert bob.id not in fake.tasks[2].subscriber_ids


# -- schedules -----------------------------------------------------------------------


async def test_schedules(client: Client, fake: FakeWorksection) -> None:
    """update_users_schedule, then get_users_schedule reads the days back."""
    day1, day2 = dt.date(2024, 6, 7), dt.date(2024, 6, 10)
    result = await client.schedules.update({ANN: {day1: "vacation", day2: "sick-leave"}})
    assert result == ScheduleUpdate(message="Days added: 2, days updated: 0", added=2, updated=0)
    ann = fake.user_by_email(ANN)
    assert ann is not None
    result = await client.schedules.update({ann.id: {day2: "unset"}})
    assert result.updated == 1
    (schedule,) = await client.schedules.get([ANN], start=day1, end=day2)
    assert schedule.email == ANN
    assert schedule.schedule == {day1: "vacation"}
    everyone = await client.schedules.get()
    assert len(everyone) == 3


# -- projects ------------------------------------------------------------------------


async def test_project_lifecycle(client: Client, fake: FakeWorksection) -> None:
    """post_project, get_project, update_project, close/activate, members, tags."""
    fake.add_tag_group("Size", scope="project", type="label")
    fake.add_tag("Size", "Big")
    fake.add_tag("Size", "Small")
    created = await client.projects.create(
        "Shop",
        manager=ANN,
        members=[BOB],
        text="Online shop",
        folder="Clients",
        start=dt.date(2024, 1, 1),
        end=dt.date(2024, 12, 31),
        max_time=100,
        max_money=Decimal("5000.50"),
        tags=["Big"],
        options={"allow_close": True, "timer_only": True},
        extra=["options", "text"],
    )
    assert (created.name, created.company, created.text) == ("Shop", "Clients", "Online shop")
    assert created.options is not None
    assert created.options.timer_only is True
    assert created.max_money == Decimal("5000.50")
    project = client.project(created)
    record = fake.projects[created.id]
    assert record.date_end == dt.date(2024, 12, 31)

    updated = await project.update(
        title="Shop 2",
        members=[OWNER],
        end=dt.date(2025, 1, 31),
        options=ProjectOptions(timer_only=False, time_today=True),
        extra="options",
    )
    assert updated.name == "Shop 2"
    assert updated.date_end == dt.date(2025, 1, 31)
    assert updated.options is not None
    assert (updated.options.timer_only, updated.options.time_today) == (False, True)

    await project.update_tags(add=["Small"], remove=["Big"])
    assert set(((await project.get()).tags or {}).values()) == {"Small"}
    await project.update(tags=[])
    assert record.tag_ids == []

    await project.remove_members([BOB])
    await project.add_members([ANN])
    users = {u.email for u in (await project.get(extra="users")).users or ()}
    assert BOB not in users
    assert ANN in users

    await project.close()
    assert record.status == "archive"
    assert [p.id for p in await client.projects.list(filter="archive")] == [created.id]
    await project.activate()
    assert record.status == "active"
    assert {p.name for p in await client.projects.list()} == {"Website", "Shop 2"}


async def test_project_folders_and_custom_fields(client: Client, fake: FakeWorksection) -> None:
    """add_project_group, get_project_groups, get_project_custom_fields."""
    fake.add_custom_field("project", "Budget code")
    fake.add_custom_field("task", "Story points", type="number")
    folder = await client.projects.add_group("Partners")
    assert (folder.title, folder.type) == ("Partners", "folder")
    assert "Partners" in {g.title for g in await client.projects.groups()}
    assert [f.name for f in await client.projects.custom_fields()] == ["Budget code"]
    assert [f.name for f in await client.tasks.custom_fields()] == ["Story points"]


async def test_events(client: Client) -> None:
    """get_events for the account and for one project."""
    await client.projects.create("Other")
    await client.project(1).post_task("New task")
    account = await client.events.list("1h")
    assert {e.object.type for e in account} == {"project", "task"}
    project = await client.project(1).events(dt.timedelta(minutes=30))
    assert [(e.action, e.object.type) for e in project] == [("post", "task")]
    assert await client.events.list("5m", project=ProjectPage(1)) == project


# -- tasks ---------------------------------------------------------------------------


async def test_task_lifecycle(client: Client, fake: FakeWorksection) -> None:
    """post_task, get_task, update_task, post_subtask, complete_task, reopen_task."""
    project = client.project(1)
    task = await project.post_task(
        "Write docs",
        assignee=BOB,
        priority=9,
        text="All of it",
        todo=["intro", "api"],
        start=dt.date(2024, 3, 1),
        end=dt.date(2024, 3, 15),
        subscribers=[ANN],
        max_time=Decimal("12.5"),
    )
    assert (task.priority, task.date_end) == (9, dt.date(2024, 3, 15))
    assert task.user_to is not None
    assert task.user_to.email == BOB
    record = fake.tasks[task.id]
    assert "• intro" in record.text
    assert "• api" in record.text

    handle = client.task(task)
    assert (await handle.get()).name == "Write docs"
    changed = await handle.update(title="Write all docs", priority=0, assignee="ANY")
    assert (changed.name, changed.priority) == ("Write all docs", 0)
    assert changed.user_to is not None
    assert changed.user_to.is_anyone

    sub = await handle.post_subtask("Proofread", assignee="NOONE")
    assert sub.page == SubtaskPage(1, task.id, sub.id)
    deeper = await client.task(sub).post_subtask("Spelling")
    assert fake.tasks[deeper.id].parent_id == sub.id
    assert [t.id for t in await handle.subtasks()] == [sub.id]

    with pytest.raises(TaskHasChildrenError):
        await handle.complete()
    await client.task(deeper).complete()
    await client.task(sub).complete()
    await handle.complete()
    assert record.status == "done"
    assert [t.id for t in await handle.subtasks(active_only=True)] == []
    await handle.reopen()
    assert record.status == "active"


async def test_task_lists_and_search(client: Client, fake: FakeWorksection) -> None:
    """get_all_tasks, get_tasks, search_tasks."""
    fake.add_project("Intranet", id=5)
    fake.add_task(5, "Old report", id=50, status="done", assignee=BOB)
    fake.add_task(5, "New report", id=51, author=ANN)
    assert {t.id for t in await client.tasks.list()} == {2, 50, 51}
    assert {t.id for t in await client.tasks.list(active_only=True)} == {2, 51}
    tasks = await client.project(1).tasks(extra=["subtasks"])
    assert [t.id for t in tasks] == [2]
    assert [c.id for c in tasks[0].child or ()] == [3]

    found = await client.tasks.search(filter=TaskFilter.name.has("report"), status="done")
    assert [t.id for t in found] == [50]
    assert [t.id for t in await client.tasks.search(project=5, author=ANN)] == [51]
    assert [t.id for t in await client.tasks.search(assignee=BOB)] == [50]
    assert {t.id for t in await client.tasks.search(task="/project/1/2/")} == {2, 3}
    assert [t.id for t in await client.tasks.search(filter="parent = 2")] == [3]


async def test_get_many_delegates_to_the_bulk_reader(client: Client, fake: FakeWorksection) -> None:
    """tasks.get_many accepts handles, pages and links, in input order."""
    pages = [client.task("/project/1/2/3/"), TaskPage(1, 2), "/project/1/2/"]
    tasks = await client.tasks.get_many(pages)
    assert [t.id for t in tasks] == [3, 2, 2]
    results = await client.tasks.get_many([TaskPage(1, 999)], return_exceptions=True)
    assert isinstance(results[0], InvalidTaskError)
    assert fake.stats.by_action["get_tasks"] == 1


# -- comments ------------------------------------------------------------------------


async def test_comments(client: Client, fake: FakeWorksection) -> None:
    """post_comment (text, checklist, mention) and get_comments."""
    task = client.project(1).task(2)
    first = await task.post_comment("First", author=ANN)
    second = await task.post_comment(todo=["check logs"], mention=[BOB])
    assert first.user_from.email == ANN
    assert "check logs" in second.text
    assert "Bob Ray" in second.text
    comments = await task.comments()
    assert [c.id for c in comments] == [second.id, first.id]  # newest first
    assert [c.text for c in fake.comments_of(2)] == [first.text, second.text]
    assert all(c.page == TaskPage(1, 2) for c in await task.comments(with_files=True))


# -- tags ----------------------------------------------------------------------------


async def test_task_tags(client: Client, fake: FakeWorksection) -> None:
    """add_task_tag_groups, add_task_tags, get_task_tags, get_task_tag_groups,
    update_task_tags, and tags on post_task/update_task."""
    (stages,) = await client.tags.add_task_groups("Stages", type="status", access="public")
    (labels,) = await client.tags.add_task_groups(["Kinds"], type="label", access="private")
    assert (stages.type, labels.access) == ("status", "private")
    created = await client.tags.add_task_tags("Stages", ["Todo", "Doing", "Done"])
    assert [t.title for t in created] == ["Todo", "Doing", "Done"]
    await client.tags.add_task_tags(labels.id, "Bug")
    assert [g.title for g in await client.tags.task_groups(type="status")] == ["Stages"]
    assert {t.title for t in await client.tags.task_tags(group="Stages")} == {
        "Todo",
        "Doing",
        "Done",
    }
    assert {t.title for t in await client.tags.task_tags(access="private")} == {"Bug"}

    task = client.task("/project/1/2/")
    await task.update_tags(add=["Todo", "Bug"])
    await task.update_tags(add=["Doing"], remove=["Bug"])
    assert sorted(fake.tags[i].title for i in fake.tasks[2].tag_ids) == ["Doing"]
    await task.update(tags=["Done", "Bug"])
    assert sorted(((await task.get()).tags or {}).values()) == ["Bug", "Done"]
    new = await client.project(1).post_task("Tagged", tags=["Todo"])
    assert list((new.tags or {}).values()) == ["Todo"]


async def test_project_tags(client: Client) -> None:
    """add_project_tag_groups, add_project_tags, get_project_tags, get_project_tag_groups."""
    (group,) = await client.tags.add_project_groups("Regions", access="public")
    assert group.title == "Regions"
    await client.tags.add_project_tags("Regions", ["EU", "US"])
    assert {t.title for t in await client.tags.project_tags(group="Regions")} == {"EU", "US"}
    assert "Regions" in {g.title for g in await client.tags.project_groups()}
    await client.project(1).update_tags(add=["EU"])
    assert list(((await client.project(1).get()).tags or {}).values()) == ["EU"]


# -- costs ---------------------------------------------------------------------------


async def test_costs(client: Client, fake: FakeWorksection) -> None:
    """add_costs, get_costs (account, project, task), update_costs, delete_costs,
    get_costs_total."""
    task = client.task("/project/1/2/")
    day = dt.date(2024, 5, 6)
    first = await task.add_cost(
        time=dt.timedelta(hours=1, minutes=30), money=Decimal("45.50"), comment="Review", date=day
    )
    second = await client.task("/project/1/2/3/").add_cost(time=0.5, from_rate=True, author=OWNER)
    assert fake.costs[first].minutes == 90
    assert fake.costs[second].money == 30.0  # half an hour at 60/h

    report = await client.costs.list()
    assert {c.id for c in report.costs} == {first, second}
    assert report.total is not None
    assert report.total.time == dt.timedelta(hours=2)
    assert [c.id for c in (await task.costs(start=day, end=day)).costs] == [first]
    assert [c.id for c in (await client.project(1).costs(filter="comment has 'Rev'")).costs] == [
        first
    ]
    filtered = await client.costs.list(task=task, filter=CostFilter.comment.has("Review"))
    assert [c.id for c in filtered.costs] == [first]

    await client.costs.update(first, time=dt.timedelta(hours=2), comment="Long review")
    assert (fake.costs[first].minutes, fake.costs[first].comment) == (120, "Long review")

    totals = await client.costs.total(breakdown="tasks")
    assert totals.total.time == dt.timedelta(hours=2, minutes=30)
    assert totals.projects is not None
    assert set(totals.projects[1].tasks or {}) == {2, 3}
    top = await client.costs.total(project=1, breakdown="top_level_tasks")
    assert top.projects is not None
    assert set(top.projects[1].tasks or {}) == {2}

    await client.costs.delete(report.costs[1])
    assert set(fake.costs) == {first}


# -- timers --------------------------------------------------------------------------


async def test_admin_timers(client: Client, fake: FakeWorksection) -> None:
    """get_timers and stop_timer (admin)."""
    fake.add_timer(2, ANN, running_for=600)
    (timer,) = await client.timers.list()
    assert timer.user_from.email == ANN
    assert timer.time >= dt.timedelta(minutes=10)
    await client.timers.stop(timer)
    assert fake.timers == {}
    assert [c.is_timer for c in fake.costs.values()] == [True]


async def test_my_timer(oauth: Client, fake: FakeWorksection) -> None:
    """start_my_timer, get_my_timer, stop_my_timer, delete_my_timer (OAuth2)."""
    assert await oauth.timers.mine() is None
    await oauth.task("/project/1/2/").start_timer()
    mine = await oauth.timers.mine()
    assert mine is not None
    assert mine.task.id == 2
    await oauth.timers.stop_mine(comment="Done for today")
    assert [c.comment for c in fake.costs.values()] == ["Done for today"]
    await oauth.timers.start(TaskPage(1, 2))
    await oauth.timers.delete_mine()
    assert await oauth.timers.mine() is None
    assert len(fake.costs) == 1


# -- files ---------------------------------------------------------------------------


async def test_project_files(client: Client, fake: FakeWorksection) -> None:
    """get_files of a project lists its own files, not its tasks'."""
    fake.add_file("brief.pdf", b"%PDF", project=1)
    fake.add_file("task.txt", b"t", task=2)
    assert [f.name for f in await client.project(1).files()] == ["brief.pdf"]
    assert [f.name for f in await client.task("/project/1/2/").files()] == ["task.txt"]


# -- webhooks ------------------------------------------------------------------------


async def test_webhooks(client: Client, fake: FakeWorksection) -> None:
    """add_webhook, get_webhooks, delete_webhook."""
    hook_id = await client.webhooks.add(
        "https://hooks.example.com/ws",
        ["post_task", "close_task"],
        projects=[client.project(1)],
        http_user="hook",
        http_pass="secret",
    )
    (hook,) = await client.webhooks.list()
    assert (hook.id, hook.events, hook.projects) == (hook_id, ("post_task", "close_task"), (1,))
    assert fake.webhooks[hook_id].http_pass == "secret"
    await client.webhooks.delete(hook)
    assert fake.webhooks == {}


# -- dialects ------------------------------------------------------------------------


async def test_handles_work_in_the_id_dialect(fake: FakeWorksection) -> None:
    """With QueryHash, pages become id_project/id_task and extra ids stay params."""
    async with Client(
        fake.account_url,
        fake.api_key,
        signer=QueryHash(),
        transport=fake.transport,
        rate_limit=None,
    ) as client:
        project: ProjectHandle = client.project(1)
        sub = await project.task(2).post_subtask("Via ids")
        handle: TaskHandle = client.task(sub)
        await handle.post_comment("ok")
        cost = await handle.add_cost(time=1)
        await client.costs.update(cost, money=5)
        found = await client.tasks.search(project=1, task=handle)
    assert [t.id for t in found] == [sub.id]
    assert fake.tasks[sub.id].parent_id == 2
    assert fake.costs[cost].money == 5.0
    assert len(fake.comments_of(sub.id)) == 1
