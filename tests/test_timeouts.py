"""Every attempt is bounded end to end: connect, send and the whole answer.

httpx's read timeout is the gap between two reads, so a server that trickles one byte
at a time keeps a plain httpx call alive forever. These tests run a real server on
127.0.0.1 (started inside the test) that does exactly that, with timeouts of a fraction
of a second.
"""

from __future__ import annotations

import datetime as dt
import time

import anyio
import anyio.abc
import httpx
import pytest

import worksection_async as ws
from worksection_async import Client
from worksection_async._limits import FROM_TIMEOUT

from .conftest import API_KEY
from .fixtures.loopback import loopback, read_head

pytestmark = pytest.mark.anyio

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"


async def trickle(stream: anyio.abc.SocketStream) -> None:
    """Answer at once, then send the body one space (valid JSON padding) every 50 ms."""
    await read_head(stream)
    await stream.send(HEAD)
    while True:
        await stream.send(b" ")
        await anyio.sleep(0.05)


async def silent(stream: anyio.abc.SocketStream) -> None:
    """Read the request and never answer."""
    await read_head(stream)
    await anyio.sleep_forever()


async def timed_call(client: Client) -> tuple[ws.TransportError, float]:
    started = time.monotonic()
    with anyio.fail_after(10), pytest.raises(ws.TransportError) as info:
        await client.call("get_projects")
    return info.value, time.monotonic() - started


async def test_a_number_bounds_the_whole_answer() -> None:
    """timeout=0.4: a server trickling a byte every 50 ms is cut off after ~0.4 s."""
    async with loopback(trickle) as url, Client(url, API_KEY, timeout=0.4, rate_limit=None) as c:
        error, elapsed = await timed_call(c)
    assert isinstance(error, ws.TransportTimeoutError)
    assert "total timeout (0.4 s)" in str(error)
    assert error.request_sent is True
    assert 0.3 < elapsed < 3.0


async def test_an_httpx_timeout_bounds_the_attempt_by_its_read_limit() -> None:
    """httpx.Timeout(5, read=0.4): per-phase limits, and 0.4 s for the whole attempt."""
    timeout = httpx.Timeout(5.0, read=0.4)
    async with (
        loopback(trickle) as url,
        Client(url, API_KEY, timeout=timeout, rate_limit=None) as client,
    ):
        assert client._transport.total_timeout == 0.4
        error, elapsed = await timed_call(client)
    assert isinstance(error, ws.TransportTimeoutError)
    assert elapsed < 3.0


async def test_total_timeout_is_its_own_knob() -> None:
    """total_timeout bounds the attempt whatever httpx's phase limits allow."""
    async with (
        loopback(trickle) as url,
        Client(
            url, API_KEY, timeout=httpx.Timeout(10.0), total_timeout=0.3, rate_limit=None
        ) as client,
    ):
        error, elapsed = await timed_call(client)
    assert isinstance(error, ws.TransportTimeoutError)
    assert elapsed < 3.0


async def test_a_silent_server_is_bounded_and_the_request_counts_as_sent() -> None:
    """A server that reads the request and never answers: the attempt ends at the total
    timeout, and the error says the request went out (a write may have been applied)."""
    async with (
        loopback(silent) as url,
        Client(
            url, API_KEY, timeout=httpx.Timeout(10.0), total_timeout=0.3, rate_limit=None
        ) as client,
    ):
        error, elapsed = await timed_call(client)
    assert isinstance(error, ws.TransportTimeoutError)
    assert error.request_sent is True
    assert elapsed < 3.0


async def test_the_concurrency_slot_is_released_after_a_timeout() -> None:
    """A timed-out attempt gives its slot back: the next call gets one at once."""
    async with (
        loopback(trickle) as url,
        Client(url, API_KEY, timeout=0.2, rate_limit=None, max_concurrency=1) as client,
    ):
        for _ in range(2):
            error, _ = await timed_call(client)
            assert isinstance(error, ws.TransportTimeoutError)
        assert client.quota.in_flight == 0


async def test_a_phase_timeout_is_a_transport_timeout_error() -> None:
    """httpx's own timeouts become TransportTimeoutError too, httpx's error chained."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    async with Client(
        "https://acme.worksection.com",
        API_KEY,
        transport=httpx.MockTransport(handler),
        rate_limit=None,
    ) as client:
        with pytest.raises(ws.TransportTimeoutError) as info:
            await client.call("get_projects")
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert isinstance(info.value, ws.TransportError)


@pytest.mark.parametrize(
    ("timeout", "total", "expected"),
    [
        (30.0, FROM_TIMEOUT, 30.0),
        (ws.DEFAULT_TIMEOUT, FROM_TIMEOUT, 30.0),
        (httpx.Timeout(5.0, read=60.0), FROM_TIMEOUT, 60.0),
        (httpx.Timeout(5.0, read=None), FROM_TIMEOUT, None),
        (None, FROM_TIMEOUT, None),
        (httpx.Timeout(5.0), 12, 12.0),
        (None, dt.timedelta(minutes=2), 120.0),
        (30.0, None, None),
    ],
)
def test_how_the_total_is_derived(
    timeout: httpx.Timeout | float | None, total: object, expected: float | None
) -> None:
    """A number is the total; an httpx.Timeout's read limit is; total_timeout overrides."""
    client = Client("https://acme.worksection.com", API_KEY, timeout=timeout, total_timeout=total)  # type: ignore[arg-type]
    assert client._transport.total_timeout == expected


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"timeout": float("nan")}, ValueError),
        ({"timeout": -1.0}, ValueError),
        ({"total_timeout": 0}, ValueError),
        ({"total_timeout": float("inf")}, ValueError),
        ({"total_timeout": "30"}, TypeError),
        ({"total_timeout": True}, TypeError),
    ],
)
def test_bad_timeouts_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    """A timeout that is not a positive, finite duration is refused at construction."""
    with pytest.raises(error, match="timeout"):
        Client("https://acme.worksection.com", API_KEY, **kwargs)  # type: ignore[arg-type]
