"""Invalid arguments raise ValueError / TypeError naming the argument, before any request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from worksection_async import Client
from worksection_async.models import ProjectOptions, Upload

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """Validation happens before any I/O: one backend is enough here."""
    return "asyncio"


T = "/project/1/2/"
Bad = Callable[[Any], Awaitable[object]]

# (id, the call, the exception type, a regex the message must match)
INVALID: list[tuple[str, Bad, type[Exception], str]] = [
    # priority, titles, emails
    ("priority 11", lambda c: c.project(1).post_task("T", priority=11), ValueError, "priority"),
    ("priority -1", lambda c: c.task(T).update(priority=-1), ValueError, "priority"),
    ("priority bool", lambda c: c.project(1).post_task("T", priority=True), TypeError, "priority"),
    ("priority str", lambda c: c.project(1).post_task("T", priority="high"), TypeError, "priority"),
    ("empty title", lambda c: c.project(1).post_task(""), ValueError, "title"),
    ("blank title", lambda c: c.task(T).post_subtask("   "), ValueError, "title"),
    ("title not str", lambda c: c.projects.create(42), TypeError, "title"),
    ("blank update title", lambda c: c.task(T).update(title=" "), ValueError, "title"),
    ("bad assignee", lambda c: c.project(1).post_task("T", assignee="bob"), ValueError, "assignee"),
    ("bad author", lambda c: c.task(T).post_comment("x", author="@x.io"), ValueError, "author"),
    ("bad subscriber", lambda c: c.task(T).subscribe("bob at x.io"), ValueError, "email"),
    ("comma in email", lambda c: c.project(1).add_members(["a@x.io,b@x.io"]), ValueError, "emails"),
    ("no members", lambda c: c.project(1).add_members([]), ValueError, "emails"),
    ("bad member", lambda c: c.project(1).remove_members(["a@x.io", "nope"]), ValueError, "nope"),
    ("bad mention", lambda c: c.project(1).post_task("T", mention=["x"]), ValueError, "mention"),
    ("email not str", lambda c: c.members.add(5), TypeError, "email"),
    # dates
    (
        "datetime start",
        lambda c: c.project(1).post_task("T", start=dt.datetime(2024, 1, 2, 9)),
        TypeError,
        "start.*not a datetime",
    ),
    ("str end", lambda c: c.task(T).update(end="2024-01-02"), TypeError, "end.*datetime.date"),
    ("str cost date", lambda c: c.task(T).add_cost(time=1, date="02.01.2024"), TypeError, "date"),
    # numbers and times
    ("nan money", lambda c: c.task(T).update(max_money=float("nan")), ValueError, "max_money"),
    ("negative hours", lambda c: c.task(T).update(max_time=-1), ValueError, "max_time"),
    (
        "inf decimal",
        lambda c: c.task(T).update(max_time=Decimal("Infinity")),
        ValueError,
        "max_time",
    ),
    ("money str", lambda c: c.task(T).add_cost(money="12"), TypeError, "money"),
    ("no time nor money", lambda c: c.task(T).add_cost(comment="x"), ValueError, "time or money"),
    (
        "seconds",
        lambda c: c.task(T).add_cost(time=dt.timedelta(seconds=90)),
        ValueError,
        "time.*whole minutes",
    ),
    (
        "negative time",
        lambda c: c.task(T).add_cost(time=dt.timedelta(minutes=-5)),
        ValueError,
        "time",
    ),
    (
        "rate and money",
        lambda c: c.task(T).add_cost(time=1, money=5, from_rate=True),
        ValueError,
        "from_rate",
    ),
    (
        "rate without time",
        lambda c: c.task(T).add_cost(money=5, from_rate=True),
        ValueError,
        "from_rate",
    ),
    ("rate not bool", lambda c: c.task(T).add_cost(time=1, from_rate=1), TypeError, "from_rate"),
    ("empty cost update", lambda c: c.costs.update(7), ValueError, "at least one"),
    ("cost id 0", lambda c: c.costs.delete(0), ValueError, "cost"),
    ("cost id str", lambda c: c.costs.delete("7"), TypeError, "cost"),
    # periods
    ("period 5w", lambda c: c.events.list("5w"), ValueError, "period"),
    ("period 0m", lambda c: c.events.list("0m"), ValueError, "period"),
    ("period 361m", lambda c: c.events.list("361m"), ValueError, "period.*too long"),
    ("period 73h", lambda c: c.project(1).events("73h"), ValueError, "period"),
    ("period 31d", lambda c: c.events.list("31d"), ValueError, "period"),
    ("period 1.5h", lambda c: c.events.list("1.5h"), ValueError, "period"),
    ("period 100 hours", lambda c: c.events.list(dt.timedelta(hours=100)), ValueError, "period"),
    ("period 30 seconds", lambda c: c.events.list(dt.timedelta(seconds=30)), ValueError, "period"),
    ("period zero", lambda c: c.events.list(dt.timedelta(0)), ValueError, "period"),
    ("period int", lambda c: c.events.list(30), TypeError, "period"),
    # comments, checklists
    ("empty comment", lambda c: c.task(T).post_comment(), ValueError, "text or todo"),
    ("blank comment", lambda c: c.task(T).post_comment("  ", todo=[]), ValueError, "text or todo"),
    ("todo str", lambda c: c.task(T).post_comment(todo="one"), TypeError, "todo"),
    ("empty todo item", lambda c: c.project(1).post_task("T", todo=["a", " "]), ValueError, "todo"),
    # search
    ("search nothing", lambda c: c.tasks.search(), ValueError, "filter, project, task, author"),
    ("search status only", lambda c: c.tasks.search(status="done"), ValueError, "at least one"),
    (
        "search bad status",
        lambda c: c.tasks.search(project=1, status="closed"),
        ValueError,
        "status",
    ),
    ("empty filter", lambda c: c.tasks.search(filter=" "), ValueError, "filter"),
    ("filter int", lambda c: c.tasks.search(filter=5), TypeError, "filter"),
    (
        "task outside project",
        lambda c: c.tasks.search(project=2, task=T),
        ValueError,
        "not in project",
    ),
    ("search extra", lambda c: c.tasks.search(project=1, extra=["subtasks"]), ValueError, "extra"),
    # flags and choices
    ("bad extra", lambda c: c.project(1).get(extra=["bogus"]), ValueError, "extra"),
    ("extra int", lambda c: c.project(1).tasks(extra=5), TypeError, "extra"),
    ("bad filter", lambda c: c.projects.list(filter="archived"), ValueError, "filter"),
    ("bad role", lambda c: c.members.add("a@x.io", role="admin"), ValueError, "role"),
    ("bad breakdown", lambda c: c.costs.total(breakdown="months"), ValueError, "breakdown"),
    ("active_only str", lambda c: c.tasks.list(active_only="yes"), TypeError, "active_only"),
    ("timer str", lambda c: c.costs.list(timer="1"), TypeError, "timer"),
    # project options
    (
        "exclusive options",
        lambda c: c.projects.create("P", options={"time_today": True, "timer_only": True}),
        ValueError,
        "only one of",
    ),
    (
        "exclusive model options",
        lambda c: c.project(1).update(options=ProjectOptions(time_require=True, time_today=True)),
        ValueError,
        "only one of",
    ),
    (
        "unknown option",
        lambda c: c.projects.create("P", options={"allow_all": True}),
        ValueError,
        "allow_all",
    ),
    (
        "option not bool",
        lambda c: c.projects.create("P", options={"allow_close": 1}),
        TypeError,
        "allow_close",
    ),
    (
        "options list",
        lambda c: c.projects.create("P", options=["allow_close"]),
        TypeError,
        "options",
    ),
    # updates with nothing to change
    ("empty task update", lambda c: c.task(T).update(), ValueError, "at least one"),
    (
        "empty project update",
        lambda c: c.project(1).update(extra="options"),
        ValueError,
        "at least one",
    ),
    ("empty tag update", lambda c: c.task(T).update_tags(), ValueError, "add or to remove"),
    ("tag with comma", lambda c: c.task(T).update(tags=["a,b"]), ValueError, "tags"),
    ("tag id 0", lambda c: c.project(1).update_tags(add=[0]), ValueError, "add"),
    ("empty tag name", lambda c: c.project(1).update_tags(remove=[""]), ValueError, "remove"),
    # tags namespace
    ("no tag titles", lambda c: c.tags.add_task_tags("G", []), ValueError, "titles"),
    ("no tag group", lambda c: c.tags.add_project_tags("", "Big"), ValueError, "group"),
    ("tag group float", lambda c: c.tags.task_tags(group=1.5), TypeError, "group"),
    (
        "bad tag type",
        lambda c: c.tags.add_task_groups("G", type="mood", access="public"),
        ValueError,
        "type",
    ),
    ("bad tag access", lambda c: c.tags.project_groups(access="secret"), ValueError, "access"),
    # webhooks
    ("webhook ftp", lambda c: c.webhooks.add("ftp://x.io/h", ["post_task"]), ValueError, "url"),
    ("webhook no url", lambda c: c.webhooks.add("", ["post_task"]), ValueError, "url"),
    (
        "webhook event",
        lambda c: c.webhooks.add("https://x.io/h", ["post_file"]),
        ValueError,
        "events",
    ),
    ("webhook no events", lambda c: c.webhooks.add("https://x.io/h", []), ValueError, "events"),
    (
        "webhook one project",
        lambda c: c.webhooks.add("https://x.io/h", ["post_task"], projects=1),
        TypeError,
        "projects",
    ),
    ("webhook id", lambda c: c.webhooks.delete(-3), ValueError, "webhook"),
    # schedules
    ("no days", lambda c: c.schedules.update({}), ValueError, "days"),
    (
        "bad day kind",
        lambda c: c.schedules.update({"a@x.io": {dt.date(2024, 1, 1): "holiday"}}),
        ValueError,
        "holiday",
    ),
    (
        "schedule str day",
        lambda c: c.schedules.update({"a@x.io": {"2024-01-01": "vacation"}}),
        TypeError,
        "datetime.date",
    ),
    ("schedule user", lambda c: c.schedules.get(["not-an-email"]), ValueError, "users"),
    ("schedule days list", lambda c: c.schedules.update([]), TypeError, "days"),
    # addressing
    ("task by int", lambda c: c.task(5).get(), TypeError, "page"),
    ("project as task", lambda c: c.task("/project/1/").get(), ValueError, "project's page"),
    ("task as project", lambda c: c.project("/project/1/2/").get(), ValueError, "task's page"),
    ("project 0", lambda c: c.project(0).get(), ValueError, "project"),
    ("project bool", lambda c: c.project(True).get(), TypeError, "project"),
    ("project float", lambda c: c.project(1.0).get(), TypeError, "project"),
    ("not a page", lambda c: c.project("/tasks/1/").get(), ValueError, "not a Worksection page"),
    ("timer task", lambda c: c.timers.start("/project/1/"), ValueError, "task"),
    (
        "events project",
        lambda c: c.events.list("1h", project="/project/1/2/"),
        ValueError,
        "project",
    ),
    # files
    ("upload nothing", lambda c: c.files.upload([]), ValueError, "files"),
    ("attach one str", lambda c: c.project(1).post_task("T", attach="a.txt"), TypeError, "attach"),
    ("attach int", lambda c: c.task(T).post_comment("x", attach=[5]), TypeError, "attach"),
    (
        "attach text file",
        lambda c: c.projects.create("P", attach=[("a.txt", "text")]),
        TypeError,
        "attach",
    ),
    (
        "attach no name",
        lambda c: c.project(1).post_task("T", attach=[("", b"x")]),
        ValueError,
        "attach",
    ),
    (
        "attach triple",
        lambda c: c.project(1).post_task("T", attach=[("a", b"x", "y")]),
        TypeError,
        "attach",
    ),
    (
        "failed upload",
        lambda c: c.project(1).post_task(
            "T", uploads=[Upload(id="1", ext="txt", name="a.txt", error="too big")]
        ),
        ValueError,
        "too big",
    ),
    ("upload not list", lambda c: c.project(1).post_task("T", uploads=["1"]), TypeError, "uploads"),
    ("download id", lambda c: c.files.download("11", to="x"), TypeError, "file"),
]


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
async def test_invalid_arguments_raise_before_any_request(
    call: Bad, error: type[Exception], match: str, router: respx.MockRouter, client: Client
) -> None:
    """The error names the argument, and nothing is sent."""
    route = router.route().mock(return_value=httpx.Response(200, json={"status": "ok"}))
    with pytest.raises(error, match=match):
        await call(client)
    assert route.call_count == 0
    assert not router.calls


async def test_a_missing_attachment_path_fails_before_sending(
    router: respx.MockRouter, client: Client, tmp_path: Any
) -> None:
    """A path that does not exist raises FileNotFoundError, and nothing is sent."""
    route = router.route().mock(return_value=httpx.Response(200, json={"status": "ok"}))
    with pytest.raises(FileNotFoundError):
        await client.project(1).post_task("T", attach=[tmp_path / "missing.pdf"])
    assert route.call_count == 0


async def test_other_arguments_are_checked_before_files_are_opened(
    router: respx.MockRouter, client: Client, tmp_path: Any
) -> None:
    """A bad priority is reported even when an attachment path is missing."""
    route = router.route()
    with pytest.raises(ValueError, match="priority"):
        await client.project(1).post_task("T", priority=99, attach=[tmp_path / "missing.pdf"])
    assert route.call_count == 0
