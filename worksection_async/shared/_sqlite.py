"""``sqlite:///PATH``: the shared quota of the processes of one host, in one SQLite file.

Standard library ``sqlite3``, no server. The file holds one table, ``quota``: one row
per key, its state as bytes (``_decision.QuotaState.dump``). A decision is one
statement, ``UPDATE quota SET state = ws_decision(state) WHERE key = ?``, in its own
write transaction: SQLite takes the file's write lock before it reads the row (so that
the decisions of all the processes are taken one after the other), calls
``ws_decision`` (the store's ``_decision_of``: ``_decision.decide`` on the state) and
commits — a few tens of microseconds warm, about 0.1-0.2 ms when the thread wakes to a
cold cache. The state this store wrote last is kept: when the row still holds those
bytes it is not read again. It runs in the store's own thread, never on the event
loop: one long-lived thread per open store takes the decisions from a queue one after
the other and wakes the waiting caller through its event loop (on asyncio a bare
future, ``call_soon_threadsafe``; trio's ``run_sync_soon``). That hop costs a few tens
of microseconds where ``anyio.to_thread.run_sync`` (a pooled thread, a capacity
limiter, a cancel scope each way) cost several times that. A caller waits at most
``timeout`` seconds; a decision whose caller gave up before it began is not taken.

The clock: ``time.monotonic()``, read inside the transaction. On Linux (and macOS,
Windows) it is one clock for every process of the host, never steps, and does not
count a suspend (every process is suspended alike; the account's quota refilled
meanwhile, so the first requests after a resume are only a little cautious). A state
last used by an earlier boot (the clock went back), or not used for longer than the
keys' expiry, starts again from nothing, as an expired Redis key does.

Journal: WAL with ``synchronous=NORMAL`` (a commit does not wait for the disk; a crash
of the host may lose the latest decisions, never the file). A process that dies, even
inside a transaction, holds nothing: the operating system drops its locks, and its
transaction never committed.

Faults: every ``sqlite3.Error`` or ``OSError`` (the file cannot be created, opened,
written, is not a database, is locked past the busy timeout) and a decision that takes
longer than ``timeout`` are ``_Unavailable``: the backend falls back to its local quota
and tries the file again a second later. The store waits for a write lock another
process holds itself (sleeps from ``BUSY_STEP`` doubling to ``BUSY_STEP_MAX``; SQLite's
own busy handler would sleep a whole millisecond first) for at most the busy timeout,
0.8 ``timeout``; after a failure only ``PROBE_BUSY``, so that a file another program
keeps locked costs a probing caller little. After every decision, once its answer is
handed back (off the decision's time), the store's thread compares the file at ``path``
with the one it has open (device and inode); a decision more than ``IDENTITY_AGE``
after the latest such check compares it first. A file deleted or replaced is opened
again for the next decision (made, if missing, after removing the deleted database's
``-wal`` and ``-shm`` files, with the directory locked so that two processes never
remove each other's new ones): a process takes at most one decision on a file deleted
after its latest check (the check after that decision notices), never one on a file
deleted more than ``IDENTITY_AGE`` before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import anyio
import anyio.to_thread

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from ._decision import QuotaState, Request, decide, gate
from ._reply import _Reply, _Unavailable

__all__ = ["SqliteStore"]

logger = logging.getLogger("worksection_async.shared")

PROBE_BUSY: Final = 0.05
"""Seconds a decision waits for the file's lock after a failure (until one succeeds)."""

BUSY_STEP: Final = 50e-6
"""Seconds of the first sleep when another process holds the file's write lock."""

BUSY_STEP_MAX: Final = 1e-3
"""...and of the longest (the sleeps double up to it)."""

IDENTITY_AGE: Final = 1.0
"""Seconds after the latest check that the file at ``path`` is the one open (made after
each decision) that a decision checks it again before it runs."""

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS quota (key TEXT PRIMARY KEY, state TEXT NOT NULL, gate TEXT)"
)
"""``state``: ``_decision.QuotaState.dump``'s bytes. ``gate``: no longer written (the
processes that watch for gate closures read the state's first bytes)."""

_DECIDE: Final = "UPDATE quota SET state = ws_decision(state) WHERE key = ?"
"""A decision: ``ws_decision`` is the store's ``_decision_of``."""
_ENSURE: Final = "INSERT OR IGNORE INTO quota (key, state) VALUES (?, x'')"


