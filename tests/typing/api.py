"""Type checks of the public resource API: checked by mypy, never run.

.venv/bin/mypy --strict tests/typing/api.py
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

from typing_extensions import assert_type

from worksection_async import (
    Client,
    Download,
    EnsuredWebhook,
    EventWatch,
    ProjectPage,
    TaskFilter,
    TaskPage,
    TooManyRecordsError,
    WorksectionError,
)
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
    Upload,
    User,
    UserGroup,
    UserSchedule,
    Webhook,
)
from worksection_async.resources import (
    ProjectHandle,
    ScheduleUpdate,
    TaskHandle,
)
from worksection_async.webhooks import EventStore, WebhookReceiver


async def handles(client: Client) -> None:
    project = client.project(1)
    assert_type(project, ProjectHandle)
    assert_type(client.project(ProjectPage(1)), ProjectHandle)
    assert_type(client.project("/project/1/"), ProjectHandle)
    task = project.task(2)
    assert_type(task, TaskHandle)
    assert_type(client.task(TaskPage(1, 2)).subtask(3), TaskHandle)
    assert_type(task.project, ProjectHandle)

    assert_type(await project.get(extra=["options", "users"]), Project)
    assert_type(await project.tasks(active_only=True, extra="subtasks"), list[Task])
    assert_type(
        await project.post_task(
            "Title",
            assignee="ANY",
            priority=3,
            todo=["a"],
            start=dt.date(2024, 1, 1),
            max_money=Decimal("1.5"),
            tags=["Big", 3],
            attach=[Path("a.pdf"), ("b.txt", b"b"), ("c.bin", io.BytesIO(b"c"))],
        ),
        Task,
    )
    assert_type(await project.update(options=ProjectOptions(allow_close=True)), Project)
    assert_type(await project.update(options={"timer_only": True}), Project)
    assert_type(await project.close(), None)
    assert_type(await project.activate(), None)
    assert_type(await project.add_members(["a@x.io"]), None)
    assert_type(await project.remove_members(["a@x.io"]), None)
    assert_type(await project.update_tags(add=["x"]), None)
    assert_type(await project.costs(), CostReport)
    assert_type(await project.files(), list[File])
    assert_type(await project.events(dt.timedelta(hours=1)), list[Event])

    assert_type(await task.get(), Task)
    assert_type(await task.update(priority=1), Task)
    assert_type(await task.complete(), None)
    assert_type(await task.reopen(), None)
    assert_type(await task.comments(with_files=True), list[Comment])
    assert_type(await task.post_comment("Hi", attach=["a.txt"]), Comment)
    assert_type(await task.subtasks(), list[Task])
    assert_type(await task.post_subtask("Sub"), Task)
    assert_type(await task.subscribe("a@x.io"), None)
    assert_type(await task.unsubscribe("a@x.io"), None)
    assert_type(await task.update_tags(add=["a"], remove=[1]), None)
    assert_type(await task.costs(timer=True), CostReport)
    assert_type(await task.add_cost(time=dt.timedelta(minutes=5)), int)
    assert_type(await task.files(), list[File])
    assert_type(await task.start_timer(), None)


async def namespaces(client: Client) -> None:
    assert_type(await client.projects.list(filter="active"), list[Project])
    assert_type(await client.projects.create("P"), Project)
    assert_type(await client.projects.groups(), list[ProjectGroup])
    assert_type(await client.projects.add_group("F"), ProjectGroup)
    assert_type(await client.projects.custom_fields(), list[CustomField])

    assert_type(await client.tasks.list(extra=["archive"]), list[Task])
    try:
        await client.project(1).tasks()
    except TooManyRecordsError as error:
        assert_type(error.tried, tuple[str, ...])
    assert_type(await client.tasks.search(filter=TaskFilter.id == 1, status="done"), list[Task])
    assert_type(await client.tasks.custom_fields(), list[CustomField])
    assert_type(await client.tasks.get_many(["/project/1/2/"]), list[Task])
    assert_type(
        await client.tasks.get_many([TaskPage(1, 2)], return_exceptions=True),
        list[Task | WorksectionError],
    )
    for item in await client.tasks.get_many([TaskPage(1, 2)], return_exceptions=True):
        if isinstance(item, WorksectionError):
            assert_type(item, WorksectionError)
        else:
            assert_type(item, Task)  # narrowing on the library's root error leaves a Task
    exported = client.tasks.export([1, "/project/2/"], comments=True, skip=[3, TaskPage(1, 4)])
    assert_type([task async for task in exported], list[Task])

    assert_type(await client.members.me(), User)
    assert_type(await client.members.list(), list[User])
    assert_type(await client.members.add("a@x.io", role="guest"), User)
    assert_type(await client.members.groups(), list[UserGroup])
    assert_type(await client.members.add_group("T"), UserGroup)
    assert_type(await client.contacts.list(), list[Contact])
    assert_type(await client.contacts.add("a@x.io", "A"), Contact)
    assert_type(await client.contacts.groups(), list[ContactGroup])
    assert_type(await client.contacts.add_group("F"), ContactGroup)

    assert_type(await client.tags.task_tags(type="status"), list[Tag])
    assert_type(await client.tags.add_task_tags("G", ["a"]), list[Tag])
    assert_type(await client.tags.task_groups(), list[TagGroup])
    assert_type(
        await client.tags.add_task_groups("G", type="label", access="public"), list[TagGroup]
    )
    assert_type(await client.tags.project_tags(), list[Tag])
    assert_type(await client.tags.add_project_tags(1, "a"), list[Tag])
    assert_type(await client.tags.project_groups(), list[TagGroup])
    assert_type(await client.tags.add_project_groups("G", access="private"), list[TagGroup])

    assert_type(await client.costs.list(project=1), CostReport)
    assert_type(await client.costs.total(breakdown="tasks"), CostTotals)
    assert_type(await client.costs.update(1, money=Decimal(2)), None)
    assert_type(await client.costs.delete(1), None)

    assert_type(await client.timers.list(), list[Timer])
    assert_type(await client.timers.stop(1), None)
    assert_type(await client.timers.mine(), MyTimer | None)
    assert_type(await client.timers.start("/project/1/2/"), None)
    assert_type(await client.timers.stop_mine(), None)
    assert_type(await client.timers.delete_mine(), None)

    assert_type(await client.files.upload([Path("a.png")]), list[Upload])
    assert_type(await client.files.download(1, to="out.bin"), Download)

    assert_type(await client.webhooks.list(), list[Webhook])
    assert_type(await client.webhooks.add("https://x.io", ["post_task"]), int)
    assert_type(await client.webhooks.delete(1), None)
    assert_type(await client.webhooks.ensure("https://x.io", ["post_task"]), EnsuredWebhook)
    store = EventStore.from_url("sqlite:///events.db")
    assert_type(client.events.watch(store=store, name="bot"), EventWatch)

    async def on_event(event: Event) -> None: ...

    WebhookReceiver(on_event, store=store, client=client, ensure_hook="https://x.io", backfill=True)
    assert_type(await client.events.list("30m"), list[Event])
    assert_type(await client.schedules.get(["a@x.io"]), list[UserSchedule])
    assert_type(
        await client.schedules.update({"a@x.io": {dt.date(2024, 1, 1): "vacation"}}),
        ScheduleUpdate,
    )


async def rejected(client: Client) -> None:
    await client.project(1).post_task("T", priority="high")  # type: ignore[arg-type]
    await client.projects.list(filter="archived")  # type: ignore[arg-type]
    await client.project(1).get(extra=["bogus"])  # type: ignore[list-item]
    await client.tasks.search(status="closed")  # type: ignore[arg-type]
    await client.webhooks.add("https://x.io", ["post_file"])  # type: ignore[list-item]
    client.task(5)  # type: ignore[arg-type]


async def core(client: Client) -> None:
    """The core pipeline: raw calls, bulk helpers, quota snapshots, policies."""
    from worksection_async import (
        JSONValue,
        QuotaSnapshot,
        RateLimit,
        RetryPolicy,
        parse_page,
    )
    from worksection_async import (
        Page as AnyPage,
    )

    assert_type(await client.call("get_task", page="/project/1/2/", extra="text"), JSONValue)
    assert_type(client.quota, QuotaSnapshot)
    assert_type(parse_page("/project/1/"), AnyPage)

    async def square(n: int) -> int:
        return n * n

    assert_type(await client.map(square, [1, 2]), list[int])
    assert_type(await client.map(square, [1], return_exceptions=True), list[int | Exception])
    assert_type(await client.tasks.get_many([TaskPage(1, 2)]), list[Task])
    assert_type(
        await client.tasks.get_many(["/project/1/2/"], return_exceptions=True),
        list[Task | WorksectionError],
    )
    Client("https://a.worksection.com", "key", rate_limit=RateLimit(rate=2), retry=None)
    Client("https://a.worksection.com", "key", retry=RetryPolicy(deadline=dt.timedelta(1)))
    await client.call("get_task", page=5)  # type: ignore[arg-type]


def telemetry() -> None:
    """The OpenTelemetry hook is an event hook for a client and a webhook receiver."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    from worksection_async import EventHook
    from worksection_async.otel import OpenTelemetryHook
    from worksection_async.webhooks import ReceiverEventHook, WebhookReceiver

    hook = OpenTelemetryHook(tracer_provider=TracerProvider(), meter_provider=MeterProvider())
    as_client_hook: EventHook = hook
    as_receiver_hook: ReceiverEventHook = hook
    Client("https://a.worksection.com", "key", on_event=as_client_hook)

    async def handle(event: Event) -> None: ...

    WebhookReceiver(handle, on_event=as_receiver_hook)
    OpenTelemetryHook(tracer_provider=5)  # type: ignore[arg-type]
