"""Papercuts found using the library as a new user would, each pinned by a test."""

from __future__ import annotations

import io
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


def test_first_progress_frame_reads_a_question_mark_not_none() -> None:
    """Before the plan is known the bar read "0/None requests"."""
    import io

    from rich.console import Console

    from worksection_async.cli._progress import PlainProgress, RichProgress, Status

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    bar = RichProgress(console, Status(lambda: 1.0))
    bar._progress.refresh()
    bar.close()
    assert "None" not in out.getvalue()
    assert "0/? requests" in out.getvalue()
    plain = PlainProgress(io.StringIO(), Status(lambda: 1.0))
    assert "0/? requests" in plain.line()


def test_command_hints_name_flags_not_python_arguments(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plain-http account: the hint is --allow-insecure-http, which works."""
    code, _, err = _cli(["projects"], "http://10.255.255.1", monkeypatch, capsys)
    assert code == 2, err
    assert "--allow-insecure-http" in err
    assert "allow_insecure_http=True" not in err
    from worksection_async import InvalidHashError
    from worksection_async.cli._errors import Secrets, report
    from worksection_async.testing import FakeWorksection

    fake = FakeWorksection(quota=None)

    async def wrong_key() -> InvalidHashError:
        async with Client(fake.account_url, "not-the-key", transport=fake.transport) as client:
            with pytest.raises(InvalidHashError) as info:
                await client.projects.list()
        return info.value

    stream = io.StringIO()
    report(anyio.run(wrong_key), Secrets(), stream=stream)
    assert "--signer with one of page-hash, query-hash, hmac" in stream.getvalue()
    assert "signer=..." not in stream.getvalue()


def test_allow_insecure_http_flag_reaches_the_client(
    served: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(
        ["projects", "--allow-insecure-http", "--fields", "id"], served, monkeypatch, capsys
    )
    assert code == 0, err
    assert out.count("\n") == 2
