"""Many accounts on one Redis (``test_shared_accounts.py``): two programs.

``python -m tests.shared._accounts serve CONFIG`` serves one ``FakeWorksection`` per
account, each on a loopback port of its own, all from one uvicorn in one process (an
ASGI app that picks the fake by the port the request came in on): 50 served fakes for
the price of one. ``CONFIG`` is JSON: ``accounts``, ``api_key``, ``quotas`` (one quota
per account). It prints the accounts' URLs as one JSON line when it is listening.

``python -m tests.shared._accounts work CONFIG`` is one OS process holding one
``Client`` and one ``SharedQuota`` per account (``urls``), each on the key
``{prefix}-{index}``, with one caller each calling ``get_projects`` until the time in
the go file (caller ``k`` starts ``k / len(urls)`` of an interval late, so that the
keys' moments spread over the interval). ``CONFIG`` also has ``api_key``, ``rate``,
``redis``, ``prefix``, ``backend``, ``out`` and ``go``. Every log line carries the
account's index ``k`` and the wall time ``t``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

import worksection_async as ws
from worksection_async import Client, RateLimit
from worksection_async.shared import SharedQuota
from worksection_async.testing import FakeWorksection

Scope = MutableMapping[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]


def serve(config: dict[str, Any]) -> None:
    import uvicorn

    sockets: list[socket.socket] = []
    apps: dict[int, App] = {}
    urls: list[str] = []
    for quota in config["quotas"]:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        port = int(sock.getsockname()[1])
        url = f"http://127.0.0.1:{port}"
        fake = FakeWorksection(api_key=config["api_key"], quota=quota, account_url=url)
        apps[port] = fake.asgi_app
        sockets.append(sock)
        urls.append(url)

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await apps[int(scope["server"][1])](scope, receive, send)

    print(json.dumps(urls), flush=True)
    options = {"log_level": "warning", "access_log": False, "lifespan": "off"}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    server.run(sockets=sockets)


def work(config: dict[str, Any]) -> None:
    out = open(config["out"], "a", buffering=1)  # noqa: SIM115 - open for the whole run

    def log(kind: str, k: int, **fields: object) -> None:
        line = {"e": kind, "k": k, "t": time.time(), "pid": os.getpid(), **fields}
        out.write(json.dumps(line) + "\n")

    def hook(k: int) -> Callable[[ws.ClientEvent], None]:
        def on_event(event: ws.ClientEvent) -> None:
            if isinstance(event, ws.RequestSent):
                log("sent", k)
            elif isinstance(event, ws.ResponseReceived):
                log("answer", k, error=event.error)
            elif isinstance(event, ws.PauseStarted):
                now = time.time()
                log("pause", k, at=now, until=now + (event.until - event.at))
            elif isinstance(event, ws.QuotaBackendUnavailable):
                log("unavailable", k)

        return on_event

    async def run() -> None:
        clients = [
            Client(
                url,
                config["api_key"],
                rate_limit=RateLimit(rate=float(config["rate"])),
                max_concurrency=1,
                shared_quota=SharedQuota.from_url(config["redis"], key=f"{config['prefix']}-{k}"),
                on_event=hook(k),
            )
            for k, url in enumerate(config["urls"])
        ]
        for client in clients:
            await client.__aenter__()
        try:
            log("ready", -1)
            go = anyio.Path(config["go"])
            while not await go.exists():  # noqa: ASYNC110 - another process makes it
                await anyio.sleep(0.01)
            until = float(await go.read_text())

            async def caller(k: int, client: Client) -> None:
                # The keys' moments spread over the interval rather than all together.
                await anyio.sleep(k / len(clients) / float(config["rate"]))
                while time.time() < until:
                    try:
                        await client.call("get_projects")
                    except ws.WorksectionError as exc:
                        log("failed", k, error=repr(exc))

            async with anyio.create_task_group() as tg:
                for k, client in enumerate(clients):
                    tg.start_soon(caller, k, client)
            for k, client in enumerate(clients):
                snapshot = client.quota
                log("done", k, shared=snapshot.shared, processes=snapshot.processes)
        finally:
            for client in reversed(clients):
                await client.__aexit__(None, None, None)

    anyio.run(run, backend=config.get("backend", "asyncio"))
    out.close()


if __name__ == "__main__":
    {"serve": serve, "work": work}[sys.argv[1]](json.loads(sys.argv[2]))
