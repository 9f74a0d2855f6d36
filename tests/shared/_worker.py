"""One OS process of the multi-process runs: ``python -m tests.shared._worker CONFIG``.

``CONFIG`` is JSON: ``url`` and ``api_key`` of a served fake, ``rate`` (the client's
``RateLimit``), ``callers``, ``redis`` (a URL, or null for an unshared client), ``key``,
``backend`` (asyncio or trio), ``offset`` (seconds added to the client's clock: a host
whose clock is off), ``out`` (a JSON-lines log), ``go`` (a file to wait for), and
either ``pages`` (get_task each, every result checked) or nothing (get_projects again
and again until the time the go file says).

Every line of the log is written and flushed as it happens, with the wall time ``t``
(one clock for every process of a run), so a process killed mid-run leaves what it did.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import anyio

import worksection_async as ws
from worksection_async import Client, RateLimit
from worksection_async.shared import SharedQuota


class OffsetClock:
    def __init__(self, offset: float) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.monotonic() + self.offset

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def main() -> None:
    config: dict[str, Any] = json.loads(sys.argv[1])
    out = open(config["out"], "a", buffering=1)  # noqa: SIM115 - open for the whole run

    def log(kind: str, **fields: object) -> None:
        out.write(json.dumps({"e": kind, "t": time.time(), "pid": os.getpid(), **fields}) + "\n")

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            log("log", level=record.levelname, msg=record.getMessage())

    library = logging.getLogger("worksection_async")
    library.setLevel(logging.INFO)
    library.addHandler(Lines(logging.INFO))
    clock = OffsetClock(float(config.get("offset", 0.0)))

    def hook(event: ws.ClientEvent) -> None:
        if isinstance(event, ws.RequestSent):
            log("sent", attempt=event.attempt)
        elif isinstance(event, ws.ResponseReceived):
            log("answer", error=event.error)
        elif isinstance(event, ws.PauseStarted):
            now = time.time()
            log("pause", at=now, until=now + (event.until - event.at))
        else:
            log(type(event).__name__)

    async def run() -> None:
        quota = (
            SharedQuota.from_url(config["redis"], key=config["key"])
            if config.get("redis")
            else None
        )
        callers = int(config["callers"])
        async with Client(
            config["url"],
            config["api_key"],
            rate_limit=RateLimit(rate=float(config["rate"])),
            max_concurrency=callers,
            shared_quota=quota,
            clock=clock,
            on_event=hook,
        ) as client:
            log("ready")
            go = anyio.Path(config["go"])
            while not await go.exists():  # noqa: ASYNC110 - another process makes it
                await anyio.sleep(0.01)
            until = float(await go.read_text() or "0")
            pages: list[str] | None = config.get("pages")
            failed = 0
            if pages is not None:

                async def get(page: str) -> ws.JSONValue:
                    return await client.call("get_task", page=page)

                results = await client.map(get, pages, return_exceptions=True)
                returned = [r.get("page") if isinstance(r, dict) else repr(r) for r in results]
                failed = sum(1 for r in results if isinstance(r, Exception))
                log("result", returned_its_task=returned == pages, failed=failed)
            else:

                async def loop() -> None:
                    nonlocal failed
                    while time.time() < until:
                        try:
                            await client.call("get_projects")
                        except ws.WorksectionError as exc:
                            failed += 1
                            log("failed", error=repr(exc))

                async with anyio.create_task_group() as tg:
                    for _ in range(callers):
                        tg.start_soon(loop)
                log("result", failed=failed)
            snapshot = client.quota
            log(
                "done",
                shared=snapshot.shared,
                shared_calls=snapshot.shared_calls,
                processes=snapshot.processes,
                calls=snapshot.calls,
            )

    anyio.run(run, backend=config.get("backend", "asyncio"))
    out.close()


if __name__ == "__main__":
    main()