@contextlib.contextmanager
def _directory_locked(directory: str, timeout: float) -> Iterator[None]:
    """An exclusive ``flock`` on ``directory`` for the processes of this host (a no-op
    where there is no ``fcntl``: Windows does not delete a file that is open)."""
    if fcntl is None:
        yield
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        give_up = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > give_up:
                    raise sqlite3.OperationalError(
                        f"the directory {directory} stayed locked for {timeout:g}s"
                    ) from None
                time.sleep(0.002)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _waker(event: anyio.Event) -> Callable[[], object]:
    """A function any thread may call to set ``event`` on the calling task's event loop
    (without waiting for the loop to run it)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio: trio (anyio's other backend)
        import trio

        token = trio.lowlevel.current_trio_token()
        return lambda: token.run_sync_soon(event.set)
    return lambda: loop.call_soon_threadsafe(event.set)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class _Job:
    """One function for the store's thread to run, and what came of it."""

    __slots__ = ("abandoned", "after", "args", "error", "function", "result", "wake")

    def __init__(
        self,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        wake: Callable[[], object],
        after: Callable[[], object] | None = None,
    ) -> None:
        self.function = function
        self.args = args
        self.wake = wake
        self.after = after
        """Run by the thread once the caller has been woken (if the job ran)."""
        self.result: Any = None
        self.error: BaseException | None = None
        self.abandoned = False
        """The caller gave up waiting: if the job has not begun, it never does."""


