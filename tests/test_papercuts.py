"""Papercuts found using the library as a new user would, each pinned by a test."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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


def _cli(
    args: list[str], url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    from worksection_async.cli import main

    monkeypatch.setenv("WORKSECTION_URL", url)
    monkeypatch.setenv("WORKSECTION_API_KEY", "papercut-key-0123")
    monkeypatch.setenv("WORKSECTION_SHARED_QUOTA", "off")
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def served() -> Iterator[str]:
    from worksection_async.testing import FakeWorksection

    fake = FakeWorksection.populated(2, 3, api_key="papercut-key-0123", quota=None)
    with fake.serve_in_thread() as url:
        yield url


def test_fields_typo_is_refused(
    served: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(["tasks", "--fields", "id,nmae"], served, monkeypatch, capsys)
    assert code == 2
    assert "'nmae'" in err and "name" in err
    assert out == ""
    code, out, _ = _cli(["tasks", "--fields", "id,name"], served, monkeypatch, capsys)
    assert code == 0 and out


def test_export_to_dash_is_refused_and_makes_no_file(
    served: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _cli(["export", "--out", "-"], served, monkeypatch, capsys)
    assert code == 2
    assert "standard output" in err
    assert list(tmp_path.iterdir()) == []


def test_resume_without_a_checkpoint_says_so(
    served: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "tasks.ndjson"
    code, _, err = _cli(
        ["export", "--out", str(out), "--resume", "--quiet"], served, monkeypatch, capsys
    )
    assert code == 0, err
    assert "no interrupted export" in err
    assert out.exists()
