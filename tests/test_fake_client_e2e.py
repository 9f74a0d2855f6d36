"""End to end: the library's Client against the fake, on virtual time.

Every test runs against each of the fake's quota styles (error 20 "Quota exceeded",
error 20 "Too many requests", HTTP 429 with Retry-After): the client absorbs all three.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from worksection_async import (
    Client,
    HmacToken,
    PageHash,
    ProjectPage,
    QueryHash,
    QuotaExceededError,
    RetryPolicy,
    SubtaskAlreadyClosedError,
    TaskHasChildrenError,
)
from worksection_async._signing import Signer
from worksection_async.testing import QUOTA_STYLES, FakeWorksection, ManualClock, QuotaStyle


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


pytestmark = pytest.mark.anyio


@pytest.fixture(params=QUOTA_STYLES)
def quota_style(request: pytest.FixtureRequest) -> QuotaStyle:
    style: QuotaStyle = request.param
    return style


def make_fake(clock: ManualClock, quota_style: QuotaStyle) -> FakeWorksection:
    fake = FakeWorksection("e2e-key", quota="1/s", clock=clock, quota_style=quota_style)
    fake.add_user("owner@example.com", "Olga", "Owner", role="owner")
    fake.add_project("Website", id=10)
    return fake


def _id(payload: Any) -> int:
    assert isinstance(payload, dict)
    return int(payload["id"])


@pytest.mark.parametrize("signer", [PageHash(), QueryHash(), HmacToken()], ids=lambda s: s.name)
async def test_task_lifecycle(signer: Signer, quota_style: QuotaStyle) -> None:
    """Create, add a subtask, comment, complete, reopen: the client's default pacing
    keeps every call within the fake's 1/s quota."""
    clock = ManualClock()
    fake = make_fake(clock, quota_style)
    project = ProjectPage(10)
    async with (
        clock.autojump(),
        Client(
            fake.account_url, fake.api_key, signer=signer, transport=fake.transport, clock=clock
        ) as client,
    ):
        task_id = _id(await client.call("post_task", page=project, title="Ship it"))
        task = project.task(task_id)
        sub_id = _id(await client.call("post_task", page=project, id_parent=task_id, title="Sub"))
        sub = task.subtask(sub_id)
        await client.call("post_comment", page=task, text="On it", todo=["tests", "docs"])
        with pytest.raises(TaskHasChildrenError):
            await client.call("complete_task", page=task)
        await client.call("complete_task", page=sub)
        await client.call("complete_task", page=task)
        with pytest.raises(SubtaskAlreadyClosedError) as raised:
            await client.call("reopen_task", page=sub)
        assert raised.value.message == "Parent task is done"
        await client.call("reopen_task", page=task)
        shown = await client.call("get_task", page=task, extra="subtasks,comments")
    assert isinstance(shown, dict)
    assert shown["status"] == "active"
    assert shown["child"] == [
        {"id": str(sub_id), "name": "Sub", "page": sub.path, "status": "done", "priority": "1"}
    ]
    assert [c.text for c in fake.comments_of(task_id)] == ["On it\r\n• tests\r\n• docs"]
    assert fake.stats.rejected_quota == 0
    assert fake.stats.served == 9
    assert clock.now() >= 8.0


async def test_bursts_hit_the_quota_and_the_retry_policy_recovers(
    quota_style: QuotaStyle,
) -> None:
    """Without client pacing, twelve concurrent posts hit error 20; retries finish them
    all, and nothing is created twice."""
    clock = ManualClock()
    fake = make_fake(clock, quota_style)
    created: list[int] = []
    async with (
        clock.autojump(),
        Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            clock=clock,
            rate_limit=None,
            retry=RetryPolicy(max_attempts=30, initial_wait=0.5, max_wait=4),
        ) as client,
    ):

        async def post(number: int) -> None:
            payload = await client.call("post_task", page=ProjectPage(10), title=f"Task {number}")
            created.append(_id(payload))

        async with anyio.create_task_group() as tg:
            for number in range(12):
                tg.start_soon(post, number)
    assert len(created) == len(set(created)) == 12
    assert sorted(t.name for t in fake.tasks.values()) == sorted(f"Task {n}" for n in range(12))
    assert fake.stats.rejected_quota > 0
    assert fake.stats.served == 12


async def test_without_retries_the_quota_error_surfaces(quota_style: QuotaStyle) -> None:
    """retry=None: the second immediate call raises QuotaExceededError, and changes nothing."""
    clock = ManualClock()
    fake = make_fake(clock, quota_style)
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        clock=clock,
        rate_limit=None,
        retry=None,
    ) as client:
        await client.call("post_task", page=ProjectPage(10), title="first")
        with pytest.raises(QuotaExceededError) as raised:
            await client.call("post_task", page=ProjectPage(10), title="second")
    assert raised.value.code == 20
    assert raised.value.http_status == (429 if quota_style == "http429" else 200)
    assert [t.name for t in fake.tasks.values()] == ["first"]


async def test_the_client_adapts_to_a_lower_quota_in_every_style(quota_style: QuotaStyle) -> None:
    """The account allows 0.5/s, the client starts at 1/s: each style's rejection is seen
    as a quota error, the client slows down and every read succeeds."""
    clock = ManualClock()
    fake = FakeWorksection.populated(
        projects=1, tasks_per_project=40, clock=clock, quota="1/2s", quota_style=quota_style
    )
    pages = [t.page for t in fake.tasks_of(min(fake.projects))]
    async with (
        clock.autojump(),
        Client(fake.account_url, fake.api_key, transport=fake.transport, clock=clock) as client,
    ):

        async def get(page: str) -> Any:
            return await client.call("get_task", page=page)

        results = await client.map(get, pages)
        snapshot = client.quota
    assert [r["page"] for r in results] == pages
    assert 1 <= fake.stats.rejected_quota == snapshot.quota_errors
    # The control law's plateau (where error 20 last cut it) is at the real quota.
    assert snapshot.rate_at_last_decrease is not None
    assert 0.45 <= snapshot.rate_at_last_decrease <= 0.525
