"""The examples run to completion against the built-in fake, with one command each."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIMEOUT = 120


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Start every example at once (each spends its seconds waiting on the quota)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSECTION_")}
    procs = {
        name: subprocess.Popen(  # noqa: S603 - our own example files
            [sys.executable, str(EXAMPLES / name)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("bot.py", "service.py")
    }
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return out


def test_bot_answers_the_status_request(runs: dict[str, subprocess.Popen[str]]) -> None:
    """`python examples/bot.py`: the bot replies to "@bot status" with the subtasks."""
    out = finish(runs["bot.py"])
    assert "answered on /project/1000/100000/" in out
    assert "Release 2.0: 1 of 3 subtasks done" in out
    assert "[x] Changelog" in out and "[ ] Announce" in out


def test_service_keeps_its_view_up_to_date(runs: dict[str, subprocess.Popen[str]]) -> None:
    """`python examples/service.py`: after four changes delivered by webhook, GET /tasks
    lists the open tasks with their new names."""
    out = finish(runs["service.py"])
    assert out.strip() == (
        '{"open_tasks":[{"page":"/project/1000/100000/","name":"Write the docs"},'
        '{"page":"/project/1000/100002/","name":"Release 2.0"}]}'
    )
