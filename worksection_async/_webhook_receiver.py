"""``WebhookReceiver``: an ASGI 3 app that takes Worksection's webhook deliveries.

No web framework is needed: serve it with any ASGI server, or mount it in Starlette,
FastAPI or Litestar. Worksection wants HTTP 200 with JSON ``{"status":"OK"}`` within
5 s and disables a hook after 10 failures, so the receiver
answers first and works after::

    POST ─► path? (404) ─► method? (405) ─► basic auth, constant time (401)
         ─► body ≤ max_body (413) ─► empty: a check, 200 ─► parse_webhook (400)
         ─► running? (503) ─► room for all its events? (503, nothing kept)
         ─► store.accept: repeats dropped, the rest committed (503 if it cannot)
         ─► 200 {"status":"OK"}
    workers (a task group the lifespan owns): take the oldest event from the store
    under a lease, handler(event), then mark it done; an exception is logged with the
    event's page and the next event goes on

A delivery is kept whole or not at all: a 503 means none of its events was kept, so
Worksection's redelivery is handled once. Without a store the events live in memory:
a crash loses accepted events. With ``store=EventStore.from_url("sqlite:///...")`` a
delivery is answered 200 only after its events are committed, and a restart handles
what a crash left (at least once: only events whose handler was running can run again).

Start and stop it with the ASGI lifespan (servers do this for an app they serve),
``async with receiver:``, or ``lifespan=receiver.lifespan`` in Starlette: mounted
apps get no lifespan of their own. On stop the workers drain for ``drain_timeout``
seconds; without a store whatever is left is logged one line per event and kept in
``unhandled``; with one it stays in the store for the next start.
Nothing is logged with credentials: not the ``Authorization`` header, not the body.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Final, TypeAlias, get_args

import anyio
from anyio.abc import TaskGroup

from ._asgi_http import (
    OK,
    TOO_LARGE,
    Receive,
    Scope,
    Send,
    answer,
    error_body,
    positive_int,
    read_body,
    seconds,
    where,
    within,
)
from ._clock import Clock, MonotonicClock
from ._event_store import EventStore, EventStoreError, MemoryEventStore, StoredEvent
from ._events import (
    ReceiverEventHook,
    WebhookDeliveryAccepted,
    WebhookDeliveryRefused,
    WebhookEventHandled,
)
from ._webhooks import WebhookPayloadError, parse_items
from .models import Event, unstructure

if TYPE_CHECKING:
    from ._client import Client
    from .resources._webhooks import EnsuredWebhook

__all__ = [
    "BACKFILL_DEDUP_WINDOW",
    "BACKFILL_OVERLAP",
    "DEFAULT_DEDUP_WINDOW",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_ENQUEUE_TIMEOUT",
    "DEFAULT_LEASE",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_QUEUE",
    "Handler",
    "WebhookReceiver",
]

logger = logging.getLogger("worksection_async.webhooks")

DEFAULT_MAX_QUEUE: Final = 1000
"""Events accepted but not yet handled, at most (without a store: they are in memory)."""
DEFAULT_DEDUP_WINDOW: Final = 600.0
"""Seconds an object's recent events are remembered to recognise a repeated delivery."""
DEFAULT_LEASE: Final = 60.0
"""Seconds a worker holds an event it took (renewed while the handler runs); a crashed
worker's event is taken again when its lease runs out."""
BACKFILL_DEDUP_WINDOW: Final = 3 * 86400.0
"""Seconds objects' histories are kept when ``backfill=True``: a gap longer than this
may repeat the events delivered in the last two minutes before it."""
BACKFILL_OVERLAP: Final = 120.0
"""Seconds a backfill reaches back before the last time the receiver was known up."""
_UP_EVERY: Final = 30.0
"""Seconds between notes, in the store, that the receiver is up (backfill's start)."""
_STORE_POLL: Final = 0.5
"""Seconds between looks at a durable store for events others put there."""
DEFAULT_DRAIN_TIMEOUT: Final = 10.0
"""Seconds the queue may take to drain on shutdown."""
DEFAULT_ENQUEUE_TIMEOUT: Final = 1.0
"""Seconds a delivery may wait for room in a full queue before it is answered 503."""
DEFAULT_MAX_BODY: Final = 4 * 1024 * 1024
"""Largest delivery body read (bytes); a larger one is answered 413."""

