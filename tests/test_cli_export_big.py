"""``worksection export`` of an account past the API's 10,000 records per answer: the
split's requests printed, and Ctrl-C then ``--resume`` ends with the same file."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from worksection_async.testing import FakeWorksection

from .fixtures.big_accounts import spread_account
from .test_cli import KEY, SCRIPT, ndjson, run


@pytest.fixture(scope="module")
def huge() -> Iterator[tuple[FakeWorksection, str]]:
    """3 projects x 12,000 tasks, served."""
    fake = spread_account(3, 12_000, api_key=KEY)
    with fake.serve_in_thread() as url:
        yield fake, url


def test_export_of_36000_tasks_prints_its_requests_and_resumes(
    huge: tuple[FakeWorksection, str], tmp_path: Path
) -> None:
    """The split export: every task once in at most 12 requests, the count printed;
    interrupted while writing, --resume ends with the bytes of an uninterrupted run."""
    fake, url = huge
    whole = tmp_path / "whole.ndjson"
    fake.stats.reset()
    result = run(["export", "--out", str(whole), "--rate", "off"], url, timeout=300)
    assert result.returncode == 0, result.stderr
    requests = fake.stats.requests
    assert requests <= 12
    last = result.stderr.splitlines()[-1]
    assert f"36000 tasks in {whole}; {requests} requests (planned {requests})" in last
    ids = [record["id"] for record in ndjson(whole.read_text())]
    assert len(ids) == len(set(ids)) == 36_000

    part = tmp_path / "part.ndjson"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSECTION_")}
    env.update(WORKSECTION_URL=url, WORKSECTION_API_KEY=KEY)
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [str(SCRIPT), "export", "--out", str(part), "--rate", "off"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    while not (part.exists() and part.stat().st_size > 0):  # writing has begun
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    written = ndjson(part.read_text())
    assert 0 < len(written) < 36_000
    assert Path(f"{part}.checkpoint").exists()

    resumed = run(["export", "--out", str(part), "--rate", "off", "--resume"], url, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert part.read_bytes() == whole.read_bytes()
    assert not Path(f"{part}.checkpoint").exists()
