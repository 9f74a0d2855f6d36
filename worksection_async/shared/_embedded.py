"""``SharedQuota`` on a store that runs in this process: ``sqlite://`` and ``memory://``.

Everything a client does with its shared quota is ``SharedBackend``'s, whatever the
store (the FIFO turn, sleeping toward a reserved moment, reporting outcomes, the local
fallback, the events): it builds the script's ``ARGV`` and hands it to
``SharedQuota._evaluate``. Here that runs ``_decision.decide`` in the store (a lock for
``memory://``, one SQLite write transaction for ``sqlite://``) instead of the Lua script
in Redis.

Hearing that the gate closed (an error 20 elsewhere voids every reservation not yet
due): within this ``SharedQuota``, a decision that closes the gate wakes the sleeping
callers of its other clients at once. Beyond it:

* ``sqlite://``: while a caller sleeps toward its reserved moment, the quota reads the
  gates of its keys every ``WATCH_INTERVAL`` (a read, no write lock) and wakes the
  callers whose reservation a closure voided, as Redis's channel does. While those
  reads fail, a caller checks the gate with one more decision just before it sends.
* ``memory://``: a decision costs microseconds and no I/O, so a caller that slept
  checks the gate with one more decision just before it sends.
"""

from __future__ import annotations

import contextvars
import logging
import math
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Final, Protocol

import anyio
import httpx

from .._clock import Clock
from .._events import EventHook
from .._throttle import RateLimit
from ._backend import SharedBackend
from ._decision import Request, parse_request
from ._memory import MemoryStore
from ._quota import (
    _KEY,
    DEFAULT_FALLBACK_PROCESSES,
    DEFAULT_REDIS_TIMEOUT,
    OTHER_STORES,
    OnUnavailable,
    SharedQuota,
)
from ._reply import _Reply, _Unavailable
from ._sqlite import SqliteStore

__all__ = ["EmbeddedQuota", "embedded_quota"]

_NAME = re.compile(r"[^\s/?#]{1,200}")

WATCH_INTERVAL: Final = 0.02
"""Seconds between two reads of a SQLite file's gates while a caller sleeps."""

logger = logging.getLogger("worksection_async.shared")


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def run(self, key: str, request: Request) -> _Reply: ...


class EmbeddedQuota(SharedQuota):
    """A ``SharedQuota`` whose store is a SQLite file or this process's memory."""

    def __init__(
        self,
        store: Store,
        shown: str,
        *,
        key: str | None,
        on_unavailable: OnUnavailable,
        timeout: float,
        noun: str,
    ) -> None:
        # Not SharedQuota.__init__: that one sets up a Redis client.
        self._store = store
        self._key = key
        self._on_unavailable: OnUnavailable = on_unavailable
        self._timeout = timeout
        self._shown = shown
        self._noun = noun
        self._secrets: set[str] = set()
        self._users = 0
        self.fallback_processes = DEFAULT_FALLBACK_PROCESSES
        self._warned_lost = False  # a state gone while in use (the file replaced)
        self._task_group: anyio.abc.TaskGroup | None = None
        self._backends: dict[str, list[SharedBackend]] = {}
        self._subscribed: set[str] = set()
        self._channels_changed: anyio.Event | None = None
        self._limits: dict[tuple[str, ...], RateLimit] = {}
        self._watching = isinstance(store, SqliteStore)
        # As for Redis: the quota's task group belongs to the task that opened it.
        self._anchor: contextvars.ContextVar[bool] = contextvars.ContextVar(
            "shared_quota_open", default=False
        )
        self._anchor_token: contextvars.Token[bool] | None = None

    @property
    def store(self) -> Store:
        return self._store

    async def _connect(self) -> None:
        await self._store.open()

    async def _disconnect(self) -> None:
        await self._store.close()

    def _started(self, task_group: anyio.abc.TaskGroup) -> None:
        if isinstance(self._store, SqliteStore):
            task_group.start_soon(self._watch, self._store)

    def _lost(self, backend: SharedBackend) -> None:
        """The state started again while in use: here the file was deleted or replaced
        (the store says so when it opens it again), not a Redis eviction to warn of."""
        logger.info("shared quota %s: the state of %s started again", self, backend.keys[0])

    def _listening(self, channel: str) -> bool:
        return self._watching

    async def _watch(self, store: SqliteStore) -> None:
        """While a caller sleeps toward a reservation, read the gates every
        ``WATCH_INTERVAL`` and wake the callers whose reservation a closure voided."""
        while True:
            await anyio.sleep(WATCH_INTERVAL)
            channels = {
                backend.keys[0]: channel
                for channel, backends in self._backends.items()
                for backend in backends
                if backend._sleeping is not None
            }
            if not channels:
                continue
            try:
                gates = await store.gates(sorted(channels))
            except _Unavailable:
                self._watching = False  # a caller checks the gate itself before it sends
                continue
            self._watching = True
            for key, gate in gates.items():
                self._deliver(channels[key], gate)

    async def _evaluate(self, keys: Sequence[str], args: Sequence[str]) -> _Reply:
        request = parse_request(args, self._limits)
        reply = await self._store.run(keys[0], request)
        if reply.started is not None or reply.turned:
            # The gate closed: this quota's other clients learn it now.
            self._deliver(args[11], f"{reply.born} {reply.gen}")
        return reply

    def _backend(
        self,
        *,
        account: httpx.URL,
        limit: RateLimit,
        clock: Clock,
        on_event: EventHook | None,
        jitter: Callable[[float, float], float] | None = None,
    ) -> SharedBackend:
        if jitter is None:
            backend = super()._backend(account=account, limit=limit, clock=clock, on_event=on_event)
        else:
            backend = super()._backend(
                account=account, limit=limit, clock=clock, on_event=on_event, jitter=jitter
            )
        self._limits[tuple(backend._config)] = limit
        return backend


