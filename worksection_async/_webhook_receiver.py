"""``WebhookReceiver``: an ASGI 3 app that takes Worksection's webhook deliveries.

No web framework is needed: serve it with any ASGI server, or mount it in Starlette,
FastAPI or Litestar. Worksection wants HTTP 200 with JSON ``{"status":"OK"}`` within
5 s and disables a hook after 10 failures (worksection-api.md §9), so the receiver
answers first and works after::

    POST ─► path? (404) ─► method? (405) ─► basic auth, constant time (401)
         ─► body ≤ max_body (413) ─► empty: a check, 200 ─► parse_webhook (400)
         ─► running? (503) ─► drop repeats (dedup window) ─► bounded queue (503 if full)
         ─► 200 {"status":"OK"}
    workers (a task group the lifespan owns): handler(event), one at a time per worker;
    an exception is logged with the event's page and the next event goes on

Start and stop it with the ASGI lifespan (servers do this for an app they serve),
``async with receiver:``, or ``lifespan=receiver.lifespan`` in Starlette: mounted
apps get no lifespan of their own. On stop the queue drains for ``drain_timeout``
seconds; whatever is left is logged one line per event and kept in ``unhandled``.
Nothing is logged with credentials: not the ``Authorization`` header, not the body.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager, suppress
from types import TracebackType
from typing import Any, Final, TypeAlias

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._clock import Clock, MonotonicClock
from ._events import (
    ReceiverEventHook,
    WebhookDeliveryAccepted,
    WebhookDeliveryRefused,
    WebhookEventHandled,
)
from ._webhooks import EventKey, SeenEvents, WebhookPayloadError, parse_webhook
from .models import Event

__all__ = [
    "DEFAULT_DEDUP_WINDOW",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_ENQUEUE_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_QUEUE",
    "Handler",
    "WebhookReceiver",
]

logger = logging.getLogger("worksection_async.webhooks")

DEFAULT_MAX_QUEUE: Final = 1000
"""Events accepted but not yet handled, at most."""
DEFAULT_DEDUP_WINDOW: Final = 600.0
"""Seconds a handled event is remembered: a repeat within them is not handled again."""
DEFAULT_DRAIN_TIMEOUT: Final = 10.0
"""Seconds the queue may take to drain on shutdown."""
DEFAULT_ENQUEUE_TIMEOUT: Final = 1.0
"""Seconds a delivery may wait for room in a full queue before it is answered 503."""
DEFAULT_MAX_BODY: Final = 4 * 1024 * 1024
"""Largest delivery body read (bytes); a larger one is answered 413."""
MAX_REMEMBERED: Final = 100_000
"""Most event keys remembered for deduplication, whatever the window."""

Handler: TypeAlias = Callable[[Event], Awaitable[object]]
"""``async def handler(event: Event) -> None``."""

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]

_OK: Final = b'{"status":"OK"}'


def _seconds(name: str, value: float | dt.timedelta, *, allow_zero: bool = False) -> float:
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(f"{name} must be seconds or a timedelta, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return seconds


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _where(event: Event) -> str:
    page = event.object.page
    shown = getattr(page, "path", page) if page is not None else f"id {event.object.id}"
    return f"{event.action} {event.object.type} {shown}"


async def _within(clock: Clock, seconds: float, operation: Callable[[], Awaitable[None]]) -> bool:
    """Run ``operation``; give up after ``seconds`` on ``clock``. True if it finished."""
    finished = False
    async with anyio.create_task_group() as tg:

        async def expire() -> None:
            await clock.sleep(seconds)
            tg.cancel_scope.cancel()

        tg.start_soon(expire)
        await operation()
        finished = True
        tg.cancel_scope.cancel()
    return finished


class _Window:
    """Event keys remembered for ``seconds`` after they were last delivered."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.seen = SeenEvents()
        self._expiry: dict[EventKey, float] = {}
        self._order: deque[tuple[float, EventKey]] = deque()

    def touch(self, keys: list[EventKey], now: float) -> None:
        until = now + self.seconds
        for key in keys:
            self._expiry[key] = until
            self._order.append((until, key))

    def prune(self, now: float) -> None:
        order, expiry = self._order, self._expiry
        while order and (order[0][0] <= now or len(expiry) > MAX_REMEMBERED):
            until, key = order.popleft()
            if expiry.get(key) == until:
                del expiry[key]
                self.seen.forget((key,))


