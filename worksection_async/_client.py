"""``Client``: configuration, lifecycle and the ``call()`` pipeline.

A call flows: ``Call.build`` (validate, normalise) -> retry loop -> transport (sign,
send, decode). Every default is a module constant here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType

import httpx

from ._call import Call, ParamValue
from ._clock import Clock, MonotonicClock
from ._exceptions import QuotaExceededError, WorksectionError
from ._json import JSONValue
from ._pages import Page
from ._retry import DEFAULT_RETRY, RetryPolicy, run_with_retry
from ._signing import PageHash, Signer
from ._transport import HttpTransport

__all__ = ["DEFAULT_TIMEOUT", "Client", "ClientClosedError"]

logger = logging.getLogger("worksection_async")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""30 s to read an answer, 5 s to connect."""

DEFAULT_SIGNER: Signer = PageHash()
"""The base document's ``md5(page + action + api_key)`` scheme."""


class ClientClosedError(WorksectionError, RuntimeError):
    """The client was used after ``aclose()`` (or after its ``async with`` block)."""


def _account_url(value: str | httpx.URL) -> httpx.URL:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"account_url is not a valid URL: {value!r}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"account_url must be an http(s) URL with a host, like "
            f"'https://acme.worksection.com', got {str(value)!r}"
        )
    if url.path not in ("", "/") or url.query or url.fragment:
        raise ValueError(
            f"account_url must be the account's address without a path, like "
            f"'https://acme.worksection.com', got {str(value)!r}"
        )
    return url.copy_with(path="/", query=None, fragment=None)


class Client:
    """An async client for one Worksection account.

    ::

        async with Client("https://acme.worksection.com", api_key) as client:
            task = await client.call("get_task", page="/project/1/2/")

    ``signer`` chooses the signing dialect (``PageHash()`` by default, ``QueryHash()``,
    ``HmacToken()``). ``retry`` is the quota retry policy (``None`` turns retrying off).
    Pass ``http_client`` to use your own ``httpx.AsyncClient`` (never closed by this
    client), or ``transport`` for an httpx transport (tests use
    ``FakeWorksection().transport``). ``clock`` is where waits happen (tests pass a
    ``ManualClock``).
    """

    def __init__(
        self,
        account_url: str | httpx.URL,
        api_key: str,
        *,
        signer: Signer = DEFAULT_SIGNER,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = _account_url(account_url)
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValueError("api_key must be a non-empty string")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy or None, got {retry!r}")
        if http_client is not None and transport is not None:
            raise ValueError("pass either http_client or transport, not both")
        owns_http = http_client is None
        if http_client is None:
            http_client = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._signer = signer
        self._retry = retry
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self._transport = HttpTransport(
            self._url, api_key, signer, http_client, owns_http=owns_http, wall_clock=wall_clock
        )
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        self._check_open()
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
            await self._transport.aclose()

    @property
    def is_closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("this Client is closed; create a new one")

    # -- calls -----------------------------------------------------------------------

    @property
    def account_url(self) -> str:
        return str(self._url).rstrip("/")

    @property
    def signer(self) -> Signer:
        return self._signer

    @property
    def retry(self) -> RetryPolicy | None:
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

    async def send(self, call: Call) -> JSONValue:
        """Send a prepared ``Call`` through the retry policy and the transport."""
        self._check_open()

        async def attempt() -> JSONValue:
            self._check_open()
            return await self._transport.send(call)

        return await run_with_retry(
            self._retry, attempt, clock=self._clock, on_retry=self._log_retry
        )

    def _log_retry(self, error: QuotaExceededError, attempt: int, wait: float) -> None:
        logger.debug(
            "quota exceeded on %s (attempt %d); retrying in %.2fs", error.action, attempt, wait
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Client {self.account_url} signer={self._signer.name} {state}>"
