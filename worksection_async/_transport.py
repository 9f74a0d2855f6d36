"""The transport: sign a call, send it with httpx, decode the JSON envelope.

This is the only module that does HTTP and the only one that catches ``httpx``
exceptions: they are translated here, once, into ``TransportError`` (no answer) and
``ProtocolError`` (an answer that is not the API's envelope), chained with ``from``.

Each attempt is bounded: the whole exchange within the total timeout (an anyio cancel
scope; httpx's own timeouts are per phase), the answer within ``max_response_size``
bytes, its JSON within the parser's nesting limit. Redirects are never followed. An
httpcore ``trace`` hook tells whether the request started going out (``request_sent``).
Error messages mask the request's own secrets in every encoding (``mask_secrets``).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from email.message import Message
from typing import Any, Final

import anyio
import attrs
import httpx

from ._call import Call
from ._events import EventHook, RequestPrepared
from ._exceptions import (
    AuthenticationError,
    ProtocolError,
    TransportError,
    TransportTimeoutError,
    api_error,
)
from ._json import JSONValue
from ._limits import (
    DEFAULT_MAX_RESPONSE_SIZE,
    INCREMENTAL_JSON_FROM,
    AnswerTooLarge,
    aparse_json,
    parse_json,
    read_limited,
    redirect_target,
)
from ._oauth import BearerToken
from ._signing import (
    Signer,
    WireRequest,
    mask_margin,
    mask_secrets,
    masked_prefix,
    redact_hash,
)

logger = logging.getLogger("worksection_async")

__all__ = [
    "ApiHttpClient",
    "Download",
    "HttpTransport",
    "decode_envelope",
    "filename_from",
    "install_log_redaction",
]

SNIPPET_LENGTH: Final = 200


@attrs.frozen(kw_only=True)
class Download:
    """What a download wrote: the server's file name, content type and byte count."""

    filename: str | None
    content_type: str | None
    size: int


def filename_from(disposition: str) -> str | None:
    """The file name of a ``Content-Disposition`` header (RFC 6266 / 5987 aware)."""
    if not disposition:
        return None
    message = Message()
    message["content-disposition"] = disposition
    name = message.get_filename()
    if not name:
        return None
    # Never let a server-chosen name climb out of a directory.
    return name.replace("\\", "/").rsplit("/", 1)[-1] or None


class _RedactHashFilter(logging.Filter):
    """Masks ``hash=...`` in httpx's own log lines, which print full request URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_hash(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


_FILTER = _RedactHashFilter()


def install_log_redaction() -> None:
    """Attach the hash-masking filter to httpx's loggers (idempotent)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def _redact(text: str, secrets: Iterable[str]) -> str:
    return mask_secrets(text, secrets)


def _snippet(body: bytes, secrets: tuple[str, ...]) -> str:
    """The first ``SNIPPET_LENGTH`` characters of ``body``, whitespace collapsed, with
    every secret masked in every form (``mask_secrets``).

    Only a window at the start of the body is read. A secret cut in two by the window's
    end cannot be recognised, so when the body goes on past the window, the masked text
    loses as many characters as the longest encoding of a secret could take.
    """
    margin = mask_margin(secrets)
    window = SNIPPET_LENGTH * 4 + margin
    text = bytes(body[:window]).decode("utf-8", errors="replace")
    text = _redact(" ".join(text.split()), secrets)
    if len(body) > window and margin:
        text = text[: max(0, len(text) - margin)]
    return text[:SNIPPET_LENGTH]


MAX_ERROR_TEXT: Final = 65_536
"""Most characters of an error's ``message`` kept (the rest is replaced by a note saying
how much), and of all its ``message_details`` strings together (more is a
``ProtocolError``). The API's are a sentence or a field name; masking is linear, but a
64 MB message would still take seconds."""

MAX_DETAILS_DEPTH: Final = 32
"""Deepest ``message_details`` kept in an ``APIError`` (the API's are one level deep)."""

