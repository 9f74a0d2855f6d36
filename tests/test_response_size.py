"""``max_response_size``: an API answer is read up to a cap, never whole past it."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import anyio
import anyio.abc
import anyio.lowlevel
import httpx
import pytest

import worksection_async as ws
from worksection_async import Client
from worksection_async.testing import FakeWorksection

from .conftest import ACCOUNT, API_KEY
from .fixtures.loopback import loopback, read_head

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


class Endless(httpx.AsyncByteStream):
    """200 MiB of junk produced 1 MiB at a time, as a socket delivers it; counts what the
    client pulled. Once closed it ends, as a closed connection does."""

    def __init__(self, total: int = 200 * MiB, chunk: int = MiB) -> None:
        self.total = total
        self.chunk = chunk
        self.pulled = 0
        self.closed = False

    def __aiter__(self) -> Endless:
        return self

    async def __anext__(self) -> bytes:
        await anyio.lowlevel.checkpoint()
        if self.closed or self.pulled >= self.total:
            raise StopAsyncIteration
        self.pulled += self.chunk
        return b"[" * self.chunk

    async def aclose(self) -> None:
        self.closed = True


def client_for(handler: httpx.MockTransport, **kwargs: object) -> Client:
    return Client(ACCOUNT, API_KEY, transport=handler, rate_limit=None, **kwargs)  # type: ignore[arg-type]


async def test_a_200_mib_answer_is_cut_at_the_cap() -> None:
    """Reading stops at the first chunk past the cap: ~5 MiB pulled of 200, then a
    ProtocolError."""
    stream = Endless()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=stream)

    async with client_for(httpx.MockTransport(handler), max_response_size=4 * MiB) as client:
        with pytest.raises(ws.ProtocolError, match="max_response_size") as info:
            await client.call("get_all_tasks")
    assert stream.pulled <= 4 * MiB + MiB
    assert info.value.http_status == 200
    assert info.value.request_sent is True


async def test_an_announced_length_over_the_cap_is_refused_unread() -> None:
    """A Content-Length over the cap is refused before a byte of the body is pulled."""
    stream = Endless()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-length": str(200 * MiB)}, stream=stream)

    async with client_for(httpx.MockTransport(handler), max_response_size=MiB) as client:
        with pytest.raises(ws.ProtocolError, match="announces"):
            await client.call("get_all_tasks")
    assert stream.pulled == 0


async def test_the_cap_counts_decompressed_bytes() -> None:
    """A gzip bomb (10 MiB of JSON in ~10 kB) is measured after decompression."""
    bomb = gzip.compress(b'{"status":"ok","data":"' + b"a" * (10 * MiB) + b'"}')
    assert len(bomb) < 64 * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-type": "application/json", "content-encoding": "gzip"},
            content=bomb,
        )

    async with client_for(httpx.MockTransport(handler), max_response_size=MiB) as client:
        with pytest.raises(ws.ProtocolError, match="max_response_size"):
            await client.call("get_all_tasks")


async def test_an_answer_at_the_cap_is_read() -> None:
    """Exactly max_response_size bytes are accepted; the cap is not off by one."""
    body = b'{"status":"ok","data":"' + b"x" * 1000 + b'"}'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async with client_for(httpx.MockTransport(handler), max_response_size=len(body)) as client:
        assert await client.call("get_all_tasks") == "x" * 1000
    async with client_for(httpx.MockTransport(handler), max_response_size=len(body) - 1) as c:
        with pytest.raises(ws.ProtocolError):
            await c.call("get_all_tasks")


async def test_no_cap_reads_everything() -> None:
    """max_response_size=None turns the cap off."""
    body = b'{"status":"ok","data":"' + b"x" * (2 * MiB) + b'"}'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async with client_for(httpx.MockTransport(handler), max_response_size=None) as client:
        assert len(await client.call("get_all_tasks")) == 2 * MiB  # type: ignore[arg-type]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # about sizes, not concurrency
async def test_the_default_fits_the_largest_real_answer() -> None:
    """10,000 tasks and subtasks with text, files, comments and relations (the API's
    record limit) is a small fraction of the default cap."""
    fake = FakeWorksection.populated(projects=64, tasks_per_project=100)
    sizes: list[int] = []

    class Measuring(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await fake.transport.handle_async_request(request)
            sizes.append(len(await response.aread()))
            return response

    async with Client(
        fake.account_url, fake.api_key, transport=Measuring(), rate_limit=None
    ) as client:
        tasks = await client.call("get_all_tasks", extra="text,files,comments,relations,subtasks")
    assert isinstance(tasks, list) and len(tasks) == 6_400
    assert 9_500 <= len(fake.tasks) <= 10_000  # tasks, subtasks and sub-subtasks
    assert sizes[0] * 8 < ws.DEFAULT_MAX_RESPONSE_SIZE


async def test_downloads_are_not_capped(tmp_path: Path) -> None:
    """A download streams to its destination whatever max_response_size says."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-type": "application/octet-stream"},
            stream=Endless(total=3 * MiB, chunk=64 * 1024),
        )

    target = tmp_path / "file.bin"
    async with client_for(httpx.MockTransport(handler), max_response_size=1024) as client:
        result = await client.files.download(7, to=target)
    assert result.size == 3 * MiB == target.stat().st_size


async def test_a_json_answer_to_a_download_is_capped() -> None:
    """A download answered with JSON (an error) is read like any answer: capped."""
    stream = Endless()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=stream)

    async with client_for(httpx.MockTransport(handler), max_response_size=MiB) as client:
        with pytest.raises(ws.ProtocolError, match="max_response_size"):
            await client.files.download(7, to=io.BytesIO())
    assert stream.pulled <= 2 * MiB


async def test_a_real_socket_is_closed_at_the_cap() -> None:
    """Over a real connection (127.0.0.1) a server streaming junk without end is cut
    off at the cap, and the connection is closed."""
    sent = 0

    async def flood(stream: anyio.abc.SocketStream) -> None:
        nonlocal sent
        await read_head(stream)
        await stream.send(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
        while sent < 200 * MiB:
            await stream.send(b"[" * 65536)
            sent += 65536

    async with (
        loopback(flood) as url,
        Client(url, API_KEY, rate_limit=None, max_response_size=MiB) as client,
    ):
        with anyio.fail_after(10), pytest.raises(ws.ProtocolError, match="max_response_size"):
            await client.call("get_all_tasks")
    assert sent < 32 * MiB  # socket buffers hold some; the server was stopped early


@pytest.mark.parametrize(
    ("value", "error"), [(0, ValueError), (-5, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_bad_caps_are_refused(value: object, error: type[Exception]) -> None:
    """A cap that is not a positive whole number of bytes is refused at construction."""
    with pytest.raises(error, match="max_response_size"):
        Client(ACCOUNT, API_KEY, max_response_size=value)  # type: ignore[arg-type]
