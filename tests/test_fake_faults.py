"""Scripted faults: latency on the fake's clock, 5xx pages, truncated JSON, dropped links."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from tests.fixtures.fake_support import admin, api, client_for
from worksection_async.testing import FakeWorksection, Fault, FaultKind, ManualClock


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


pytestmark = pytest.mark.anyio


def make_fake(clock: ManualClock | None = None, seed: int = 0) -> FakeWorksection:
    fake = FakeWorksection(clock=clock or ManualClock(), seed=seed)
    fake.add_project("Website", id=10)
    return fake


async def test_latency_waits_on_the_fakes_clock() -> None:
    """A 2.5 s latency fault takes 2.5 s of virtual time and then answers normally."""
    clock = ManualClock()
    fake = make_fake(clock)
    fake.faults.add(Fault.latency(2.5), action="get_users")
    async with client_for(fake) as http, clock.autojump():
        before = clock.now()
        assert (await api(http, fake, "get_users"))["status"] == "ok"
        assert clock.now() - before == pytest.approx(2.5)
        assert (await api(http, fake, "get_users"))["status"] == "ok"
        assert clock.now() - before == pytest.approx(2.5)
    assert fake.faults.injected[FaultKind.LATENCY] == 1


async def test_slow_requests_do_not_serialise_each_other() -> None:
    """Five concurrent requests with 1 s latency all finish after 1 s: no lock is held."""
    clock = ManualClock()
    fake = make_fake(clock)
    fake.faults.add(Fault.latency(1.0), times=None)
    done: list[float] = []
    async with client_for(fake) as http, clock.autojump():

        async def one() -> None:
            assert (await api(http, fake, "get_users"))["status"] == "ok"
            done.append(clock.now())

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(one)
    assert done == [pytest.approx(1.0)] * 5
    assert fake.stats.max_in_flight == 5
    assert fake.stats.in_flight == 0


@pytest.mark.parametrize("status", [500, 502])
async def test_http_errors_are_html_pages_and_change_nothing(status: int) -> None:
    """A 5xx fault answers an HTML page; the action does not run; the next call works."""
    fake = make_fake()
    fake.faults.add(Fault.http_error(status), action="post_task")
    async with client_for(fake) as http:
        failed = await admin(http, fake, "post_task", id_project=10, title="lost")
        assert failed.status_code == status
        assert failed.headers["content-type"].startswith("text/html")
        assert f"<title>{status} " in failed.text
        assert fake.tasks == {}
        assert (await api(http, fake, "post_task", id_project=10, title="kept"))["status"] == "ok"
    assert [t.name for t in fake.tasks.values()] == ["kept"]
    assert (fake.stats.faults, fake.stats.served) == (1, 1)


async def test_truncated_json_runs_the_action_but_cuts_the_answer() -> None:
    """The task is created, but the client gets half a JSON document."""
    fake = make_fake()
    fake.faults.add(Fault.truncated_json(), action="post_task")
    async with client_for(fake) as http:
        response = await admin(http, fake, "post_task", id_project=10, title="half")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert response.content.startswith(b'{"status":"ok"')
    assert [t.name for t in fake.tasks.values()] == ["half"]


async def test_dropped_connection_raises_in_httpx() -> None:
    """The transport raises RemoteProtocolError and the action does not run."""
    fake = make_fake()
    fake.faults.add(Fault.drop_connection(), action=["post_task", "get_tasks"], times=2)
    async with client_for(fake) as http:
        for _ in range(2):
            with pytest.raises(httpx.RemoteProtocolError):
                await admin(http, fake, "post_task", id_project=10, title="never")
        assert (await api(http, fake, "get_users"))["status"] == "ok"
        assert (await api(http, fake, "get_tasks", id_project=10))["status"] == "ok"
    assert fake.tasks == {}
    assert fake.faults.rules == ()


async def test_probabilistic_faults_are_reproducible() -> None:
    """Faults drawn with a probability follow the fake's seed."""

    async def pattern(seed: int) -> list[int]:
        fake = make_fake(seed=seed)
        fake.faults.add(Fault.http_error(502), probability=0.3, times=None)
        statuses = []
        async with client_for(fake) as http:
            for _ in range(60):
                statuses.append((await admin(http, fake, "get_users")).status_code)
        return statuses

    first, again, other = await pattern(7), await pattern(7), await pattern(8)
    assert first == again
    assert first != other
    assert 5 <= first.count(502) <= 35
    assert set(first) == {200, 502}


async def test_fault_rules_validate_and_clear() -> None:
    """Bad fault arguments are ValueErrors; clear() removes every rule."""
    with pytest.raises(ValueError, match="5xx"):
        Fault.http_error(404)
    with pytest.raises(ValueError, match="latency"):
        Fault.latency(-1)
    fake = make_fake()
    with pytest.raises(ValueError, match="probability"):
        fake.faults.add(Fault.truncated_json(), probability=1.5)
    with pytest.raises(ValueError, match="times"):
        fake.faults.add(Fault.truncated_json(), times=0)
    fake.faults.add(Fault.drop_connection(), times=None)
    fake.faults.clear()
    async with client_for(fake) as http:
        assert (await api(http, fake, "get_users"))["status"] == "ok"


async def test_drop_after_applying_runs_the_action_then_drops() -> None:
    """The task is created and the quota spent, then the connection drops unanswered."""
    fake = make_fake()
    fake.faults.add(Fault.drop_after_applying(), action="post_task")
    async with client_for(fake) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await admin(http, fake, "post_task", id_project=10, title="applied")
        assert (await api(http, fake, "post_task", id_project=10, title="next"))["status"] == "ok"
    assert [t.name for t in fake.tasks.values()] == ["applied", "next"]
    assert fake.faults.injected[FaultKind.DROP_AFTER_APPLYING] == 1
    assert (fake.stats.faults, fake.stats.served, fake.stats.by_action["post_task"]) == (1, 2, 2)
    assert Fault.drop_after_applying().applies and not Fault.drop_connection().applies
