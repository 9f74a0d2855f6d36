"""Processes for the multi-process runs: served fakes and workers (``_worker.py``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx

from ._redis import free_port

ROOT = Path(__file__).resolve().parents[2]

PRIORITY = ["nice", "-n", "-10"] if shutil.which("nice") else []
"""The runs measure timing to the millisecond on a 2-core machine that other work
shares: their processes ask for a higher scheduling priority (only root gets it;
elsewhere ``nice`` says so and runs them as they are). They use little CPU; what
they need is to run when their timer fires."""


class ServedFake:
    """``python -m worksection_async.testing serve`` on 127.0.0.1, in its own process."""

    def __init__(self, *, api_key: str, quota: str, populate: str = "1x10") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = api_key
        command = [
            *PRIORITY, sys.executable, "-m", "worksection_async.testing", "serve",
            "--host", "127.0.0.1", "--port", str(self.port), "--api-key", api_key,
            "--quota", quota, "--populate", populate,
        ]  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                assert self.process.stderr is not None
                raise RuntimeError(f"fake server exited: {self.process.stderr.read().decode()}")
            try:
                httpx.get(f"{self.url}/_fake/stats", timeout=1)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(f"{self.url}/_fake/stats", timeout=5).json()
        return answer

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


@attrs.define
class Worker:
    """One ``_worker.py`` process and its log."""

    process: subprocess.Popen[bytes]
    log: Path
    name: str

    @classmethod
    def start(cls, directory: Path, name: str, go: Path, **config: Any) -> Worker:
        log = directory / f"{name}.jsonl"
        config = {**config, "out": str(log), "go": str(go)}
        with (directory / f"{name}.stderr").open("wb") as stderr:
            process = subprocess.Popen(  # noqa: S603
                [*PRIORITY, sys.executable, "-m", "tests.shared._worker", json.dumps(config)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return cls(process=process, log=log, name=name)

    def lines(self) -> list[dict[str, Any]]:
        """The log so far (a line cut short by a kill is left out)."""
        if not self.log.exists():
            return []
        found = []
        for text in self.log.read_text().splitlines():
            try:
                found.append(json.loads(text))
            except json.JSONDecodeError:
                continue
        return found

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["e"] == kind]

    @property
    def ready(self) -> bool:
        return bool(self.of("ready"))

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def stderr(self) -> str:
        return (self.log.parent / f"{self.name}.stderr").read_text(errors="replace")[-3000:]


def wait_ready(workers: list[Worker], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not all(w.ready for w in workers):
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"{worker.name} exited early:\n{worker.stderr()}")
        if time.monotonic() > deadline:
            raise RuntimeError("workers not ready in time")
        time.sleep(0.05)


def go(path: Path, until: float = 0.0) -> float:
    """Let the workers waiting on ``path`` start; return the wall time of the start."""
    start = time.time()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(repr(until))
    tmp.replace(path)
    return start


def finish(workers: list[Worker], timeout: float) -> None:
    for worker in workers:
        code = worker.wait(timeout)
        if code not in (0, -signal.SIGKILL):
            raise RuntimeError(f"{worker.name} failed ({code}):\n{worker.stderr()}")


def times(workers: list[Worker], kind: str, **match: Any) -> Iterator[float]:
    for worker in workers:
        for line in worker.of(kind):
            if all(line.get(k) == v for k, v in match.items()):
                yield float(line["t"])
