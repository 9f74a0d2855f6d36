"""``SharedQuota``: one bucket, one pause gate and one adaptive rate for every process
that uses an account, kept in Redis (coredis).

Each ``Client`` given ``shared_quota=`` gets a ``SharedBackend`` in place of its local
quota. Its calls still queue in the process (the concurrency cap and the FIFO turn stay
local); the caller at the head of the queue makes one round trip to Redis, running the
Lua script of ``_lua.py``, which reserves the next free moment on the shared buckets
(reporting, in the same call, the outcomes of the process's requests since its last
call) and answers how many seconds away it is. The caller sleeps that long locally and
sends. So on the fast path a call costs one round trip, and nobody polls.

Sleeping toward a reserved moment: the script answers the moment as a wait from its own
``TIME``, and the process places it on its own clock with the offset between the two
clocks that its recent round trips bound best (as NTP does), so that it never leaves
before the moment and at most the shortest round trip after it, whatever its clock
says; the last ``SPIN`` seconds it yields to the event loop instead of trusting a timer
that fires up to a millisecond late. A process still wakes a little late, by a varying
amount, and a reservation is computed before anyone knows by how much: each process
reports how late it leaves (the 90th percentile of its recent sends, plus the
uncertainty of its clock estimate), and the script keeps reservations that much
further apart (see ``_lua.py``).

Closing the gate for everyone: an error 20 is reported at once (a background round trip
in the process that got it). The script closes the shared gate, voids the reservations
not yet due, and publishes the gate's new generation on the key's channel. Every
process listens on that channel (Redis pub/sub) and wakes the caller sleeping toward a
reservation of an older generation, which reserves again, past the pause. While a
process's subscription is down (it reconnects on its own), that caller instead checks
the generation with one more round trip just before it sends.

Cancelling a call never waits on the store: a caller's round trip runs in the quota's
task group, so a cancelled caller leaves at once and the backend takes in the answer.
A reservation its caller no longer uses (cancelled in the round trip or while sleeping
toward its moment) goes to the next caller of the process, which sleeps toward the
same moment instead of reserving one interval past it; if nobody comes before the
moment, it expires. So cancellations cost the shared bucket at most one interval,
however many there are. Closing the quota from a cancelled task ends at once.

When Redis does not answer (within ``timeout``): with ``on_unavailable="fallback"``
the call goes on through a local quota (``LocalQuota``) at the configured rate divided
by the number of processes last seen on the key, a WARNING is logged once and a
``QuotaBackendUnavailable`` event is emitted; Redis is tried again at most once a
second, and when it answers the client is back on the shared state
(``QuotaBackendRestored``). With ``on_unavailable="raise"`` the call raises
``QuotaBackendError`` and sends nothing. Outcomes that could not be reported are
dropped: the shared law misses them, nothing else.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import functools
import logging
import math
import os
import random
import re
import secrets
import socket
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import anyio
import anyio.lowlevel
import attrs
import httpx

from .._clock import Clock
from .._events import (
    ClientEvent,
    EventHook,
    PauseEnded,
    PauseStarted,
    QuotaBackendRestored,
    QuotaBackendUnavailable,
)
from .._exceptions import QuotaBackendError
from .._throttle import LocalQuota, QuotaDeadline, QuotaFigures, QuotaWaitExpired, RateLimit
from ._lua import QUOTA_SCRIPT

if TYPE_CHECKING:
    import coredis
    import coredis.client
else:
    try:  # the redis extra; sqlite:// and memory:// need nothing
        import coredis
        import coredis.client
        import coredis.exceptions
    except ImportError:  # pragma: no cover - the extra is installed for the tests
        coredis = None

_NEEDS_EXTRA: Final = (
    "a Redis shared quota needs the redis extra: pip install 'worksection-async[redis]'"
)

__all__ = ["DEFAULT_REDIS_TIMEOUT", "OnUnavailable", "SharedBackend", "SharedQuota"]

logger = logging.getLogger("worksection_async.shared")

OnUnavailable = Literal["fallback", "raise"]

DEFAULT_REDIS_TIMEOUT: Final = 1.0
"""Seconds a round trip to Redis may take before Redis counts as unavailable."""

PROBE_INTERVAL: Final = 1.0
"""While falling back, Redis is tried again at most this often (seconds)."""

LATENESS_SAMPLES: Final = 64
"""Sends over which a process measures how late it leaves after its moments."""

CLOCK_WINDOW: Final = 10.0
"""Seconds of round trips from which the server's clock is estimated."""

SPIN: Final = 0.002
"""Seconds before a reserved moment during which the caller yields instead of sleeping."""

LISTEN_RETRY: Final = 0.5
"""Seconds between attempts to subscribe again after the channel's connection broke."""

_KEY = re.compile(r"[^\s{}]{1,200}")
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")

_UNAVAILABLE: Final = (
    *((coredis.exceptions.RedisError,) if coredis is not None else ()),
    OSError,
    TimeoutError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)
