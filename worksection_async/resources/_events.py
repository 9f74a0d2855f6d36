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

The gap is measured on both the monotonic clock and the wall clock, whichever is
longer: the monotonic one stops while a host is suspended. Nothing depends on the
server's dates: keys are counted as a multiset (a close, a reopen and a close in one
minute share a key and are three events) and forgotten once they have been absent
from the answers for :data:`WATCH_REMEMBER` seconds, so an event dated in the future
or dates that step back an hour lose nothing. Two identical rows next to each other
in one answer are one event.

With ``store=`` and ``name=`` the watch saves, each time the consumer asks for the
next event, where a restarted watch must reach back to and the keys of the events
finished so far; a restart yields what it missed and repeats at most the event that
was being handled (within the API's 30 days).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal

import attrs

from .._call import Call
from .._clock import Clock, MonotonicClock
from .._exceptions import ProtocolError, QuotaExceededError, TransportError
from .._pages import ProjectPage
from .._webhooks import event_key, key_text
from ..models import Event, StructureError, astructure_list
from . import _render as r
from ._protocol import ClientLike

if TYPE_CHECKING:
    from .._event_store import EventStore

__all__ = [
    "DEFAULT_WATCH_EVERY",
    "WATCH_OVERLAP",
    "WATCH_REMEMBER",
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
WATCH_REMEMBER: Final = 3600.0 + 2 * WATCH_OVERLAP
"""Seconds a key is remembered after the last answer that held it: more than the
widest window can overshoot the last poll (a whole hour, once a gap is over 6 hours)."""
WATCH_RETRY_FIRST_WAIT: Final = 1.0
"""Seconds before the first retry of a failed poll; doubled per failure, at most
``every``."""

_TRANSIENT: Final = (TransportError, ProtocolError, QuotaExceededError, StructureError)
_MAX_PERIOD_SECONDS: Final = 30 * 86400.0


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


def _oldest_first(events: list[Event]) -> list[Event]:
    if len(events) > 1 and events[0].date_added > events[-1].date_added:
        events.reverse()  # the server listed newest first: keep its order within a minute
    events.sort(key=lambda event: event.date_added)
    return events


def _client_wall(client: ClientLike) -> Callable[[], float]:
    wall = getattr(client, "_wall_clock", None)
    return wall if callable(wall) else time.time


def _client_clock(client: ClientLike) -> Clock:
    clock = getattr(client, "_clock", None)
    if clock is not None and callable(getattr(clock, "now", None)):
        return clock  # type: ignore[no-any-return]
    return MonotonicClock()


@attrs.define
class _Pending:
    event: Event
    key: str
    reach: float
    """Wall-clock time the window of the poll that found it reached back to."""


class EventWatch:
    """New events, oldest first, as an async iterator: ``client.events.watch()``.

    ::

        async for event in client.events.watch(every=30):
            ...

    Each event is yielded once. A poll that fails with a transient error
    (``TransportError``, ``ProtocolError``, a ``QuotaExceededError`` the client's
    retry policy gave up on, an answer whose events cannot be read) is logged and
    retried after 1, 2, 4... seconds (at most ``every``), and the next window covers
    the gap; any other error is raised. Every request goes through the client, so its
    quota paces the polls. Nothing runs in the background: breaking out of the loop,
    cancelling, or :meth:`aclose` stops it.

    With a ``store`` (an :class:`~worksection_async.webhooks.EventStore`) and a
    ``name``, the position is saved when the consumer asks for the next event, and a
    watch of the same name started later resumes from it.

    ``polls`` counts successful polls, ``failed_polls`` failed ones.
    """

    def __init__(
        self,
        client: ClientLike,
        *,
        every: float,
        project: ProjectPage | None,
        start: str | None,
        store: EventStore | None = None,
        name: str | None = None,
    ) -> None:
        self._client = client
        self._clock = _client_clock(client)
        self._wall = _client_wall(client)
        self.every = every
        self.project = project
        self._start = start
        self._store = store
        self.name = name
        self._seen: dict[str, list[float]] = {}
        """key -> [count, clock time last in an answer]"""
        self._pending: deque[_Pending] = deque()
        self._current: _Pending | None = None
        self._last_ok: float | None = None
        self._last_ok_wall: float | None = None
        self._next_at: float | None = None
        self._failures = 0
        self._loaded = store is None
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
        if self._current is not None:
            finished, self._current = self._current, None
            await self._finished(finished)
        if not self._loaded:
            await self._load()
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            await self._poll()
        self._current = self._pending.popleft()
        return self._current.event

    async def aclose(self) -> None:
        """Stop: the iteration ends, nothing more is requested. The event being handled
        is not counted as finished: a watch resumed from the store yields it again."""
        self._closed = True
        self._pending.clear()
        self._current = None

    async def __aenter__(self) -> EventWatch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the store ---------------------------------------------------------------------

    async def _load(self) -> None:
        assert self._store is not None
        assert self.name is not None
        cursor = await self._store.load_cursor(self.name)
        self._loaded = True
        if cursor is None:
            return
        now = self._clock.now()
        self._seen = {key: [float(count), now] for key, count in cursor.finished.items()}
        self._last_ok_wall = cursor.since
        self._start = None
        logger.info(
            "events.watch %r: resuming from %.0f s ago (%d finished event keys kept)",
            self.name,
            max(0.0, self._wall() - cursor.since),
            len(cursor.finished),
        )

    async def _finished(self, item: _Pending) -> None:
        await self._save([item.key])

    async def _save(self, finished: list[str]) -> None:
        """Save where a restarted watch must reach back to (the window of the oldest
        event not finished, else the last successful poll) and the finished keys."""
        if self._store is None:
            return
        assert self.name is not None
        reaches = [p.reach for p in self._pending]
        if self._current is not None:
            reaches.append(self._current.reach)
        since = min(reaches) if reaches else self._last_ok_wall
        if since is None:
            return
        await self._store.save_cursor(
            self.name,
            since,
            finished,
            now=self._wall(),
            forget_before=since - WATCH_OVERLAP - WATCH_REMEMBER,
        )

    # -- polling -----------------------------------------------------------------------

    async def _poll(self) -> None:
        clock = self._clock
        if self._next_at is not None:
            wait = self._next_at - clock.now()
            if wait > 0:
                await clock.sleep(wait)
        if self._closed:
            return
        started = clock.now()
        started_wall = self._wall()
        baseline = False
        gaps = []
        if self._last_ok is not None:
            gaps.append(started - self._last_ok)
        if self._last_ok_wall is not None:
            gaps.append(started_wall - self._last_ok_wall)
        if gaps:
            needed = max(gaps) + WATCH_OVERLAP
            period = covering_period(needed)
            reach = started_wall - needed
            if needed > _MAX_PERIOD_SECONDS:
                logger.warning(
                    "events.watch: %.0f s since the last successful poll is more than the "
                    "API's 30 days: older events cannot be fetched",
                    needed,
                )
        elif self._start is None:
            period, baseline = covering_period(WATCH_OVERLAP), True
            reach = started_wall - WATCH_OVERLAP
        else:
            period = self._start
            reach = started_wall - _period_seconds(period)
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
        self._failures = 0
        self.polls += 1
        self._last_ok = started
        self._last_ok_wall = started_wall
        self._next_at = started + self.every
        fresh = self._take(_oldest_first(_distinct_rows(events)), started)
        if not baseline:
            self._pending.extend(_Pending(event=e, key=k, reach=reach) for k, e in fresh)
        if not self._pending and self._current is None:
            # Nothing in hand: a restart may start from this poll (the first one too,
            # so that a watch killed before its first event misses nothing).
            await self._save([])

    def _take(self, events: Sequence[Event], now: float) -> list[tuple[str, Event]]:
        """The events of an answer not yielded before (a multiset of keys: the last
        occurrences of a key are the new ones); forgets keys long absent."""
        keys = [key_text(event_key(event)) for event in events]
        in_answer = Counter(keys)
        new_count: dict[str, int] = {}
        seen = self._seen
        for key, count in in_answer.items():
            entry = seen.get(key)
            if entry is None:
                seen[key] = [float(count), now]
                new_count[key] = count
            else:
                if count > entry[0]:
                    new_count[key] = count - int(entry[0])
                    entry[0] = float(count)
                entry[1] = now
        remaining = dict(in_answer)
        fresh: list[tuple[str, Event]] = []
        for key, event in zip(keys, events, strict=True):
            remaining[key] -= 1
            if remaining[key] < new_count.get(key, 0):
                fresh.append((key, event))
        forget = [key for key, (_, last) in seen.items() if now - last > WATCH_REMEMBER]
        for key in forget:
            del seen[key]
        return fresh


def _distinct_rows(events: list[Event]) -> list[Event]:
    """An answer without rows that repeat the row just before them."""
    kept: list[Event] = []
    for event in events:
        if not kept or kept[-1] != event:
            kept.append(event)
    return kept


def _period_seconds(period: str) -> float:
    count, unit = int(period[:-1]), period[-1]
    return count * {"m": 60.0, "h": 3600.0, "d": 86400.0}[unit]


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
        store: EventStore | None = None,
        name: str | None = None,
    ) -> EventWatch:
        """New events as they happen, oldest first, each once: an async iterator.

        Polls ``get_events`` every ``every`` seconds (of the account, or of one
        ``project``) with windows that overlap, and skips what was already yielded.
        ``start="now"`` yields what happens after the first successful poll; a period
        (``"30m"``, ``timedelta(hours=2)``) also yields the events of that last period.
        ``store`` (an ``EventStore``) and ``name`` make it resumable: a watch of that
        name started again (after a restart, a crash, a deploy) begins where the last
        one's consumer stopped, whatever ``start`` says, and yields what happened in
        between (within the API's 30 days); only the event being handled when it
        stopped comes again. See :class:`EventWatch` for failures, quota and stopping.
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
        if store is not None or name is not None:
            from .._event_store import EventStore

            if not isinstance(store, EventStore):
                raise TypeError(
                    f"store must be an EventStore (EventStore.from_url) when name is given, "
                    f"got {store!r}"
                )
            if not isinstance(name, str) or not name.strip() or len(name) > 200:
                raise ValueError(
                    f"name must be a non-empty string of at most 200 characters, got {name!r}"
                )
        return EventWatch(
            self.client, every=seconds, project=page, start=first, store=store, name=name
        )

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(self, period: r.Period, *, project: r.ProjectLike | None = None) -> list[Event]:
        """Events of the last ``period`` (``get_events``): ``"30m"`` (1-360 minutes),
        ``"12h"`` (1-72 hours), ``"7d"`` (1-30 days) or a ``timedelta``; optionally
        of one ``project``.
        """
        page = r.project_page("project", project) if project is not None else None
        return await get_events(self.client, period, page)
