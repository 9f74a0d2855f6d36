"""SharedQuota in one process, against a real redis-server, on asyncio and trio.

Several ``Client`` s in one process each get their own backend (their own member id on
the key), so to Redis they are separate processes; the multi-process runs are in
``test_shared_processes.py``. Time is real here (Redis's ``TIME`` paces the calls), so
rates are kept high and runs short.
"""

from __future__ import annotations

import logging
import pickle
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import coredis
import pytest

import worksection_async as ws
from worksection_async import Client, RateLimit
from worksection_async.shared import SharedQuota
from worksection_async.testing import FakeWorksection

from ._redis import RedisServer

pytestmark = pytest.mark.anyio


class OffsetClock:
    """The real monotonic clock, shifted: hosts whose clocks disagree."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.monotonic() + self.offset

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def sent(events: list[ws.ClientEvent]) -> list[ws.RequestSent]:
    return [e for e in events if isinstance(e, ws.RequestSent)]


def quota_errors(events: list[ws.ClientEvent]) -> int:
    return sum(
        1 for e in events if isinstance(e, ws.ResponseReceived) and e.error == "QuotaExceededError"
    )


async def raw(server: RedisServer) -> AsyncIterator[coredis.Redis[str]]:
    client = coredis.Redis.from_url(server.url, decode_responses=True)
    async with client:
        yield client


async def test_two_clients_share_one_bucket(redis_server: RedisServer, key: str) -> None:
    """Two clients of 8 callers on one key against an account of 20/s, each configured
    at 20/s: together they keep to 20/s (20 calls take >= 0.9 s) and meet at most three
    error 20s (timer jitter on a busy machine), where two unshared clients would run at
    twice the account's rate and meet one on every other request."""
    fake = FakeWorksection(quota="20/s")
    events: list[ws.ClientEvent] = []
    quota = SharedQuota.from_url(redis_server.url, key=key)

    def client() -> Client:
        return Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            rate_limit=RateLimit(rate=20),
            shared_quota=quota,
            on_event=events.append,
        )

    async def run(c: Client) -> None:
        async with c:
            await c.map(lambda _: c.call("get_projects"), range(10))

    start = time.monotonic()
    async with quota, anyio.create_task_group() as tg:
        tg.start_soon(run, client())
        tg.start_soon(run, client())
    elapsed = time.monotonic() - start
    assert fake.stats.by_action["get_projects"] == 20
    assert elapsed >= 19 / 20 * 0.95, elapsed
    assert quota_errors(events) <= 3


async def test_snapshot_shows_the_shared_state(redis_server: RedisServer, key: str) -> None:
    """client.quota says the state is shared and shows the figures of every process:
    calls by all of them, the processes seen, the shared rate."""
    fake = FakeWorksection(quota=None)
    quota = SharedQuota.from_url(redis_server.url, key=key)
    limit = RateLimit(rate=100)
    async with (
        Client(fake.account_url, fake.api_key, transport=fake.transport,
               rate_limit=limit, shared_quota=quota) as a,
        Client(fake.account_url, fake.api_key, transport=fake.transport,
               rate_limit=limit, shared_quota=quota) as b,
    ):  # fmt: skip
        for _ in range(3):
            await a.call("get_projects")
        await b.call("get_projects")
        snapshot = b.quota
    assert snapshot.shared is True
    assert snapshot.calls == 1
    assert snapshot.shared_calls == 4
    assert snapshot.processes == 2
    assert snapshot.current_rate == pytest.approx(100.0)
    assert snapshot.configured_rate == pytest.approx(97.0)
    assert snapshot.shared_quota_errors == 0