MAX_DETAILS_ITEMS: Final = 10_000
"""Most values (strings, numbers, lists, objects) in ``message_details``."""


def _masked_message(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with its secrets masked; past ``MAX_ERROR_TEXT`` characters, cut with a
    note saying so (``masked_prefix``)."""
    return masked_prefix(text, secrets, MAX_ERROR_TEXT)


def _masked_details(details: JSONValue, secrets: tuple[str, ...], http_status: int) -> JSONValue:
    """``details`` with every string masked (``mask_secrets``). Too deep (unprintable)
    or too large a value is a ``ProtocolError``."""
    items = chars = 0

    def text(value: str) -> str:
        nonlocal chars
        chars += len(value)
        if chars > MAX_ERROR_TEXT:
            raise ProtocolError(
                f"error envelope's message_details holds over {MAX_ERROR_TEXT} characters",
                http_status=http_status,
            )
        return _redact(value, secrets)

    def walk(value: JSONValue, depth: int) -> JSONValue:
        nonlocal items
        items += 1
        if depth > MAX_DETAILS_DEPTH or items > MAX_DETAILS_ITEMS:
            raise ProtocolError(
                f"error envelope's message_details is nested over {MAX_DETAILS_DEPTH} levels "
                f"or holds over {MAX_DETAILS_ITEMS} values",
                http_status=http_status,
            )
        if isinstance(value, str):
            return text(value)
        if isinstance(value, list):
            return [walk(item, depth + 1) for item in value]
        if isinstance(value, dict):
            return {text(key): walk(item, depth + 1) for key, item in value.items()}
        return value

    return walk(details, 0)


MAX_CODE_DIGITS: Final = 9
_CODE = re.compile(rf"-?[0-9]{{1,{MAX_CODE_DIGITS}}}")


def _as_code(value: JSONValue) -> int | None:
    """``status_code`` as an int: a JSON integer or a string of ASCII digits, at most
    nine of them (no API code is longer); anything else is unknown (``None``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) < 10**MAX_CODE_DIGITS else None
    if isinstance(value, str) and _CODE.fullmatch(value.strip()):
        return int(value.strip())
    return None


class _NotParsed(enum.Enum):
    """The body has not been decoded yet."""

    TOKEN = 0


_NOT_PARSED: Final = _NotParsed.TOKEN


def decode_envelope(
    status: int,
    headers: httpx.Headers,
    body: bytes,
    call: Call,
    *,
    signer: str,
    secrets: tuple[str, ...] = (),
    parsed: JSONValue | _NotParsed = _NOT_PARSED,
) -> JSONValue:
    """Turn an answer into the payload, or raise the exception it stands for.

    ``{"status": "ok", "data": X}`` gives ``X``; an ok envelope with other top-level
    fields (``id``, ``total``, ``message``...) gives those fields (``data`` included, if
    any); a bare ``{"status": "ok"}`` gives ``None``. Every other answer is an
    ``APIError`` (a readable error envelope, HTTP 401 and 429) or a ``ProtocolError``.
    """
    if status == 429:
        raise api_error(
            20, "Too many requests (HTTP 429)", action=call.action, page=call.page, http_status=429
        )
    if status == 401:
        reason = "Unauthorized (HTTP 401)"
        try:
            parsed = parse_json(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            found = parsed.get("message") or parsed.get("error_description") or parsed.get("error")
            if isinstance(found, str):
                reason = _masked_message(found, secrets)
        raise AuthenticationError(None, reason, action=call.action, page=call.page, http_status=401)
    if status != 200:
        reason = "HTML error page" if _looks_like_html(headers, body) else "unexpected HTTP status"
        raise ProtocolError(reason, http_status=status, snippet=_snippet(body, secrets))
    try:
        envelope = parse_json(body) if isinstance(parsed, _NotParsed) else parsed
    except ValueError as exc:
        if isinstance(exc.__cause__, RecursionError):
            reason = "response is JSON nested too deeply to decode"
        elif _looks_like_html(headers, body):
            reason = "HTML error page"
        else:
            reason = "response is not JSON"
        raise ProtocolError(reason, http_status=status, snippet=_snippet(body, secrets)) from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("status"), str):
        raise ProtocolError(
            "response is not a Worksection envelope (no status field)",
            http_status=status,
            snippet=_snippet(body, secrets),
        )
    envelope_status = envelope["status"]
    if envelope_status == "ok":
        if len(envelope) == 1:
            return None
        if len(envelope) == 2 and "data" in envelope:
            return envelope["data"]
        return {key: value for key, value in envelope.items() if key != "status"}
    if envelope_status == "error":
        message = envelope.get("message")
        raise api_error(
            _as_code(envelope.get("status_code")),
            _masked_message(message, secrets) if isinstance(message, str) else "",
            _masked_details(envelope.get("message_details"), secrets, status),
            action=call.action,
            page=call.page,
            http_status=status,
            signer=signer,
        )
    shown = _redact(str(envelope_status)[:40], secrets)
    raise ProtocolError(
        f"unknown envelope status {shown!r}",
        http_status=status,
        snippet=_snippet(body, secrets),
    )


def _looks_like_html(headers: httpx.Headers, body: bytes) -> bool:
    if "html" in headers.get("content-type", ""):
        return True
    return body[:64].lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))


