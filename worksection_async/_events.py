"""Typed events for ``Client(on_event=...)``: what the client does, as it does it.

The hook is called synchronously from the call's task; keep it fast (append to a list,
update a metric). An exception in the hook propagates to the call that triggered it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import attrs

from ._pages import Page

__all__ = [
    "ClientEvent",
    "EventHook",
    "PauseEnded",
    "PauseStarted",
    "QuotaBackendRestored",
    "QuotaBackendUnavailable",
    "RequestSent",
    "ResponseReceived",
    "RetryScheduled",
]


@attrs.frozen(kw_only=True)
class RequestSent:
    """A request left (``attempt`` counts from 1 for each call)."""

    action: str
    page: Page | None
    attempt: int
    at: float


@attrs.frozen(kw_only=True)
class ResponseReceived:
    """An answer came back; ``error`` names the exception class if it was an error."""

    action: str
    page: Page | None
    attempt: int
    at: float
    elapsed: float
    error: str | None = None


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
    RequestSent
    | ResponseReceived
    | RetryScheduled
    | PauseStarted
    | PauseEnded
    | QuotaBackendUnavailable
    | QuotaBackendRestored
)
EventHook: TypeAlias = Callable[[ClientEvent], None]
