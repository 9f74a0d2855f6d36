"""Downloads to a path: the path only ever holds a complete file, whatever happens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from worksection_async import (
    Client,
    ClientClosed,
    ClientCreated,
    ClientEvent,
    QuotaExceededError,
    RetryPolicy,
    TransportError,
)

from .conftest import ACCOUNT, API_KEY, RecordingClock

pytestmark = pytest.mark.anyio

CHUNK = b"x" * 4096
OLD = b"the previous version of the file"


def file_response(stream: httpx.AsyncByteStream) -> httpx.Response:
    return httpx.Response(
        200,
        headers={
            "content-type": "application/octet-stream",
            "content-disposition": 'attachment; filename="report.bin"',
        },
        stream=stream,
    )


class Chunks(httpx.AsyncByteStream):
    """Yields ``count`` chunks, then runs ``after_first`` (once the first was written)."""

    def __init__(self, count: int, after_first: Callable[[], object] | None = None) -> None:
        self.count = count
        self.after_first = after_first

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(self.count):
            if i == 1 and self.after_first is not None:
                result = self.after_first()
                if hasattr(result, "__await__"):
                    await result
            yield CHUNK


def make_client(
    handler: Callable[[httpx.Request], httpx.Response], clock: RecordingClock, **kwargs: Any
) -> Client:
    return Client(
        ACCOUNT,
        API_KEY,
        transport=httpx.MockTransport(handler),
        rate_limit=None,
        clock=clock,
        **kwargs,
    )


def listing(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def download(client: Client, target: Path) -> object:
    return await client.files.download(7, to=target)


async def test_a_cancelled_download_leaves_no_file(tmp_path: Path, clock: RecordingClock) -> None:
    """Cancelled after the first chunk was written: no file under the final name, no
    temporary file left (the clean-up runs shielded from the cancellation)."""
    first_written = anyio.Event()

    async def stall() -> None:
        first_written.set()
        await anyio.sleep_forever()

    target = tmp_path / "report.bin"
    async with (
        make_client(lambda r: file_response(Chunks(400, stall)), clock) as client,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(download, client, target)
        await first_written.wait()
        tg.cancel_scope.cancel()
    assert listing(tmp_path) == []


async def test_a_cancelled_download_keeps_the_previous_file(
    tmp_path: Path, clock: RecordingClock
) -> None:
    """A file already at the path survives a cancelled download unchanged."""
    first_written = anyio.Event()

    async def stall() -> None:
        first_written.set()
        await anyio.sleep_forever()

    target = tmp_path / "report.bin"
    target.write_bytes(OLD)
    async with make_client(lambda r: file_response(Chunks(400, stall)), clock) as client:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(download, client, target)
                await first_written.wait()
                scope.cancel()
    assert listing(tmp_path) == [target.name]
    assert target.read_bytes() == OLD


async def test_a_failure_mid_stream_keeps_the_previous_file(
    tmp_path: Path, clock: RecordingClock
) -> None:
    """A connection dropped mid-answer is a TransportError; the path keeps what it
    held and no temporary file is left."""

    def drop() -> None:
        raise httpx.ReadError("connection reset")

    target = tmp_path / "report.bin"
    target.write_bytes(OLD)
    async with make_client(lambda r: file_response(Chunks(10, drop)), clock) as client:
        with pytest.raises(TransportError, match="interrupted"):
            await download(client, target)
    assert listing(tmp_path) == [target.name]
    assert target.read_bytes() == OLD


async def test_a_failure_mid_stream_leaves_no_file(tmp_path: Path, clock: RecordingClock) -> None:
    """Without a previous file, a failed download leaves the directory empty."""

    def drop() -> None:
        raise httpx.ReadError("connection reset")

    target = tmp_path / "report.bin"
    async with make_client(lambda r: file_response(Chunks(10, drop)), clock) as client:
        with pytest.raises(TransportError):
            await download(client, target)
    assert listing(tmp_path) == []


async def test_the_final_name_never_holds_a_partial_file(
    tmp_path: Path, clock: RecordingClock
) -> None:
    """While chunks arrive, the path still holds the previous file; the new one
    appears whole, by a rename, at the end."""
    target = tmp_path / "report.bin"
    target.write_bytes(OLD)
    seen: list[bytes] = []
    partials: list[list[str]] = []

    def look() -> None:
        seen.append(target.read_bytes())
        partials.append([name for name in listing(tmp_path) if name != target.name])

    async with make_client(lambda r: file_response(Chunks(5, look)), clock) as client:
        result = await download(client, target)
    assert seen == [OLD]
    (partial,) = partials[0]
    assert partial.startswith(".report.bin.") and partial.endswith(".part")
    assert result.size == 5 * len(CHUNK)
    assert target.read_bytes() == 5 * CHUNK
    assert listing(tmp_path) == [target.name]


async def test_a_successful_download_leaves_only_the_file(
    tmp_path: Path, clock: RecordingClock
) -> None:
    """Success: the complete file at the path (replacing an old one), nothing else."""
    target = tmp_path / "report.bin"
    target.write_bytes(OLD)
    async with make_client(lambda r: file_response(Chunks(3)), clock) as client:
        result = await download(client, target)
    assert result.filename == "report.bin"
    assert target.read_bytes() == 3 * CHUNK
    assert listing(tmp_path) == [target.name]


async def test_a_retried_download_starts_the_file_afresh(
    tmp_path: Path, clock: RecordingClock
) -> None:
    """After error 20 the retry's answer alone is in the file."""
    answers = iter(
        [
            httpx.Response(
                200, json={"status": "error", "status_code": 20, "message": "Quota exceeded"}
            ),
            file_response(Chunks(2)),
        ]
    )
    target = tmp_path / "report.bin"
    async with make_client(lambda r: next(answers), clock) as client:
        await download(client, target)
    assert target.read_bytes() == 2 * CHUNK
    assert listing(tmp_path) == [target.name]


async def test_a_download_failing_on_quota_leaves_no_file(
    tmp_path: Path, clock: RecordingClock
) -> None:
    """An error answer (no retries left) leaves nothing behind."""
    quota = httpx.Response(
        200, json={"status": "error", "status_code": 20, "message": "Quota exceeded"}
    )
    target = tmp_path / "report.bin"
    async with make_client(lambda r: quota, clock, retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(QuotaExceededError):
            await download(client, target)
    assert listing(tmp_path) == []


async def test_a_missing_directory_fails_before_anything_is_sent(
    tmp_path: Path, clock: RecordingClock
) -> None:
    """No request and no event when the file cannot even be created."""
    events: list[ClientEvent] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    async with make_client(refuse, clock, on_event=events.append) as client:
        with pytest.raises(FileNotFoundError):
            await download(client, tmp_path / "missing" / "report.bin")
    assert [e for e in events if not isinstance(e, (ClientCreated, ClientClosed))] == []
    assert listing(tmp_path) == []


async def test_a_long_file_name_still_downloads(tmp_path: Path, clock: RecordingClock) -> None:
    """A 250-byte name (non-ASCII) fits: the temporary name is shortened, not the file's."""
    target = tmp_path / ("é" * 125)
    async with make_client(lambda r: file_response(Chunks(2)), clock) as client:
        await download(client, target)
    assert target.read_bytes() == 2 * CHUNK
    assert listing(tmp_path) == [target.name]