async def test_keys_share_a_hash_tag_from_the_host_and_expire(redis_server: RedisServer) -> None:
    """The default key comes from the account's host, never the API key; every key has
    the same hash tag and an expiry."""
    fake = FakeWorksection(quota=None, account_url="https://tagged.worksection.com")
    quota = SharedQuota.from_url(redis_server.url)
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, shared_quota=quota
    ) as client:
        await client.call("get_projects")
    async for r in raw(redis_server):
        keys = sorted(await r.keys("*tagged*"))
        assert keys == [
            "{worksection_async:tagged.worksection.com}:members",
            "{worksection_async:tagged.worksection.com}:state",
        ]
        for name in keys:
            assert 0 < await r.pttl(name) <= 1000 * (2 * 40 + 60)
        every = await r.keys("*")
        assert not [k for k in every if fake.api_key in k]


async def test_a_pause_holds_every_client(redis_server: RedisServer, key: str) -> None:
    """An error 20 seen by one client closes the gate for the other at once: no request
    of either leaves while the pause lasts (the account allows 8/s, the clients think
    10/s: they meet error 20s)."""
    fake = FakeWorksection(quota="8/s")
    events: list[ws.ClientEvent] = []
    quota = SharedQuota.from_url(redis_server.url, key=key)

    def client() -> Client:
        return Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            rate_limit=RateLimit(rate=10),
            shared_quota=quota,
            on_event=events.append,
        )

    async def run(c: Client) -> None:
        async with c:
            await c.map(lambda _: c.call("get_projects"), range(5))

    async with quota, anyio.create_task_group() as tg:
        tg.start_soon(run, client())
        tg.start_soon(run, client())
    pauses = [e for e in events if isinstance(e, ws.PauseStarted)]
    assert pauses, "no error 20 at all"
    for pause in pauses:
        inside = [s for s in sent(events) if pause.at + 0.02 < s.at < pause.until]
        assert not inside, (pause, inside)
    assert fake.stats.by_action["get_projects"] == 10


async def test_clocks_offset_by_minutes_still_pace(redis_server: RedisServer, key: str) -> None:
    """Two clients whose clocks disagree by ten minutes share 20/s: Redis's clock times
    them, so together they keep to the quota (neither waits minutes nor runs unpaced)."""
    fake = FakeWorksection(quota="20/s")
    events: list[ws.ClientEvent] = []
    quota = SharedQuota.from_url(redis_server.url, key=key)

    async def run(offset: float) -> None:
        async with Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            rate_limit=RateLimit(rate=20),
            shared_quota=quota,
            clock=OffsetClock(offset),
            on_event=events.append,
        ) as c:
            await c.map(lambda _: c.call("get_projects"), range(6))

    start = time.monotonic()
    async with quota, anyio.create_task_group() as tg:
        tg.start_soon(run, 300.0)
        tg.start_soon(run, -300.0)
    elapsed = time.monotonic() - start
    assert 11 / 20 * 0.95 <= elapsed <= 11 / 20 + 1.5, elapsed
    assert quota_errors(events) <= 2
    assert fake.stats.by_action["get_projects"] == 12


async def test_falls_back_when_redis_stops_and_shares_again(
    make_redis_server: Callable[..., RedisServer],
    key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """redis-server stops: calls go on through the local quota, one WARNING, one
    QuotaBackendUnavailable; it starts again: the client is back on the shared state
    (QuotaBackendRestored)."""
    server = make_redis_server()
    fake = FakeWorksection(quota=None)
    events: list[ws.ClientEvent] = []
    quota = SharedQuota.from_url(server.url, key=key)
    caplog.set_level(logging.INFO, logger="worksection_async")
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        rate_limit=RateLimit(rate=50),
        shared_quota=quota,
        on_event=events.append,
    ) as client:
        for _ in range(5):
            await client.call("get_projects")
        assert client.quota.shared
        server.stop()
        for _ in range(10):
            await client.call("get_projects")
        down = client.quota
        server.start()
        await anyio.sleep(1.1)  # the next probe of Redis
        for _ in range(5):
            await client.call("get_projects")
        up = client.quota
    assert fake.stats.by_action["get_projects"] == 20
    assert down.shared is False
    assert down.current_rate == pytest.approx(50.0)  # one process was seen on the key
    assert up.shared is True
    unavailable = [e for e in events if isinstance(e, ws.QuotaBackendUnavailable)]
    assert len(unavailable) == 1
    assert unavailable[0].processes == 1
    assert len([e for e in events if isinstance(e, ws.QuotaBackendRestored)]) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "falling back to a local quota" in warnings[0].getMessage()


