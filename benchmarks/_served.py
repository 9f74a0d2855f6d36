"""Start ``python -m worksection_async.testing serve`` in a subprocess on 127.0.0.1.

A separate process keeps the server's work off the benchmarked client's interpreter
(no shared GIL), as a real Worksection would be.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served_fake(*, api_key: str, quota: str, populate: str) -> Iterator[str]:
    """Yield the base URL of a served fake; stop it afterwards."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "worksection_async.testing",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--api-key",
        api_key,
        "--quota",
        quota,
        "--populate",
        populate,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"fake server exited: {process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                httpx.get(url + "/", timeout=0.5)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
