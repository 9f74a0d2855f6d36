"""SharedQuota on Redis as production runs it, all started by the tests on loopback: TLS
with an ACL user, a Sentinel group, a Cluster; the primary killed mid-run (issue 29)."""

from __future__ import annotations

import logging

import anyio
import coredis
import pytest

import worksection_async as ws
from worksection_async import Client, RateLimit
from worksection_async.shared import SharedQuota
from worksection_async.testing import FakeWorksection

from ._topologies import PASSWORD, Cluster, SentinelGroup, TlsServer

pytestmark = pytest.mark.anyio


def _client(
    fake: FakeWorksection, quota: SharedQuota, events: list[ws.ClientEvent], rate: float = 20
) -> Client:
    return Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        rate_limit=RateLimit(rate=rate),
        shared_quota=quota,
        on_event=events.append,
    )


def _quota_errors(events: list[ws.ClientEvent]) -> int:
    return sum(
        1 for e in events if isinstance(e, ws.ResponseReceived) and e.error == "QuotaExceededError"
    )


async def _two_share_and_pause(quota: SharedQuota, key: str) -> list[ws.ClientEvent]:
    """Two clients on the quota against an account of 10/s, configured at 20/s: an
    error 20 pauses both (the gate's closure is heard on the channel); they keep to the
    account's rate afterwards."""
    fake = FakeWorksection(quota="10/s")
    events: list[ws.ClientEvent] = []
    async with quota, _client(fake, quota, events) as a, _client(fake, quota, events) as b:
        with anyio.fail_after(30):
            while not quota._listening(f"{{{key}}}:gate"):  # noqa: ASYNC110
                await anyio.sleep(0.01)
            async with anyio.create_task_group() as tg:
                for c in (a, b, a, b):
                    tg.start_soon(c.call, "get_projects")
            for _ in range(6):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(a.call, "get_projects")
                    tg.start_soon(b.call, "get_projects")
        assert a.quota.shared and b.quota.shared
        assert a.quota.processes == 2
        assert a.quota.shared_calls >= 16
    assert any(isinstance(e, ws.PauseStarted) for e in events)
    return events


async def test_tls_with_an_acl_user(
    tls_server: TlsServer, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """rediss:// with the CA as a query parameter and an ACL user: the quota is shared;
    the password is in no repr or log line; a wrong one is a QuotaBackendError."""
    caplog.set_level(logging.DEBUG)
    quota = SharedQuota.from_url(tls_server.url(), key=key)
    await _two_share_and_pause(quota, key)
    wrong = SharedQuota.from_url(tls_server.url("not-" + PASSWORD), key=key)
    fake = FakeWorksection(quota=None)
    async with _client(fake, wrong, []) as client:
        with pytest.raises(ws.QuotaBackendError) as info:
            await client.call("get_projects")
    assert fake.stats.requests == 0
    assert repr(quota).startswith("<SharedQuota rediss://***@127.0.0.1:")
    for text in (repr(quota), repr(wrong), str(info.value), caplog.text):
        assert PASSWORD not in text


async def test_sentinel(sentinel_group: SentinelGroup, key: str) -> None:
    """redis+sentinel://: the primary the sentinels name; pub/sub on it."""
    await _two_share_and_pause(SharedQuota.from_url(sentinel_group.url, key=key), key)


async def test_cluster_url_and_client(redis_cluster: Cluster, key: str) -> None:
    """redis+cluster:// and a coredis.RedisCluster of one's own: the keys in one slot,
    the gate's channel heard on the cluster."""
    await _two_share_and_pause(SharedQuota.from_url(redis_cluster.url(), key=key), key)
    node = redis_cluster.nodes[0]
    own = coredis.RedisCluster("127.0.0.1", node.port, decode_responses=True)
    await _two_share_and_pause(SharedQuota(own, key=key + "-own"), key + "-own")
