"""``EventStore``: where webhook events and watch positions outlive their process.

One seam, backends chosen by URL (:meth:`EventStore.from_url`):

- ``sqlite:///PATH`` — the embedded default: standard library ``sqlite3`` in WAL mode,
  one short ``BEGIN IMMEDIATE`` transaction per decision, run off the event loop
  (``anyio.to_thread``); processes on one host share the file.
- ``memory://`` — in this process only: what a :class:`WebhookReceiver` without a store
  uses. A crash loses what it holds.

A store keeps three things:

1. **accepted events not yet handled**, oldest first. A worker *takes* one under a
   lease (``lease`` seconds, renewed while its handler runs); an event whose lease
   ran out (its process died) is taken again, so after ``kill -9`` only the events
   whose handlers were running can run twice. :meth:`EventStore.done` deletes it.
2. **the recent history of each object** (the last :data:`TAIL` event keys of a task,
   comment or project, remembered for the dedup window), which is how a repeated
   delivery is recognised. Events carry no id; see :meth:`EventStore.accept` for what
   can and cannot be told apart.
3. **named cursors** for ``client.events.watch(store=..., name=...)``: where the watch
   may start again and the keys of the events its consumer finished.

Every write is committed before the call returns; a store that cannot write (a full
disk, a read-only file, a lock held too long) raises :class:`EventStoreError`, and the
receiver answers 503 so that Worksection delivers again later.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import sqlite3
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs

from ._exceptions import WorksectionError
from ._webhooks import event_key, key_text
from .models import Event, structure

__all__ = [
    "TAIL",
    "Accepted",
    "EventStore",
    "EventStoreError",
    "StoredEvent",
    "WatchCursor",
]

TAIL: Final = 32
"""Event keys remembered per object for deduplication."""
_BUSY_TIMEOUT: Final = 2.0


class EventStoreError(WorksectionError):
    """The event store could not keep or read events (full disk, read-only file,
    locked database, unreachable server). Nothing was committed by the failed call."""


@attrs.frozen(kw_only=True)
class Accepted:
    """What :meth:`EventStore.accept` did with a delivery."""

    new: int
    """Events stored, to be handled."""
    repeats: int
    """Events recognised as a repeat of what the object's recent history ends with."""


@attrs.frozen(kw_only=True)
class StoredEvent:
    """An event taken from the store: ``seq`` is its place in the store."""

    seq: int
    event: Event
    attempts: int
    """How many times it was taken (1 the first time; more after a crash)."""


@attrs.frozen(kw_only=True)
class WatchCursor:
    """A watch's saved position: ``since`` (a wall-clock time every window must reach
    back to) and the keys of finished events with their counts."""

    since: float
    finished: Mapping[str, int]


def _object_of(event: Event) -> str:
    return f"{event.object.type}:{event.object.id}"


def _new_from(tail: Sequence[str], keys: Sequence[str], *, backfill: bool) -> int:
    """How many of ``keys`` (one object's events, oldest first) the ``tail`` already
    holds: all of them when the tail ends with them (a delivery sent again); for a
    backfill also the longest start of ``keys`` the tail ends with, or all when they
    are a run inside the tail (events delivered since the backfill's answer)."""
    n, m = len(keys), len(tail)
    if n <= m and list(tail[m - n :]) == list(keys):
        return n
    if not backfill:
        return 0
    for start in range(m - n + 1):
        if list(tail[start : start + n]) == list(keys):
            return n
    for k in range(min(n - 1, m), 0, -1):
        if list(tail[m - k :]) == list(keys[:k]):
            return k
    return 0


def _plan(
    items: Sequence[tuple[Mapping[str, object], Event]],
    tails: Mapping[str, list[str]],
    *,
    backfill: bool = False,
) -> tuple[list[tuple[int, str, str]], dict[str, list[str]], int]:
    """Decide a delivery: (accepted (index, object, key), new tails, repeats).

    The events of one object in the delivery are a repeat when the object's remembered
    history ends with exactly that sequence of keys; otherwise all are new. A backfill
    (``get_events`` over a gap) also skips the start of its sequence that the history
    ends with."""
    by_object: dict[str, list[tuple[int, str]]] = {}
    for index, (_, event) in enumerate(items):
        by_object.setdefault(_object_of(event), []).append((index, key_text(event_key(event))))
    accepted: list[tuple[int, str, str]] = []
    new_tails: dict[str, list[str]] = {}
    repeats = 0
    for obj, entries in by_object.items():
        keys = [key for _, key in entries]
        tail = list(tails.get(obj, ()))
        known = _new_from(tail, keys, backfill=backfill)
        repeats += known
        accepted.extend((index, obj, key) for index, key in entries[known:])
        new_tails[obj] = (tail + keys[known:])[-TAIL:]
    accepted.sort()
    return accepted, new_tails, repeats


