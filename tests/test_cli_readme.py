"""The README's `worksection` commands print what the README says they print."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from worksection_async.cli import main
from worksection_async.testing import FakeWorksection

from .fixtures.export_support import commented_fake
from .test_cli import cache_home
from .test_readme import section_text

__all__ = ["cache_home"]  # autouse: the default shared quota never in the real cache

README = Path(__file__).resolve().parents[1] / "README.md"
KEY = "readme-key"


def console_blocks() -> list[list[tuple[str, list[str]]]]:
    """Each ```console block of the command's section: (command, output lines) pairs."""
    body = section_text("The `worksection` command")
    blocks = []
    for block in re.findall(r"```console\n(.*?)```", body, flags=re.S):
        pairs: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                pairs.append((line[2:], []))
            else:
                pairs[-1][1].append(line)
        blocks.append(pairs)
    return blocks


@pytest.fixture(scope="module")
def account() -> Iterator[str]:
    """The account the README's first two commands ran on."""
    fake = FakeWorksection.populated(20, 100, seed=1, api_key=KEY)
    with fake.serve_in_thread() as url:
        yield url


def run_line(
    command: str, url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str], list[str]]:
    """A README command line, run in this process (``| head -N`` applied here)."""
    words, _, pipe = command.partition(" | ")
    args = words.split()
    assert args[0] == "worksection"
    monkeypatch.setenv("WORKSECTION_URL", url)
    monkeypatch.setenv("WORKSECTION_API_KEY", KEY)
    capsys.readouterr()
    code = main(args[1:])
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    if pipe:
        head = re.fullmatch(r"head -(\d+)", pipe.strip())
        assert head is not None
        out = out[: int(head[1])]
    return code, out, captured.err.splitlines()


def test_three_commands_are_shown() -> None:
    """call, tasks and export, each in a console block with its output."""
    commands = [command for block in console_blocks() for command, _ in block]
    assert [c.split()[1] for c in commands] == ["call", "tasks", "export", "export"]


def test_call_and_tasks_print_what_the_readme_shows(
    account: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The call and tasks blocks are the commands' exact output on the populated fake."""
    for [(command, shown)] in console_blocks()[:2]:
        code, out, err = run_line(command, account, monkeypatch, capsys)
        assert code == 0, err
        assert out == shown


def test_export_numbers_are_those_of_the_account_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The export block: its plan and task count are what export gives on the account it
    ran on, and its lines have the shapes the command prints."""
    [(first, interrupted), (second, resumed)] = console_blocks()[2]
    total = re.search(r"(\d+)/(\d+) requests", interrupted[0])
    assert total is not None
    summary = re.fullmatch(
        r"worksection: export: (\d+) tasks in tasks\.ndjson; (\d+) requests \(planned \2\) "
        r"in [\d.]+ s",
        resumed[-1],
    )
    assert summary is not None
    assert re.fullmatch(
        r"worksection: interrupted: \d+ tasks in tasks\.ndjson, valid as it stands; run the "
        r"same command with --resume to continue",
        interrupted[-1],
    )
    assert second == f"{first} --resume"
    fake = commented_fake(20, 100, long=40, api_key=KEY)
    monkeypatch.chdir(tmp_path)
    with fake.serve_in_thread() as url:
        code, _, err = run_line(f"{first} --rate off", url, monkeypatch, capsys)
    assert code == 0, err
    assert int(total[2]) == fake.stats.requests == sum(fake.stats.by_action.values())
    expected = f"worksection: export: {summary[1]} tasks in tasks.ndjson; {total[2]} requests"
    assert err[-1].startswith(expected)
