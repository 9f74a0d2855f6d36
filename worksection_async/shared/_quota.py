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
by the number of processes last seen on the key (``fallback_processes`` if it never
reached Redis), a WARNING is logged once and a
``QuotaBackendUnavailable`` event is emitted; Redis is tried again at most once a
second, and when it answers within half the ``timeout`` the client is back on the
shared state (``QuotaBackendRestored``; a Redis answering near the timeout does not make
it flap). The falling-back processes send in turns, not at random: slots of Redis's
clock, slot ``k`` the turn of the process of rank ``k % count`` among the names last
seen (``_reply._Slots``); the first turn is held back until the moments the others
reserved have passed, Redis is asked in the background meanwhile, and a process back on
the shared state keeps to its turns for ``HANDOVER`` seconds and two rounds of turns,
while the others may still be falling back. A refusal (a wrong password, an ACL, a
process configured at another rate on the key) is a ``QuotaBackendError`` at the call,
whatever ``on_unavailable`` says: it is a configuration to fix, not an outage. A state
that disappears while in use (evicted by a ``volatile-*`` policy, flushed) is logged
once as a WARNING. With ``on_unavailable="raise"`` the call raises
``QuotaBackendError`` and sends nothing. Outcomes that could not be reported are
dropped: the shared law misses them, nothing else.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import random
import re
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import anyio
import anyio.lowlevel
import httpx

from .._clock import Clock
from .._events import (
    EventHook,
)
from .._throttle import RateLimit
from ._backend import SharedBackend
from ._lua import QUOTA_SCRIPT
from ._reply import (
    LISTEN_RETRY,
    _Misconfigured,
    _Reply,
    _Unavailable,
)

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

DEFAULT_FALLBACK_PROCESSES: Final = 4
"""The processes a fallback quota assumes share the key when this one never reached
Redis (it cannot know: a guess that errs toward fewer refusals)."""


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

_REFUSED: Final = (
    (coredis.exceptions.AuthenticationError, coredis.exceptions.AuthorizationError)
    if coredis is not None
    else ()
)
"""Refusals that say the configuration is wrong (caught before ``_UNAVAILABLE``)."""


