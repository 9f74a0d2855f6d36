"""The fake's HTTP values: a request as it arrived and the response to send.

Both the httpx transport and the ASGI app translate to and from these, so the fake's
behaviour does not depend on how it is reached.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import attrs

from .._json import JSONValue

__all__ = [
    "JSON_CONTENT_TYPE",
    "MAX_URL_BYTES",
    "FakeRequest",
    "FakeResponse",
    "file_response",
    "html_page",
    "json_response",
]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
MAX_URL_BYTES = 8192
"""Longest request target (path and query) nginx accepts before answering 414."""

_REASONS = {
    401: "Unauthorized",
    404: "Not Found",
    414: "Request-URI Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


@attrs.frozen
class FakeRequest:
    """An HTTP request: method, raw target (path and query as sent), headers, body."""

    method: str
    target: bytes
    headers: tuple[tuple[str, str], ...] = ()
    """Names in lower case, values as sent."""
    body: bytes = attrs.field(default=b"", repr=False)

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any letter case), or ``default``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    @property
    def raw_path(self) -> bytes:
        """The path as sent, percent-encoding kept."""
        return self.target.partition(b"?")[0]

    @property
    def raw_query(self) -> bytes:
        """The query string as sent, without the ``?``."""
        return self.target.partition(b"?")[2]


@attrs.frozen
class FakeResponse:
    """What to answer; ``drop`` closes the connection without a (complete) answer."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = attrs.field(default=b"", repr=False)
    drop: bool = False

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any letter case), or ``default``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def is_json(self) -> bool:
        """Whether the body is JSON (by its content type)."""
        return (self.header("content-type") or "").startswith("application/json")


def json_response(payload: JSONValue, status: int = 200) -> FakeResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return FakeResponse(status, (("content-type", JSON_CONTENT_TYPE),), body)


def html_page(status: int, detail: str = "") -> FakeResponse:
    """An nginx-style HTML error page."""
    reason = _REASONS.get(status, "Error")
    title = f"{status} {reason}"
    extra = f"<p>{detail}</p>" if detail else ""
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n{extra}<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
    return FakeResponse(status, (("content-type", "text/html; charset=utf-8"),), body)


def file_response(name: str, content: bytes) -> FakeResponse:
    """A download: the bytes, with ``Content-Disposition`` naming the file."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
    return FakeResponse(
        200,
        (
            ("content-type", "application/octet-stream"),
            ("content-disposition", disposition),
        ),
        content,
    )