Handler: TypeAlias = Callable[[Event], Awaitable[object]]
"""``async def handler(event: Event) -> None``."""


class WebhookReceiver:
    """An ASGI app receiving Worksection webhooks and handing each event to ``handler``.

    ::

        async def on_event(event: Event) -> None: ...

        store = EventStore.from_url("sqlite:///events.db")
        app = WebhookReceiver(on_event, basic_auth=("hook", "s3cret"), store=store)
        # uvicorn module:app, or Mount("/hooks", app) with lifespan=app.lifespan

    Every valid delivery is answered 200 ``{"status":"OK"}`` as soon as its events are
    kept, and ``concurrency`` workers call ``await handler(event)`` (one worker, the
    default, keeps the order of events). Where they are kept is ``store``:

    - ``None`` (the default): in memory, at most ``max_queue`` events. A crash, an OOM
      kill or ``kill -9`` loses every event accepted and not yet handled, and
      Worksection will not send them again (it got its 200).
    - an :class:`~worksection_async.webhooks.EventStore`: committed before the 200;
      an event is done when its handler returns (or raises: it is logged, not retried);
      on start, what a crash left is handled first. At least once: after ``kill -9``
      only the events whose handlers were running run again, once their ``lease``
      runs out. Replicas behind a load balancer can share one store.

    ``basic_auth=(user, password)`` must match what ``client.webhooks.add(...,
    basic_auth=...)`` registered (401 otherwise). ``path`` is where deliveries come
    (relative to the mount point). A delivery that repeats the end of its objects'
    recent history (within ``dedup_window`` seconds) is not handled again; see
    :meth:`EventStore.accept` for what can and cannot be told apart. ``clock`` is
    where the receiver's waits happen (tests pass a ``ManualClock``). ``on_event``
    receives typed events (deliveries accepted and refused, events handled), as a
    ``Client``'s does (``worksection_async.otel.OpenTelemetryHook`` turns them into
    metrics).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        store: EventStore | None = None,
        basic_auth: tuple[str, str] | None = None,
        path: str = "/",
        max_queue: int = DEFAULT_MAX_QUEUE,
        concurrency: int = 1,
        dedup_window: float | dt.timedelta = DEFAULT_DEDUP_WINDOW,
        drain_timeout: float | dt.timedelta = DEFAULT_DRAIN_TIMEOUT,
        enqueue_timeout: float | dt.timedelta = DEFAULT_ENQUEUE_TIMEOUT,
        lease: float | dt.timedelta = DEFAULT_LEASE,
        max_body: int = DEFAULT_MAX_BODY,
        client: Client | None = None,
        backfill: bool = False,
        ensure_hook: str | None = None,
        hook_events: Sequence[str] | None = None,
        hook_projects: Sequence[int] | None = None,
        clock: Clock | None = None,
        on_event: ReceiverEventHook | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._on_event = on_event
        if not callable(handler):
            raise TypeError(f"handler must be an async function of an Event, got {handler!r}")
        if store is not None and not isinstance(store, EventStore):
            raise TypeError(f"store must be an EventStore (EventStore.from_url), got {store!r}")
        if basic_auth is not None:
            if (
                not isinstance(basic_auth, tuple)
                or len(basic_auth) != 2
                or not all(isinstance(part, str) for part in basic_auth)
            ):
                raise TypeError("basic_auth must be a (user, password) tuple of strings")
            user, password = basic_auth
            if not user or ":" in user:
                raise ValueError("basic_auth: the user must be non-empty and contain no ':'")
            if not password:
                raise ValueError("basic_auth: the password must not be empty")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        self._handler = handler
        self._credentials = (
            f"{basic_auth[0]}:{basic_auth[1]}".encode() if basic_auth is not None else None
        )
        self._user = basic_auth[0] if basic_auth is not None else None
        self.path = path
        self.max_queue = positive_int("max_queue", max_queue)
        self.concurrency = positive_int("concurrency", concurrency)
        self.max_body = positive_int("max_body", max_body)
        self.dedup_window = seconds("dedup_window", dedup_window, allow_zero=True)
        self.drain_timeout = seconds("drain_timeout", drain_timeout, allow_zero=True)
        self.enqueue_timeout = seconds("enqueue_timeout", enqueue_timeout, allow_zero=True)
        self.lease = seconds("lease", lease)
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self.store: EventStore = (
            store if store is not None else MemoryEventStore(wall_clock=self._clock.now)
        )
        """Where accepted events wait for a worker."""
        if (backfill or ensure_hook is not None) and client is None:
            raise ValueError("backfill and ensure_hook need client= (a worksection_async.Client)")
        if backfill and store is None:
            raise ValueError("backfill needs a store: where the receiver was last up is kept there")
        if ensure_hook is not None and (
            not isinstance(ensure_hook, str) or not ensure_hook.startswith(("http://", "https://"))
        ):
            raise ValueError(f"ensure_hook must be the hook's http(s) URL, got {ensure_hook!r}")
        from .resources._render import WebhookEvent

        all_events = get_args(WebhookEvent)
        events = tuple(hook_events) if hook_events is not None else all_events
        unknown = [e for e in events if e not in all_events]
        if unknown or not events:
            raise ValueError(f"hook_events: unknown or none: {unknown or events!r}")
        self.client = client
        self.backfill = bool(backfill)
        self.ensure_hook = ensure_hook
        self.hook_events: tuple[str, ...] = events
        self.hook_projects = tuple(hook_projects) if hook_projects else None
        self.hook: EnsuredWebhook | None = None
        """What ``ensure_hook`` found and did at the last start."""
        self.backfilled = 0
        """Events the last start's backfill found missing and stored."""
        self.backfill_done = False
        """The last start's backfill has run (whatever it found)."""
        self._wall = wall_clock
        self._background: anyio.CancelScope | None = None
        if self.backfill:
            self.dedup_window = max(self.dedup_window, BACKFILL_DEDUP_WINDOW)
        self._up_name = f"receiver:{path}"
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._task_group: TaskGroup | None = None
        self._accepting = False
        self._in_flight: dict[int, Event] = {}
        # Made in start(): an anyio.Event belongs to the event loop that creates it.
        self._changed: anyio.Event | None = None
        self._workers = 0
        self._workers_done: anyio.Event | None = None
        self.deliveries = 0
        """Deliveries answered 200."""
        self.handled = 0
        """Events the handler returned from."""
        self.failed = 0
        """Events the handler raised on (each one logged)."""
        self.duplicates = 0
        """Events not handled because they repeated a delivery within ``dedup_window``."""
        self.unhandled: list[Event] = []
        """Without a store: events a shutdown left (the drain timed out or the host task
        was cancelled; each one logged). With one they stay in the store."""

    def __repr__(self) -> str:
        auth = f"({self._user!r}, '***')" if self._user is not None else "None"
        state = "running" if self.running else "stopped"
        return (
            f"WebhookReceiver(path={self.path!r}, basic_auth={auth}, queued={self.queued}, {state})"
        )

    # -- state -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Started and accepting deliveries."""
        return self._accepting

    @property
    def queued(self) -> int:
        """Events accepted and not yet picked up by a worker (without a store)."""
        store = self.store
        if isinstance(store, MemoryEventStore):
            return max(0, store.count - len(self._in_flight))
        return 0

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = anyio.Event()

    async def _wait_change(self) -> None:
        if self._changed is None:
            self._changed = anyio.Event()
        changed = self._changed
        if self.store.durable:
            with anyio.move_on_after(_STORE_POLL):
                await changed.wait()
        else:
            await changed.wait()

    async def join(self) -> None:
        """Wait until every accepted event has been handled (or has failed)."""
        while True:
            try:
                left = await self.store.pending()
            except EventStoreError:
                left = 1
            if not left and not self._in_flight:
                return
            if self._task_group is None:
                return  # stopped: nothing will move
            await self._wait_change()

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> WebhookReceiver:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop(exc_type, exc, tb)

    @asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """The receiver's life as a lifespan context (``Starlette(lifespan=...)``)."""
        async with self:
            yield

    async def start(self) -> None:
        """Start the workers. Prefer ``async with`` or the lifespan: they also stop it.

        With a durable store, what a crash left is taken first (oldest first)."""
        if self._task_group is not None:
            raise RuntimeError("this WebhookReceiver is already running")
        if isinstance(self.store, MemoryEventStore):
            self.store.clear()
        else:
            await self.store.open()
            try:
                left = await self.store.pending()
            except BaseException:
                await self.store.aclose()
                raise
            if left:
                logger.info("webhook receiver: %d event(s) left in the store, handled first", left)
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        self._workers = self.concurrency
        self._workers_done = anyio.Event()
        self._changed = anyio.Event()
        self._in_flight = {}
        self.unhandled = []
        self._accepting = True
        self.backfill_done = False
        for _ in range(self.concurrency):
            task_group.start_soon(self._work)
        if self.ensure_hook is not None or self.backfill:
            task_group.start_soon(self._on_start)
        logger.debug("webhook receiver started at %s", self.path)

    async def stop(self) -> None:
        """Stop accepting, drain for ``drain_timeout``, log what is left.

        Call it from the task that called :meth:`start` (the task group is that task's).
        """
        await self._stop()

    async def _stop(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        task_group = self._task_group
        if task_group is None:
            return
        self._accepting = False
        if self._background is not None:
            self._background.cancel()
            self._background = None
        self._notify()  # idle workers see the end
        drained = True
        try:
            with anyio.CancelScope(shield=True):
                done = self._workers_done
                assert done is not None
                drained = self._workers == 0 or await within(
                    self._clock, self.drain_timeout, done.wait
                )
                if not drained:
                    task_group.cancel_scope.cancel()
        finally:
            self._task_group = None
            try:
                await task_group.__aexit__(exc_type, exc, tb)
            finally:
                await self._account_for_leftovers(drained=not task_group.cancel_scope.cancel_called)
        logger.debug("webhook receiver stopped")

    async def _account_for_leftovers(self, *, drained: bool) -> None:
        self._in_flight = {}
        self._notify()
        store = self.store
        if not isinstance(store, MemoryEventStore):
            try:
                with anyio.CancelScope(shield=True):
                    try:
                        left_count = await store.pending()
                    except EventStoreError:
                        left_count = 0
            finally:
                # Outside the shield: a Redis pool's own cancel scope closes here.
                await store.aclose()
            if left_count:
                logger.warning(
                    "webhook receiver stopped with %d event(s) not handled; they stay in "
                    "the store for the next start%s",
                    left_count,
                    "" if drained else f" (the drain timed out after {self.drain_timeout:g}s)",
                )
            return
        left = store.events_left()
        store.clear()
        if not left:
            return
        self.unhandled.extend(left)
        for event in left:
            logger.error(
                "webhook event not handled before shutdown: %s (%s)",
                where(event),
                event.date_added,
            )
        logger.error(
            "webhook receiver stopped with %d event(s) not handled%s",
            len(left),
            "" if drained else f" (the drain timed out after {self.drain_timeout:g}s)",
        )

    # -- hook health and backfill ------------------------------------------------------

    async def _on_start(self) -> None:
        """After start (the server answers Worksection's URL check by then): make sure
        the hook is there and active, then fetch what was missed while down."""
        with anyio.CancelScope() as scope:
            self._background = scope  # stop() cancels it
            if self.ensure_hook is not None:
                await self._ensure()
            if self.backfill:
                await self._backfill()
                while True:
                    await self._clock.sleep(_UP_EVERY)
                    await self._note_up(self._wall())

    async def _ensure(self) -> None:
        assert self.client is not None
        assert self.ensure_hook is not None
        wait = 1.0
        for attempt in range(6):
            await self._clock.sleep(0.05 if attempt == 0 else wait)
            try:
                self.hook = await self.client.webhooks.ensure(
                    self.ensure_hook,
                    list(self.hook_events),  # type: ignore[arg-type]  # checked in __init__
                    projects=list(self.hook_projects) if self.hook_projects else None,
                    basic_auth=self._basic_auth,
                )
            except Exception as exc:
                logger.warning(
                    "webhook receiver: could not ensure the hook at %s (%s: %s); again in %gs",
                    self.ensure_hook,
                    type(exc).__name__,
                    exc,
                    wait,
                )
                wait = min(60.0, wait * 2)
                continue
            hook = self.hook
            assert hook is not None
            log = logger.info if hook.action == "kept" else logger.warning
            log(
                "webhook hook %s: %s (%s), id %d",
                self.ensure_hook,
                hook.action,
                hook.reason,
                hook.id,
            )
            return
        logger.error("webhook receiver: gave up ensuring the hook at %s", self.ensure_hook)

    async def _note_up(self, at: float) -> None:
        try:
            await self.store.save_cursor(self._up_name, at, [], now=at, forget_before=at)
        except EventStoreError as exc:
            logger.warning("webhook receiver: cannot note the time in the store: %s", exc)

    async def _backfill(self) -> None:
        """``get_events`` over the gap since the receiver was last up (at most 30 days),
        through the same deduplication as deliveries."""
        try:
            await self._read_gap()
        finally:
            self.backfill_done = True

    async def _read_gap(self) -> None:
        from .resources._events import covering_period

        assert self.client is not None
        started = self._wall()
        try:
            cursor = await self.store.load_cursor(self._up_name)
        except EventStoreError as exc:
            logger.error("webhook receiver: no backfill, the store cannot be read: %s", exc)
            return
        if cursor is None:
            await self._note_up(started)
            logger.info("webhook receiver: first start on this store, nothing to backfill")
            return
        gap = max(0.0, started - cursor.since) + BACKFILL_OVERLAP
        if gap > 30 * 86400:
            logger.warning(
                "webhook receiver: down %.0f s, more than get_events' 30 days: older "
                "events cannot be fetched",
                gap,
            )
        period = covering_period(gap)
        try:
            events = await self.client.events.list(period)
        except Exception as exc:
            logger.error(
                "webhook receiver: backfill over %s failed (%s: %s)",
                period,
                type(exc).__name__,
                exc,
            )
            return
        wanted = [e for e in _oldest_first(list(events)) if self._subscribed(e)]
        items = [(unstructure(event), event) for event in wanted]
        try:
            accepted = await self.store.accept(items, dedup_window=self.dedup_window, backfill=True)
        except EventStoreError as exc:
            logger.error("webhook receiver: backfill could not be stored: %s", exc)
            return
        self.backfilled = accepted.new
        self._notify()
        await self._note_up(started)
        logger.info(
            "webhook receiver: backfill over %s: %d event(s), %d missing and stored",
            period,
            len(items),
            accepted.new,
        )

    def _subscribed(self, event: Event) -> bool:
        if f"{event.action}_{event.object.type}" not in self.hook_events:
            return False
        if not self.hook_projects:
            return True
        page = event.object.page
        project = getattr(page, "project_id", None)
        return project in self.hook_projects

    @property
    def _basic_auth(self) -> tuple[str, str] | None:
        if self._credentials is None:
            return None
        user, _, password = self._credentials.decode().partition(":")
        return user, password

    async def _take(self, done: int | None) -> StoredEvent | None:
        try:
            return await self.store.take(self._owner, self.lease, done=done)
        except EventStoreError as exc:
            logger.error("webhook receiver: cannot take from the event store: %s", exc)
            if done is not None:
                await self._done(done)
            await anyio.sleep(_STORE_POLL)
            return None

    async def _done(self, seq: int) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self.store.done(seq)
            except EventStoreError as exc:
                logger.error(
                    "webhook receiver: cannot mark an event handled (%s); it will be "
                    "handled again when its lease runs out",
                    exc,
                )

    async def _work(self) -> None:
        done: int | None = None  # handled, to be forgotten with the next take
        try:
            while True:
                item = await self._take(done)
                if done is not None:
                    self._in_flight.pop(done, None)
                    done = None
                    self._notify()
                if item is None:
                    if not self._accepting:
                        return
                    await self._wait_change()
                    continue
                done = await self._handle(item)
        finally:
            if done is not None:
                await self._done(done)
                self._in_flight.pop(done, None)
                self._notify()
            self._workers -= 1
            if self._workers == 0 and self._workers_done is not None:
                self._workers_done.set()

    async def _handle(self, item: StoredEvent) -> int:
        """Run the handler; the event's ``seq`` once it has returned (or raised)."""
        event = item.event
        self._in_flight[item.seq] = event
        finished = False
        try:
            if self.store.durable:
                async with anyio.create_task_group() as renewing:
                    renewing.start_soon(self._renew, item.seq)
                    await self._call_handler(event)
                    renewing.cancel_scope.cancel()
            else:
                await self._call_handler(event)
            finished = True
        finally:
            if not finished:  # cancelled: give it back for the next start
                with anyio.CancelScope(shield=True):
                    self._in_flight.pop(item.seq, None)
                    if self.store.durable:
                        try:
                            await self.store.release([item.seq], self._owner)
                        except EventStoreError as exc:
                            logger.error("webhook receiver: event store: %s", exc)
                    self._notify()
        return item.seq

    async def _call_handler(self, event: Event) -> None:
        started = self._clock.now()
        try:
            await self._handler(event)
        except Exception as exc:
            self.failed += 1
            logger.exception("webhook handler failed on %s", where(event))
            self._handled(event, started, exc)
        else:
            self.handled += 1
            self._handled(event, started)

    async def _renew(self, seq: int) -> None:
        while True:
            await anyio.sleep(self.lease / 3)
            try:
                await self.store.renew([seq], self._owner, self.lease)
            except EventStoreError as exc:
                logger.warning("webhook receiver: cannot renew a lease: %s", exc)

    def _handled(self, event: Event, started: float, error: Exception | None = None) -> None:
        if self._on_event is not None:
            now = self._clock.now()
            failed = type(error).__name__ if error is not None else None
            self._on_event(
                WebhookEventHandled(
                    at=now, action=event.action, elapsed=now - started, error=failed
                )
            )

    def _refused(self, status: int, reason: str) -> None:
        if self._on_event is not None:
            self._on_event(
                WebhookDeliveryRefused(at=self._clock.now(), status=status, reason=reason)
            )

    # -- ASGI ------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        started = False
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                started = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if started:
                    await self._stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _route(self, scope: Scope) -> str:
        path: str = scope.get("path", "/")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return path or "/"

    def _authorized(self, scope: Scope) -> bool:
        expected = self._credentials
        if expected is None:
            return True
        supplied = b""
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                scheme, _, token = bytes(value).strip().partition(b" ")
                if scheme.lower() == b"basic":
                    try:
                        supplied = base64.b64decode(token.strip(), validate=True)
                    except (binascii.Error, ValueError):
                        supplied = b""
                break
        return hmac.compare_digest(supplied, expected)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._route(scope) != self.path:
            self._refused(404, "not found")
            await answer(send, 404, error_body("not found"))
            return
        method = scope.get("method", "GET")
        if method not in ("POST", "GET", "HEAD"):
            self._refused(405, "method not allowed")
            await answer(send, 405, error_body("use POST"), [(b"allow", b"POST, GET, HEAD")])
            return
        if not self._authorized(scope):
            client = scope.get("client")
            logger.warning(
                "webhook delivery refused: missing or wrong basic auth (from %s)",
                client[0] if client else "unknown",
            )
            self._refused(401, "unauthorized")
            await answer(
                send,
                401,
                error_body("unauthorized"),
                [(b"www-authenticate", b'Basic realm="webhooks"')],
            )
            return
        if method != "POST":
            # A liveness check; POST with an empty body is the other one.
            await self._answer_check(send, head=method == "HEAD")
            return
        body = await read_body(scope, receive, self.max_body)
        if body is None:
            return  # the client went away
        if body is TOO_LARGE:
            logger.warning("webhook delivery refused: body over %d bytes", self.max_body)
            self._refused(413, "body too large")
            await answer(send, 413, error_body(f"body over {self.max_body} bytes"))
            return
        if not body.strip():
            await self._answer_check(send)
            return
        try:
            items = parse_items(body)
        except WebhookPayloadError as exc:
            logger.warning("webhook delivery refused: %s", exc)
            self._refused(400, "not a webhook payload")
            await answer(send, 400, error_body(str(exc)))
            return
        if not self._accepting:
            logger.error(_NOT_RUNNING)
            self._refused(503, "not running")
            await answer(send, 503, error_body("receiver not running"))
            return
        if not await self._room_for(len(items)):
            logger.error(
                "webhook queue full (%d): a delivery of %d event(s) refused with 503, "
                "none of them kept",
                self.max_queue,
                len(items),
            )
            self._refused(503, "queue full")
            await answer(send, 503, error_body("queue full"))
            return
        try:
            accepted = await self.store.accept(items, dedup_window=self.dedup_window)
        except EventStoreError as exc:
            logger.error(
                "webhook delivery refused with 503: the event store cannot keep it (%s)", exc
            )
            self._refused(503, "event store unavailable")
            await answer(send, 503, error_body("event store unavailable"))
            return
        self.duplicates += accepted.repeats
        self.deliveries += 1
        if self._on_event is not None:
            self._on_event(
                WebhookDeliveryAccepted(at=self._clock.now(), events=len(items), new=accepted.new)
            )
        if accepted.new:
            self._notify()
        logger.debug("webhook delivery: %d event(s), %d new", len(items), accepted.new)
        await answer(send, 200, OK)

    async def _answer_check(self, send: Send, *, head: bool = False) -> None:
        if not self._accepting:
            logger.error(_NOT_RUNNING)
            self._refused(503, "not running")
            await answer(send, 503, error_body("receiver not running"), head=head)
            return
        await answer(send, 200, OK, head=head)

    async def _room_for(self, count: int) -> bool:
        """Whether ``count`` more events fit the in-memory queue, waiting up to
        ``enqueue_timeout`` for workers to make room. A durable store has no bound
        here. A delivery larger than the whole queue fits an empty queue."""
        if self.store.durable:
            return True

        def fits() -> bool:
            queued = self.queued
            return queued == 0 or queued + count <= self.max_queue

        if fits():
            return True
        if self.enqueue_timeout <= 0:
            return False

        async def wait_for_room() -> None:
            while not fits():
                await self._wait_change()

        return await within(self._clock, self.enqueue_timeout, wait_for_room) and fits()


_NOT_RUNNING: Final = (
    "webhook delivery refused with 503: the WebhookReceiver is not running; serve it with "
    "lifespan on, or enter it in your app's lifespan (async with receiver, or "
    "lifespan=receiver.lifespan)"
)


def _oldest_first(events: list[Event]) -> list[Event]:
    if len(events) > 1 and events[0].date_added > events[-1].date_added:
        events.reverse()  # the server listed newest first: keep its order within a minute
    events.sort(key=lambda event: event.date_added)
    return events