def _masked_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``."""
    return _USERINFO.sub("***@", url)


_SCHEMES: Final = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster", "redis+sentinel")


def _split_many(url: str) -> tuple[str, str, list[tuple[str, int]], str, str]:
    """``scheme://[user[:password]@]host:port[,host:port...][/path][?query]`` as
    (user, password, [(host, port)...], path, query), the credentials unquoted."""
    rest = url.partition("://")[2]
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    user, _, password = userinfo.partition(":") if at else ("", "", "")
    nodes: list[tuple[str, int]] = []
    for node in hosts.split(","):
        host, colon, port = node.strip().rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("each node is host:port")
        nodes.append((host.strip("[]"), int(port)))
    return (
        urllib.parse.unquote(user),
        urllib.parse.unquote(password),
        nodes,
        slash + path,
        query,
    )


def _tls_files(url: str) -> list[str]:
    """The TLS files a Redis URL names, as ``parameter=path``, for an error."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    return [
        f"{name}={value}"
        for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
        for value in query.get(name, ())
    ]


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
    ``fallback_processes``: the processes a fallback assumes share the key when this
    one never reached Redis (default 4; once it has, the count last seen is used).
    A refusal by Redis (a wrong password, an ACL that forbids the script, another
    process on the key configured at another rate) is a ``QuotaBackendError`` at the
    call, never a fallback.

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
        fallback_processes: int = DEFAULT_FALLBACK_PROCESSES,
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
        if (
            isinstance(fallback_processes, bool)
            or not isinstance(fallback_processes, int)
            or fallback_processes < 1
        ):
            raise ValueError(
                f"fallback_processes must be an integer >= 1, got {fallback_processes!r}"
            )
        self._redis = redis
        self.fallback_processes = fallback_processes
        self._warned_lost = False
        self._refreshing = False
        self._contexts: list[Any] = []
        self._entered: list[Any] = []
        """More async context managers to enter with the pool (a Sentinel's)."""
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
        fallback_processes: int = DEFAULT_FALLBACK_PROCESSES,
    ) -> SharedQuota:
        """A shared quota on the store at ``url``:

        - ``sqlite:///ABSOLUTE/PATH/quota.db``: the processes of one host, in one SQLite
          file (made if missing; standard library, no server);
        - ``memory://NAME``: the clients of one process that use the same ``NAME``;
        - ``redis://[[user]:password@]host[:port][/db]``, or ``unix:///path/to/socket``:
          many hosts, through Redis (the ``redis`` extra);
        - ``rediss://...``: TLS, with coredis's certificate options as query parameters
          (``ssl_ca_certs=``, ``ssl_certfile=``, ``ssl_keyfile=``, ``ssl_cert_reqs=``
          ``required|optional|none``, ``ssl_check_hostname=``);
        - ``redis+cluster://[[user]:password@]host:port[,host:port...]`` (or
          ``rediss+cluster://`` with the TLS parameters): a Redis Cluster found from
          any of these nodes;
        - ``redis+sentinel://[[user]:password@]host:port[,host:port...]/SERVICE[/db]``:
          the primary the Sentinels name for ``SERVICE`` (followed across failovers);
          the credentials are the data nodes', the Sentinels are asked without any.

        ``timeout``: seconds a decision may take before the store counts as unavailable
        (default ``DEFAULT_REDIS_TIMEOUT``, 1 s). ``fallback_processes``: how many
        processes a Redis quota that has never answered assumes share the account when
        it falls back (afterwards, the count it last saw). The password (and the user)
        never shows in a repr, a log line or an error."""
        if not isinstance(url, str):
            raise TypeError(f"url must be a string, got {type(url).__name__}")
        shown = _masked_url(url)
        scheme = url.partition("://")[0].lower()
        store = OTHER_STORES.get(scheme) if "://" in url else None
        if store is not None:
            return store(url, key=key, on_unavailable=on_unavailable, timeout=timeout)
        if scheme not in _SCHEMES:
            raise ValueError(
                "not a shared quota URL (sqlite:///PATH, memory://NAME, redis://, rediss://, "
                f"unix://, redis+cluster://, rediss+cluster:// or redis+sentinel://): {shown!r}"
            )
        if coredis is None:  # pragma: no cover - the extra is installed for the tests
            raise ImportError(_NEEDS_EXTRA)
        if timeout is None:
            timeout = DEFAULT_REDIS_TIMEOUT
        options: dict[str, Any] = {
            "decode_responses": True,
            "connect_timeout": timeout,
            "stream_timeout": timeout,
        }
        contexts: list[Any] = []
        found: set[str] = set()
        redis: coredis.client.Client[Any]
        try:
            if scheme in ("redis", "rediss", "unix"):
                split = urllib.parse.urlsplit(url)
                found = {p for p in (split.password, split.username) if p}
                redis = coredis.Redis.from_url(url, **options)
            else:
                user, password, nodes, path, query = _split_many(url)
                found = {p for p in (user, password) if p}
                auth: dict[str, Any] = {"username": user, "password": password}
                if scheme.endswith("+cluster"):
                    first = f"{scheme.partition('+')[0]}://{nodes[0][0]}:{nodes[0][1]}"
                    redis = coredis.RedisCluster.from_url(
                        first + (f"?{query}" if query else ""),
                        startup_nodes=[
                            coredis.connection.TCPLocation(host, port) for host, port in nodes
                        ],
                        **{k: v for k, v in auth.items() if v},
                        **options,
                    )
                else:
                    parts = [part for part in path.split("/") if part]
                    if not 1 <= len(parts) <= 2 or (len(parts) == 2 and not parts[1].isdigit()):
                        raise ValueError("a Sentinel URL ends in /SERVICE or /SERVICE/DB")
                    sentinel: coredis.Sentinel[str] = coredis.Sentinel(
                        [coredis.connection.TCPLocation(host, port) for host, port in nodes],
                        decode_responses=True,
                        db=int(parts[1]) if len(parts) == 2 else 0,
                        connect_timeout=timeout,
                        stream_timeout=timeout,
                        **{k: v for k, v in auth.items() if v},
                    )
                    redis = sentinel.primary_for(urllib.parse.unquote(parts[0]))
                    contexts.append(sentinel)
        except (ValueError, TypeError):
            # Not chained: the parser's message may quote the URL, password and all.
            raise ValueError(f"not a valid Redis URL: {shown!r}") from None
        except OSError as exc:  # a TLS file (ssl.SSLError is one too), read at once
            raise ValueError(
                f"the TLS files of {shown!r} cannot be used"
                f" ({', '.join(_tls_files(url)) or 'no file named'}): {exc.strerror or exc}"
            ) from None
        quota = cls(
            redis,
            key=key,
            on_unavailable=on_unavailable,
            timeout=timeout,
            fallback_processes=fallback_processes,
        )
        quota._shown = shown
        quota._contexts = contexts
        for part in found:
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
        """Open the store's connections (the first user opens the quota): the Sentinels,
        if any, then the pool."""
        entered: list[Any] = []
        try:
            for context in (*self._contexts, self._redis.connection_pool):
                await context.__aenter__()
                entered.append(context)
        except BaseException:
            with anyio.CancelScope(shield=True):
                for context in reversed(entered):
                    await context.__aexit__(None, None, None)
            raise
        self._entered = entered

    async def _disconnect(self) -> None:
        """Close what ``_connect`` opened (the last user closes the quota), in reverse."""
        entered, self._entered = self._entered, []
        try:
            for context in reversed(entered):
                await context.__aexit__(None, None, None)
        finally:
            self._entered = []

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
        except _REFUSED as exc:
            detail = self._scrub(str(exc)) or "refused"
            raise _Misconfigured(
                f"the shared quota's Redis {self._shown} refused the credentials or the "
                f"command ({type(exc).__name__}: {detail}): check the user, the password "
                "and its ACL (it needs EVALSHA/EVAL, SCRIPT LOAD, SUBSCRIBE and PUBLISH)"
            ) from None
        except _UNAVAILABLE as exc:
            # A round trip cut short by the caller's cancellation (coredis may say so
            # with a closed stream or a connection error): that cancellation, not an
            # unavailable store and a switch to the fallback quota.
            await anyio.lowlevel.checkpoint_if_cancelled()
            self._relayout()
            detail = self._scrub(str(exc)) or "no answer"
            if isinstance(exc, TimeoutError):
                detail = f"no answer within {self._timeout:g}s"
            raise _Unavailable(f"{type(exc).__name__}: {detail}") from None
        return _Reply.parse(raw)

    def _relayout(self) -> None:
        """A Cluster's round trip failed: ask it for its slots again, in the background.

        coredis 6 refreshes a cluster's layout after 15 errors; a quota that falls back
        probes once a second, so the promoted replica of a failed primary would be
        found a quarter of a minute late. At most one refresh at a time."""
        layout = getattr(self._redis.connection_pool, "cluster_layout", None)
        refresh = getattr(layout, "_refresh", None)
        if refresh is None or self._refreshing:
            return

        async def run() -> None:
            self._refreshing = True
            try:
                with anyio.fail_after(2 * self._timeout + 1):
                    await refresh()
            except Exception as exc:  # the next failure asks again
                logger.debug(
                    "shared quota: cluster layout not refreshed: %s", self._scrub(str(exc))
                )
            finally:
                self._refreshing = False

        self._start_soon(run)

    def _lost(self, backend: SharedBackend) -> None:
        """The shared state disappeared while in use: say so, once per quota."""
        if self._warned_lost:
            logger.debug("shared quota %s: the state of %s started again", self, backend.keys[0])
            return
        self._warned_lost = True
        logger.warning(
            "shared quota %s: the state %r disappeared while in use and started again "
            "(evicted by Redis's maxmemory-policy -- use noeviction or a Redis of its own --, "
            "flushed, or Redis restarted without persistence); said once",
            self,
            backend.keys[0],
        )

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
