"""``request_sent``: an ambiguous write is visible as such.

Writes are never retried (only error 20 is, which the server answers before doing
anything), so the caller decides; ``request_sent`` tells it whether the request may have
been applied (``True``) or certainly never left (``False``).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import anyio
import httpx
import pytest

import worksection_async as ws
from worksection_async import Client
from worksection_async.testing import FakeWorksection, Fault

from .conftest import API_KEY

pytestmark = pytest.mark.anyio


def make_fake() -> FakeWorksection:
    fake = FakeWorksection()
    fake.add_project("Website", id=10)
    return fake


async def test_a_write_applied_then_dropped_says_request_sent() -> None:
    """The fake applies post_task and drops the connection: one task, one request, and
    a TransportError with request_sent=True."""
    fake = make_fake()
    fake.faults.add(Fault.drop_after_applying(), action="post_task")
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
    ) as client:
        with pytest.raises(ws.TransportError) as info:
            await client.call("post_task", page="/project/10/", title="Once")
    assert info.value.request_sent is True
    assert [task.name for task in fake.tasks.values()] == ["Once"]
    assert fake.stats.by_action["post_task"] == 1


async def test_a_truncated_answer_to_a_write_says_request_sent() -> None:
    """A write applied with its answer cut short: ProtocolError, request_sent=True."""
    fake = make_fake()
    fake.faults.add(Fault.truncated_json(), action="post_task")
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
    ) as client:
        with pytest.raises(ws.ProtocolError) as info:
            await client.call("post_task", page="/project/10/", title="Once")
    assert info.value.request_sent is True
    assert len(fake.tasks) == 1


@pytest.fixture
def served_fake() -> Iterator[tuple[FakeWorksection, str]]:
    fake = make_fake()
    with fake.serve_in_thread() as url:
        yield fake, url


async def test_over_a_real_connection_the_drop_after_applying_says_sent(
    served_fake: tuple[FakeWorksection, str],
) -> None:
    """Served by uvicorn on 127.0.0.1: the answer breaks off mid-body after the write."""
    fake, url = served_fake
    fake.faults.add(Fault.drop_after_applying(), action="post_task")
    async with Client(url, fake.api_key, rate_limit=None) as client:
        with anyio.fail_after(10), pytest.raises(ws.TransportError) as info:
            await client.call("post_task", page="/project/10/", title="Once")
        assert info.value.request_sent is True
        assert len(fake.tasks) == 1
        # The next call goes through: nothing was left broken.
        assert isinstance(await client.call("get_tasks", page="/project/10/"), list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


async def test_a_connect_failure_says_not_sent() -> None:
    """Nothing listening on the port: TransportError with request_sent=False."""
    async with Client(f"http://127.0.0.1:{free_port()}", API_KEY, rate_limit=None) as client:
        with anyio.fail_after(10), pytest.raises(ws.TransportError) as info:
            await client.call("post_task", page="/project/10/", title="Never")
    assert info.value.request_sent is False
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "request_sent=False" in repr(info.value)


@pytest.mark.parametrize(
    ("exc", "sent"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("slow connect"), False),
        (httpx.PoolTimeout("no connection free"), False),
        (httpx.ReadError("reset"), True),
        (httpx.ReadTimeout("slow answer"), True),
        (httpx.WriteError("broken pipe"), True),
        (httpx.RemoteProtocolError("disconnected"), True),
    ],
)
async def test_request_sent_follows_the_failure(exc: httpx.HTTPError, sent: bool) -> None:
    """Errors raised before a byte can leave say False; any later failure says True
    (without httpcore's trace, "may have been sent" is the safe answer)."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    async with Client(
        "https://acme.worksection.com",
        API_KEY,
        transport=httpx.MockTransport(handler),
        rate_limit=None,
    ) as client:
        with pytest.raises(ws.TransportError) as info:
            await client.call("post_task", page="/project/10/", title="x")
    assert info.value.request_sent is sent