OTHER_STORES: dict[str, Callable[[str, str | None], EventStore]] = {}
"""Stores that need an extra, added by their modules when imported (``redis``: the
``_event_store_redis`` module, which ``worksection_async.webhooks`` imports when
coredis is installed). They sit above this module, which cannot import them."""


class EventStore(abc.ABC):
    """Accepted events, dedup history and watch cursors that outlive a process.

    Make one with :meth:`from_url`; pass it to ``WebhookReceiver(handler, store=...)``
    and ``client.events.watch(store=..., name=...)``. Close it with :meth:`aclose` (or
    ``async with``) when the program ends.
    """

    durable: bool = True
    """False for ``memory://``: nothing survives the process."""

    @staticmethod
    def from_url(
        url: str, *, wall_clock: Callable[[], float] = time.time, key: str | None = None
    ) -> EventStore:
        """The store at ``url``: ``sqlite:///relative/path.db``,
        ``sqlite:////absolute/path.db``, ``memory://``, or ``redis://[[user]:password@]
        host[:port][/db]`` (also ``rediss://``, ``unix://``; needs the ``redis`` extra;
        ``key`` names its keys, default ``worksection_async:events``). ``wall_clock`` is
        the time leases and the dedup window are measured on for SQLite and memory
        (tests pass a virtual one); Redis uses its server's ``TIME``."""
        if not isinstance(url, str):
            raise TypeError(f"url must be a string, got {type(url).__name__}")
        scheme, sep, _rest = url.partition("://")
        scheme = scheme.lower()
        if not sep:
            raise ValueError(f"not a store URL (sqlite:///PATH or memory://): {url!r}")
        if scheme in ("redis", "rediss", "unix"):
            connect = OTHER_STORES.get("redis")
            if connect is None:  # pragma: no cover - the extra is installed for the tests
                raise ImportError(
                    "the Redis event store needs coredis: pip install 'worksection-async[redis]'"
                )
            return connect(url, key)
        if scheme == "memory":
            return MemoryEventStore(wall_clock=wall_clock)
        if scheme == "sqlite":
            path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
            if path.startswith("/"):
                path = path[1:]  # sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db
            if not path:
                raise ValueError(f"sqlite URL without a path: {url!r}")
            return SqliteEventStore(path, wall_clock=wall_clock)
        raise ValueError(
            f"unknown event store scheme {scheme!r}: use sqlite:///, redis:// or memory://"
        )

    async def open(self) -> None:  # noqa: B027 - optional for a backend
        """Get ready for use (``async with store`` and a starting receiver call it;
        each call needs one :meth:`aclose`)."""

    async def __aenter__(self) -> EventStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @abc.abstractmethod
    async def accept(
        self,
        items: Sequence[tuple[Mapping[str, object], Event]],
        *,
        dedup_window: float,
        backfill: bool = False,
    ) -> Accepted:
        """Commit a delivery's events (each as its JSON object and model), minus repeats.

        What deduplication can tell apart: a delivery sent again (all its events on
        each object repeat the end of that object's history within ``dedup_window``
        seconds). What it cannot: two real events with the same key and nothing else
        on the object between them (the same update applied twice in one minute by one
        person) look like a repeat and are taken as one; they leave the object in the
        same state. A real event is never dropped when something else happened to its
        object in between (a close, a reopen, a close: three events). A repeat that
        arrives after later events of its object is handled again (at least once).

        ``backfill=True`` is for events read with ``get_events`` over a gap: the start
        of an object's events that its history ends with, or events that are a run
        inside it, were delivered already and are skipped.
        """

    @abc.abstractmethod
    async def take(
        self, owner: str, lease: float, *, done: int | None = None
    ) -> StoredEvent | None:
        """The oldest event nobody holds (or whose holder's lease ran out), now held
        by ``owner`` for ``lease`` seconds; ``None`` when there is none. ``done``: an
        event handled just before, forgotten in the same transaction."""

    @abc.abstractmethod
    async def renew(self, seqs: Sequence[int], owner: str, lease: float) -> None:
        """Extend ``owner``'s lease on ``seqs``."""

    @abc.abstractmethod
    async def release(self, seqs: Sequence[int], owner: str) -> None:
        """Give ``seqs`` back unhandled (a shutdown interrupted their handlers)."""

    @abc.abstractmethod
    async def done(self, seq: int) -> None:
        """The event at ``seq`` was handled: forget it."""

    @abc.abstractmethod
    async def pending(self) -> int:
        """Events accepted and not yet handled (held or not)."""

    @abc.abstractmethod
    async def load_cursor(self, name: str) -> WatchCursor | None:
        """The saved position of the watch called ``name``, if any."""

    @abc.abstractmethod
    async def save_cursor(
        self, name: str, since: float, finished: Sequence[str], *, now: float, forget_before: float
    ) -> None:
        """Move watch ``name`` to ``since``; count one more finished event for each key
        of ``finished``, finished at ``now``; forget keys last finished before
        ``forget_before`` (all three times on the watch's wall clock)."""

    async def aclose(self) -> None:  # noqa: B027 - optional for a backend
        """Release the store's resources."""


