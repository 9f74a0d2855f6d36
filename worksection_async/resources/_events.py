"""Events: ``client.events`` (``get_events``); a project's: ``client.project(p).events()``.

``client.events.watch()`` is the polling alternative to webhooks. The API has no
"since" and events no id, so each poll asks for a window that reaches back past the
previous successful poll by :data:`WATCH_OVERLAP` seconds, and the events already
yielded are recognised by their key (``worksection_async.webhooks.event_key``)::

    poll k-1 ├──────────────┤
    poll k          ├─overlap─┼──────────────┤      window = since poll k-1 + overlap,
                                                    rounded up to whole minutes
    failed poll k+1: retried after 1, 2, 4... s (at most ``every``); the window of the
    next successful poll still reaches back to poll k, so nothing in between is lost.

Keys are forgotten once their date falls below a floor that trails the server's
clock (estimated from the events' own dates) by the overlap plus a minute; an event
dated below the floor was seen before it and is ignored.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import Final, Literal

import attrs

from .._call import Call
from .._clock import Clock, MonotonicClock
from .._exceptions import ProtocolError, QuotaExceededError, TransportError
from .._pages import ProjectPage
from .._webhooks import SeenEvents
from ..models import Event, astructure_list
from . import _render as r
from ._protocol import ClientLike

__all__ = [
    "DEFAULT_WATCH_EVERY",
    "WATCH_OVERLAP",
    "WATCH_RETRY_FIRST_WAIT",
    "EventWatch",
    "EventsNamespace",
    "get_events",
]

logger = logging.getLogger("worksection_async")

DEFAULT_WATCH_EVERY: Final = 60.0
"""Seconds between two polls of ``events.watch()``."""
WATCH_OVERLAP: Final = 120.0
"""Seconds each poll's window reaches back before the previous successful poll.

At least a minute (the API dates events to the minute) plus the time a request may
take, so that every event of a minute seen in part is in the next window too."""
WATCH_RETRY_FIRST_WAIT: Final = 1.0
"""Seconds before the first retry of a failed poll; doubled per failure, at most
``every``."""

_TRANSIENT: Final = (TransportError, ProtocolError, QuotaExceededError)
_MINUTE: Final = 60.0
_MAX_PERIOD_SECONDS: Final = 30 * 86400.0
_EPOCH: Final = dt.datetime(1970, 1, 1)


async def get_events(
    client: ClientLike, period: r.Period, project: ProjectPage | None
) -> list[Event]:
    """``get_events`` over the last ``period``, of the account or one project."""
    params = {"period": r.period(period)}
    payload = await client.send(Call.build("get_events", project, params))
    return await astructure_list(payload, Event)


def covering_period(seconds: float) -> str:
    """The shortest ``get_events`` period covering ``seconds`` (at most ``"30d"``)."""
    for unit, size, limit in (("m", 60, 360), ("h", 3600, 72), ("d", 86400, 30)):
        count = max(1, math.ceil(seconds / size - 1e-9))
        if count <= limit:
            return f"{count}{unit}"
    return "30d"


def _timestamp(moment: dt.datetime) -> float:
    return (moment.replace(tzinfo=None) - _EPOCH).total_seconds()


def _oldest_first(events: list[Event]) -> list[Event]:
    if len(events) > 1 and events[0].date_added > events[-1].date_added:
        events.reverse()  # the server listed newest first: keep its order within a minute
    events.sort(key=lambda event: event.date_added)
    return events


def _client_clock(client: ClientLike) -> Clock:
    clock = getattr(client, "_clock", None)
    if clock is not None and callable(getattr(clock, "now", None)):
        return clock  # type: ignore[no-any-return]
    return MonotonicClock()


class EventWatch:
    """New events, oldest first, as an async iterator: ``client.events.watch()``.

    ::

        async for event in client.events.watch(every=30):
            ...

    Each event is yielded once. A poll that fails with a transient error
    (``TransportError``, ``ProtocolError``, a ``QuotaExceededError`` the client's
    retry policy gave up on) is logged and retried after 1, 2, 4... seconds (at most
    ``every``), and the next window covers the gap; any other error is raised. Every
    request goes through the client, so its quota paces the polls. Nothing runs in
    the background: breaking out of the loop, cancelling, or :meth:`aclose` stops it.

    ``polls`` counts successful polls, ``failed_polls`` failed ones.
    """

    def __init__(
        self,
        client: ClientLike,
        *,
        every: float,
        project: ProjectPage | None,
        start: str | None,
    ) -> None:
        self._client = client
        self._clock = _client_clock(client)
        self.every = every
        self.project = project
        self._start = start
        self._seen = SeenEvents()
        self._pending: deque[Event] = deque()
        self._last_ok: float | None = None
        self._next_at: float | None = None
        self._failures = 0
        self._offset: float | None = None
        """Largest ``event date - client clock at answer``: the server clock's lower bound."""
        self._floor: float | None = None
        self._closed = False
        self.polls = 0
        self.failed_polls = 0

    def __repr__(self) -> str:
        where = self.project.path if self.project is not None else "account"
        state = "closed" if self._closed else f"{self.polls} polls"
        return f"<EventWatch {where} every={self.every:g}s {state}>"

    def __aiter__(self) -> EventWatch:
        return self

    async def __anext__(self) -> Event:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            await self._poll()
        return self._pending.popleft()

    async def aclose(self) -> None:
        """Stop: the iteration ends, nothing more is requested."""
        self._closed = True
        self._pending.clear()

    async def __aenter__(self) -> EventWatch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _poll(self) -> None:
        clock = self._clock
        if self._next_at is not None:
            wait = self._next_at - clock.now()
            if wait > 0:
                await clock.sleep(wait)
        if self._closed:
            return
        started = clock.now()
        baseline = False
        if self._last_ok is not None:
            needed = started - self._last_ok + WATCH_OVERLAP
            period = covering_period(needed)
            if needed > _MAX_PERIOD_SECONDS:
                logger.warning(
                    "events.watch: %.0f s since the last successful poll is more than the "
                    "API's 30 days: older events cannot be fetched",
                    needed,
                )
        elif self._start is None:
            period, baseline = covering_period(WATCH_OVERLAP), True
        else:
            period = self._start
        try:
            events = await get_events(self._client, period, self.project)
        except _TRANSIENT as exc:
            self.failed_polls += 1
            self._failures += 1
            wait = min(self.every, WATCH_RETRY_FIRST_WAIT * 2 ** (self._failures - 1))
            logger.warning(
                "events.watch: get_events failed (%s: %s); retrying in %.1fs, the next "
                "window covers the gap",
                type(exc).__name__,
                exc,
                wait,
            )
            self._next_at = clock.now() + wait
            return
        answered = clock.now()
        self._failures = 0
        self.polls += 1
        self._last_ok = started
        self._next_at = started + self.every
        fresh = self._take(_oldest_first(events), answered)
        if not baseline:
            self._pending.extend(fresh)

    def _take(self, events: Sequence[Event], answered: float) -> list[Event]:
        """The events not yielded before; moves the floor and forgets keys under it."""
        floor = self._floor
        if floor is not None:
            events = [e for e in events if _timestamp(e.date_added) >= floor]
        fresh = [event for _, event in self._seen.fresh(events)]
        for event in events:
            offset = _timestamp(event.date_added) - answered
            if self._offset is None or offset > self._offset:
                self._offset = offset
        if floor is not None:
            self._seen.forget([key for key in self._seen if _timestamp(key[3]) < floor])
        if self._offset is not None and self._last_ok is not None:
            # Everything dated before the server's time at this poll, less the overlap
            # and the minute an event's date may trail it, is in this or earlier windows.
            candidate = self._last_ok + self._offset - WATCH_OVERLAP - _MINUTE
            if self._floor is None or candidate > self._floor:
                self._floor = candidate
        return fresh


