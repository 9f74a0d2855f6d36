"""How resource methods read answers: lists asked for in ``extra``, odd messages.

The API leaves an empty list out of a task (a task read with ``extra=comments`` and no
comments has no ``comments`` key), as the fake does. A list that was asked for is
``()`` when it is absent, a list that was not asked for stays ``None``. Runs on asyncio
and trio.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import respx

from tests.conftest import ok
from worksection_async import Client
from worksection_async.models import TaskRelations
from worksection_async.resources import ScheduleUpdate
from worksection_async.testing import FakeWorksection

pytestmark = pytest.mark.anyio

USER = {"id": "5", "email": "ann@example.com", "name": "Ann Lee"}


def task(task_id: int, page: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(task_id),
        "name": f"T{task_id}",
        "page": page or f"/project/1/{task_id}/",
        "status": "active",
        "priority": "1",
        **fields,
    }


def answer_with(router: respx.MockRouter, data: Any, **top: Any) -> respx.Route:
    return router.post("/api/admin/v2/").mock(return_value=ok(data, **top))


ASKED_FIELDS = ("files", "comments", "relations", "subscribers", "child")


async def test_get_task_lists_asked_for_and_absent_are_empty(
    router: respx.MockRouter, client: Client
) -> None:
    """get_task with every list in extra: absent lists are empty, and the brief
    subtasks in child get only their own child."""
    leaf = {"id": "4", "name": "S", "page": "/project/1/2/4/", "status": "active", "priority": "1"}
    answer_with(router, task(2, child=[leaf]))
    found = await client.task("/project/1/2/").get(
        extra=["files", "comments", "relations", "subscribers", "subtasks"]
    )
    assert found.files == ()
    assert found.comments == ()
    assert found.subscribers == ()
    assert found.relations == TaskRelations()
    assert found.custom_fields is None  # not asked for
    assert found.child is not None
    (sub,) = found.child
    assert sub.child == ()
    assert sub.comments is None  # get_task's subtasks are brief: nothing else was sent


async def test_get_task_without_extra_leaves_lists_none(
    router: respx.MockRouter, client: Client
) -> None:
    """Nothing asked for: every optional list is None."""
    answer_with(router, task(2))
    found = await client.task("/project/1/2/").get()
    for name in (*ASKED_FIELDS, "custom_fields"):
        assert getattr(found, name) is None, name


async def test_present_lists_are_kept(router: respx.MockRouter, client: Client) -> None:
    """Lists the answer has are kept as sent."""
    answer_with(router, task(2, subscribers=[USER]))
    found = await client.task("/project/1/2/").get(extra=["subscribers", "comments"])
    assert found.subscribers is not None
    assert [u.email for u in found.subscribers] == ["ann@example.com"]
    assert found.comments == ()


async def test_get_tasks_fills_every_level_of_children(
    router: respx.MockRouter, client: Client
) -> None:
    """get_tasks renders subtasks like their parent: the extras reach every level."""
    sub = task(3, "/project/1/2/3/")
    answer_with(router, [task(2, child=[sub]), task(5)])
    tasks = await client.project(1).tasks(extra=["comments", "subtasks", "files"])
    for found in (tasks[0], tasks[1], tasks[0].child[0]):  # type: ignore[index]
        assert found.comments == ()
        assert found.files == ()
        assert found.relations is None
    assert tasks[1].child == ()
    assert tasks[0].child[0].child == ()  # type: ignore[index]


async def test_get_all_tasks_and_search(router: respx.MockRouter, client: Client) -> None:
    """get_all_tasks and search_tasks apply the rule to what they asked for."""
    answer_with(router, [task(2)])
    (listed,) = await client.tasks.list(extra=["relations"])
    assert listed.relations == TaskRelations()
    assert listed.files is None
    (found,) = await client.tasks.search(project=1, extra="files")
    assert found.files == ()
    assert found.comments is None


async def test_comments_with_files(router: respx.MockRouter, client: Client) -> None:
    """get_comments with extra=files: a comment without files has files == ()."""
    comment = {
        "id": "9",
        "page": "/project/1/2/#com9",
        "text": "Hi",
        "date_added": "2024-01-02 10:00",
        "user_from": USER,
    }
    answer_with(router, [comment])
    (with_files,) = await client.task("/project/1/2/").comments(with_files=True)
    (without,) = await client.task("/project/1/2/").comments()
    assert with_files.files == ()
    assert without.files is None


async def test_the_fake_leaves_empty_lists_out_and_the_client_fills_them() -> None:
    """End to end on FakeWorksection, which omits empty lists as the API does."""
    fake = FakeWorksection()
    project = fake.add_project("P")
    top = fake.add_task(project, "top")
    fake.add_task(project, "sub", parent=top)
    lonely = fake.add_task(project, "lonely")
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
    ) as client:
        tasks = await client.project(project.id).tasks(extra=["comments", "files", "subtasks"])
        one = await client.task(lonely.page).get(extra=["comments", "subtasks", "subscribers"])
    by_name = {t.name: t for t in tasks}
    assert by_name["lonely"].comments == ()
    assert by_name["lonely"].files == ()
    assert by_name["lonely"].child == ()
    (sub,) = by_name["top"].child  # type: ignore[misc]
    assert sub.comments == ()
    assert one.comments == ()
    assert one.child == ()
    assert one.subscribers == ()


async def test_schedule_message_counts_are_read_from_ascii_digits(
    router: respx.MockRouter, client: Client
) -> None:
    """The counts in update_users_schedule's message: a 5,000-digit count or other
    digits leave them None (int() raised ValueError), the message is kept."""
    days = {"ann@example.com": {dt.date(2024, 1, 2): "vacation"}}
    for message in (
        f"Days added: {'9' * 5000}, days updated: 1",
        "Days added: ٣, days updated: ٣",
    ):
        route = answer_with(router, [], message=message)
        result = await client.schedules.update(days)  # type: ignore[arg-type]
        assert result == ScheduleUpdate(message=message)
        route.reset()
    answer_with(router, [], message="Days added: 2, days updated: 1")
    assert await client.schedules.update(days) == ScheduleUpdate(  # type: ignore[arg-type]
        message="Days added: 2, days updated: 1", added=2, updated=1
    )


async def test_a_megabyte_schedule_message_is_read_quickly(
    router: respx.MockRouter, client: Client
) -> None:
    """A hostile message of many 'added: 1' without 'updated' is not searched whole
    (the search was quadratic: minutes for a megabyte)."""
    message = "added: 1 " * 120_000
    answer_with(router, [], message=message)
    start = time.process_time()
    result = await client.schedules.update({"ann@example.com": {dt.date(2024, 1, 2): "vacation"}})
    assert time.process_time() - start < 5.0  # quadratic: 10**10 steps
    assert result.added is None
    assert len(result.message) == len(message)
