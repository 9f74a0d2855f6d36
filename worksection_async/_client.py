"""``Client``: configuration, lifecycle and the ``call()`` pipeline.

A call flows: ``Call.build`` (validate, normalise) -> retry loop -> throttle (a slot
and a token) -> transport (sign, send, decode), the outcome feeding back into the
throttle. Every default is a module constant here or in the module that uses it.
"""

from __future__ import annotations

import datetime as dt
import inspect
import ipaddress
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import anyio
import anyio.to_thread
import httpx

from . import _env
from ._bulk import Progress, map_ordered
from ._call import Call, ParamValue
from ._clock import Clock, MonotonicClock
from ._events import (
    CURRENT_BULK,
    Bulk,
    BulkKind,
    CallEnded,
    CallStarted,
    ClientClosed,
    ClientCreated,
    EventHook,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    bulk_of,
)
from ._exceptions import (
    APIError,
    ProtocolError,
    QuotaExceededError,
    TransportError,
    WorksectionError,
)
from ._json import JSONValue
from ._limits import (
    DEFAULT_MAX_RESPONSE_SIZE,
    FROM_TIMEOUT,
    FromTimeout,
    check_max_response_size,
    total_timeout_of,
)
from ._oauth import BearerToken
from ._pages import Page
from ._retry import DEFAULT_RETRY, RetryPolicy, run_with_retry
from ._signing import PageHash, Signer
from ._throttle import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_RATE_LIMIT,
    QuotaDeadline,
    QuotaSnapshot,
    QuotaWaitExpired,
    RateLimit,
    Throttle,
)
from ._transport import ApiHttpClient, Download, HttpTransport
from .resources._mixin import ResourcesMixin
from .resources._protocol import Destination

if TYPE_CHECKING:
    from .shared import SharedQuota

T = TypeVar("T")
R = TypeVar("R")


__all__ = ["DEFAULT_MAX_RESPONSE_SIZE", "DEFAULT_TIMEOUT", "Client", "ClientClosedError"]

logger = logging.getLogger("worksection_async")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""5 s to connect, 30 s for each read and write; and 30 s (its read limit) for a whole
attempt: connect, send and the entire answer."""

DEFAULT_SIGNER: Signer = PageHash()
"""The base document's ``md5(page + action + api_key)`` scheme."""


class ClientClosedError(WorksectionError, RuntimeError):
    """The client was used after ``aclose()`` (or after its ``async with`` block)."""


class _Tally:
    """A call's figures for ``CallEnded``: requests let go, seconds queued for the
    quota, whether any request may have reached the server."""

    __slots__ = ("attempts", "sent", "waited")

    def __init__(self) -> None:
        self.attempts = 0
        self.waited = 0.0
        self.sent = False


def _answer_of(outcome: BaseException | None) -> tuple[int | None, int | None, bool]:
    """An attempt's HTTP status (``None``: no answer), API error code, and whether its
    request may have reached the server."""
    if outcome is None:
        return 200, None, True
    if isinstance(outcome, APIError):
        return outcome.http_status or None, outcome.code, True
    if isinstance(outcome, ProtocolError):
        return outcome.http_status or None, None, outcome.request_sent
    if isinstance(outcome, TransportError):
        return None, None, outcome.request_sent
    if isinstance(outcome, ClientClosedError):
        return None, None, False
    return None, None, True


def _shown(value: str | httpx.URL) -> str:
    """The URL as given, for an error message, with anything before an ``@`` masked
    (a password, however it is written)."""
    text = str(value)
    if "@" not in text:
        return text
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "", text
    return f"{scheme}{separator}***@{rest.rpartition('@')[2]}"