_BEFORE_SENDING: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)
"""httpx errors raised before a byte of the request can have left."""


class _Progress:
    """An httpcore ``trace`` hook: did the request start going out?

    Without events (a transport that is not httpcore's, such as ``MockTransport``), the
    answer is "it may have" unless the error itself says otherwise.
    """

    __slots__ = ("sending", "traced")

    def __init__(self) -> None:
        self.traced = False
        self.sending = False

    async def __call__(self, event: str, info: Mapping[str, object]) -> None:
        self.traced = True
        if event.endswith(".send_request_headers.started"):
            self.sending = True

    def request_sent(self, error: BaseException | None = None) -> bool:
        if isinstance(error, _BEFORE_SENDING):
            return False
        return self.sending or not self.traced


_QUERY_AS_IS: Final = re.compile(r"[\x21\x24-\x3b\x3d\x3f-\x7e]*")
"""A query string httpx keeps byte for byte: printable ASCII without space, ``"``,
``#``, ``<``, ``>`` (its ``QUERY_SAFE`` and unreserved characters; ``%`` passes as it
is). Every query a signer builds is of this form."""

_MAX_URL: Final = 65_536
"""httpx's longest URL: a longer one is parsed (and refused) by httpx itself."""


def _query_url_works() -> bool:
    """Whether an ``httpx.URL`` can take a new query without being parsed again (the
    ``_uri_reference`` named tuple of httpx >= 0.24); checked once, against httpx's own
    parse of the same text."""
    query = "action=x&page=%2Fproject%2F1%2F&a=~!$'()*+,;:@/?%"
    try:
        url = _replace_query(httpx.URL("https://acme.example/api/"), query)
        parsed = httpx.URL(f"https://acme.example/api/?{query}")
        return str(url) == str(parsed) and url == parsed and url.raw_path == parsed.raw_path
    except Exception:  # any change in httpx's internals: parse every URL
        return False


def _replace_query(template: httpx.URL, query: str) -> httpx.URL:
    url = httpx.URL.__new__(httpx.URL)
    url._uri_reference = template._uri_reference._replace(query=query)
    return url


_QUERY_URL: Final = _query_url_works()


_URL_SECRETS: Final = frozenset(("hash", "http_pass"))


def _masked_url(url: str) -> str:
    """``url`` with the value of its ``hash`` and ``http_pass`` (a webhook's password)
    parameters masked: the names a signer writes, found by splitting the query (a
    quarter of ``redact_hash``'s time, on every request an event hook sees)."""
    start = url.find("?")
    if start < 0:
        return url
    return url[: start + 1] + _masked_query(url[start + 1 :])


