"""The primary killed mid-run (a Sentinel group's, or the Cluster primary that owns the
quota's slot), and a lone redis-server killed mid-run and started again (with and
without persistence), against servers the tests start on loopback: no caller sees an
error, the client is back on the shared state, and error 20 stays <= 2 % of the
requests. One failover per topology and session (the fixtures are shared), on one
event loop."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import pytest

import worksection_async as ws
from worksection_async import Client
from worksection_async.shared import SharedQuota
from worksection_async.testing import FakeWorksection

from ._redis import RedisServer
from ._topologies import Cluster, SentinelGroup, kill
from .test_shared_topologies import _client, _quota_errors

pytestmark = [
    pytest.mark.anyio,
    # coredis leaves the streams of its connections to a killed Cluster node unclosed,
    # held until a moment after the test: the test that follows collects them.
    pytest.mark.filterwarnings("ignore:Unclosed <MemoryObject:ResourceWarning"),
]


@pytest.fixture
def anyio_backend() -> str:
    """One failover per topology: the session's servers have one replica to promote."""
    return "asyncio"


def _bound(errors: int, requests: int) -> None:
    """Issue 29's target: error 20 <= 2 % of the requests across the failover (while
    Redis is away the processes send in turns, see ``_reply._Slots``)."""
    assert errors <= max(1, 0.02 * requests), (
        f"error 20 across the failover: {errors} of {requests} (target 2 %)"
    )


async def _across(failover: object, quota: SharedQuota) -> tuple[int, int, list[ws.ClientEvent]]:
    """Two clients calling for 8 s against an account of 10/s, each configured at 10/s;
    ``failover`` runs 2 s in. (requests, error 20s, events)."""
    fake = FakeWorksection(quota="10/s")
    events: list[ws.ClientEvent] = []

    async def run(client: Client, until: float) -> None:
        while anyio.current_time() < until:
            await client.call("get_projects")  # no caller error, whatever happens

    async with quota, _client(fake, quota, events, 10) as a, _client(fake, quota, events, 10) as b:
        until = anyio.current_time() + 8
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run, a, until)
                tg.start_soon(run, b, until)
                await anyio.sleep(2)
                await anyio.to_thread.run_sync(failover)  # type: ignore[arg-type]
        with anyio.fail_after(20):
            while not a.quota.shared:
                await anyio.sleep(0.2)
                await a.call("get_projects")
        assert a.quota.shared
    return fake.stats.requests, _quota_errors(events), events


async def test_sentinel_failover(sentinel_group: SentinelGroup, key: str) -> None:
    """The Sentinel primary is killed mid-run: no caller sees an error, the client is
    back on the shared state on the promoted replica, and error 20s stay rare."""
    old = sentinel_group.primary_port()
    victim = (
        sentinel_group.primary if sentinel_group.primary.port == old else sentinel_group.replica
    )
    quota = SharedQuota.from_url(sentinel_group.url, key=key)
    requests, errors, _ = await _across(lambda: kill(victim), quota)
    assert sentinel_group.primary_port() != old
    _bound(errors, requests)


async def test_cluster_failover(redis_cluster: Cluster, key: str) -> None:
    """The primary that owns the quota's slot is killed mid-run: no caller sees an
    error, the client is back on the shared state once its replica is promoted."""
    victim = redis_cluster.owner(key)
    quota = SharedQuota.from_url(redis_cluster.url(3), key=key)
    requests, errors, _ = await _across(lambda: kill(victim), quota)
    assert redis_cluster.owner(key) is not victim
    _bound(errors, requests)


@pytest.mark.parametrize("persistence", [False, True], ids=["no-persistence", "aof"])
async def test_redis_killed_and_started_again(
    make_redis_server: Callable[..., RedisServer], key: str, persistence: bool
) -> None:
    """redis-server SIGKILLed mid-run and started again 2 s later, without persistence
    (the state is made again) or with an append-only file written at every command
    (the state is read back): no caller sees an error, the client is back on the
    shared state, and error 20 stays <= 2 % of the requests across the outage and the
    hand-over (issue 29 measured 11-12 % before)."""
    args = ["--appendonly", "yes", "--appendfsync", "always"] if persistence else []
    server = make_redis_server(args=args)

    def kill_and_start() -> None:
        kill(server)
        time.sleep(2.0)
        server.start()

    quota = SharedQuota.from_url(server.url, key=key)
    requests, errors, events = await _across(kill_and_start, quota)
    assert sum(isinstance(e, ws.QuotaBackendUnavailable) for e in events) == 2
    _bound(errors, requests)