async def test_on_unavailable_raise_sends_nothing(
    make_redis_server: Callable[..., RedisServer], key: str
) -> None:
    """on_unavailable="raise" and no Redis: QuotaBackendError (a WorksectionError that
    pickles), and no request leaves."""
    server = make_redis_server(start=False)
    fake = FakeWorksection(quota=None)
    quota = SharedQuota.from_url(server.url, key=key, on_unavailable="raise")
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, shared_quota=quota
    ) as client:
        with pytest.raises(ws.QuotaBackendError) as info:
            await client.call("get_projects")
    assert isinstance(info.value, ws.WorksectionError)
    assert "nothing was sent" in str(info.value)
    assert fake.stats.requests == 0
    back = pickle.loads(pickle.dumps(info.value))
    assert type(back) is ws.QuotaBackendError
    assert str(back) == str(info.value)


async def test_credentials_never_show(
    make_redis_server: Callable[..., RedisServer],
    key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Redis password is in no repr, log line or error: with a wrong one (refused),
    and with the right one (works)."""
    secret = "s3cret-redis-pass"
    server = make_redis_server(password=secret)
    fake = FakeWorksection(quota=None)
    wrong = f"redis://:{secret}-wrong@127.0.0.1:{server.port}/0"
    caplog.set_level(logging.DEBUG)
    events: list[ws.ClientEvent] = []
    quota = SharedQuota.from_url(wrong, key=key, on_unavailable="raise")
    assert secret not in repr(quota)
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, shared_quota=quota
    ) as client:
        with pytest.raises(ws.QuotaBackendError) as info:
            await client.call("get_projects")
    shown = [str(info.value), repr(info.value), str(info.value.__cause__)]
    fallback = SharedQuota.from_url(wrong, key=key)
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        shared_quota=fallback,
        on_event=events.append,
    ) as client:
        with pytest.raises(ws.QuotaBackendError) as refused:  # never a fallback
            await client.call("get_projects")
        shown += [repr(client), str(refused.value)]
    good = SharedQuota.from_url(server.url, key=key)
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, shared_quota=good
    ) as client:
        await client.call("get_projects")
        assert client.quota.shared
    shown += [repr(quota), repr(good), *(r.getMessage() for r in caplog.records)]
    shown += [repr(e) for e in events]
    for text in shown:
        assert secret not in text, text
    with pytest.raises(ValueError, match=r"\*\*\*@") as bad:
        SharedQuota.from_url(f"redis://:{secret}@127.0.0.1:notaport/0")
    assert secret not in str(bad.value)


async def test_a_client_not_entered_says_so(redis_server: RedisServer, key: str) -> None:
    """A client with a shared quota that was never entered raises a clear
    QuotaBackendError instead of sending unpaced."""
    fake = FakeWorksection(quota=None)
    client = Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        shared_quota=SharedQuota.from_url(redis_server.url, key=key),
    )
    with pytest.raises(ws.QuotaBackendError, match="async with Client"):
        await client.call("get_projects")
    await client.aclose()
    assert fake.stats.requests == 0


def test_settings_are_checked(redis_server: RedisServer) -> None:
    """Bad settings fail at construction, naming the problem."""
    with pytest.raises(ValueError, match="on_unavailable"):
        SharedQuota.from_url(redis_server.url, on_unavailable="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key"):
        SharedQuota.from_url(redis_server.url, key="a{b}")
    with pytest.raises(ValueError, match="timeout"):
        SharedQuota.from_url(redis_server.url, timeout=0)
    with pytest.raises(ValueError, match="not a shared quota URL"):
        SharedQuota.from_url("http://127.0.0.1:6379")
    with pytest.raises(TypeError, match="coredis client"):
        SharedQuota(object())  # type: ignore[arg-type]
    quota = SharedQuota.from_url(redis_server.url)
    with pytest.raises(ValueError, match="needs a rate_limit"):
        Client("https://acme.worksection.com", "key", rate_limit=None, shared_quota=quota)


def test_import_never_loads_coredis_without_asking() -> None:
    """``import worksection_async`` (and a Client) does not import coredis; without the
    extra, a Redis shared quota says which extra to install."""
    probe = (
        "import sys, worksection_async\n"
        "from worksection_async import Client\n"
        "Client('https://acme.worksection.com', 'k')\n"
        "print('coredis' in sys.modules)\n"
        "sys.modules['coredis'] = None\n"
        "import worksection_async.shared\n"
        "try:\n"
        "    worksection_async.shared.SharedQuota.from_url('redis://127.0.0.1')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "False"
    assert "pip install 'worksection-async[redis]'" in lines[1]


async def test_unix_socket_and_own_coredis_client(redis_server: RedisServer, key: str) -> None:
    """SharedQuota(coredis_client) works with a client the caller made (here on the unix
    socket), and leaves it usable afterwards."""
    redis = coredis.Redis(unix_socket_path=str(redis_server.socket), decode_responses=True)
    fake = FakeWorksection(quota=None)
    async with redis:
        quota = SharedQuota(redis, key=key)
        async with Client(
            fake.account_url, fake.api_key, transport=fake.transport, shared_quota=quota
        ) as client:
            await client.call("get_projects")
            assert client.quota.shared_calls == 1
        assert await redis.exists([f"{{{key}}}:state"]) == 1


def test_repr_names_the_server_not_the_secret(redis_server: RedisServer) -> None:
    """The repr shows where the state is kept, with the password masked."""
    quota = SharedQuota.from_url(f"redis://user:pw@127.0.0.1:{redis_server.port}/0", key="k")
    assert repr(quota) == (
        f"<SharedQuota redis://***@127.0.0.1:{redis_server.port}/0 key='k' "
        "on_unavailable='fallback' closed>"
    )


async def test_a_state_that_starts_again_is_adopted(redis_server: RedisServer, key: str) -> None:
    """The shared state disappears (a Redis restarted without persistence, an expired
    key) after gate closures: its generations count from zero again, and the client
    takes the new state's reservations instead of voiding them for ever."""
    fake = FakeWorksection(quota="5/s")
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        rate_limit=RateLimit(rate=20),
        shared_quota=SharedQuota.from_url(redis_server.url, key=key),
    ) as client:
        for _ in range(3):
            await client.call("get_projects")  # the second one meets error 20: a pause
        assert client.quota.shared_quota_errors
        fake.set_quota(None)
        async for r in raw(redis_server):
            assert await r.delete([f"{{{key}}}:state", f"{{{key}}}:members"]) == 2
        with anyio.fail_after(5):
            for _ in range(4):
                await client.call("get_projects")
        assert client.quota.shared_calls == 4


@pytest.mark.parametrize("scheme", ["rediss", "rediss+cluster"])
@pytest.mark.parametrize("content", [None, b"not a certificate"])
def test_an_unusable_tls_file_is_a_clear_error(
    scheme: str, content: bytes | None, tmp_path: Path
) -> None:
    """A CA file that is missing or not a certificate is a ValueError that names the
    parameter and the file, and never the password (it was a bare FileNotFoundError
    with no file name, from inside coredis)."""
    ca = tmp_path / "ca.pem"
    if content is not None:
        ca.write_bytes(content)
    url = f"{scheme}://app:S3CRET-PW@127.0.0.1:6380/0?ssl_ca_certs={ca}"
    with pytest.raises(ValueError, match=rf"ssl_ca_certs={re.escape(str(ca))}") as caught:
        SharedQuota.from_url(url)
    assert "S3CRET-PW" not in str(caught.value)
