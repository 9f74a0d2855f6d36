"""Downloads stream: a large file never sits in memory whole."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from worksection_async import Client

pytestmark = pytest.mark.asyncio

CHUNK = 64 * 1024
CHUNKS = 512  # 32 MiB in all


class Generated(httpx.AsyncByteStream):
    """A response body produced chunk by chunk, as a socket would deliver it."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(CHUNKS):
            yield bytes([i % 251]) * CHUNK


def serve_file(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200,
        headers={
            "content-type": "application/octet-stream",
            "content-disposition": 'attachment; filename="big.bin"',
        },
        stream=Generated(),
    )


async def test_a_32_mib_download_peaks_far_below_its_size(tmp_path: Path) -> None:
    """Peak traced memory stays under 4 MiB while 32 MiB go to disk."""
    target = tmp_path / "big.bin"
    async with Client(
        "https://acme.worksection.com",
        "key",
        transport=httpx.MockTransport(serve_file),
        rate_limit=None,
    ) as client:
        tracemalloc.start()
        try:
            result = await client.files.download(7, to=target)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.filename == "big.bin"
    assert result.size == CHUNK * CHUNKS == target.stat().st_size
    assert peak < 4 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    with target.open("rb") as written:
        written.seek(CHUNK * 300)
        assert written.read(3) == bytes([300 % 251]) * 3