class WebhookReceiver:
    """An ASGI app receiving Worksection webhooks and handing each event to ``handler``.

    ::

        async def on_event(event: Event) -> None: ...

        app = WebhookReceiver(on_event, basic_auth=("hook", "s3cret"))
        # uvicorn module:app, or Mount("/hooks", app) with lifespan=app.lifespan

    Every valid delivery is answered 200 ``{"status":"OK"}`` at once; its events go to
    a queue of at most ``max_queue`` and ``concurrency`` workers call
    ``await handler(event)`` (one worker, the default, keeps the order of events).
    ``basic_auth=(user, password)`` must match what ``client.webhooks.add(...,
    basic_auth=...)`` registered (401 otherwise). ``path`` is where deliveries come
    (relative to the mount point). An event already taken within the last
    ``dedup_window`` seconds is not handled again. ``clock`` is where the receiver's
    waits happen (tests pass a ``ManualClock``). ``on_event`` receives typed events
    (deliveries accepted and refused, events handled), as a ``Client``'s does
    (``worksection_async.otel.OpenTelemetryHook`` turns them into metrics).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        basic_auth: tuple[str, str] | None = None,
        path: str = "/",
        max_queue: int = DEFAULT_MAX_QUEUE,
        concurrency: int = 1,
        dedup_window: float | dt.timedelta = DEFAULT_DEDUP_WINDOW,
        drain_timeout: float | dt.timedelta = DEFAULT_DRAIN_TIMEOUT,
        enqueue_timeout: float | dt.timedelta = DEFAULT_ENQUEUE_TIMEOUT,
        max_body: int = DEFAULT_MAX_BODY,
        clock: Clock | None = None,
        on_event: ReceiverEventHook | None = None,
    ) -> None:
        self._on_event = on_event
        if not callable(handler):
            raise TypeError(f"handler must be an async function of an Event, got {handler!r}")
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
        self.max_queue = _positive_int("max_queue", max_queue)
        self.concurrency = _positive_int("concurrency", concurrency)
        self.max_body = _positive_int("max_body", max_body)
        self._window = _Window(_seconds("dedup_window", dedup_window, allow_zero=True))
        self.drain_timeout = _seconds("drain_timeout", drain_timeout, allow_zero=True)
        self.enqueue_timeout = _seconds("enqueue_timeout", enqueue_timeout, allow_zero=True)
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._task_group: TaskGroup | None = None
        self._send_stream: MemoryObjectSendStream[Event] | None = None
        self._receive_stream: MemoryObjectReceiveStream[Event] | None = None
        self._accepting = False
        self._interrupted: list[Event] = []
        self._unfinished = 0
        self._idle = anyio.Event()
        self._idle.set()
        self._workers = 0
        self._workers_done = anyio.Event()
        self.deliveries = 0
        """Deliveries answered 200."""
        self.handled = 0
        """Events the handler returned from."""
        self.failed = 0
        """Events the handler raised on (each one logged)."""
        self.duplicates = 0
        """Events not handled because they were taken within ``dedup_window``."""
        self.unhandled: list[Event] = []
        """Events a shutdown left: the drain timed out or the host task was cancelled
        (each one logged)."""

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
        """Events accepted and not yet picked up by a worker."""
        stream = self._send_stream
        return stream.statistics().current_buffer_used if stream is not None else 0

    async def join(self) -> None:
        """Wait until every accepted event has been handled (or has failed)."""
        while self._unfinished:
            await self._idle.wait()

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
        """Start the workers. Prefer ``async with`` or the lifespan: they also stop it."""
        if self._task_group is not None:
            raise RuntimeError("this WebhookReceiver is already running")
        send, receive = anyio.create_memory_object_stream[Event](self.max_queue)
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        # ``receive`` stays open so that what is left at shutdown can be taken out.
        self._send_stream, self._receive_stream = send, receive
        self._workers = self.concurrency
        self._workers_done = anyio.Event()
        self._interrupted = []
        self.unhandled = []
        for _ in range(self.concurrency):
            task_group.start_soon(self._work, receive.clone())
        self._accepting = True
        logger.debug("webhook receiver started at %s", self.path)

    async def stop(self) -> None:
        """Stop accepting, drain the queue for ``drain_timeout``, log what is left.

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
        try:
            with anyio.CancelScope(shield=True):
                assert self._send_stream is not None
                self._send_stream.close()  # the workers finish what is queued, then return
                drained = self._workers == 0 or await _within(
                    self._clock, self.drain_timeout, self._workers_done.wait
                )
                if not drained:
                    task_group.cancel_scope.cancel()
        finally:
            self._task_group = None
            try:
                await task_group.__aexit__(exc_type, exc, tb)
            finally:
                self._account_for_leftovers(drained=not task_group.cancel_scope.cancel_called)
        logger.debug("webhook receiver stopped")

    def _account_for_leftovers(self, *, drained: bool) -> None:
        left = self._interrupted
        self._interrupted = []
        if self._receive_stream is not None:
            left.extend(_take_all(self._receive_stream))
            self._receive_stream.close()
        self._send_stream = self._receive_stream = None
        self._unfinished = 0
        self._idle.set()
        if not left:
            return
        self.unhandled.extend(left)
        for event in left:
            logger.error(
                "webhook event not handled before shutdown: %s (%s)",
                _where(event),
                event.date_added,
            )
        logger.error(
            "webhook receiver stopped with %d event(s) not handled%s",
            len(left),
            "" if drained else f" (the drain timed out after {self.drain_timeout:g}s)",
        )

    async def _work(self, events: MemoryObjectReceiveStream[Event]) -> None:
        try:
            async with events:
                async for event in events:
                    started = self._clock.now()
                    try:
                        await self._handler(event)
                    except Exception as exc:
                        self.failed += 1
                        logger.exception("webhook handler failed on %s", _where(event))
                        self._handled(event, started, exc)
                    except BaseException:  # cancelled: shutdown timed out, or the host died
                        self._interrupted.append(event)
                        raise
                    else:
                        self.handled += 1
                        self._handled(event, started)
                    finally:
                        self._finished_one()
        finally:
            self._workers -= 1
            if self._workers == 0:
                self._workers_done.set()

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

    def _finished_one(self) -> None:
        self._unfinished -= 1
        if self._unfinished == 0:
            self._idle.set()

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
            await _answer(send, 404, _error_body("not found"))
            return
        method = scope.get("method", "GET")
        if method not in ("POST", "GET", "HEAD"):
            self._refused(405, "method not allowed")
            await _answer(send, 405, _error_body("use POST"), [(b"allow", b"POST, GET, HEAD")])
            return
        if not self._authorized(scope):
            client = scope.get("client")
            logger.warning(
                "webhook delivery refused: missing or wrong basic auth (from %s)",
                client[0] if client else "unknown",
            )
            self._refused(401, "unauthorized")
            await _answer(
                send,
                401,
                _error_body("unauthorized"),
                [(b"www-authenticate", b'Basic realm="webhooks"')],
            )
            return
        if method != "POST":
            # A liveness check; POST with an empty body is the other one.
            await self._answer_check(send, head=method == "HEAD")
            return
        body = await _read_body(scope, receive, self.max_body)
        if body is None:
            return  # the client went away
        if body is _TOO_LARGE:
            logger.warning("webhook delivery refused: body over %d bytes", self.max_body)
            self._refused(413, "body too large")
            await _answer(send, 413, _error_body(f"body over {self.max_body} bytes"))
            return
        if not body.strip():
            await self._answer_check(send)
            return
        try:
            events = parse_webhook(body)
        except WebhookPayloadError as exc:
            logger.warning("webhook delivery refused: %s", exc)
            self._refused(400, "not a webhook payload")
            await _answer(send, 400, _error_body(str(exc)))
            return
        if not self._accepting:
            logger.error(_NOT_RUNNING)
            self._refused(503, "not running")
            await _answer(send, 503, _error_body("receiver not running"))
            return
        taken, total = await self._accept(events)
        if taken < total:
            logger.error(
                "webhook queue full (%d): %d of %d new event(s) refused with 503",
                self.max_queue,
                total - taken,
                total,
            )
            self._refused(503, "queue full")
            await _answer(send, 503, _error_body("queue full"))
            return
        self.deliveries += 1
        if self._on_event is not None:
            self._on_event(
                WebhookDeliveryAccepted(at=self._clock.now(), events=len(events), new=total)
            )
        logger.debug("webhook delivery: %d event(s), %d new", len(events), total)
        await _answer(send, 200, _OK)

    async def _answer_check(self, send: Send, *, head: bool = False) -> None:
        if not self._accepting:
            logger.error(_NOT_RUNNING)
            self._refused(503, "not running")
            await _answer(send, 503, _error_body("receiver not running"), head=head)
            return
        await _answer(send, 200, _OK, head=head)

    async def _accept(self, events: list[Event]) -> tuple[int, int]:
        """Queue the events not seen within the window; (queued, new) counts."""
        window = self._window
        now = self._clock.now()
        window.prune(now)
        fresh = window.seen.fresh(events)
        window.touch([key for key, _ in fresh], now)
        self.duplicates += len(events) - len(fresh)
        stream = self._send_stream
        taken = 0
        for _key, event in fresh:
            if stream is None or not self._put(stream, event):
                break
            taken += 1
        if taken < len(fresh) and stream is not None and self.enqueue_timeout > 0:
            rest = [event for _, event in fresh[taken:]]

            async def put_rest() -> None:
                nonlocal taken
                for event in rest:
                    await stream.send(event)
                    self._took_one()
                    taken += 1

            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                await _within(self._clock, self.enqueue_timeout, put_rest)
        for key, _ in fresh[taken:]:
            window.seen.unmark(key)
        return taken, len(fresh)

    def _put(self, stream: MemoryObjectSendStream[Event], event: Event) -> bool:
        try:
            stream.send_nowait(event)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            return False
        self._took_one()
        return True

    def _took_one(self) -> None:
        if self._unfinished == 0:
            self._idle = anyio.Event()
        self._unfinished += 1


_NOT_RUNNING: Final = (
    "webhook delivery refused with 503: the WebhookReceiver is not running; serve it with "
    "lifespan on, or enter it in your app's lifespan (async with receiver, or "
    "lifespan=receiver.lifespan)"
)

_TOO_LARGE: Final = b"\x00too large"


def _error_body(message: str) -> bytes:
    return json.dumps({"status": "error", "message": message}).encode()


def _take_all(stream: MemoryObjectReceiveStream[Event]) -> list[Event]:
    left: list[Event] = []
    while True:
        try:
            left.append(stream.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            return left


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The request body, ``_TOO_LARGE`` past ``limit`` bytes, ``None`` on disconnect."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                if int(value) > limit:
                    return _TOO_LARGE
            except ValueError:
                pass
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return _TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    head: bool = False,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})
