"""Real processes: a served fake (``serve --webhook``) delivers to a uvicorn receiver.

The receiver is down long enough for Worksection (the fake) to pause its hook after 10
failed deliveries. Started again with ``backfill=True`` and ``ensure_hook``, it
re-creates the hook and handles every event of the gap once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from tests.test_webhooks_kill import free_port, handled, receiver_process
from worksection_async import Client

pytestmark = pytest.mark.anyio

USER, PASSWORD = "hook", "s3cret-pass"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextmanager
def served_fake(hook_url: str) -> Iterator[tuple[str, str]]:
    command = [sys.executable, "-m", "worksection_async.testing", "serve", "--port", "0"]
    command += ["--api-key", "backfill-key", "--quota", "off", "--populate", "1x3"]
    command += ["--webhook", f"{hook_url},{USER}:{PASSWORD}"]
    with subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert first.startswith("FakeWorksection serving at "), first
            yield first.split(" at ", 1)[1].strip(), "backfill-key"
        finally:
            process.terminate()
            process.wait(timeout=10)


async def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await anyio.sleep(0.05)


async def test_a_paused_hook_is_recreated_and_the_gap_backfilled(tmp_path: Path) -> None:
    """5 comments delivered; the receiver goes down; 12 comments fail to deliver and
    the hook is paused; restarted with backfill and ensure_hook: the hook is active
    again, the 12 are handled once, the 5 not again, and new comments are delivered."""
    port = free_port()
    hook_url = f"http://127.0.0.1:{port}/"
    out = tmp_path / "handled.txt"
    with served_fake(hook_url) as (account, api_key):
        env = {
            "RECEIVER_STORE": f"sqlite:///{tmp_path}/events.db",
            "RECEIVER_OUT": str(out),
            "RECEIVER_ACCOUNT": account,
            "RECEIVER_API_KEY": api_key,
            "RECEIVER_ENSURE_HOOK": hook_url,
            "RECEIVER_BACKFILL": "1",
            "RECEIVER_AUTH": f"{USER}:{PASSWORD}",
            "RECEIVER_HANDLER_SECONDS": "0",
        }
        async with Client(account, api_key, rate_limit=None) as client:
            [task] = (await client.tasks.list())[:1]
            ids: list[int] = []

            async def comment(text: str) -> None:
                ids.append((await client.task(task.page).post_comment(text)).id)

            with receiver_process(port, env):
                await wait_for_active(client, hook_url)
                for n in range(5):
                    await comment(f"before {n}")
                await wait_for(lambda: len(handled(out)) >= 5)
            # Down: every change is a failed delivery; the tenth pauses the hook.
            for n in range(12):
                await comment(f"while down {n}")
            [hook] = [h for h in await client.webhooks.list() if h.url == hook_url]
            assert hook.status == "paused"
            with receiver_process(port, env):
                await wait_for(lambda: len(set(handled(out))) >= 17)
                await wait_for_active(client, hook_url)
                await comment("after")
                await wait_for(lambda: len(set(handled(out))) >= 18)
                await anyio.sleep(0.5)  # a late repeat would show now
    counts = Counter(handled(out))
    assert set(counts) == set(ids)
    assert all(count == 1 for count in counts.values()), counts


async def wait_for_active(client: Client, url: str) -> None:
    """Until exactly one hook has ``url`` and it is active."""
    deadline = time.monotonic() + 30
    while True:
        listed = [h for h in await client.webhooks.list() if h.url == url]
        if listed and all(h.status == "active" for h in listed):
            return
        assert time.monotonic() < deadline, listed
        await anyio.sleep(0.1)
