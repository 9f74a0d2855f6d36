"""Typed events for ``Client(on_event=...)``: what the client does, as it does it.

The hook is called synchronously from the call's task; keep it fast (append to a list,
update a metric). An exception in the hook propagates to the call that triggered it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Literal, TypeAlias

import attrs

from ._pages import Page

__all__ = [
    "CURRENT_BULK",
    "Bulk",
    "BulkEnded",
    "BulkKind",
    "BulkStarted",
    "CallEnded",
    "CallStarted",
    "ClientClosed",
    "ClientCreated",
    "ClientEvent",
    "EventHook",
    "PauseEnded",
    "PauseStarted",
    "QuotaBackendRestored",
    "QuotaBackendUnavailable",
    "ReceiverEvent",
    "ReceiverEventHook",
    "RequestPrepared",
    "RequestSent",
    "ResponseReceived",
    "RetryScheduled",
    "WebhookDeliveryAccepted",
    "WebhookDeliveryRefused",
    "WebhookEventHandled",
    "bulk_of",
    "section_of",
    "start_bulk",
]


@attrs.frozen(kw_only=True)
class ClientCreated:
    """A ``Client`` was built with this hook. A hook that reports the quota's state
    keeps ``client`` (weakly) and reads ``client.quota`` when asked. (Typed ``object``:
    this module is below the client.)"""

    client: object


@attrs.frozen(kw_only=True)
class ClientClosed:
    """The client was closed (``aclose()`` or the end of its ``async with``)."""

    client: object


BulkKind: TypeAlias = Literal["get_many", "map", "export"]


@attrs.frozen(kw_only=True, eq=False)
class BulkStarted:
    """``client.tasks.get_many``, ``client.map`` or ``client.tasks.export`` began, with
    ``items`` pages or items (``None``: an export, which learns its size as it goes).
    The calls it makes carry this event as their ``bulk``; a bulk operation started
    inside another has it as its ``parent``. Compared by identity."""

    kind: BulkKind
    items: int | None
    at: float
    parent: BulkStarted | None = None


@attrs.frozen(kw_only=True)
class BulkEnded:
    """The bulk operation ``bulk`` ended; ``items``: what it gave (an export's tasks),
    ``error``: the exception class it raised, if any."""

    bulk: BulkStarted
    at: float
    items: int | None
    error: str | None = None


@attrs.frozen(kw_only=True)
class CallStarted:
    """A call began: before its first wait for the quota. ``bulk``: the bulk operation
    it is part of, if any."""

    action: str
    page: Page | None
    at: float
    bulk: BulkStarted | None = None


@attrs.frozen(kw_only=True)
class CallEnded:
    """A call ended, after ``attempts`` requests (0: none left the quota), of which
    at least one may have reached the server (``sent``); ``waited``: seconds spent
    waiting for the quota over all attempts; ``error``: the exception class it raised,
    ``code``: the API error code, if any."""

    action: str
    page: Page | None
    at: float
    elapsed: float
    attempts: int
    waited: float
    sent: bool
    error: str | None = None
    code: int | None = None


@attrs.frozen(kw_only=True)
class RequestPrepared:
    """The transport signed a request and is about to send it: ``url`` with every
    ``hash`` value masked (credentials in headers are never shown)."""

    action: str
    method: str
    url: str


@attrs.frozen(kw_only=True)
class RequestSent:
    """A request left (``attempt`` counts from 1 for each call) after ``waited``
    seconds in the quota's queue."""

    action: str
    page: Page | None
    attempt: int
    at: float
    waited: float = 0.0


@attrs.frozen(kw_only=True)
class ResponseReceived:
    """An attempt ended; ``error`` names the exception class if it was an error,
    ``status`` the HTTP status of the answer (``None``: no answer), ``code`` the API
    error code, ``sent``: whether the request may have reached the server."""

    action: str
    page: Page | None
    attempt: int
    at: float
    elapsed: float
    error: str | None = None
    status: int | None = None
    code: int | None = None
    sent: bool = True


@attrs.frozen(kw_only=True)
class RetryScheduled:
    """The retry policy will send the call again after ``wait`` seconds (0 when the
    client-side quota paces retries: the call then queues at its pause gate)."""

    action: str
    page: Page | None
    attempt: int
    wait: float


@attrs.frozen(kw_only=True)
class PauseStarted:
    """Error 20: no request goes out until ``until`` (clock time)."""

    at: float
    until: float


@attrs.frozen(kw_only=True)
class PauseEnded:
    """The pause gate opened again."""

    at: float


@attrs.frozen(kw_only=True)
class QuotaBackendUnavailable:
    """The shared quota's Redis did not answer (``error``: what went wrong, credentials
    masked): calls go on through a local quota of ``rate`` requests per second (the
    configured rate divided by the ``processes`` last seen on the key) until it answers
    again. Emitted once per outage."""

    at: float
    error: str
    rate: float
    processes: int


@attrs.frozen(kw_only=True)
class QuotaBackendRestored:
    """Redis answers again: the client is back on the shared quota."""

    at: float


ClientEvent: TypeAlias = (
    ClientCreated
    | ClientClosed
    | BulkStarted
    | BulkEnded
    | CallStarted
    | CallEnded
    | RequestPrepared
    | RequestSent
    | ResponseReceived
    | RetryScheduled
    | PauseStarted
    | PauseEnded
    | QuotaBackendUnavailable
    | QuotaBackendRestored
)
EventHook: TypeAlias = Callable[[ClientEvent], None]


CURRENT_BULK: ContextVar[BulkStarted | None] = ContextVar("worksection_async_bulk", default=None)
"""The bulk operation the running code is part of (set only while a hook listens)."""


class Bulk:
    """A bulk operation as the library runs it: ``started`` is emitted at once,
    ``section()`` marks the code whose calls belong to it (never across a ``yield``
    to the caller), ``end()`` emits ``BulkEnded`` once."""

    __slots__ = ("_clock", "_ended", "_hook", "started")

    def __init__(
        self, hook: EventHook, clock: Callable[[], float], kind: BulkKind, items: int | None
    ) -> None:
        self._hook = hook
        self._clock = clock
        self._ended = False
        self.started = BulkStarted(kind=kind, items=items, at=clock(), parent=CURRENT_BULK.get())
        hook(self.started)

    @contextlib.contextmanager
    def section(self) -> Iterator[None]:
        token = CURRENT_BULK.set(self.started)
        try:
            yield
        finally:
            CURRENT_BULK.reset(token)

    def end(self, error: BaseException | None = None, items: int | None = None) -> None:
        if not self._ended:
            self._ended = True
            self._hook(
                BulkEnded(
                    bulk=self.started,
                    at=self._clock(),
                    items=items,
                    error=type(error).__name__ if error is not None else None,
                )
            )


def start_bulk(client: object, kind: BulkKind, items: int | None) -> Bulk | None:
    """A bulk operation of ``client`` (``Client._start_bulk``); ``None`` when nothing
    listens (or ``client`` is not a ``Client``)."""
    start: Callable[[BulkKind, int | None], Bulk | None] | None = getattr(
        client, "_start_bulk", None
    )
    return start(kind, items) if start is not None else None


def section_of(bulk: Bulk | None) -> contextlib.AbstractContextManager[None]:
    """``bulk.section()``, or nothing to do without a bulk operation."""
    return bulk.section() if bulk is not None else contextlib.nullcontext()


@contextlib.contextmanager
def bulk_of(client: object, kind: BulkKind, items: int | None) -> Iterator[Bulk | None]:
    """Run a bulk operation of ``client``: one section, then the end."""
    bulk = start_bulk(client, kind, items)
    if bulk is None:
        yield None
        return
    try:
        with bulk.section():
            yield bulk
    except BaseException as exc:
        bulk.end(exc)
        raise
    bulk.end()


@attrs.frozen(kw_only=True)
class WebhookDeliveryAccepted:
    """``WebhookReceiver`` answered a delivery 200: ``events`` in it, ``new`` of them
    queued (the rest were repeats within the deduplication window)."""

    at: float
    events: int
    new: int


@attrs.frozen(kw_only=True)
class WebhookDeliveryRefused:
    """``WebhookReceiver`` refused a request with HTTP ``status`` (``reason``: a few
    words, never the request's content or credentials)."""

    at: float
    status: int
    reason: str


@attrs.frozen(kw_only=True)
class WebhookEventHandled:
    """The receiver's handler returned from an event of ``action`` after ``elapsed``
    seconds (``error``: the exception class it raised, if it failed)."""

    at: float
    action: str
    elapsed: float
    error: str | None = None


ReceiverEvent: TypeAlias = WebhookDeliveryAccepted | WebhookDeliveryRefused | WebhookEventHandled
ReceiverEventHook: TypeAlias = Callable[[ReceiverEvent], None]
