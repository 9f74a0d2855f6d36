"""Real processes: a bot on ``events.watch(store=..., name=...)`` killed 5 times.

A served fake (``python -m worksection_async.testing serve``) gets 500 comments over
about 10 s; the bot, a separate process, is ``kill -9``ed and started again 5 times
meanwhile. Every event is yielded, none is skipped, and the repeats are at most one
per kill (the event in hand).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
import pytest

from tests.test_webhooks_backfill import served_fake
from tests.test_webhooks_kill import handled
from worksection_async import Client

pytestmark = pytest.mark.anyio

BOT = Path(__file__).resolve().parent / "fixtures" / "watch_bot.py"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def start_bot(account: str, api_key: str, store: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(BOT), account, api_key, store, str(out)],
        cwd=BOT.parents[2],
        env={**os.environ, "PYTHONPATH": str(BOT.parents[2])},
        stderr=subprocess.DEVNULL,
    )


async def test_a_bot_killed_five_times_during_500_events(tmp_path: Path) -> None:
    """kill -9 five times while 500 comments are posted: all 500 yielded, ≤ 5 repeats."""
    out = tmp_path / "seen.txt"
    store = f"sqlite:///{tmp_path}/bot.db"
    with served_fake("http://127.0.0.1:9/unused") as (account, api_key):
        async with Client(account, api_key, rate_limit=None) as client:
            [task] = (await client.tasks.list())[:1]
            bot = start_bot(account, api_key, store, out)
            try:
                await anyio.sleep(1.5)  # the bot's first poll: "now" starts here
                ids: list[int] = []
                kills = 0
                started = time.monotonic()
                for n in range(500):
                    ids.append((await client.task(task.page).post_comment(f"c{n}")).id)
                    await anyio.sleep(0.01)
                    if kills < 5 and time.monotonic() - started > 1.5 * (kills + 1):
                        bot.send_signal(signal.SIGKILL)
                        bot.wait(10)
                        kills += 1
                        bot = start_bot(account, api_key, store, out)
                assert kills == 5, "the posting went too fast to kill five times"
                deadline = time.monotonic() + 60
                while not set(ids) <= set(handled(out)):
                    assert time.monotonic() < deadline, "not every event was yielded"
                    await anyio.sleep(0.1)
                await anyio.sleep(1)  # a late repeat would show now
            finally:
                bot.kill()
                bot.wait(10)
    counts = Counter(handled(out))
    assert set(ids) <= set(counts)
    assert set(counts) - set(ids) <= {task.id}  # nothing but these comments happened
    repeats = sum(counts[i] for i in ids) - len(ids)
    assert repeats <= 5, counts.most_common(8)
