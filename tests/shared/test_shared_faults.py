"""Faults of production Redis, against real redis-servers: refused credentials and ACLs,
a Redis down at start, evicted keys, processes configured at different rates, a Redis
answering near the timeout (each a regression test of a defect found by a fault
campaign, issue 29)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import coredis
import pytest

import worksection_async as ws
from worksection_async import Client, RateLimit
from worksection_async.shared import SharedQuota
from worksection_async.testing import FakeWorksection

from ._redis import RedisServer

pytestmark = pytest.mark.anyio

SECRET = "s3cret-acl-pass"


def _client(
    fake: FakeWorksection,
    quota: SharedQuota,
    *,
    rate: float = 50.0,
    events: list[ws.ClientEvent] | None = None,
) -> Client:
    return Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        rate_limit=RateLimit(rate=rate),
        shared_quota=quota,
        on_event=None if events is None else events.append,
    )


@pytest.mark.parametrize("on_unavailable", ["fallback", "raise"])
async def test_a_wrong_password_is_an_error_not_a_fallback(
    make_redis_server: Callable[..., RedisServer],
    key: str,
    on_unavailable: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A wrong password is a configuration error: QuotaBackendError at the first call,
    nothing sent, no fallback at the full rate, the password nowhere."""
    server = make_redis_server(password=SECRET)
    fake = FakeWorksection(quota=None)
    events: list[ws.ClientEvent] = []
    caplog.set_level(logging.DEBUG)
    wrong = f"redis://:{SECRET}-wrong@127.0.0.1:{server.port}/0"
    quota = SharedQuota.from_url(wrong, key=key, on_unavailable=on_unavailable)  # type: ignore[arg-type]
    async with _client(fake, quota, events=events) as client:
        with pytest.raises(ws.QuotaBackendError, match="refused") as info:
            await client.call("get_projects")
        with pytest.raises(ws.QuotaBackendError):
            await client.call("get_projects")  # and again: never falls back
    assert fake.stats.requests == 0
    assert not [e for e in events if isinstance(e, ws.QuotaBackendUnavailable)]
    for text in (str(info.value), repr(quota), *(r.getMessage() for r in caplog.records)):
        assert SECRET not in text, text


async def test_an_acl_refusal_is_an_error_not_a_fallback(
    make_redis_server: Callable[..., RedisServer], key: str
) -> None:
    """An ACL user that may not run scripts: QuotaBackendError naming the refusal, the
    user's password masked."""
    server = make_redis_server(
        args=["--user", "limited", "on", f">{SECRET}", "~*", "&*", "+@all", "-@scripting"]
    )
    fake = FakeWorksection(quota=None)
    quota = SharedQuota.from_url(f"redis://limited:{SECRET}@127.0.0.1:{server.port}/0", key=key)
    async with _client(fake, quota) as client:
        with pytest.raises(ws.QuotaBackendError, match="ACL") as info:
            await client.call("get_projects")
    assert fake.stats.requests == 0
    assert SECRET not in str(info.value)
    assert SECRET not in repr(quota)


@pytest.mark.parametrize(("given", "expected"), [(None, 4), (3, 3)])
async def test_redis_down_at_start_does_not_assume_one_process(
    make_redis_server: Callable[..., RedisServer],
    key: str,
    given: int | None,
    expected: int,
) -> None:
    """Redis down from the start: the fallback cannot know the processes; it takes
    ``fallback_processes`` (default 4), not 1."""
    server = make_redis_server(start=False)
    fake = FakeWorksection(quota=None)
    events: list[ws.ClientEvent] = []
    extra = {} if given is None else {"fallback_processes": given}
    quota = SharedQuota.from_url(server.url, key=key, **extra)
    async with _client(fake, quota, rate=20, events=events) as client:
        await client.call("get_projects")
        figures = client.quota
    (down,) = [e for e in events if isinstance(e, ws.QuotaBackendUnavailable)]
    assert down.processes == expected
    assert down.rate == pytest.approx(20 / expected)
    assert figures.current_rate == pytest.approx(20 / expected)
    with pytest.raises(ValueError, match="fallback_processes"):
        SharedQuota.from_url(server.url, fallback_processes=0)