def _is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ``::1`` (also as an IPv4-mapped IPv6 address)."""
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _account_url(value: str | httpx.URL, *, allow_insecure_http: bool = False) -> httpx.URL:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError):
        # Not chained: httpx's message may quote the URL, password and all.
        raise ValueError(f"account_url is not a valid URL: {_shown(value)!r}") from None
    if url.userinfo:
        # Never echo the URL here: the password is in it.
        raise ValueError(
            "account_url must not contain a user name or password ('user:password@'): "
            "it would show in the client's repr and account_url; the API key "
            "authenticates the client"
        )
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"account_url must be an http(s) URL with a host, like "
            f"'https://acme.worksection.com', got {_shown(value)!r}"
        )
    if url.path not in ("", "/") or url.query or url.fragment:
        raise ValueError(
            f"account_url must be the account's address without a path, like "
            f"'https://acme.worksection.com', got {_shown(value)!r}"
        )
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise ValueError(
            f"account_url {_shown(value)!r} uses plain http:// to a host that is not "
            "loopback: every request and its signature would cross the network "
            "unencrypted, and the default signing hash (md5 of page, action and key) "
            "is valid for ever, so anyone who sees one request can replay it. Use "
            "https://, or pass allow_insecure_http=True if you accept that risk "
            "(http:// to localhost, 127.0.0.0/8 and ::1 is always allowed)"
        )
    return url.copy_with(path="/", query=None, fragment=None)


class Client(ResourcesMixin):
    """An async client for one Worksection account.

    ::

        async with Client("https://acme.worksection.com", api_key) as client:
            task = await client.call("get_task", page="/project/1/2/")

    ``signer`` chooses the signing dialect (``PageHash()`` by default, ``QueryHash()``,
    ``HmacToken()``, or ``BearerToken(tokens, app=...)`` for OAuth2, which takes no
    ``api_key``). ``retry`` is the quota retry policy (``None`` turns retrying off).
    Pass ``http_client`` to use your own ``httpx.AsyncClient`` (never closed by this
    client; give it a pool of at least ``max_concurrency`` connections and no pool
    timeout, as the client builds its own; its own timeouts set the phases, and the total
    bound below still applies), or ``transport`` for an httpx transport (tests use
    ``FakeWorksection().transport``). ``clock`` is where waits happen (tests pass a
    ``ManualClock``).

    Every call goes through one client-side quota: ``rate_limit`` (a token bucket,
    ``RateLimit()`` = 1 request/s; ``None`` turns it off), at most ``max_concurrency``
    requests in flight, and a pause gate that holds every call back after an error 20.
    ``shared_quota`` (a ``worksection_async.shared.SharedQuota``: ``memory://``,
    ``sqlite://`` or Redis) moves the bucket, the gate and the adaptive rate into a store
    shared by every client on the account; the concurrency cap stays per client. A
    client with a shared quota is used as ``async with Client(...)`` (that connects it).
    ``on_event`` receives typed events (requests, responses, retries, pauses, the shared
    quota falling back and coming back).

    ``account_url`` is ``https://`` and carries no ``user:password@``. Plain ``http://``
    is accepted only for loopback hosts (``localhost``, 127.0.0.0/8, ``::1``: a local
    ``FakeWorksection``), since the default signing hash is replayable by anyone who
    sees a request; ``allow_insecure_http=True`` lifts that for any host.

    Time and size limits apply to each attempt (each request of a call):

    * ``timeout=30.0`` (a number) bounds the whole attempt, from connecting to the last
      byte of the answer, to 30 s; each phase (connect, write, every read) gets that
      limit too. A server trickling one byte every 2 s is cut off at 30 s.
    * ``timeout=httpx.Timeout(...)`` sets httpx's per-phase limits: ``connect``,
      ``write``, ``pool``, and ``read``, the longest wait for the *next* bytes (not for
      the whole answer). The whole attempt is then bounded by ``total_timeout``, which
      defaults to that ``read`` limit (the default ``DEFAULT_TIMEOUT`` is 5 s to connect,
      30 s per read, 30 s per attempt).
    * ``total_timeout`` (seconds or a ``timedelta``) sets the whole-attempt bound
      explicitly, with either form of ``timeout``; ``None`` removes it.
    * ``timeout=None`` removes every limit (and the total, unless given).

    An attempt that runs out of time raises ``TransportTimeoutError`` (a
    ``TransportError``). ``max_response_size`` (bytes, ``DEFAULT_MAX_RESPONSE_SIZE`` =
    64 MiB, ``None``: no cap) bounds what is read of one API answer: reading stops there
    and the call raises ``ProtocolError``. The largest real answer, 10,000 tasks with
    text, comments, files and subtasks, is about 6 MB. Downloads stream to their
    destination and are not capped; the total timeout bounds only their wait for the
    answer to start.
    """

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> Client:
        """A client configured from the environment (``os.environ`` unless given).

        ``WORKSECTION_URL`` is the account's address and ``WORKSECTION_API_KEY`` its
        admin API key; a missing or empty one is a ``ValueError`` that names it. When
        set, ``WORKSECTION_RATE`` is the account's quota in requests per second
        (``off``: no client-side quota) and ``WORKSECTION_SHARED_QUOTA`` a store URL
        for ``SharedQuota.from_url`` (``off``: none). ``options`` are the other keyword
        arguments of ``Client`` and win over the environment::

            async with Client.from_env() as client:
                projects = await client.projects.list()
        """
        env = os.environ if environ is None else environ
        url = _env.required(
            env, _env.URL_ENV, "the account's address, https://<account>.worksection.com"
        )
        key = _env.required(env, _env.API_KEY_ENV, "the account's admin API key")
        if "rate_limit" not in options and env.get(_env.RATE_ENV, "").strip():
            options["rate_limit"] = _env.rate_limit(env[_env.RATE_ENV])
        if "shared_quota" not in options and env.get(_env.SHARED_QUOTA_ENV, "").strip():
            options["shared_quota"] = _env.shared_quota(env[_env.SHARED_QUOTA_ENV])
        return cls(url, key, **options)

    def __init__(
        self,
        account_url: str | httpx.URL,
        api_key: str | None = None,
        *,
        signer: Signer = DEFAULT_SIGNER,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        total_timeout: float | dt.timedelta | FromTimeout | None = FROM_TIMEOUT,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        shared_quota: SharedQuota | None = None,
        on_event: EventHook | None = None,
        clock: Clock | None = None,
        wall_clock: Callable[[], float] = time.time,
        allow_insecure_http: bool = False,
    ) -> None:
        self._url = _account_url(account_url, allow_insecure_http=allow_insecure_http)
        if isinstance(signer, BearerToken):
            if api_key:
                raise ValueError("an OAuth2 client (signer=BearerToken(...)) takes no api_key")
            api_key = ""
        elif not isinstance(api_key, str) or not api_key.strip():
            raise ValueError("api_key must be a non-empty string")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy or None, got {retry!r}")
        if http_client is not None and transport is not None:
            raise ValueError("pass either http_client or transport, not both")
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise TypeError(f"rate_limit must be a RateLimit or None, got {rate_limit!r}")
        total = total_timeout_of(timeout, total_timeout)
        max_size = check_max_response_size(max_response_size)
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._wall_clock = wall_clock  # events.watch sizes its windows on it too
        self._on_event = on_event
        backend = None
        if shared_quota is not None:
            if rate_limit is None:
                raise ValueError(
                    "shared_quota needs a rate_limit (the account's quota, which the "
                    "processes share), got rate_limit=None"
                )
            backend = shared_quota._backend(
                account=self._url, limit=rate_limit, clock=self._clock, on_event=on_event
            )
        self._throttle = Throttle(
            rate_limit, max_concurrency, self._clock, on_event=on_event, quota=backend
        )
        owns_http = http_client is None
        if http_client is None:
            # The throttle does the queuing: the pool is as large as the concurrency cap
            # and has no timeout of its own.
            base = httpx.Timeout(timeout)
            http_client = ApiHttpClient(
                transport=transport,
                timeout=httpx.Timeout(
                    connect=base.connect, read=base.read, write=base.write, pool=None
                ),
                limits=httpx.Limits(
                    max_connections=max_concurrency, max_keepalive_connections=max_concurrency
                ),
            )
        self._signer = signer
        self._retry = retry
        self._transport = HttpTransport(
            self._url,
            api_key,
            signer,
            http_client,
            owns_http=owns_http,
            wall_clock=wall_clock,
            total_timeout=total,
            max_response_size=max_size,
            on_event=on_event,
        )
        self._closed = False
        if on_event is not None:
            on_event(ClientCreated(client=self))

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        self._check_open()
        await self._throttle.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client this client created (idempotent)."""
        if not self._closed:
            self._closed = True
            try:
                await self._throttle.close()
            finally:
                await self._transport.aclose()
                if self._on_event is not None:
                    self._on_event(ClientClosed(client=self))

    @property
    def is_closed(self) -> bool:
        """Whether the client was closed; a closed client sends nothing."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("this Client is closed; create a new one")

    # -- calls -----------------------------------------------------------------------

    @property
    def account_url(self) -> str:
        """The account's address, ``https://<account>.worksection.com/``."""
        return str(self._url).rstrip("/")

    @property
    def signer(self) -> Signer:
        """The signing dialect every request is signed with."""
        return self._signer

    @property
    def retry(self) -> RetryPolicy | None:
        """The retry policy (``None``: no retries)."""
        return self._retry

    async def call(
        self, action: str, /, page: Page | str | None = None, **params: ParamValue
    ) -> JSONValue:
        """Call any API action and return its decoded payload (the raw escape hatch).

        ``page`` is a page value or string (``"/project/1/2/"`` or a browser URL). Params
        are normalised (see ``Call``): ``date`` -> ``DD.MM.YYYY``, ``bool`` -> ``1``/``0``,
        a list -> repeated ``key[]``. Dotted names go through ``**{"options.x": 1}``.
        """
        return await self.send(Call.build(action, page, params))

    @property
    def quota(self) -> QuotaSnapshot:
        """A snapshot of the client-side quota: rates, tokens, queue, totals."""
        return self._throttle.snapshot()

    async def send(self, call: Call) -> JSONValue:
        """Send a prepared ``Call`` through the quota, the retry policy and the transport."""
        return await self._run(call, lambda: self._transport.send(call))

    async def download(self, call: Call, destination: Destination) -> Download:
        """Stream a ``download`` answer to a path or a binary file object.

        Nothing is buffered whole: chunks go to ``destination`` as they arrive (a path
        is written through anyio's thread-backed file; a file object's ``write`` is
        awaited if it is async, else run in a worker thread).

        A path only ever holds a complete file: the chunks go to a temporary file
        beside it (``.<name>.<random>.part``), renamed over the path once the whole
        answer is in. On any failure or cancellation the temporary file is removed
        (shielded from the cancellation) and whatever was at the path is left as it
        was. A missing directory fails before anything is sent.
        """
        if isinstance(destination, (str, os.PathLike)):
            return await self._download_to_path(call, anyio.Path(destination))
        write = destination.write
        if inspect.iscoroutinefunction(write):
            return await self._run(call, lambda: self._transport.download(call, write))

        async def write_in_thread(chunk: bytes) -> object:
            return await anyio.to_thread.run_sync(write, chunk)

        return await self._run(call, lambda: self._transport.download(call, write_in_thread))

    async def _download_to_path(self, call: Call, path: anyio.Path) -> Download:
        self._check_open()
        # Beside the target, so the final rename stays on one file system; "x" so an
        # existing file is never written through. A long name is shortened so the
        # temporary one stays within the usual 255-byte limit.
        stem = os.fsdecode(os.fsencode(path.name)[:200])
        partial = path.with_name(f".{stem}.{secrets.token_hex(8)}.part")
        file = await anyio.open_file(partial, "xb")
        attempts = 0
        try:

            async def attempt() -> Download:
                nonlocal attempts
                attempts += 1
                if attempts > 1:  # a retry (error 20) starts the file again from nothing
                    await file.seek(0)
                    await file.truncate()
                return await self._transport.download(call, file.write)

            result = await self._run(call, attempt)
            await file.aclose()
            await partial.replace(path)
        except BaseException:
            # Clean up even when cancelled: unshielded, these awaits would raise at
            # once and leave the partial file behind.
            with anyio.CancelScope(shield=True):
                await file.aclose()
                await partial.unlink(missing_ok=True)
            raise
        return result

    async def _run(self, call: Call, operation: Callable[[], Awaitable[R]]) -> R:
        hook = self._on_event
        if hook is None:
            return await self._attempts(call, operation, None)
        tally = _Tally()
        at = self._clock.now()
        hook(CallStarted(action=call.action, page=call.page, at=at, bulk=CURRENT_BULK.get()))
        error: BaseException | None = None
        try:
            return await self._attempts(call, operation, tally)
        except BaseException as exc:
            error = exc
            raise
        finally:
            now = self._clock.now()
            hook(
                CallEnded(
                    action=call.action,
                    page=call.page,
                    at=now,
                    elapsed=now - at,
                    attempts=tally.attempts,
                    waited=tally.waited,
                    sent=tally.sent,
                    error=type(error).__name__ if error is not None else None,
                    code=error.code if isinstance(error, APIError) else None,
                )
            )

    def _start_bulk(self, kind: BulkKind, items: int | None) -> Bulk | None:
        """A bulk operation for the hook (``None`` when nothing listens)."""
        if self._on_event is None:
            return None
        return Bulk(self._on_event, self._clock.now, kind, items)

    async def _attempts(
        self, call: Call, operation: Callable[[], Awaitable[R]], tally: _Tally | None
    ) -> R:
        self._check_open()
        attempts = 0
        throttle = self._throttle
        hook = self._on_event
        paced = throttle.paces_retries
        deadline = (
            QuotaDeadline(self._retry.budget(paced=paced)) if self._retry is not None else None
        )

        async def attempt() -> R:
            nonlocal attempts
            queued = self._clock.now() if tally is not None else 0.0
            try:
                grant = await throttle.acquire(deadline, retry=attempts > 0)
            except BaseException:
                if tally is not None:
                    tally.waited += self._clock.now() - queued
                raise
            if deadline is not None and not attempts:
                deadline.first_sent(self._clock.now())
            attempts += 1
            outcome: BaseException | None = None
            started = self._clock.now() if hook is not None else 0.0
            try:
                self._check_open()
                if hook is not None:
                    waited = 0.0
                    if tally is not None:
                        waited = started - queued
                        tally.waited += waited
                        tally.attempts = attempts
                    hook(
                        RequestSent(
                            action=call.action,
                            page=call.page,
                            attempt=attempts,
                            at=started,
                            waited=waited,
                        )
                    )
                return await operation()
            except BaseException as exc:
                outcome = exc
                raise
            finally:
                throttle.release(
                    grant,
                    quota_exceeded=isinstance(outcome, QuotaExceededError),
                    succeeded=outcome is None,
                )
                if hook is not None:
                    now = self._clock.now()
                    status, code, sent = _answer_of(outcome)
                    if tally is not None:
                        tally.sent = tally.sent or sent
                    hook(
                        ResponseReceived(
                            action=call.action,
                            page=call.page,
                            attempt=attempts,
                            at=now,
                            elapsed=now - started,
                            error=type(outcome).__name__ if outcome is not None else None,
                            status=status,
                            code=code,
                            sent=sent,
                        )
                    )

        def on_retry(error: QuotaExceededError, attempt_number: int, wait: float) -> None:
            throttle.note_retry()
            logger.debug(
                "quota exceeded on %s (attempt %d); retrying in %.2fs",
                call.action,
                attempt_number,
                wait,
            )
            if hook is not None:
                hook(
                    RetryScheduled(
                        action=call.action, page=call.page, attempt=attempt_number, wait=wait
                    )
                )

        try:
            return await run_with_retry(
                self._retry,
                attempt,
                clock=self._clock,
                on_retry=on_retry,
                paced=paced,
                deadline=deadline,
            )
        except QuotaWaitExpired:
            assert deadline is not None
            assert deadline.budget is not None
            logger.warning("%s: no request sent within the quota deadline", call.action)
            raise QuotaExceededError(
                20,
                f"Quota exceeded: the client-side quota let no request go within the "
                f"retry policy's deadline ({deadline.budget:g} s); nothing was sent",
                action=call.action,
                page=call.page,
                http_status=0,
            ).with_attempts(0) from None
        except QuotaExceededError as exc:
            logger.warning("%s failed on quota after %d attempt(s)", call.action, attempts)
            del exc
            raise

    @overload
    async def map(
        self,
        fn: Callable[[T], Awaitable[R]],
        items: Iterable[T],
        *,
        return_exceptions: Literal[False] = False,
        progress: Progress | None = None,
    ) -> list[R]: ...

    @overload
    async def map(
        self,
        fn: Callable[[T], Awaitable[R]],
        items: Iterable[T],
        *,
        return_exceptions: Literal[True],
        progress: Progress | None = None,
    ) -> list[R | Exception]: ...

    async def map(
        self,
        fn: Callable[[T], Awaitable[R]],
        items: Iterable[T],
        *,
        return_exceptions: bool = False,
        progress: Progress | None = None,
    ) -> list[R] | list[R | Exception]:
        """Run ``fn(item)`` for every item concurrently, at the client's quota.

        Results come back in input order. ``return_exceptions=True`` puts a failed
        item's exception in its slot and lets the rest finish; otherwise the first
        failure cancels the others and is raised. Cancelling the caller cancels every
        item. ``progress(done, total)`` is called as items finish.
        """
        self._check_open()
        workers = self._throttle.max_concurrency
        current = CURRENT_BULK.get() if self._on_event is not None else None
        if self._on_event is None or (current is not None and current.kind != "map"):
            # No hook, or part of a get_many or an export: no bulk operation of its own.
            if return_exceptions:
                return await map_ordered(
                    fn, items, workers=workers, return_exceptions=True, progress=progress
                )
            return await map_ordered(fn, items, workers=workers, progress=progress)
        todo = list(items)
        with bulk_of(self, "map", len(todo)):
            if return_exceptions:
                return await map_ordered(
                    fn, todo, workers=workers, return_exceptions=True, progress=progress
                )
            return await map_ordered(fn, todo, workers=workers, progress=progress)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Client {self.account_url} signer={self._signer.name} {state}>"
