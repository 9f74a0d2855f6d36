"""A Starlette service that keeps a live view of a Worksection account's open tasks.

The lifespan owns one ``Client`` and the ``WebhookReceiver``; the view is loaded once
with ``get_all_tasks`` and kept up to date by webhook events (a task posted, renamed,
closed, reopened); ``GET /tasks`` reads from memory, never from the API.

It survives Ctrl-C, a crash and a restart: accepted events are kept in a SQLite
``EventStore`` (``EVENTS_DB``, default ``service-events.db``) until applied, so a
delivery answered 200 is never lost; on start the receiver makes sure its hook exists
and is active (``ensure_hook``: Worksection pauses a hook after 10 failed deliveries)
and reads the events of the time it was down (``backfill``).

Against the built-in fake (no account; serves on 127.0.0.1, runs to completion)::

    python examples/service.py

Against your account (runs until Ctrl-C). It listens on HOST (127.0.0.1 by default:
put it behind your HTTPS reverse proxy, whose address is PUBLIC_URL; HOST=0.0.0.0
listens on every interface)::

    WORKSECTION_URL=https://acme.worksection.com WORKSECTION_API_KEY=... \\
    PUBLIC_URL=https://tasks.example.com HOOK_PASSWORD=... python examples/service.py

Needs the ``examples`` extra: ``pip install 'worksection-async[examples]'``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from worksection_async import Client, SubtaskPage, TaskPage, WebhookEvent
from worksection_async.models import Event
from worksection_async.testing import FakeWorksection
from worksection_async.webhooks import EventStore, WebhookReceiver

EVENTS: list[WebhookEvent] = ["post_task", "update_task", "close_task", "reopen_task"]


class OpenTasks:
    """The open tasks by page path, as webhook events report them."""

    def __init__(self) -> None:
        self.client: Client | None = None
        self.tasks: dict[str, str] = {}

    async def load(self, client: Client) -> None:
        self.client = client
        for task in await client.tasks.list(active_only=True):
            self.tasks[task.page.path] = task.name

    async def apply(self, event: Event) -> None:
        """The receiver's handler: one event at a time, in the order delivered."""
        page = event.object.page
        if event.object.type != "task" or not isinstance(page, (TaskPage, SubtaskPage)):
            return
        new = event.new or {}
        if event.action == "post":
            self.tasks[page.path] = str(new.get("title", ""))
        elif event.action == "update" and "title" in new and page.path in self.tasks:
            self.tasks[page.path] = str(new["title"])
        elif event.action in ("close", "delete"):
            self.tasks.pop(page.path, None)
        elif event.action == "reopen" and self.client is not None:
            self.tasks[page.path] = (await self.client.task(page).get()).name


def create_app(
    make_client: Callable[[], Client],
    *,
    basic_auth: tuple[str, str],
    store_url: str,
    hook_url: str,
) -> Starlette:
    view = OpenTasks()
    client = make_client()
    receiver = WebhookReceiver(
        view.apply,
        basic_auth=basic_auth,
        store=EventStore.from_url(store_url),
        client=client,
        ensure_hook=hook_url,  # created, or re-created if paused, once the server runs
        hook_events=EVENTS,
        backfill=True,  # what happened while the service was down
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with client:
            await view.load(client)
            async with receiver:  # mounted apps get no lifespan of their own
                yield

    async def open_tasks(request: Request) -> JSONResponse:
        tasks = [{"page": page, "name": name} for page, name in sorted(view.tasks.items())]
        return JSONResponse({"open_tasks": tasks})

    app = Starlette(
        routes=[Route("/tasks", open_tasks), Mount("/webhooks", app=receiver)],
        lifespan=lifespan,
    )
    app.state.receiver = receiver
    return app


async def demo() -> None:
    """The service on 127.0.0.1 with a fake account that delivers its webhooks to it."""
    fake = FakeWorksection()
    project = fake.add_project("Website")
    fake.add_task(project, "Write the docs")
    auth = ("worksection", "demo-password")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    folder = tempfile.TemporaryDirectory()
    app = create_app(
        lambda: Client(fake.account_url, fake.api_key, transport=fake.transport),
        basic_auth=auth,
        store_url=f"sqlite:///{folder.name}/events.db",
        hook_url=f"{base}/webhooks/",
    )
    fake.webhook_delivery.allow_http(base)  # the fake may POST to this address
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    # The receiver registers its hook once the server answers (the fake checks that the
    # URL answers {"status":"OK"}, as Worksection does).
    while app.state.receiver.hook is None:  # noqa: ASYNC110 - a demo's simple wait
        await asyncio.sleep(0.01)
    try:
        async with Client(fake.account_url, fake.api_key, transport=fake.transport) as admin:
            login = await admin.project(project.id).post_task("Fix the login")
            release = await admin.project(project.id).post_task("Release")
            await admin.task(release).update(title="Release 2.0")
            await admin.task(login).complete()
        await app.state.receiver.join()  # the handler has applied every event
        async with httpx.AsyncClient(base_url=base) as http:
            print((await http.get("/tasks")).text)
    finally:
        server.should_exit = True
        await serving
        folder.cleanup()


def main() -> None:
    if not os.environ.get("WORKSECTION_URL"):
        asyncio.run(demo())
        return
    password = os.environ.get("HOOK_PASSWORD", "").strip()
    public_url = os.environ.get("PUBLIC_URL", "").strip()
    if not password or not public_url:
        raise SystemExit(
            "service.py: set HOOK_PASSWORD (the webhook's basic-auth password) and "
            "PUBLIC_URL (where Worksection reaches this service)"
        )
    auth = ("worksection", password)
    Client.from_env()  # WORKSECTION_URL, WORKSECTION_API_KEY: a missing one is named now
    app = create_app(
        Client.from_env,
        basic_auth=auth,
        store_url=f"sqlite:///{os.environ.get('EVENTS_DB', 'service-events.db')}",
        hook_url=f"{public_url.rstrip('/')}/webhooks/",
    )
    host = os.environ.get("HOST", "127.0.0.1")
    uvicorn.run(app, host=host, port=int(os.environ.get("PORT", "8000")))


if __name__ == "__main__":
    main()
