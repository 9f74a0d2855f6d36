"""Real processes: a uvicorn receiver with a SQLite store, ``kill -9`` mid-delivery.

Worksection's side is played by the test: it posts 300 deliveries (one event each,
8 at a time) and, like Worksection, sends a delivery again until it is answered 200.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import pytest

from tests.shared._redis import RedisServer

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def anyio_backend() -> str:
    """Real processes and sockets: the receiver's core runs on both backends elsewhere."""
    return "asyncio"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def receiver_process(port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.fixtures.receiver_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(  # noqa: S603 - our own app, fixed arguments
        command, cwd=ROOT, env={**os.environ, **env}, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, "the receiver did not start"
            assert time.monotonic() < deadline, "the receiver did not start in 20 s"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def delivery(n: int) -> bytes:
    return json.dumps(
        [
            {
                "action": "post",
                "object": {"type": "comment", "id": str(n), "page": "/project/1/100/"},
                "date_added": "2024-05-01 10:00",
                "user_from": {"id": "7", "email": "ann@example.com", "name": "Ann"},
                "new": {"text": f"comment {n}"},
            }
        ]
    ).encode()


def handled(out: Path) -> list[int]:
    return [int(line) for line in out.read_text().split()] if out.exists() else []


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """SQLite with one receiver, or Redis shared by two replicas."""
    if request.param == "sqlite":
        yield {"RECEIVER_STORE": f"sqlite:///{tmp_path}/events.db"}
        return
    server = RedisServer()
    server.start()
    try:
        yield {"RECEIVER_STORE": server.url, "RECEIVER_KEY": f"kill-{uuid.uuid4().hex}"}
    finally:
        server.close()


async def test_sigkill_while_300_deliveries_arrive_loses_nothing(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    """kill -9 after 100 deliveries were answered 200, restart: all 300 events are
    handled; the only repeats are events whose handler was running (≤ 4 workers).
    With Redis, two replicas share the store behind a "load balancer" (the sender
    tries the other replica when one does not answer); the first one is killed."""
    replicas = 2 if "RECEIVER_KEY" in store_env else 1
    ports = [free_port() for _ in range(replicas)]
    out = tmp_path / "handled.txt"
    env = {**store_env, "RECEIVER_OUT": str(out), "RECEIVER_WORKERS": "4", "RECEIVER_LEASE": "2"}
    answered_ok = 0
    todo = list(range(1, 301))

    async def sender(http: httpx.AsyncClient, lane: int) -> None:
        nonlocal answered_ok
        while todo:
            n = todo.pop(0)
            attempt = lane
            while True:  # like Worksection: again until a 200
                port = ports[attempt % replicas]
                attempt += 1
                try:
                    response = await http.post(
                        f"http://127.0.0.1:{port}/", content=delivery(n), timeout=5
                    )
                    if response.status_code == 200:
                        answered_ok += 1
                        break
                except httpx.HTTPError:
                    pass
                await anyio.sleep(0.1)

    with contextlib.ExitStack() as others:
        for port in ports[1:]:
            others.enter_context(receiver_process(port, env))
        with receiver_process(ports[0], env) as first:
            async with httpx.AsyncClient() as http, anyio.create_task_group() as tg:
                for lane in range(8):
                    tg.start_soon(sender, http, lane)
                while answered_ok < 100:  # noqa: ASYNC110 - another process's progress
                    await anyio.sleep(0.01)
                first.send_signal(signal.SIGKILL)
                first.wait(10)
                killed_at_ok = answered_ok
                await anyio.sleep(0.5)  # down: deliveries fail and are sent again
                with receiver_process(ports[0], env), anyio.fail_after(60):
                    while answered_ok < 300 or len(set(handled(out))) < 300:  # noqa: ASYNC110
                        await anyio.sleep(0.05)
                    await anyio.sleep(0.3)  # a late repeat would show now
                    tg.cancel_scope.cancel()
    counts = Counter(handled(out))
    assert killed_at_ok >= 100
    assert set(counts) == set(range(1, 301))
    repeats = sum(counts.values()) - 300
    assert repeats <= 4, counts.most_common(6)