"""What a failed round trip to Redis raises (``TimeoutError``: ``timeout`` ran out)."""


def _fmt(value: float) -> str:
    """A float as the script reads it back exactly."""
    return repr(float(value))


def _masked_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``."""
    return _USERINFO.sub("***@", url)


def _account_tag(account: httpx.URL) -> str:
    """The default key: the account's host (and port, if any), never the API key."""
    host = account.host.lower()
    return f"worksection_async:{host}" + (f":{account.port}" if account.port else "")


class StoreFactory(Protocol):
    """Makes the ``SharedQuota`` of a store other than Redis from its URL."""

    def __call__(
        self, url: str, *, key: str | None, on_unavailable: OnUnavailable, timeout: float | None
    ) -> SharedQuota: ...


OTHER_STORES: dict[str, StoreFactory] = {}
"""The stores ``from_url`` knows besides Redis, by URL scheme. Each store's module adds
itself when imported (``_embedded``: ``sqlite`` and ``memory``), and the package imports
them all: they sit above this module, so it cannot import them without a cycle."""


class _Unavailable(Exception):
    """A round trip to Redis failed; ``str()`` is safe to show (credentials masked)."""


@attrs.frozen
class _LocalGrant:
    """A request the fallback quota let go: its outcome goes back to that quota."""

    at: float
    quota: LocalQuota


@attrs.frozen
class _Reservation:
    """A moment the store reserved for one request of this process."""

    moment: float
    """On this process's clock."""
    gen: int
    granted: float
    closed: bool


@attrs.define(eq=False)
class _RoundTrip:
    """One round trip run in the quota's task group for a caller that waits on it: a
    caller cancelled meanwhile leaves at once, and what the store did for it (a
    reservation, a report) is not lost but taken over by the backend."""

    reserve: bool
    done: anyio.Event = attrs.Factory(anyio.Event)
    reply: _Reply | None = None
    error: Exception | None = None
    asked: float = 0.0
    answered: float = 0.0
    abandoned: bool = False


@attrs.frozen(kw_only=True)
class _Reply:
    """The script's answer (see the return statement of ``_lua.py``)."""

    reserved: bool
    wait: float
    """Seconds from the server's now to the reserved moment."""
    granted: float
    """Server time of this decision (a grant's stamp for reporting its outcome)."""
    gen: int
    rate: float
    plateau: float | None
    since_age: float | None
    contended: bool
    widening: float
    paused_for: float
    calls: int
    errors: int
    processes: int
    started: float | None
    """This call's error 20 closed the gate for that many seconds."""
    hit: float | None
    cut: bool
    turned: bool
    closed: bool
    """The gate was closed when the reservation was made."""
    tokens: float
    jitter: float
    """The spread of send times kept between reservations (s)."""
    born: str
    """When the shared state was made (its generations count from then)."""

    @classmethod
    def parse(cls, raw: object) -> _Reply:
        if not isinstance(raw, (list, tuple)) or len(raw) != 21:
            raise _Unavailable(f"unexpected answer from the shared quota's script: {raw!r:.80}")
        f = [x.decode() if isinstance(x, bytes) else str(x) for x in raw]

        def opt(text: str) -> float | None:
            return float(text) if text else None

        return cls(
            reserved=f[0] == "1",
            wait=float(f[1]),
            granted=float(f[2]),
            gen=int(f[3]),
            rate=float(f[4]),
            plateau=opt(f[5]),
            since_age=opt(f[6]),
            contended=f[7] == "1",
            widening=float(f[8]),
            paused_for=float(f[9]),
            calls=int(f[10]),
            errors=int(f[11]),
            processes=int(f[12]),
            started=opt(f[13]),
            hit=opt(f[14]),
            cut=f[15] == "1",
            turned=f[16] == "1",
            closed=f[17] == "1",
            tokens=float(f[18]),
            jitter=float(f[19]),
            born=f[20],
        )