# -- memory ----------------------------------------------------------------------------


class MemoryEventStore(EventStore):
    """``memory://``: the store a receiver without one uses. A crash loses it all."""

    durable = False

    def __init__(self, *, wall_clock: Callable[[], float] = time.time) -> None:
        self._now = wall_clock
        self._seq = 0
        self._events: dict[int, tuple[Mapping[str, object], Event, int]] = {}
        self._free: deque[int] = deque()
        self._held: dict[int, tuple[str, float]] = {}
        self._tails: dict[str, tuple[list[str], float]] = {}
        self._cursors: dict[str, tuple[float, dict[str, tuple[int, float]]]] = {}

    def __repr__(self) -> str:
        return f"<EventStore memory:// pending={len(self._events)}>"

    @property
    def count(self) -> int:
        """Events not handled (held or waiting)."""
        return len(self._events)

    def events_left(self) -> list[Event]:
        """Every event not handled, oldest first (what a shutdown leaves)."""
        return [self._events[seq][1] for seq in sorted(self._events)]

    def clear(self) -> None:
        """Forget the events not handled (a new start of the receiver)."""
        self._events.clear()
        self._free.clear()
        self._held.clear()

    def _tails_now(self, objects: Sequence[str], now: float) -> dict[str, list[str]]:
        tails: dict[str, list[str]] = {}
        for obj in objects:
            entry = self._tails.get(obj)
            if entry is not None and entry[1] > now:
                tails[obj] = entry[0]
        return tails

    async def accept(
        self,
        items: Sequence[tuple[Mapping[str, object], Event]],
        *,
        dedup_window: float,
        backfill: bool = False,
    ) -> Accepted:
        now = self._now()
        self._prune(now)
        objects = [_object_of(event) for _, event in items]
        accepted, tails, repeats = _plan(items, self._tails_now(objects, now), backfill=backfill)
        for obj, tail in tails.items():
            self._tails.pop(obj, None)  # re-inserted last: the dict stays in expiry order
            if dedup_window > 0:
                self._tails[obj] = (tail, now + dedup_window)
        for index, _, _ in accepted:
            self._seq += 1
            raw, event = items[index]
            self._events[self._seq] = (raw, event, 0)
            self._free.append(self._seq)
        return Accepted(new=len(accepted), repeats=repeats)

    def _prune(self, now: float) -> None:
        while self._tails:
            obj, (_, until) = next(iter(self._tails.items()))
            if until > now and len(self._tails) <= 100_000:
                break
            del self._tails[obj]

    async def take(
        self, owner: str, lease: float, *, done: int | None = None
    ) -> StoredEvent | None:
        if done is not None:
            await self.done(done)
        while self._free:
            seq = self._free.popleft()
            if seq in self._events:
                raw, event, attempts = self._events[seq]
                self._events[seq] = (raw, event, attempts + 1)
                self._held[seq] = (owner, self._now() + lease)
                return StoredEvent(seq=seq, event=event, attempts=attempts + 1)
        return None

    async def renew(self, seqs: Sequence[int], owner: str, lease: float) -> None:
        for seq in seqs:
            if seq in self._held:
                self._held[seq] = (owner, self._now() + lease)

    async def release(self, seqs: Sequence[int], owner: str) -> None:
        for seq in sorted(seqs, reverse=True):
            if self._held.pop(seq, None) is not None and seq in self._events:
                self._free.appendleft(seq)

    async def done(self, seq: int) -> None:
        self._events.pop(seq, None)
        self._held.pop(seq, None)

    async def pending(self) -> int:
        return len(self._events)

    async def load_cursor(self, name: str) -> WatchCursor | None:
        entry = self._cursors.get(name)
        if entry is None:
            return None
        return WatchCursor(since=entry[0], finished={k: c for k, (c, _) in entry[1].items()})

    async def save_cursor(
        self, name: str, since: float, finished: Sequence[str], *, now: float, forget_before: float
    ) -> None:
        _, keys = self._cursors.get(name, (since, {}))
        for key in finished:
            keys[key] = (keys.get(key, (0, now))[0] + 1, now)
        keys = {k: v for k, v in keys.items() if v[1] >= forget_before}
        self._cursors[name] = (since, keys)


