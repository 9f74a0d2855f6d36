"""The README's main job: `make demo` on the built-in fake."""

from __future__ import annotations

import re

import pytest

from worksection_async.testing.__main__ import main
from worksection_async.testing._demo import run_demo


def test_demo_fetches_everything_in_one_request_per_project() -> None:
    """3 projects x 10 tasks: get_projects + 3 get_tasks, no error 20, all tasks seen."""
    report = run_demo(3, 10)
    assert "Fetched 3 projects and" in report
    assert "with 4 requests" in report
    assert "Error 20s: 0." in report
    fetched = re.search(r"and (\d+) tasks \((\d+) top-level", report)
    assert fetched is not None
    assert int(fetched[2]) == 30
    account = re.search(r"3 projects, (\d+) tasks and subtasks", report)
    assert account is not None
    assert account[1] == fetched[1]  # every task and subtask of the account was fetched
    took = re.search(r"in ([\d.]+) s \(simulated", report)
    assert took is not None
    assert 2.5 <= float(took[1]) <= 4.5  # four requests at the quota of 1/s


def test_demo_command(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m worksection_async.testing demo` prints the report."""
    assert main(["demo", "--projects", "2", "--tasks", "3"]) == 0
    out = capsys.readouterr().out
    assert "Fetched 2 projects" in out
    assert len(out.strip().splitlines()) == 4