@attrs.frozen
class EventsNamespace:
    """What happened lately: ``client.events``. Webhooks avoid polling this."""

    client: ClientLike = attrs.field(repr=False)

    def watch(
        self,
        *,
        every: float | dt.timedelta = DEFAULT_WATCH_EVERY,
        project: r.ProjectLike | None = None,
        start: Literal["now"] | r.Period = "now",
    ) -> EventWatch:
        """New events as they happen, oldest first, each once: an async iterator.

        Polls ``get_events`` every ``every`` seconds (of the account, or of one
        ``project``) with windows that overlap, and skips what was already yielded.
        ``start="now"`` yields what happens after the first successful poll; a period
        (``"30m"``, ``timedelta(hours=2)``) also yields the events of that last period.
        See :class:`EventWatch` for failures, quota and stopping.
        """
        if isinstance(every, dt.timedelta):
            seconds = every.total_seconds()
        elif isinstance(every, (int, float)) and not isinstance(every, bool):
            seconds = float(every)
        else:
            raise TypeError(f"every must be seconds or a timedelta, got {every!r}")
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(f"every must be a positive number of seconds, got {every!r}")
        if seconds > _MAX_PERIOD_SECONDS:
            raise ValueError(
                f"every must be at most 30 days (the API's longest period), got {every!r}"
            )
        page = r.project_page("project", project) if project is not None else None
        first = None if isinstance(start, str) and start == "now" else r.period(start)
        return EventWatch(self.client, every=seconds, project=page, start=first)

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(self, period: r.Period, *, project: r.ProjectLike | None = None) -> list[Event]:
        """Events of the last ``period`` (``get_events``): ``"30m"`` (1-360 minutes),
        ``"12h"`` (1-72 hours), ``"7d"`` (1-30 days) or a ``timedelta``; optionally
        of one ``project``.
        """
        page = r.project_page("project", project) if project is not None else None
        return await get_events(self.client, period, page)