async def test_an_evicted_state_is_said_once(
    redis_server: RedisServer, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The state disappears while in use (as a volatile-* eviction does it): one
    WARNING that says so, not one per disappearance; the calls go on."""
    fake = FakeWorksection(quota=None)
    caplog.set_level(logging.INFO, logger="worksection_async")
    async with (
        coredis.Redis.from_url(redis_server.url, decode_responses=True) as raw,
        _client(fake, SharedQuota.from_url(redis_server.url, key=key)) as client,
    ):
        await client.call("get_projects")
        for _ in range(2):
            assert await raw.delete([f"{{{key}}}:state"]) == 1
            await client.call("get_projects")
            await client.call("get_projects")
        assert client.quota.shared
    lost = [r for r in caplog.records if "disappeared while in use" in r.getMessage()]
    assert len(lost) == 1, [r.getMessage() for r in caplog.records]
    assert lost[0].levelno == logging.WARNING
    assert "maxmemory-policy" in lost[0].getMessage()
    assert fake.stats.requests == 5


async def test_another_rate_on_the_key_is_refused(redis_server: RedisServer, key: str) -> None:
    """Two clients on one key configured at 10/s and 20/s: the second is refused with a
    QuotaBackendError naming both rates, and sends nothing; the first goes on."""
    fake = FakeWorksection(quota=None)
    quota = SharedQuota.from_url(redis_server.url, key=key)
    async with (
        quota,
        _client(fake, quota, rate=10) as first,
        _client(fake, quota, rate=20) as second,
    ):
        await first.call("get_projects")
        with pytest.raises(ws.QuotaBackendError, match=r"rate of 10/s .* 20/s"):
            await second.call("get_projects")
        await first.call("get_projects")
    assert fake.stats.requests == 2


async def test_a_slow_redis_does_not_flap(
    make_redis_server: Callable[..., RedisServer], key: str
) -> None:
    """Redis stops answering within the timeout (0.5 s): fallback. The next probe is
    answered, but in ~0.35 s, near the timeout: the client stays on the fallback quota
    (hysteresis) instead of flapping; a probe answered promptly brings it back."""
    server = make_redis_server(args=["--enable-debug-command", "local"])
    fake = FakeWorksection(quota=None)
    events: list[ws.ClientEvent] = []
    quota = SharedQuota.from_url(server.url, key=key, timeout=0.5)
    stalls = await anyio.connect_tcp("127.0.0.1", server.port)

    async def stall(seconds: float) -> None:
        """Redis runs DEBUG SLEEP: it answers nobody for ``seconds``."""
        await stalls.send(f"DEBUG SLEEP {seconds}\r\n".encode())
        assert (await stalls.receive()).startswith(b"+OK")

    async with stalls, _client(fake, quota, events=events) as client:
        await client.call("get_projects")
        assert client.quota.shared
        async with anyio.create_task_group() as tg:
            tg.start_soon(stall, 1.0)
            await anyio.sleep(0.02)
            await client.call("get_projects")  # times out: fallback
            assert not client.quota.shared
        await anyio.sleep(1.1)  # past the probe interval
        async with anyio.create_task_group() as tg:
            tg.start_soon(stall, 0.4)
            await anyio.sleep(0.02)
            await client.call("get_projects")  # answered in ~0.38 s: still falling back
            await anyio.sleep(0.5)  # the probe (beside the call, in turns) is answered
            assert not client.quota.shared
        await anyio.sleep(1.1)
        await client.call("get_projects")  # the probe is answered at once: shared again
        with anyio.fail_after(1.0):  # the probe runs beside the call, in turns
            while not client.quota.shared:  # noqa: ASYNC110
                await anyio.sleep(0.01)
    assert len([e for e in events if isinstance(e, ws.QuotaBackendUnavailable)]) == 1
    assert len([e for e in events if isinstance(e, ws.QuotaBackendRestored)]) == 1
