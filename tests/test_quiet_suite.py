"""The suite's output is dots and the summary: no figures among them that read like
failures ("error 20 on 162/462 requests"); measured figures go in assertion messages,
benchmarks print theirs."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_test_prints_past_pytests_capture() -> None:
    offenders = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if path.name != Path(__file__).name and "capsys.disabled(" in path.read_text()
    ]
    assert offenders == []