def _masked_query(query: str) -> str:
    """A query string with its ``hash`` and ``http_pass`` values masked."""
    parts = query.split("&")
    for index, part in enumerate(parts):
        name, equals, _ = part.partition("=")
        if equals and name.lower() in _URL_SECRETS:
            parts[index] = f"{name}=[redacted]"
    return "&".join(parts)


def _seconds(value: float | None) -> str:
    return f"{value:g} s" if value is not None else "no limit"


class _AnswerCookies(httpx.Cookies):
    """httpx's cookie store, which skips answers that set no cookie."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class ApiHttpClient(httpx.AsyncClient):
    """The ``httpx.AsyncClient`` a ``Client`` builds for itself.

    It is httpx's own, except that an answer without ``Set-Cookie`` costs the cookie
    store nothing: httpx wraps every answer and its request in urllib objects for the
    cookie jar (a tenth of a small call's time). Cookies a server does set are kept
    and sent back as usual.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._answer_cookies = _AnswerCookies(kwargs.get("cookies"))
        super().__init__(**kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._answer_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._answer_cookies = _AnswerCookies(cookies)


class HttpTransport:
    """Signs calls and sends them through an ``httpx.AsyncClient``.

    The transport owns the client it creates and closes it in ``aclose()``; a client
    passed in by the caller is used as it is and never closed. Redirects are never
    followed, whatever the client was told: a signed request goes to the account's host
    only. Each attempt ends within ``total_timeout`` seconds (connect, send and the whole
    answer) and reads at most ``max_response_size`` bytes of an API answer.
    """

    __slots__ = (
        "_api_key",
        "_api_key_secret",
        "_base",
        "_base_url",
        "_http",
        "_max_size",
        "_on_event",
        "_owns_http",
        "_paths",
        "_signer",
        "_total",
        "_wall",
    )

    def __init__(
        self,
        base_url: httpx.URL,
        api_key: str,
        signer: Signer,
        http: httpx.AsyncClient,
        *,
        owns_http: bool,
        wall_clock: Callable[[], float] = time.time,
        total_timeout: float | None = None,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
        on_event: EventHook | None = None,
    ) -> None:
        self._on_event = on_event
        self._base_url = base_url
        self._base = str(base_url).rstrip("/")
        self._api_key = api_key
        self._signer = signer
        self._http = http
        self._owns_http = owns_http
        self._wall = wall_clock
        self._total = total_timeout
        self._max_size = max_response_size
        self._api_key_secret = (api_key,) if api_key else ()
        self._paths: dict[str, tuple[httpx.URL, str]] = {}
        install_log_redaction()

    def _secrets(self, wire: WireRequest | None = None) -> tuple[str, ...]:
        """What must never appear in an error message: the key, an OAuth2 token, and
        the request's own hash or Authorization credential."""
        signer = self._signer
        if isinstance(signer, BearerToken):
            base: tuple[str, ...] = (signer.tokens.access_token, signer.tokens.refresh_token)
        else:
            base = self._api_key_secret
        return base + wire.secrets() if wire is not None else base

    @property
    def signer(self) -> Signer:
        return self._signer

    @property
    def total_timeout(self) -> float | None:
        return self._total

    @property
    def max_response_size(self) -> int | None:
        return self._max_size

    def build_request(self, call: Call) -> httpx.Request:
        """Sign ``call`` now and build the HTTP request (fresh signature every time)."""
        return self._to_httpx(self._sign(call))

    def _sign(self, call: Call) -> WireRequest:
        return self._signer.sign(call, self._api_key, self._wall())

    def _url(self, wire: WireRequest) -> httpx.URL:
        """The request's URL (see ``_url_and_text``)."""
        return self._url_and_text(wire)[0]

    def _url_and_text(self, wire: WireRequest) -> tuple[httpx.URL, str | None]:
        """The request's URL, and the text of its account and path when the query was
        set as it is (what an event shows before the query, not formatted again).

        The account and path are parsed once; the query a signer built is set as it
        is (httpx would keep every byte of it), not parsed again: on a small call that
        parse was a sixth of the client's time."""
        path, query = wire.path, wire.query
        found = self._paths.get(path)
        if found is None:
            if "?" in path or "#" in path or len(self._paths) >= 16:
                return httpx.URL(self._base + wire.target), None  # not a plain API path
            template = httpx.URL(self._base + path)
            found = self._paths[path] = (template, str(template))
        template, text = found
        if not query:
            return template, text
        short = len(self._base) + len(path) + len(query) < _MAX_URL
        if _QUERY_URL and short and _QUERY_AS_IS.fullmatch(query):
            return _replace_query(template, query), text
        return httpx.URL(self._base + wire.target), None

    def _to_httpx(self, wire: WireRequest, call: Call | None = None) -> httpx.Request:
        url, text = self._url_and_text(wire)
        if self._on_event is not None and call is not None:
            if text is None:
                shown = _masked_url(str(url))
            elif wire.query:
                shown = f"{text}?{_masked_query(wire.query)}"
            else:
                shown = text
            self._on_event(RequestPrepared(action=call.action, method=wire.method, url=shown))
        headers = dict(wire.headers)
        if wire.files:
            files = [(f.field, (f.filename, f.content, f.content_type)) for f in wire.files]
            fields: dict[str, list[str]] = {}
            for key, value in wire.form_fields:
                fields.setdefault(key, []).append(value)
            return self._http.build_request(
                wire.method, url, headers=headers, data=fields, files=files
            )
        if wire.content_type is not None:
            headers["Content-Type"] = wire.content_type
        return self._http.build_request(wire.method, url, headers=headers, content=wire.body)

    async def send(self, call: Call) -> JSONValue:
        """Send ``call`` and return the decoded payload.

        With an OAuth2 ``BearerToken`` that can refresh, an HTTP 401 "token is expired"
        triggers one shared refresh and one resend.
        """
        signer = self._signer
        if not isinstance(signer, BearerToken) or not signer.can_refresh:
            return await self._send_once(call, self._sign(call))
        token = signer.tokens.access_token
        try:
            return await self._send_once(call, signer.sign_with(call, token))
        except AuthenticationError as exc:
            if "expired" not in exc.message.lower():
                raise
            logger.debug("access token expired on %s: refreshing", call.action)
            await signer.refresh(token, self._http, total_timeout=self._total)
            return await self._send_once(call, self._sign(call))

    async def _send_once(self, call: Call, wire: WireRequest) -> JSONValue:
        secrets = self._secrets(wire)
        status, headers, body = await self._exchange(self._to_httpx(wire, call), call, secrets)
        parsed: JSONValue | _NotParsed = _NOT_PARSED
        if status == 200 and len(body) >= INCREMENTAL_JSON_FROM:
            # A big answer is decoded in slices, letting other tasks run in between;
            # when it is not JSON, decode_envelope parses again to say why.
            with contextlib.suppress(ValueError):
                parsed = await aparse_json(body)
        return decode_envelope(
            status, headers, body, call, signer=self._signer.name, secrets=secrets, parsed=parsed
        )

    async def _exchange(
        self, request: httpx.Request, call: Call, secrets: tuple[str, ...]
    ) -> tuple[int, httpx.Headers, bytes]:
        """One attempt: send, read the whole answer within the size cap, all within the
        total timeout. Never follows a redirect."""
        progress = _Progress()
        request.extensions = {**request.extensions, "trace": progress}
        response: httpx.Response | None = None
        try:
            with anyio.move_on_after(self._total):
                response = await self._http.send(request, stream=True, follow_redirects=False)
                _refuse_redirect(response, secrets)
                try:
                    body = await read_limited(response, self._max_size)
                except AnswerTooLarge as exc:
                    raise self._too_large(response, exc) from None
                return response.status_code, response.headers, body
            # Only a cancellation by the deadline gets here.
            raise TransportTimeoutError(
                f"{call.action} took longer than the total timeout ({_seconds(self._total)}); "
                f"the attempt was abandoned",
                request_sent=progress.request_sent(),
            )
        except httpx.DecodingError as exc:
            raise ProtocolError(
                f"answer's content encoding cannot be decoded ({type(exc).__name__})",
                http_status=response.status_code if response is not None else 0,
            ) from exc
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, call, secrets, progress) from exc
        finally:
            if response is not None and not response.is_closed:  # read whole: closed
                with anyio.CancelScope(shield=True):
                    await response.aclose()

    def _too_large(self, response: httpx.Response, exc: AnswerTooLarge) -> ProtocolError:
        verb = "announces" if exc.announced else "passed"
        return ProtocolError(
            f"answer {verb} {exc.received} bytes, over max_response_size "
            f"({self._max_size} bytes); reading stopped",
            http_status=response.status_code,
        )

    def _transport_error(
        self,
        exc: httpx.HTTPError,
        call: Call,
        secrets: tuple[str, ...],
        progress: _Progress,
    ) -> TransportError:
        sent = progress.request_sent(exc)
        if isinstance(exc, httpx.TimeoutException):
            return TransportTimeoutError(
                f"timed out calling {call.action} ({type(exc).__name__})", request_sent=sent
            )
        return TransportError(
            f"network error calling {call.action}: {_redact(str(exc), secrets)}"
            f" ({type(exc).__name__})",
            request_sent=sent,
        )

    async def download(self, call: Call, write: Callable[[bytes], Awaitable[object]]) -> Download:
        """Stream a file answer into ``write`` chunk by chunk; JSON answers are errors.

        The total timeout bounds the wait for the answer to start (and the reading of a
        JSON error); the file itself streams for as long as it takes, each read bounded
        by httpx's read timeout, and is not subject to ``max_response_size``.
        """
        wire = self._sign(call)
        secrets = self._secrets(wire)
        request = self._to_httpx(wire, call)
        progress = _Progress()
        request.extensions = {**request.extensions, "trace": progress}
        response: httpx.Response | None = None
        try:
            with anyio.move_on_after(self._total) as scope:
                response = await self._http.send(request, stream=True, follow_redirects=False)
                _refuse_redirect(response, secrets)
                content_type = response.headers.get("content-type", "")
                is_file = response.status_code == 200 and not content_type.startswith(
                    "application/json"
                )
                if not is_file:
                    try:
                        body = await read_limited(response, self._max_size)
                    except AnswerTooLarge as exc:
                        raise self._too_large(response, exc) from None
                    decode_envelope(
                        response.status_code,
                        response.headers,
                        body,
                        call,
                        signer=self._signer.name,
                        secrets=secrets,
                    )
                    raise ProtocolError(
                        "expected a file, got a JSON answer",
                        http_status=response.status_code,
                        snippet=_snippet(body, secrets),
                    )
            if scope.cancelled_caught or response is None:
                raise TransportTimeoutError(
                    f"{call.action} took longer than the total timeout "
                    f"({_seconds(self._total)}) to start answering",
                    request_sent=progress.request_sent(),
                )
            size = 0
            try:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    await write(chunk)
            except httpx.HTTPError as exc:
                error = (
                    TransportTimeoutError
                    if isinstance(exc, httpx.TimeoutException)
                    else TransportError
                )
                raise error(
                    f"download interrupted after {size} bytes ({type(exc).__name__})"
                ) from exc
            return Download(
                filename=filename_from(response.headers.get("content-disposition", "")),
                content_type=content_type or None,
                size=size,
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, call, secrets, progress) from exc
        finally:
            if response is not None and not response.is_closed:  # read whole: closed
                with anyio.CancelScope(shield=True):
                    await response.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()


def _refuse_redirect(response: httpx.Response, secrets: tuple[str, ...]) -> None:
    """A redirect is never followed: the signed request would go (hash and body
    included) wherever the server points. It becomes a ``ProtocolError`` naming the
    target host."""
    if not response.is_redirect:
        return
    where = redirect_target(response)
    raise ProtocolError(
        f"redirected to {_redact(where, secrets)}, not followed: a signed request is only "
        f"ever sent to the account's own host (check account_url)",
        http_status=response.status_code,
    )
