"""A real ``redis-server`` (Debian's package) for the tests: a free loopback port, a
unix socket and a temporary directory, persistence off; stopped afterwards.

fakeredis does not count: the shared quota's Lua script, ``TIME`` and pub/sub are what
is under test. Without ``redis-server`` on the PATH a test that needs it fails when
``CI`` is set (``.ci/run`` installs it) and is skipped, saying why, elsewhere.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    """The path of ``redis-server``; fails (CI) or skips (elsewhere) without it."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = (
            "redis-server is not installed: the shared-quota tests need a real Redis "
            "(apt-get install -y redis-server; .ci/run does it)"
        )
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


class RedisServer:
    """One ``redis-server`` process; ``stop()`` and ``start()`` again keep its address."""

    def __init__(self, *, password: str | None = None, args: Sequence[str] = ()) -> None:
        self.binary = redis_server_binary()
        self.directory = Path(tempfile.mkdtemp(prefix="ws-redis-"))
        self.port = free_port()
        self.socket = self.directory / "redis.sock"
        self.password = password
        self.args = list(args)
        """More ``redis-server`` options (TLS, ACL users, cluster mode, a policy)."""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"unix://{auth}{self.socket}"

    def start(self) -> None:
        command = [
            *(["nice", "-n", "-10"] if shutil.which("nice") else []),
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        if self.password:
            command += ["--requirepass", self.password]
        command += self.args
        self.process = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while not self.answers():
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited: {log}")
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start within 20 s")
            time.sleep(0.02)

    def answers(self) -> bool:
        """The server accepts a connection and answers PING (or asks for a password)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