def _check(key: str | None, on_unavailable: object, timeout: object) -> float:
    if key is not None and (not isinstance(key, str) or not _KEY.fullmatch(key)):
        raise ValueError(
            f"SharedQuota key must be 1 to 200 characters without spaces or braces, got {key!r}"
        )
    if on_unavailable not in ("fallback", "raise"):
        raise ValueError(f"on_unavailable must be 'fallback' or 'raise', got {on_unavailable!r}")
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not (math.isfinite(timeout) and timeout > 0)
    ):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    return float(timeout)


def sqlite_path(url: str) -> str:
    """The file of ``sqlite:///ABSOLUTE/PATH`` (percent-escapes decoded)."""
    rest = url[len("sqlite://") :]
    if rest.startswith("/") and len(rest) > 3 and rest[2] == ":" and rest[1].isalpha():
        rest = rest[1:]  # sqlite:///C:/path on Windows
    path = urllib.parse.unquote(rest)
    if "?" in rest or "#" in rest or "\x00" in path:
        raise ValueError(f"a sqlite:// quota URL takes a path only, got {url!r}")
    if not path or not os.path.isabs(path) or path.endswith(("/", os.sep)):
        raise ValueError(
            "a sqlite:// quota URL needs the absolute path of a file, as "
            f"'sqlite:///home/me/.cache/quota.db', got {url!r}"
        )
    return path


def embedded_quota(
    url: str,
    *,
    key: str | None,
    on_unavailable: OnUnavailable,
    timeout: float | None,
    clock: Callable[[], float] = time.monotonic,
) -> EmbeddedQuota:
    """The ``SharedQuota`` of a ``sqlite://`` or ``memory://`` URL."""
    seconds = _check(key, on_unavailable, DEFAULT_REDIS_TIMEOUT if timeout is None else timeout)
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        name = url.partition("://")[2]
        if not _NAME.fullmatch(name):
            raise ValueError(
                "a memory:// quota URL needs a name of 1 to 200 characters without spaces, "
                f"'/', '?' or '#', as 'memory://bots', got {url!r}"
            )
        return EmbeddedQuota(
            MemoryStore(name, clock=clock),
            f"memory://{name}",
            key=key,
            on_unavailable=on_unavailable,
            timeout=seconds,
            noun="memory store",
        )
    path = sqlite_path(url)
    return EmbeddedQuota(
        SqliteStore(path, timeout=seconds, clock=clock),
        f"sqlite://{path}" if path.startswith("/") else f"sqlite:///{path}",
        key=key,
        on_unavailable=on_unavailable,
        timeout=seconds,
        noun="SQLite file",
    )


OTHER_STORES.update(sqlite=embedded_quota, memory=embedded_quota)