class SharedQuota:
    """One quota for every client, process and host that uses an account, kept in a
    store: ``SharedQuota.from_url`` takes ``sqlite:///PATH`` (one host),
    ``memory://NAME`` (one process) or a Redis URL (many hosts); this constructor takes
    a coredis client.

    ::

        from worksection_async import Client, RateLimit
        from worksection_async.shared import SharedQuota

        quota = SharedQuota.from_url("redis://127.0.0.1:6379/0")
        async with Client(url, key, rate_limit=RateLimit(rate=1.0), shared_quota=quota) as c:
            ...

    Every ``Client`` on the same key (by default, derived from the account's host) shares
    one token bucket, one pause gate and one adaptive rate, whatever process or host it
    runs in; ``rate_limit`` should be the same in all of them. Timing comes from the
    Redis server's clock.

    ``redis`` is a coredis client (``coredis.Redis``, ``coredis.RedisCluster``, ...) or,
    with ``from_url``, made from a ``redis://``, ``rediss://`` or ``unix://`` URL. ``key``
    names the shared state (default: ``worksection_async:<account host>``); it becomes
    the hash tag of every Redis key, so they all live in one cluster slot.
    ``on_unavailable``: ``"fallback"`` (calls go on through a local quota at the
    configured rate divided by the processes last seen, until Redis answers again) or
    ``"raise"`` (``QuotaBackendError``). ``timeout``: seconds a round trip may take.

    A client connects the quota when it is entered (``async with Client(...)``) and lets
    go of it when closed. To share one ``SharedQuota`` between clients that run in
    different tasks, enter it yourself around them (``async with quota: ...``).
    """

    def __init__(
        self,
        redis: coredis.client.Client[Any],
        *,
        key: str | None = None,
        on_unavailable: OnUnavailable = "fallback",
        timeout: float = DEFAULT_REDIS_TIMEOUT,
    ) -> None:
        if coredis is None:  # pragma: no cover - the extra is installed for the tests
            raise ImportError(_NEEDS_EXTRA)
        if not isinstance(redis, coredis.client.Client):
            raise TypeError(
                f"SharedQuota needs a coredis client (coredis.Redis, coredis.RedisCluster), "
                f"got {type(redis).__name__}; or use SharedQuota.from_url(url)"
            )
        if key is not None and (not isinstance(key, str) or not _KEY.fullmatch(key)):
            raise ValueError(
                "SharedQuota key must be 1 to 200 characters without spaces or braces "
                f"(it becomes the keys' hash tag), got {key!r}"
            )
        if on_unavailable not in ("fallback", "raise"):
            raise ValueError(
                f"on_unavailable must be 'fallback' or 'raise', got {on_unavailable!r}"
            )
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not (math.isfinite(timeout) and timeout > 0)
        ):
            raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
        self._redis = redis
        self._key = key
        self._on_unavailable: OnUnavailable = on_unavailable
        self._timeout = float(timeout)
        self._shown = self._describe(redis)
        self._secrets = self._credentials(redis)
        self._script = redis.register_script(QUOTA_SCRIPT)
        self._noun = "Redis"
        self._users = 0
        self._task_group: anyio.abc.TaskGroup | None = None
        self._backends: dict[str, list[SharedBackend]] = {}
        self._subscribed: set[str] = set()
        self._channels_changed: anyio.Event | None = None
        # Set in the context of the task that opened the quota, and so seen by the tasks
        # it starts afterwards: only those may use it too (as coredis's pools require).
        self._anchor: contextvars.ContextVar[bool] = contextvars.ContextVar(
            "shared_quota_open", default=False
        )
        self._anchor_token: contextvars.Token[bool] | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        key: str | None = None,
        on_unavailable: OnUnavailable = "fallback",
        timeout: float | None = None,
    ) -> SharedQuota:
        """A shared quota on the store at ``url``:

        * ``sqlite:///ABSOLUTE/PATH/quota.db``: the processes of one host, in one SQLite
          file (made if missing; standard library, no server);
        * ``memory://NAME``: the clients of one process that use the same ``NAME``;
        * ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS) or
          ``unix:///path/to/socket``: many hosts, through Redis (the ``redis`` extra).

        ``timeout``: seconds a decision may take before the store counts as unavailable
        (default ``DEFAULT_REDIS_TIMEOUT``, 1 s)."""
        if not isinstance(url, str):
            raise TypeError(f"url must be a string, got {type(url).__name__}")
        shown = _masked_url(url)
        scheme = url.partition("://")[0].lower()
        store = OTHER_STORES.get(scheme) if "://" in url else None
        if store is not None:
            return store(url, key=key, on_unavailable=on_unavailable, timeout=timeout)
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError(
                "not a shared quota URL (sqlite:///PATH, memory://NAME, redis://, rediss:// "
                f"or unix://): {shown!r}"
            )
        if coredis is None:  # pragma: no cover - the extra is installed for the tests
            raise ImportError(_NEEDS_EXTRA)
        if timeout is None:
            timeout = DEFAULT_REDIS_TIMEOUT
        try:
            redis: coredis.Redis[str] = coredis.Redis.from_url(
                url,
                decode_responses=True,
                connect_timeout=timeout,
                stream_timeout=timeout,
            )
        except (ValueError, TypeError):
            # Not chained: the parser's message may quote the URL, password and all.
            raise ValueError(f"not a valid Redis URL: {shown!r}") from None
        quota = cls(redis, key=key, on_unavailable=on_unavailable, timeout=timeout)
        quota._shown = shown
        split = urllib.parse.urlsplit(url)
        for part in (split.password, split.username):
            if part:
                quota._secrets |= {part, urllib.parse.unquote(part)}
        return quota

    @staticmethod
    def _describe(redis: coredis.client.Client[Any]) -> str:
        location = getattr(redis.connection_pool, "location", None)
        if location is None:
            return type(redis).__name__
        host, port, path = (getattr(location, n, None) for n in ("host", "port", "path"))
        if path:
            return f"unix://{path}"
        return f"redis://{host}:{port}"

    @staticmethod
    def _credentials(redis: coredis.client.Client[Any]) -> set[str]:
        kwargs = getattr(redis.connection_pool, "connection_kwargs", {}) or {}
        return {str(v) for k in ("password", "username") if (v := kwargs.get(k))}

    def __repr__(self) -> str:
        state = "open" if self._users else "closed"
        key = f" key={self._key!r}" if self._key is not None else ""
        return f"<SharedQuota {self._shown}{key} on_unavailable={self._on_unavailable!r} {state}>"

    @property
    def on_unavailable(self) -> OnUnavailable:
        """What a client does when the store does not answer: ``fallback`` or ``raise``."""
        return self._on_unavailable

    def _scrub(self, text: str) -> str:
        """``text`` with the Redis credentials masked."""
        text = _USERINFO.sub("***@", text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> SharedQuota:
        await self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._close()

    @property
    def is_open(self) -> bool:
        """Whether the quota was entered (``async with``) and not yet left."""
        return self._users > 0

    async def _open(self) -> None:
        if self._users and not self._anchor.get():
            raise RuntimeError(
                "this SharedQuota is open in another task: to share it between clients "
                "that run in different tasks, enter it ('async with quota:') in a task "
                "that contains them all"
            )
        self._users += 1
        if self._users > 1:
            return
        self._anchor_token = self._anchor.set(True)
        connected = False
        try:
            self._channels_changed = anyio.Event()
            await self._connect()
            connected = True
            task_group = anyio.create_task_group()
            await task_group.__aenter__()
            self._task_group = task_group
            self._started(task_group)
        except BaseException:
            self._users -= 1
            self._task_group = None
            try:
                if connected:
                    with anyio.CancelScope(shield=True):
                        await self._disconnect()
            finally:
                self._reset_anchor()
            raise

    async def _close(self) -> None:
        """Let go of the quota; the last user closes its task group and the store.

        No ``AsyncExitStack``: an exit that re-raises the very exception it was given
        (a task group's, coredis's pool's) gets it chained to itself by
        ``contextlib``'s context fix-up when the caller is cancelled inside an
        ``async with`` exit, and on asyncio anyio's ``task_done`` then walks that
        ``__context__`` chain for ever. Waiting for the quota's own tasks is shielded
        (they are all cancelled first and end at their next checkpoint), so the
        caller's cancellation reaches it only after, once, from the store's exit."""
        if self._users == 0:
            return
        self._users -= 1
        if self._users:
            return
        task_group, self._task_group = self._task_group, None
        assert task_group is not None
        try:
            try:
                task_group.cancel_scope.cancel()
                task_group.cancel_scope.shield = True
                await task_group.__aexit__(None, None, None)
            finally:
                await self._disconnect()
        finally:
            self._reset_anchor()

    def _reset_anchor(self) -> None:
        if self._anchor_token is not None:
            with contextlib.suppress(ValueError):
                self._anchor.reset(self._anchor_token)
            self._anchor_token = None

    # -- the store (what a store other than Redis overrides) --------------------------

    async def _connect(self) -> None:
        """Open the store's connections (the first user opens the quota)."""
        await self._redis.connection_pool.__aenter__()

    async def _disconnect(self) -> None:
        """Close what ``_connect`` opened (the last user closes the quota)."""
        await self._redis.connection_pool.__aexit__(None, None, None)

    def _started(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start the store's own tasks in the quota's task group (Redis: the listener
        of the gate's channels)."""
        task_group.start_soon(self._listen)

    def _start_soon(self, function: Callable[[], Any]) -> bool:
        """Run ``function`` in the quota's task group; ``False`` if it is closed."""
        if self._task_group is None:
            return False
        self._task_group.start_soon(function)
        return True

    # -- the script ------------------------------------------------------------------

    async def _evaluate(self, keys: Sequence[str], args: Sequence[str]) -> _Reply:
        """Run the script once; a failure of any kind is ``_Unavailable``."""
        try:
            with anyio.fail_after(self._timeout):
                raw: object = await self._script(keys=keys, args=args)
        except _UNAVAILABLE as exc:
            # A round trip cut short by the caller's cancellation (coredis may say so
            # with a closed stream or a connection error): that cancellation, not an
            # unavailable store and a switch to the fallback quota.
            await anyio.lowlevel.checkpoint_if_cancelled()
            detail = self._scrub(str(exc)) or "no answer"
            if isinstance(exc, TimeoutError):
                detail = f"no answer within {self._timeout:g}s"
            raise _Unavailable(f"{type(exc).__name__}: {detail}") from None
        return _Reply.parse(raw)

    # -- the gate's channel ----------------------------------------------------------

    def _register(self, backend: SharedBackend) -> None:
        channel = backend.channel
        self._backends.setdefault(channel, []).append(backend)
        if channel not in self._subscribed and self._channels_changed is not None:
            self._channels_changed.set()

    def _unregister(self, backend: SharedBackend) -> None:
        backends = self._backends.get(backend.channel, [])
        if backend in backends:
            backends.remove(backend)
        if not backends:
            self._backends.pop(backend.channel, None)

    def _listening(self, channel: str) -> bool:
        return channel in self._subscribed

    _subscriptions = 0
    """Subscriptions made so far (a closure published while one ends and the next
    starts is heard by neither)."""

    def _subscription(self, channel: str) -> int | None:
        """Which subscription hears ``channel`` now; ``None``: none does."""
        return self._subscriptions if self._listening(channel) else None

    async def _listen(self) -> None:
        """Hear gate closures on every registered key's channel; reconnect on failure."""
        while True:
            channels = sorted(self._backends)
            changed = self._channels_changed = anyio.Event()
            if not channels:
                await changed.wait()
                continue
            try:
                redis: Any = self._redis  # every coredis client but Sentinel has pubsub()
                async with (
                    redis.pubsub(
                        channels=channels, ignore_subscribe_messages=True, retry_policy=None
                    ) as pubsub,
                    anyio.create_task_group() as task_group,
                ):
                    self._subscribed = set(channels)
                    self._subscriptions += 1
                    task_group.start_soon(self._follow_channels, changed, task_group.cancel_scope)
                    async for message in pubsub:
                        self._deliver(message["channel"], message["data"])
            except Exception as exc:  # a broken connection, in whatever wrapping
                await anyio.lowlevel.checkpoint_if_cancelled()  # closing: no retry
                logger.debug("shared quota: channel listener stopped: %s", self._scrub(str(exc)))
                self._subscribed = set()
                await anyio.sleep(LISTEN_RETRY)
            else:
                self._subscribed = set()

    @staticmethod
    async def _follow_channels(changed: anyio.Event, scope: anyio.CancelScope) -> None:
        """Restart the subscription when a backend on a new key registers."""
        await changed.wait()
        scope.cancel()

    def _deliver(self, channel: object, data: object) -> None:
        if isinstance(channel, bytes):
            channel = channel.decode()
        if isinstance(data, bytes):
            data = data.decode()
        born, _, generation = str(data).rpartition(" ")
        try:
            number = int(generation)
        except ValueError:
            return
        for backend in self._backends.get(str(channel), []):
            backend.heard(number, born)

    # -- clients ---------------------------------------------------------------------

    def _backend(
        self,
        *,
        account: httpx.URL,
        limit: RateLimit,
        clock: Clock,
        on_event: EventHook | None,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> SharedBackend:
        """The quota backend of one client (``Client`` calls this)."""
        tag = self._key if self._key is not None else _account_tag(account)
        return SharedBackend(self, f"{{{tag}}}", limit, clock, jitter=jitter, on_event=on_event)


class SharedBackend:
    """One client's view of the shared state (a ``QuotaBackend``)."""

    def __init__(
        self,
        quota: SharedQuota,
        prefix: str,
        limit: RateLimit,
        clock: Clock,
        *,
        jitter: Callable[[float, float], float],
        on_event: EventHook | None,
        member: str | None = None,
    ) -> None:
        self._quota = quota
        self.keys = (f"{prefix}:state", f"{prefix}:members")
        self.channel = f"{prefix}:gate"
        self._limit = limit
        self._clock = clock
        self._jitter = jitter
        self._on_event = on_event
        ttl_ms = int(1000 * (2 * limit.recovery_seconds + 60))
        self._config = [
            _fmt(limit.configured),
            _fmt(limit.floor * limit.configured),
            _fmt(limit.decrease),
            _fmt(limit.margin),
            _fmt(limit.recovery_seconds),
            str(limit.burst),
            str(ttl_ms),
        ]
        self.member = member or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.now_override: float | None = None
        """Tests only: the time the script uses instead of the server's ``TIME``."""
        self._outbox: list[str] = []
        self._lateness: collections.deque[float] = collections.deque(maxlen=LATENESS_SAMPLES)
        self._lazy_flush = False
        self._generation = 0
        self._born = ""
        self._sleeping: tuple[anyio.CancelScope, int] | None = None
        self._spares: collections.deque[_Reservation] = collections.deque()
        """Reservations of callers cancelled before their moment: the next caller of
        this process goes at that moment instead of reserving another (see ``take``)."""
        self._orphans: set[_RoundTrip] = set()
        """Round trips whose callers were cancelled, still under way."""
        self.reservations_unused = 0
        """Reservations no request went at: voided by a gate closure, or left by a
        cancelled caller and expired (tests: with the requests sent, they account for
        every reservation the store made for this backend)."""
        self._reply: _Reply | None = None
        self._asked = self._reply_at = 0.0
        self._offsets: collections.deque[tuple[float, float, float]] = collections.deque(
            maxlen=LATENESS_SAMPLES
        )
        """(when, lowest, highest offset of the server's clock from this one) of recent
        replies."""
        self._clock_error = 0.0
        self._processes = 1
        self._fallback: LocalQuota | None = None
        self._next_probe = 0.0
        self._opened = False

    def __repr__(self) -> str:
        mode = "falling back" if self._fallback is not None else "shared"
        return f"<SharedBackend {self.keys[0]!r} {mode}>"

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        if self._opened:
            return
        await self._quota._open()
        self._opened = True
        self._quota._register(self)

    async def close(self) -> None:
        if not self._opened:
            return
        self._opened = False
        try:
            if self._outbox and self._fallback is None:
                with anyio.CancelScope(shield=True), contextlib.suppress(_Unavailable):
                    await self._run(reserve=False)
        finally:
            self._quota._unregister(self)
            await self._quota._close()

    # -- taking a token --------------------------------------------------------------

    def take_nowait(self) -> object | None:
        fallback = self._fallback
        if fallback is not None and self._clock.now() < self._next_probe:
            at = fallback.take_nowait()
            return _LocalGrant(at, fallback) if isinstance(at, float) else None
        return None  # the shared state is one round trip away

    async def take(self, deadline: QuotaDeadline | None) -> object:
        if not self._opened:
            raise QuotaBackendError(
                "the shared quota is not open: use the client as 'async with Client(...)' "
                "(or open the quota with 'async with quota')"
            )
        while True:
            # A cancelled caller's round trip may still bring its reservation back:
            # wait for it (one round trip at most) rather than reserve past it.
            while self._orphans:
                await next(iter(self._orphans)).done.wait()
            reservation = self._spare()
            if reservation is None:
                now = self._clock.now()
                fallback = self._fallback
                if fallback is not None and now < self._next_probe:
                    at = await fallback.take(deadline)
                    assert isinstance(at, float)
                    return _LocalGrant(at, fallback)
                max_wait = None
                if deadline is not None and deadline.at is not None:
                    max_wait = max(0.0, deadline.at - now)
                try:
                    reply = await self._run_detached(reserve=True, max_wait=max_wait)
                except _Unavailable as exc:
                    self._unavailable(exc)
                    continue  # on to the fallback quota
                if not reply.reserved:
                    raise QuotaWaitExpired
                reservation = self._reservation(reply)
            elif (
                deadline is not None
                and deadline.at is not None
                and reservation.moment > deadline.at
            ):
                self._spares.appendleft(reservation)  # for a caller that can wait
                raise QuotaWaitExpired
            moment = reservation.moment
            try:
                if moment > self._clock.now() and not await self._sleep(moment, reservation.gen):
                    logger.debug("shared quota: the gate closed meanwhile, reserving again")
                    self.reservations_unused += 1
                    continue
            except BaseException:
                # Cancelled before its moment: the reservation is the next caller's.
                self._spares.appendleft(reservation)
                raise
            now = self._clock.now()
            self._lateness.append(max(0.0, now - moment))
            if reservation.closed:
                self._emit(PauseEnded(at=now))
            return reservation.granted

    def _reservation(self, reply: _Reply) -> _Reservation:
        return _Reservation(self._local_moment(reply), reply.gen, reply.granted, reply.closed)

    def _spare(self) -> _Reservation | None:
        """A cancelled caller's reservation still good to use now, if there is one. One
        whose moment has passed (beyond how late this process leaves anyway) is
        dropped: the store counted its token spent then, and the next token is due
        one interval after it. One the gate's closure voided was given back by the
        store."""
        now = self._clock.now()
        late = max(SPIN, self._jitter_estimate())
        while self._spares:
            spare = self._spares.popleft()
            if spare.gen >= self._generation and spare.moment + late >= now:
                return spare
            self.reservations_unused += 1
        return None

    def _local_moment(self, reply: _Reply) -> float:
        """The reserved moment on this process's clock, never before the real one.

        The server decided at its time ``granted``, somewhere within the round trip
        (``asked`` to ``answered`` here): the offset between its clock and this one is
        at least ``granted - answered``. Of the round trips of the last
        ``CLOCK_WINDOW`` seconds, the one that bounds it best from below gives the
        moment (as NTP filters its samples): at most the best round trip late, and
        not early. A host's clock may be off by any amount; only the two clocks'
        rates must agree over the window."""
        asked, answered = self._asked, self._reply_at
        horizon = answered - CLOCK_WINDOW
        while self._offsets and self._offsets[0][0] < horizon:
            self._offsets.popleft()
        self._offsets.append((answered, reply.granted - answered, reply.granted - asked))
        low = max(sample[1] for sample in self._offsets)
        high = min(sample[2] for sample in self._offsets)
        if high < low:  # the clocks moved apart: start again from this round trip
            self._offsets.clear()
            self._offsets.append((answered, reply.granted - answered, reply.granted - asked))
            low, high = reply.granted - answered, reply.granted - asked
        self._clock_error = high - low
        return min(max(reply.granted + reply.wait - low, asked + reply.wait), answered + reply.wait)

    async def _sleep(self, moment: float, generation: int) -> bool:
        """Sleep until a reservation's moment (clock time); ``False`` if a gate closure
        voided it."""
        if self._generation > generation:
            return False
        subscription = self._quota._subscription(self.channel)
        with anyio.CancelScope() as scope:
            self._sleeping = (scope, generation)
            try:
                await self._sleep_until(moment)
            finally:
                self._sleeping = None
        if scope.cancelled_caught:
            return False
        if subscription is None or self._quota._subscription(self.channel) != subscription:
            # No channel heard a closure all along: check the gate before sending.
            with contextlib.suppress(_Unavailable):
                await self._run_detached(reserve=False)
        return self._generation <= generation

    async def _sleep_until(self, target: float) -> None:
        """Sleep until ``target`` (clock time), the last ``SPIN`` seconds yielding to the
        event loop rather than waiting on its timer: a timer fires up to a millisecond
        late, and requests from different processes must not bunch up by that much."""
        wait = target - self._clock.now()
        if wait > SPIN:
            await self._clock.sleep(wait - SPIN)
        give_up = time.monotonic() + 2 * SPIN  # a virtual clock does not move on its own
        while self._clock.now() < target and time.monotonic() < give_up:
            await anyio.lowlevel.checkpoint()

    def _jitter_estimate(self) -> float:
        """How late this process's requests may leave after their reserved moments:
        the 90th percentile of how late its latest ``LATENESS_SAMPLES`` woke, plus how
        far off its estimate of the server's clock may be (0 before the first)."""
        samples = sorted(self._lateness)
        if not samples:
            return 0.0
        return samples[int(0.9 * (len(samples) - 1))] + self._clock_error

    def heard(self, generation: int, born: str) -> None:
        """The gate's generation is at least ``generation`` (from the channel or a
        reply): a caller sleeping toward an older reservation wakes up."""
        if born != self._born:
            return  # another state's: the next reply says which one is current
        if generation > self._generation:
            self._generation = generation
            sleeping = self._sleeping
            if sleeping is not None and sleeping[1] < generation:
                sleeping[0].cancel()

    # -- outcomes --------------------------------------------------------------------

    def on_success(self, grant: object) -> None:
        if isinstance(grant, _LocalGrant):
            grant.quota.on_success(grant.at)
            return
        self._outbox.append("s")
        if not self._lazy_flush:
            # Usually the next reservation carries it; if none comes soon, send it.
            self._lazy_flush = self._quota._start_soon(self._flush_later)

    def on_quota_exceeded(self, grant: object) -> None:
        if isinstance(grant, _LocalGrant):
            grant.quota.on_quota_exceeded(grant.at)
            return
        assert isinstance(grant, float)
        self._outbox.append(f"e{_fmt(grant)}:{_fmt(self._jitter(0.0, 1.0))}")
        self._quota._start_soon(self._flush)  # every process must pause: at once

    async def _flush_later(self) -> None:
        try:
            await self._clock.sleep(min(1.0, 1.0 / self._limit.configured))
        finally:
            self._lazy_flush = False
        await self._flush()

    async def _flush(self) -> None:
        if not self._outbox or self._fallback is not None:
            return
        try:
            await self._run(reserve=False)
        except _Unavailable as exc:
            self._unavailable(exc, background=True)
        except Exception:  # a background task's failure would cancel the client's work
            logger.exception("shared quota: reporting outcomes failed")

    # -- round trips -----------------------------------------------------------------

    def _arguments(self, reserve: bool, max_wait: float | None) -> list[str]:
        """The script's ``ARGV`` (taking the outcomes to report out of the outbox)."""
        outcomes, self._outbox = self._outbox, []
        return [
            *self._config,
            self.member,
            "1" if reserve else "0",
            "" if max_wait is None else _fmt(max_wait),
            "" if self.now_override is None else _fmt(self.now_override),
            self.channel,
            _fmt(self._jitter_estimate()),
            *outcomes,
        ]

    async def _run(self, *, reserve: bool, max_wait: float | None = None) -> _Reply:
        """One round trip, in this task (reports, closing, tests)."""
        args = self._arguments(reserve, max_wait)
        asked = self._clock.now()
        reply = await self._quota._evaluate(self.keys, args)
        return self._settle(reply, asked, self._clock.now(), background=not reserve)

    async def _run_detached(self, *, reserve: bool, max_wait: float | None = None) -> _Reply:
        """One round trip for a caller that may be cancelled while it runs: run in the
        quota's task group, so that the caller leaves at once when cancelled (never held
        by a slow or reconnecting store) and what the store did for it is taken over
        (a reservation becomes the next caller's, see ``_spare``)."""
        trip = _RoundTrip(reserve)
        args = self._arguments(reserve, max_wait)
        if not self._quota._start_soon(functools.partial(self._round_trip, trip, args)):
            raise _Unavailable("the shared quota is closed")
        try:
            await trip.done.wait()
        except BaseException:
            self._abandon(trip)
            raise
        if trip.error is not None:
            raise trip.error
        if trip.reply is None:
            raise _Unavailable("the shared quota closed during the round trip")
        return self._settle(trip.reply, trip.asked, trip.answered, background=not reserve)

    async def _round_trip(self, trip: _RoundTrip, args: list[str]) -> None:
        trip.asked = self._clock.now()
        try:
            trip.reply = await self._quota._evaluate(self.keys, args)
            trip.answered = self._clock.now()
        except Exception as exc:  # the caller's to raise (or the orphan's to drop)
            trip.error = exc
        finally:
            trip.done.set()
            if trip.abandoned:
                self._orphans.discard(trip)
                self._adopt(trip)

    def _abandon(self, trip: _RoundTrip) -> None:
        """The caller of ``trip`` was cancelled: the backend takes over its outcome."""
        if trip.done.is_set():
            self._adopt(trip)
        else:
            trip.abandoned = True
            self._orphans.add(trip)

    def _adopt(self, trip: _RoundTrip) -> None:
        if trip.reply is None:
            return  # failed: the next caller finds out for itself
        try:
            reply = self._settle(trip.reply, trip.asked, trip.answered, background=True)
        except Exception:  # no caller to raise into
            logger.exception("shared quota: taking over a cancelled call's reply failed")
            return
        if trip.reserve and reply.reserved:
            self._spares.append(self._reservation(reply))

    def _settle(self, reply: _Reply, asked: float, answered: float, *, background: bool) -> _Reply:
        """Take in the store's answer to a round trip from ``asked`` to ``answered``."""
        now = answered
        self._asked = asked
        self._reply, self._reply_at = reply, now
        self._processes = max(1, reply.processes)
        if self._fallback is not None:
            self._fallback = None
            logger.info("shared quota %s answers again: back on the shared state", self._quota)
            self._emit(QuotaBackendRestored(at=now), background=background)
        if reply.started is not None:
            logger.debug(
                "quota exceeded: pausing every process for %.3fs, rate now %.3f/s",
                reply.started,
                reply.rate,
            )
            # The server closed the gate somewhere in the round trip: from its start, the
            # pause is not said to last longer than it does.
            until = asked + reply.started
            self._emit(PauseStarted(at=now, until=until), background=background)
        if reply.born != self._born:  # a new state (Redis restarted, the key expired)
            self._born, self._generation = reply.born, reply.gen
        self.heard(reply.gen, reply.born)
        return reply

    def _unavailable(self, exc: _Unavailable, *, background: bool = False) -> None:
        error = str(exc)
        self._outbox.clear()
        if self._quota.on_unavailable == "raise":
            if background:
                logger.debug("shared quota unavailable (%s): outcomes not reported", error)
                return
            raise QuotaBackendError(
                f"the shared quota's {self._quota._noun} did not answer ({error}); nothing was sent"
            ) from exc
        now = self._clock.now()
        self._next_probe = now + PROBE_INTERVAL
        if self._fallback is not None:
            return
        processes = self._processes
        limit = attrs.evolve(
            self._limit,
            rate=self._limit.configured / processes,
            per=1.0,
            recovery=self._limit.recovery_seconds,
        )
        self._fallback = LocalQuota(
            limit, self._clock, jitter=self._jitter, on_event=self._on_event
        )
        logger.warning(
            "shared quota %s unavailable (%s): falling back to a local quota of %.3g "
            "requests/s (the configured rate shared by %d process%s) until its %s answers",
            self._quota,
            error,
            limit.configured,
            processes,
            "" if processes == 1 else "es",
            self._quota._noun,
        )
        self._emit(
            QuotaBackendUnavailable(
                at=now, error=error, rate=limit.configured, processes=processes
            ),
            background=background,
        )

    def _emit(self, event: ClientEvent, *, background: bool = False) -> None:
        if self._on_event is None:
            return
        if not background:
            self._on_event(event)
            return
        try:  # no call's task to raise into: a hook's failure must not stop the quota
            self._on_event(event)
        except Exception:
            logger.exception("on_event hook failed on %r", event)

    # -- state -----------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        return self._fallback is None

    def figures(self) -> QuotaFigures:
        limit = self._limit
        if self._fallback is not None:
            return attrs.evolve(
                self._fallback.figures(),
                configured_rate=limit.per_second,
                processes=self._processes,
            )
        reply = self._reply
        if reply is None:
            return QuotaFigures(
                configured_rate=limit.per_second,
                current_rate=limit.configured,
                rate_at_last_decrease=None,
                since_last_decrease=None,
                contended=False,
                learned_margin=0.0,
                tokens=1.0,
                paused_until=None,
                shared=True,
            )
        now = self._clock.now()
        elapsed = now - self._reply_at
        paused_until = self._reply_at + reply.paused_for
        return QuotaFigures(
            configured_rate=limit.per_second,
            current_rate=reply.rate,
            rate_at_last_decrease=reply.plateau,
            since_last_decrease=(
                reply.since_age + elapsed if reply.since_age is not None else None
            ),
            contended=reply.contended,
            learned_margin=reply.widening / reply.rate + reply.jitter,
            tokens=reply.tokens,
            paused_until=paused_until if paused_until > now else None,
            shared=True,
            shared_calls=reply.calls,
            shared_quota_errors=reply.errors,
            processes=reply.processes,
        )