class SqliteStore:
    """One SQLite file, used by one ``SharedQuota`` of this process."""

    def __init__(
        self, path: str, *, timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self._timeout = timeout
        self._busy = 0.8 * timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._checked = -math.inf
        """When the file at ``path`` was last found to be the one open."""
        self._suspect = False
        self._kept: tuple[str, bytes, QuotaState] | None = None
        """The key, bytes and state of this store's latest write (while it is the
        connection's)."""
        self._asked: tuple[str, Request] | None = None
        self._decided: tuple[_Reply, bytes, QuotaState] | None = None
        self._failure: BaseException | None = None
        self._jobs: queue.SimpleQueue[_Job | None] | None = None
        # Reading the gates (``gates``) has a connection of its own: it never waits for
        # a decision, nor a decision for it.
        self._read_lock = threading.Lock()
        self._reader: sqlite3.Connection | None = None
        self._reader_identity: tuple[int, int] | None = None
        self._read_limiter: anyio.CapacityLimiter | None = None

    async def open(self) -> None:
        self._read_limiter = anyio.CapacityLimiter(1)
        self._start()
        # Open the file now (make it, switch it to WAL), so that the first decision is
        # as short as the others; a failure here is the first decision's to report.
        with contextlib.suppress(_Unavailable, TimeoutError):
            await self._in_thread(self._warm_up)

    def _start(self) -> queue.SimpleQueue[_Job | None]:
        """The queue of the store's thread (started now if there is none)."""
        jobs = self._jobs
        if jobs is None:
            jobs = self._jobs = queue.SimpleQueue()
            threading.Thread(
                target=self._serve, args=(jobs,), name=f"shared quota {self.path}", daemon=True
            ).start()
        return jobs

    async def _in_thread(
        self,
        function: Callable[..., Any],
        *args: Any,
        after: Callable[[], object] | None = None,
    ) -> Any:
        """``function(*args)`` in the store's thread, waited for at most ``timeout``
        seconds (``TimeoutError``); then ``after()`` in the thread, the caller woken."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio: trio (anyio's other backend)
            loop = None
        if loop is None:
            event = anyio.Event()
            job = _Job(function, args, _waker(event), after)
            self._start().put(job)
            try:
                with anyio.fail_after(self._timeout):
                    await event.wait()
            except BaseException:
                job.abandoned = True
                raise
        else:
            # asyncio: a bare future, woken by the thread and expired by a timer, costs
            # far less than an anyio event in a cancel scope (both are the hop's).
            future: asyncio.Future[None] = loop.create_future()
            job = _Job(
                function,
                args,
                functools.partial(loop.call_soon_threadsafe, _settle, future),
                after,
            )
            timer = loop.call_later(self._timeout, _expire, future)
            self._start().put(job)
            try:
                await future
            except BaseException:
                job.abandoned = True
                raise
            finally:
                timer.cancel()
        if job.error is not None:
            raise job.error
        return job.result

    def _serve(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        """The store's thread: the jobs one after the other, until ``None``."""
        while True:
            job = jobs.get()
            if job is None:
                break
            if job.abandoned:
                continue
            try:
                job.result = job.function(*job.args)
            except BaseException as exc:  # the caller's to raise
                job.error = exc
            with contextlib.suppress(Exception):  # the caller's event loop has ended
                job.wake()
            if job.after is not None:
                with contextlib.suppress(Exception):
                    job.after()
            del job

    def _close_connection(self) -> None:
        with self._lock:
            self._drop()

    def _warm_up(self) -> None:
        if self._lock.acquire(timeout=self._timeout):
            try:
                self._connect()
            except (sqlite3.Error, OSError):
                self._drop()
            finally:
                self._lock.release()

    async def close(self) -> None:
        # The thread closes the connection after the decisions already queued (it
        # skips those whose callers gave up) and ends; this waits for that at most
        # ``timeout`` (a decision may be stuck), and not at all if cancelled.
        jobs, self._jobs = self._jobs, None
        if self._read_lock.acquire(blocking=False):
            try:
                self._drop_reader()
            finally:
                self._read_lock.release()
        if jobs is not None:
            event = anyio.Event()
            jobs.put(_Job(self._close_connection, (), _waker(event)))
            jobs.put(None)
            with anyio.move_on_after(self._timeout):
                await event.wait()

    async def run(self, key: str, request: Request) -> _Reply:
        try:
            reply: _Reply = await self._in_thread(self.decide, key, request, after=self._verify)
        except TimeoutError:
            raise _Unavailable(f"no decision within {self._timeout:g}s") from None
        return reply

    # -- in the store's thread --------------------------------------------------------

    def decide(self, key: str, request: Request) -> _Reply:
        """One decision, in one write transaction (blocking: a worker thread's)."""
        if not self._lock.acquire(timeout=self._timeout):
            raise _Unavailable(f"an earlier decision on {self.path} is still running")
        try:
            try:
                return self._decide(key, request)
            except (sqlite3.Error, OSError) as exc:
                self._drop()
                self._suspect = True
                raise _Unavailable(f"{type(exc).__name__}: {exc} ({self.path})") from None
            except Exception as exc:  # a bug must not become the caller's error
                logger.exception("shared quota: a decision on %s failed", self.path)
                self._drop()
                raise _Unavailable(f"{type(exc).__name__} in a decision") from None
        finally:
            self._lock.release()

    def _decide(self, key: str, request: Request) -> _Reply:
        connection = self._connection
        if connection is None or time.monotonic() - self._checked > IDENTITY_AGE:
            connection = self._connect()
        self._asked, self._decided, self._failure = (key, request), None, None
        try:
            # One statement, one write transaction: SQLite takes the file's write lock
            # before it reads the row, and calls ``_decision_of`` on the state.
            if not self._write(connection, _DECIDE, key):
                # The key's first decision: a row to decide on (empty: a fresh state).
                self._write(connection, _ENSURE, key)
                self._write(connection, _DECIDE, key)
        except sqlite3.Error:
            if self._failure is not None:  # raised by the decision, not by SQLite
                raise self._failure from None
            raise
        finally:
            self._asked = None
        decided, self._decided = self._decided, None
        if decided is None:
            raise sqlite3.OperationalError(f"the row of {key!r} was not found")
        reply, data, state = decided
        self._kept = (key, data, state)
        self._suspect = False
        return reply

    def _verify(self) -> None:
        """After a decision, its caller woken: drop the connection if the file at
        ``path`` is no longer the one it has open (the next decision opens it again)."""
        if not self._lock.acquire(timeout=self._timeout):
            return
        try:
            if self._connection is None:
                return
            try:
                found = os.stat(self.path)
            except OSError:
                identity = None
            else:
                identity = (found.st_dev, found.st_ino)
            if identity is not None and identity == self._identity:
                self._checked = time.monotonic()
                return
            logger.info("shared quota file %s was deleted or replaced: opening it again", self.path)
            self._drop()
        finally:
            self._lock.release()

    def _decision_of(self, data: object) -> bytes:
        """The new state of ``self._asked``'s key, its state now being ``data``
        (called by SQLite inside ``_DECIDE``'s write transaction)."""
        try:
            asked = self._asked
            assert asked is not None  # only ``_decide`` runs the statement
            key, request = asked
            kept, self._kept = self._kept, None
            if kept is not None and kept[0] == key and data == kept[1]:
                state = kept[2]  # this store's own latest write: no need to read it again
            else:
                state = QuotaState.load(data)  # type: ignore[arg-type]
            reply = decide(state, request, self._clock())
            new = state.dump()
        except BaseException as exc:
            self._failure = exc
            raise
        self._decided = (reply, new, state)
        return new

    def _write(self, connection: sqlite3.Connection, statement: str, key: str) -> int:
        """``statement`` (a write) for ``key``, waiting for the file's write lock at
        most the busy timeout (``PROBE_BUSY`` after a failure): retried here after
        sleeps that start at ``BUSY_STEP`` and double, where SQLite's own busy handler
        sleeps a millisecond first, then longer (the lock is held for a decision's few
        tens of microseconds). The rows it changed."""
        give_up = 0.0
        pause = BUSY_STEP
        while True:
            try:
                return connection.execute(statement, (key,)).rowcount
            except sqlite3.OperationalError as exc:
                if self._failure is not None or "locked" not in str(exc):
                    raise
                now = time.monotonic()
                if not give_up:
                    give_up = now + (PROBE_BUSY if self._suspect else self._busy)
                elif now >= give_up:
                    raise
            time.sleep(min(pause, max(0.0, give_up - now)))
            pause = min(2 * pause, BUSY_STEP_MAX)

    async def gates(self, keys: list[str]) -> dict[str, str]:
        """The gate (``born generation``) of each key found (a read, no write lock)."""
        try:
            with anyio.fail_after(self._timeout):
                return await anyio.to_thread.run_sync(
                    self._gates, keys, abandon_on_cancel=True, limiter=self._read_limiter
                )
        except TimeoutError:
            raise _Unavailable(f"no answer within {self._timeout:g}s") from None

    def _gates(self, keys: list[str]) -> dict[str, str]:
        if not self._read_lock.acquire(timeout=self._timeout):
            raise _Unavailable(f"an earlier read of {self.path} is still running")
        try:
            try:
                reader = self._open_reader()
                if reader is None:
                    return {}
                marks = ",".join("?" * len(keys))
                rows = reader.execute(
                    # The state's first bytes: its gate (``_decision.gate``).
                    f"SELECT key, substr(state, 1, 256) FROM quota WHERE key IN ({marks})",  # noqa: S608
                    keys,
                ).fetchall()
            except (sqlite3.Error, OSError) as exc:
                self._drop_reader()
                raise _Unavailable(f"{type(exc).__name__}: {exc} ({self.path})") from None
            gates = {}
            for key, head in rows:
                found = gate(head)
                if found is not None:
                    gates[str(key)] = found
            return gates
        finally:
            self._read_lock.release()

    def _open_reader(self) -> sqlite3.Connection | None:
        """The gates' connection to the file the decisions use (``None`` until they
        have opened one: the reader never makes the file)."""
        identity = self._identity
        if identity is None:
            return None
        if self._reader is not None and self._reader_identity == identity:
            return self._reader
        self._drop_reader()
        reader = sqlite3.connect(
            self.path, timeout=PROBE_BUSY, isolation_level=None, check_same_thread=False
        )
        found = os.stat(self.path)
        if (found.st_dev, found.st_ino) != identity:  # replaced meanwhile: next time
            reader.close()
            return None
        self._reader, self._reader_identity = reader, identity
        return reader

    def _drop_reader(self) -> None:
        reader, self._reader = self._reader, None
        self._reader_identity = None
        if reader is not None:
            with contextlib.suppress(sqlite3.Error):
                reader.close()

    def peek(self, key: str) -> QuotaState | None:
        """The state of ``key`` (tests)."""
        with self._lock:
            row = self._connect().execute("SELECT state FROM quota WHERE key = ?", (key,))
            found = row.fetchone()
            return QuotaState.load(found[0]) if found is not None else None

    def _connect(self) -> sqlite3.Connection:
        """The open connection, or a new one if there is none or the file at ``path``
        is not the one it has open (deleted, replaced)."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            identity = None
        else:
            identity = (found.st_dev, found.st_ino)
        connection = self._connection
        if connection is not None and identity is not None and identity == self._identity:
            self._checked = time.monotonic()
            return connection
        if connection is not None:
            logger.info("shared quota file %s was deleted or replaced: opening it again", self.path)
            self._drop()
        if identity is None:
            self._make()
        busy = PROBE_BUSY if self._suspect else self._busy
        connection = sqlite3.connect(
            self.path, timeout=busy, isolation_level=None, check_same_thread=False
        )
        try:
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot use WAL journal mode (got {mode!r})")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute(_SCHEMA)
            # From now on ``_write`` waits for the write lock, in shorter steps.
            connection.execute("PRAGMA busy_timeout = 0")
            connection.create_function("ws_decision", 1, self._decision_of)
            found = os.stat(self.path)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self._identity = (found.st_dev, found.st_ino)
        self._checked = time.monotonic()
        return connection

    def _make(self) -> None:
        """Make the file, if it is (still) missing, with the directory locked: what a
        deleted database left beside it (its ``-wal`` and ``-shm``, which the processes
        still on it go on using) is not the new one's journal and must go first, and two
        processes that both found the file missing must not remove the journal the
        other has just made."""
        directory = os.path.dirname(self.path) or "."
        with _directory_locked(directory, self._timeout):
            if os.path.exists(self.path):
                return
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path + suffix)
            made = sqlite3.connect(self.path, timeout=self._busy, isolation_level=None)
            try:
                made.execute("PRAGMA journal_mode = WAL")
                made.execute(_SCHEMA)
            finally:
                made.close()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        self._identity = None
        self._kept = None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
