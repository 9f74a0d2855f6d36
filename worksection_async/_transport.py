"""The transport: sign a call, send it with httpx, decode the JSON envelope.

This is the only module that does HTTP and the only one that catches ``httpx``
exceptions: they are translated here, once, into ``TransportError`` (no answer) and
``ProtocolError`` (an answer that is not the API's envelope), chained with ``from``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from email.message import Message
from typing import Final

import attrs
import httpx

from ._call import Call
from ._exceptions import (
    AuthenticationError,
    ProtocolError,
    TransportError,
    api_error,
)
from ._json import JSONValue
from ._oauth import BearerToken
from ._signing import Signer, WireRequest, redact_hash

logger = logging.getLogger("worksection_async")

__all__ = [
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


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return redact_hash(text)


def _snippet(body: bytes, secrets: tuple[str, ...]) -> str:
    text = body[: SNIPPET_LENGTH * 4].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return _redact(text, secrets)[:SNIPPET_LENGTH]


def _as_code(value: JSONValue) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def decode_envelope(
    response: httpx.Response,
    call: Call,
    *,
    signer: str,
    secrets: tuple[str, ...] = (),
) -> JSONValue:
    """Turn an answer into the payload, or raise the exception it stands for.

    ``{"status": "ok", "data": X}`` gives ``X``; an ok envelope with other top-level
    fields (``id``, ``total``, ``message``...) gives those fields (``data`` included, if
    any); a bare ``{"status": "ok"}`` gives ``None``.
    """
    status = response.status_code
    body = response.content
    if status == 429:
        raise api_error(
            20, "Too many requests (HTTP 429)", action=call.action, page=call.page, http_status=429
        )
    if status == 401:
        reason = "Unauthorized (HTTP 401)"
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            found = parsed.get("message") or parsed.get("error_description") or parsed.get("error")
            if isinstance(found, str):
                reason = _redact(found, secrets)
        raise AuthenticationError(None, reason, action=call.action, page=call.page, http_status=401)
    if status != 200:
        reason = "HTML error page" if _looks_like_html(response) else "unexpected HTTP status"
        raise ProtocolError(reason, http_status=status, snippet=_snippet(body, secrets))
    try:
        envelope: JSONValue = json.loads(body)
    except ValueError as exc:
        reason = "HTML error page" if _looks_like_html(response) else "response is not JSON"
        raise ProtocolError(reason, http_status=status, snippet=_snippet(body, secrets)) from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("status"), str):
        raise ProtocolError(
            "response is not a Worksection envelope (no status field)",
            http_status=status,
            snippet=_snippet(body, secrets),
        )
    if envelope["status"] == "ok":
        if len(envelope) == 1:
            return None
        if len(envelope) == 2 and "data" in envelope:
            return envelope["data"]
        return {key: value for key, value in envelope.items() if key != "status"}
    if envelope["status"] == "error":
        message = envelope.get("message")
        raise api_error(
            _as_code(envelope.get("status_code")),
            _redact(message, secrets) if isinstance(message, str) else "",
            envelope.get("message_details"),
            action=call.action,
            page=call.page,
            http_status=status,
            signer=signer,
        )
    raise ProtocolError(
        f"unknown envelope status {envelope['status']!r}",
        http_status=status,
        snippet=_snippet(body, secrets),
    )


def _looks_like_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", ""):
        return True
    return response.content.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))


class HttpTransport:
    """Signs calls and sends them through an ``httpx.AsyncClient``.

    The transport owns the client it creates and closes it in ``aclose()``; a client
    passed in by the caller is used as it is and never closed.
    """

    __slots__ = (
        "_api_key",
        "_api_key_secret",
        "_base",
        "_base_url",
        "_http",
        "_owns_http",
        "_signer",
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
    ) -> None:
        self._base_url = base_url
        self._base = str(base_url).rstrip("/")
        self._api_key = api_key
        self._signer = signer
        self._http = http
        self._owns_http = owns_http
        self._wall = wall_clock
        self._api_key_secret = (api_key,)
        install_log_redaction()

    def _secrets(self) -> tuple[str, ...]:
        """What must never appear in an error message: the key, an OAuth2 token."""
        signer = self._signer
        if isinstance(signer, BearerToken):
            return (signer.tokens.access_token, signer.tokens.refresh_token)
        return self._api_key_secret

    @property
    def signer(self) -> Signer:
        return self._signer

    def build_request(self, call: Call) -> httpx.Request:
        """Sign ``call`` now and build the HTTP request (fresh signature every time)."""
        wire = self._signer.sign(call, self._api_key, self._wall())
        return self._to_httpx(wire)

    def _to_httpx(self, wire: WireRequest) -> httpx.Request:
        url = httpx.URL(self._base + wire.target)  # parsed once: this is the hot path
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
            response = await self._dispatch(self.build_request(call), call)
            return decode_envelope(response, call, signer=signer.name, secrets=self._secrets())
        token = signer.tokens.access_token
        try:
            return await self._send_once(call, signer.sign_with(call, token))
        except AuthenticationError as exc:
            if "expired" not in exc.message.lower():
                raise
            logger.debug("access token expired on %s: refreshing", call.action)
            await signer.refresh(token, self._http)
            return await self._send_once(call)

    async def _send_once(self, call: Call, wire: WireRequest | None = None) -> JSONValue:
        request = self._to_httpx(wire) if wire is not None else self.build_request(call)
        response = await self._dispatch(request, call)
        return decode_envelope(response, call, signer=self._signer.name, secrets=self._secrets())

    async def _dispatch(
        self, request: httpx.Request, call: Call, *, stream: bool = False
    ) -> httpx.Response:
        try:
            return await self._http.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise TransportError(f"timed out calling {call.action} ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise TransportError(
                f"network error calling {call.action}: {_redact(str(exc), self._secrets())}"
                f" ({type(exc).__name__})"
            ) from exc

    async def download(self, call: Call, write: Callable[[bytes], Awaitable[object]]) -> Download:
        """Stream a file answer into ``write`` chunk by chunk; JSON answers are errors."""
        response = await self._dispatch(self.build_request(call), call, stream=True)
        try:
            content_type = response.headers.get("content-type", "")
            if response.status_code != 200 or content_type.startswith("application/json"):
                await response.aread()
                payload = decode_envelope(
                    response, call, signer=self._signer.name, secrets=self._secrets()
                )
                raise ProtocolError(
                    "expected a file, got a JSON answer",
                    http_status=response.status_code,
                    snippet=_snippet(json.dumps(payload).encode(), self._secrets()),
                )
            size = 0
            try:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    await write(chunk)
            except httpx.HTTPError as exc:
                raise TransportError(
                    f"download interrupted after {size} bytes ({type(exc).__name__})"
                ) from exc
            return Download(
                filename=filename_from(response.headers.get("content-disposition", "")),
                content_type=content_type or None,
                size=size,
            )
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()