# -- SQLite ----------------------------------------------------------------------------

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_free ON events (lease_until, seq);
CREATE TABLE IF NOT EXISTS tails (
    object TEXT PRIMARY KEY,
    keys TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tails_expires ON tails (expires);
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT PRIMARY KEY,
    since REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cursor_keys (
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    count INTEGER NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (name, key)
);
"""


class SqliteEventStore(EventStore):
    """``sqlite:///PATH``: WAL, one ``BEGIN IMMEDIATE`` transaction per decision, off
    the event loop. Accepting is ``synchronous=FULL`` (what was answered 200 survives a
    power cut); taking and finishing are ``NORMAL`` (a power cut may undo them: an
    event handled again, never one lost)."""

    def __init__(self, path: str | os.PathLike[str], *, wall_clock: Callable[[], float]) -> None:
        self.path = Path(path)
        self._now = wall_clock
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._users = 0
        self._offload = True
        self._synchronous = ""
        """Run each transaction in a worker thread (tests on virtual time turn it off:
        a virtual clock cannot see a thread and would jump ahead)."""

    def __repr__(self) -> str:
        return f"<EventStore sqlite:///{self.path}>"

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                self._synchronous = "FULL"
                connection.executescript(_SCHEMA)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    async def _run(
        self, operation: Callable[[sqlite3.Connection], Any], *, must_last: bool = False
    ) -> Any:
        """Run ``operation`` in one write transaction. ``must_last``: the commit is
        flushed to disk before it returns (``synchronous=FULL``: what a 200 promises);
        otherwise ``NORMAL`` (WAL: safe from a process crash; a power cut may undo the
        last ones, which costs a repeat, never a loss)."""

        def run() -> Any:
            with self._lock:
                try:
                    connection = self._connect()
                    wanted = "FULL" if must_last else "NORMAL"
                    if self._synchronous != wanted:
                        connection.execute(f"PRAGMA synchronous={wanted}")
                        self._synchronous = wanted
                    connection.execute("BEGIN IMMEDIATE")
                    try:
                        result = operation(connection)
                    except BaseException:
                        if connection.in_transaction:  # SQLITE_FULL rolls back by itself
                            connection.execute("ROLLBACK")
                        raise
                    connection.execute("COMMIT")
                    return result
                except sqlite3.Error as exc:
                    if self._connection is not None and self._connection.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            self._connection.execute("ROLLBACK")
                    raise EventStoreError(
                        f"event store {self.path.name}: {type(exc).__name__}: {exc}"
                    ) from exc

        if not self._offload:
            await anyio.lowlevel.checkpoint()
            return run()
        return await anyio.to_thread.run_sync(run)

    async def accept(
        self,
        items: Sequence[tuple[Mapping[str, object], Event]],
        *,
        dedup_window: float,
        backfill: bool = False,
    ) -> Accepted:
        now = self._now()
        bodies = [json.dumps(raw, ensure_ascii=False, separators=(",", ":")) for raw, _ in items]

        def decide(db: sqlite3.Connection) -> Accepted:
            db.execute("DELETE FROM tails WHERE expires <= ?", (now,))
            objects = sorted({_object_of(event) for _, event in items})
            tails: dict[str, list[str]] = {}
            for obj in objects:
                found = db.execute("SELECT keys FROM tails WHERE object = ?", (obj,)).fetchone()
                if found is not None:
                    tails[obj] = json.loads(found[0])
            accepted, new_tails, repeats = _plan(items, tails, backfill=backfill)
            if dedup_window > 0:
                db.executemany(
                    "INSERT OR REPLACE INTO tails (object, keys, expires) VALUES (?, ?, ?)",
                    [(obj, json.dumps(t), now + dedup_window) for obj, t in new_tails.items()],
                )
            db.executemany(
                "INSERT INTO events (body, accepted_at) VALUES (?, ?)",
                [(bodies[index], now) for index, _, _ in accepted],
            )
            return Accepted(new=len(accepted), repeats=repeats)

        result: Accepted = await self._run(decide, must_last=True)
        return result

    async def take(
        self, owner: str, lease: float, *, done: int | None = None
    ) -> StoredEvent | None:
        def claim(db: sqlite3.Connection) -> tuple[int, str, int] | None:
            now = self._now()
            if done is not None:
                db.execute("DELETE FROM events WHERE seq = ?", (done,))
            found = db.execute(
                "SELECT seq, body, attempts FROM events WHERE lease_until <= ? "
                "ORDER BY seq LIMIT 1",
                (now,),
            ).fetchone()
            if found is None:
                return None
            seq, body, attempts = found
            db.execute(
                "UPDATE events SET owner = ?, lease_until = ?, attempts = ? WHERE seq = ?",
                (owner, now + lease, attempts + 1, seq),
            )
            return int(seq), str(body), int(attempts) + 1

        found = await self._run(claim)
        if found is None:
            return None
        seq, body, attempts = found
        return StoredEvent(seq=seq, event=structure(json.loads(body), Event), attempts=attempts)

    async def renew(self, seqs: Sequence[int], owner: str, lease: float) -> None:
        until = self._now() + lease
        await self._run(
            lambda db: db.executemany(
                "UPDATE events SET lease_until = ? WHERE seq = ? AND owner = ?",
                [(until, seq, owner) for seq in seqs],
            )
        )

    async def release(self, seqs: Sequence[int], owner: str) -> None:
        await self._run(
            lambda db: db.executemany(
                "UPDATE events SET lease_until = 0, owner = NULL WHERE seq = ? AND owner = ?",
                [(seq, owner) for seq in seqs],
            )
        )

    async def done(self, seq: int) -> None:
        await self._run(lambda db: db.execute("DELETE FROM events WHERE seq = ?", (seq,)))

    async def pending(self) -> int:
        count: int = await self._run(
            lambda db: db.execute("SELECT count(*) FROM events").fetchone()[0]
        )
        return count

    async def load_cursor(self, name: str) -> WatchCursor | None:
        def load(db: sqlite3.Connection) -> WatchCursor | None:
            found = db.execute("SELECT since FROM cursors WHERE name = ?", (name,)).fetchone()
            if found is None:
                return None
            keys = db.execute(
                "SELECT key, count FROM cursor_keys WHERE name = ?", (name,)
            ).fetchall()
            return WatchCursor(since=float(found[0]), finished={k: int(c) for k, c in keys})

        cursor: WatchCursor | None = await self._run(load)
        return cursor

    async def save_cursor(
        self, name: str, since: float, finished: Sequence[str], *, now: float, forget_before: float
    ) -> None:
        def save(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO cursors (name, since) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET since = excluded.since",
                (name, since),
            )
            db.executemany(
                "INSERT INTO cursor_keys (name, key, count, seen_at) VALUES (?, ?, 1, ?) "
                "ON CONFLICT (name, key) DO UPDATE SET count = count + 1, "
                "seen_at = excluded.seen_at",
                [(name, key, now) for key in finished],
            )
            db.execute(
                "DELETE FROM cursor_keys WHERE name = ? AND seen_at < ?", (name, forget_before)
            )

        await self._run(save)

    async def open(self) -> None:
        self._users += 1

    async def aclose(self) -> None:
        """Close the connection once every :meth:`open` has its ``aclose`` (it opens
        again on the next use)."""
        self._users = max(0, self._users - 1)
        if self._users:
            return

        def close() -> None:
            with self._lock:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None

        if self._offload:
            await anyio.to_thread.run_sync(close)
        else:
            close()
