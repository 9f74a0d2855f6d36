"""Papercuts found using the library as a new user would, each pinned by a test."""

from __future__ import annotations

import signal
import subprocess
import sys

import anyio

from worksection_async import Client


def test_fake_serve_prints_the_exports_to_paste() -> None:
    """`serve` prints `export WORKSECTION_URL=...` and `..._API_KEY=...` lines, and
    Client.from_env works on exactly what they say."""
    args = ["serve", "--port", "0", "--quota", "off", "--populate", "2x3"]
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "worksection_async.testing", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        exports: dict[str, str] = {}
        for line in server.stdout:
            if line.strip().startswith("export "):
                name, _, value = line.strip().removeprefix("export ").partition("=")
                exports[name] = value
                if len(exports) == 2:
                    break
        assert set(exports) == {"WORKSECTION_URL", "WORKSECTION_API_KEY"}

        async def main() -> int:
            async with Client.from_env(exports) as client:
                return len(await client.projects.list())

        assert anyio.run(main) == 2
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
