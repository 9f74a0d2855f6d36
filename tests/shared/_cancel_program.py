"""The program of issue 27, run as its own process by ``test_shared_cancel.py``:
``python -m tests.shared._cancel_program MODE URL API_KEY QUOTA_URL BACKEND``.

``cancel``: 40 calls wait on a shared quota (5/s); their task group is cancelled after
``CANCEL_AFTER`` seconds (2, or the environment's ``CANCEL_AFTER``); prints
``out <seconds from the cancel to the end>``.
``sigint``: the same calls, never cancelled; prints ``calling`` once the first call
got through, and runs until the test interrupts it (SIGINT).
"""

from __future__ import annotations

import os
import signal
import sys
import time

import anyio

import worksection_async as ws
from worksection_async.shared import SharedQuota

CANCEL_AFTER = float(os.environ.get("CANCEL_AFTER", "2.0"))


async def waiting_calls(url: str, key: str, quota_url: str, announce: bool) -> None:
    quota = SharedQuota.from_url(quota_url)
    async with ws.Client(url, key, rate_limit=ws.RateLimit(rate=5.0), shared_quota=quota) as c:
        if announce:
            await c.call("get_projects")
            print("calling", flush=True)
        async with anyio.create_task_group() as tg:
            for _ in range(40):
                tg.start_soon(c.call, "get_projects")


async def main(mode: str, url: str, key: str, quota_url: str) -> None:
    if mode == "sigint":
        await waiting_calls(url, key, quota_url, True)
        return
    deadline = time.monotonic() + CANCEL_AFTER
    with anyio.move_on_after(CANCEL_AFTER):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiting_calls, url, key, quota_url, False)
    print(f"out {time.monotonic() - deadline:.3f}", flush=True)


if __name__ == "__main__":
    # A program started from a background job (``cmd &`` in a shell without job
    # control, as some CI runners do) inherits SIGINT ignored, and Python keeps it so:
    # the SIGINT test would then wait for the calls to end. Ctrl-C as in a terminal.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    mode, url, key, quota_url, backend = sys.argv[1:6]
    anyio.run(main, mode, url, key, quota_url, backend=backend)
