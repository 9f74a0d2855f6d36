"""Limits on what one attempt may cost: time, bytes read, JSON nesting.

The client's ``total_timeout`` and ``max_response_size`` are checked here; the transport
and the OAuth2 token requests read answers with ``read_limited`` (reading stops once the
cap is passed) and decode them with ``parse_json`` (a value or a ``ValueError``, never a
``RecursionError`` or a float infinity).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import math
from collections.abc import AsyncIterator
from typing import Final, NoReturn

import httpx

from ._json import JSONValue

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "FROM_TIMEOUT",
    "AnswerTooLarge",
    "FromTimeout",
    "check_max_response_size",
    "parse_json",
    "read_limited",
    "redirect_target",
    "total_timeout_of",
]

DEFAULT_MAX_RESPONSE_SIZE: Final = 64 * 1024 * 1024
"""64 MiB: the most bytes (after content decoding) read from one API answer.

The largest answer the API gives, ``get_all_tasks`` at its 10,000-record limit with
``extra=text,files,comments,relations,subtasks``, measures 5.9 MB on
``FakeWorksection.populated(projects=64)`` (9,929 tasks and subtasks; 4.9 MB for 10,000
tasks with ``extra=text``): the cap leaves room for about 6 KB of text per task more.
"""


class FromTimeout(enum.Enum):
    """The type of ``FROM_TIMEOUT``."""

    FROM_TIMEOUT = "from timeout"


FROM_TIMEOUT: Final = FromTimeout.FROM_TIMEOUT
"""``total_timeout``'s default: a number given as ``timeout``, or an ``httpx.Timeout``'s
read limit."""


def total_timeout_of(
    timeout: httpx.Timeout | float | None, total: float | dt.timedelta | FromTimeout | None
) -> float | None:
    """The bound on a whole attempt, in seconds (``None``: unbounded), from the client's
    ``timeout`` and ``total_timeout``: a number given as ``timeout`` is the total; an
    ``httpx.Timeout``'s ``read`` limit is; an explicit ``total_timeout`` wins."""
    name = "total_timeout"
    if total is FROM_TIMEOUT:
        if isinstance(timeout, httpx.Timeout):
            return timeout.read
        name, total = "timeout", timeout
    if total is None:
        return None
    if isinstance(total, bool) or not isinstance(total, (int, float, dt.timedelta)):
        raise TypeError(f"{name} must be seconds or a timedelta, got {total!r}")
    seconds = total.total_seconds() if isinstance(total, dt.timedelta) else float(total)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {total!r}")
    return seconds


def check_max_response_size(value: int | None) -> int | None:
    """``max_response_size`` as given, if it is a positive number of bytes or ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_response_size must be a number of bytes or None, got {value!r}")
    if value < 1:
        raise ValueError(f"max_response_size must be at least 1 byte, got {value!r}")
    return value


class AnswerTooLarge(Exception):
    """The answer passed the cap; ``received`` bytes were read (or announced)."""

    def __init__(self, received: int, *, announced: bool) -> None:
        self.received = received
        self.announced = announced
        super().__init__(received)


async def read_limited(response: httpx.Response, limit: int | None) -> bytes:
    """Read a streamed ``response`` whole, raising ``AnswerTooLarge`` past ``limit`` bytes.

    A ``Content-Length`` over the limit is refused before a byte is read; otherwise
    reading stops at the first chunk that passes it, so at most one chunk more than the
    limit is ever held.
    """
    if limit is None:
        return await response.aread()
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        raise AnswerTooLarge(int(declared), announced=True)
    buffer = bytearray()
    chunks = response.aiter_bytes()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            break
    else:
        return bytes(buffer)
    received = len(buffer)
    del buffer
    await _abandon(response, chunks)
    raise AnswerTooLarge(received, announced=False)


async def _abandon(response: httpx.Response, chunks: AsyncIterator[bytes]) -> None:
    """Stop reading ``response`` half way.

    httpx reads through a stack of async generators. Closing the response and then
    pulling once more makes the closed stream at the bottom raise (or end), so every
    generator in the stack finishes, instead of being left suspended for the garbage
    collector (which Trio reports as a ``ResourceWarning``).
    """
    await response.aclose()
    with contextlib.suppress(Exception):  # the closed stream's error, or its end
        await anext(chunks)


def redirect_target(response: httpx.Response) -> str:
    """Where a redirect points, as ``scheme://host[:port]`` (never its path or query,
    which may echo the request); ``"an invalid location"`` if it cannot be parsed."""
    try:
        target = response.request.url.join(response.headers.get("location", ""))
        where = f"{target.scheme}://{target.host or '?'}"
        return f"{where}:{target.port}" if target.port is not None else where
    except (httpx.InvalidURL, ValueError, TypeError):
        return "an invalid location"


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_json(body: bytes) -> JSONValue:
    """Decode ``body`` as strict JSON (UTF-8/16/32, as ``json.loads``).

    Anything else raises ``ValueError``: broken syntax, bytes that are not text,
    ``NaN``/``Infinity``, integers past Python's digit limit, and nesting too deep for
    the parser (Python's ``RecursionError``).
    """
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        value: JSONValue = _DECODER.decode(text)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply to decode") from exc
    return value
