"""Papercuts found using the library as a new user would, each pinned by a test."""

from __future__ import annotations

import signal
import subprocess
import sys

import anyio
import pytest

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


def test_a_one_character_key_does_not_garble_messages() -> None:
    """A key of "a" masked everywhere made "Task is invalid" read "T[redacted]sk...";
    short secrets are masked where they stand alone."""
    from worksection_async._signing import mask_secrets

    assert mask_secrets("Task is invalid", ["a"]) == "Task is invalid"
    assert mask_secrets("key=a&x=1 and a", ["a"]) == "key=[redacted]&x=1 and [redacted]"
    long_key = "0123456789abcdef"
    assert mask_secrets(f"x{long_key}y", [long_key]) == "x[redacted]y"


@pytest.mark.anyio
async def test_a_one_character_key_in_an_api_error_message() -> None:
    from worksection_async import InvalidTaskError, TaskPage
    from worksection_async.testing import FakeWorksection

    fake = FakeWorksection(api_key="a")
    project = fake.add_project("Website")
    async with Client(fake.account_url, fake.api_key, transport=fake.transport) as client:
        with pytest.raises(InvalidTaskError, match="Task is invalid"):
            await client.task(TaskPage(project.id, 999)).get()
