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
import re
from collections.abc import AsyncIterator
from typing import Final, NoReturn

import httpx

from ._bulk import Breather
from ._json import JSONValue

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "FROM_TIMEOUT",
    "AnswerTooLarge",
    "FromTimeout",
    "INCREMENTAL_JSON_FROM",
    "aparse_json",
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


def _text(body: bytes) -> str:
    return body.decode(json.detect_encoding(body), "surrogatepass")


def parse_json(body: bytes) -> JSONValue:
    """Decode ``body`` as strict JSON (UTF-8/16/32, as ``json.loads``).

    Anything else raises ``ValueError``: broken syntax, bytes that are not text,
    ``NaN``/``Infinity``, integers past Python's digit limit, and nesting too deep for
    the parser (Python's ``RecursionError``).
    """
    try:
        value: JSONValue = _DECODER.decode(_text(body))
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply to decode") from exc
    return value


INCREMENTAL_JSON_FROM: Final = 256 * 1024
"""Answers of this many bytes or more are decoded by ``aparse_json`` in time slices."""

_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")


async def aparse_json(body: bytes, *, seconds: float | None = None) -> JSONValue:
    """``parse_json``, giving the event loop a turn every ``seconds`` (``SLICE_SECONDS``).

    ``json.loads`` of a 14 MiB answer holds the loop for 180 ms in one C call. Here the
    top-level object's members, and the items of any array among them (the API's
    ``data`` list), are decoded one by one with the same strict decoder, with turns in
    between; every nested value is decoded whole. The value and every error are those of
    ``parse_json``. Bodies under ``INCREMENTAL_JSON_FROM`` are decoded in one go.
    """
    if len(body) < INCREMENTAL_JSON_FROM:
        return parse_json(body)
    text = _text(body)
    breathe = Breather(seconds)
    try:
        value, end = await _value(text, _skip(text, 0), breathe, members=True)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply to decode") from exc
    end = _skip(text, end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _skip(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    assert match is not None  # the pattern matches the empty string
    return match.end()


async def _value(
    text: str, index: int, breathe: Breather, *, members: bool
) -> tuple[JSONValue, int]:
    """The value at ``index`` (no whitespace before it) and where it ends. With
    ``members``, an object's members are decoded one by one; an array's items always."""
    opening = text[index : index + 1]
    if opening == "[":
        return await _array(text, index + 1, breathe)
    if opening == "{" and members:
        return await _object(text, index + 1, breathe)
    value, end = _DECODER.raw_decode(text, index)
    return value, end


async def _array(text: str, index: int, breathe: Breather) -> tuple[JSONValue, int]:
    items: list[JSONValue] = []
    index = _skip(text, index)
    if text.startswith("]", index):
        return items, index + 1
    while True:
        item, index = _DECODER.raw_decode(text, index)
        items.append(item)
        await breathe()
        index = _skip(text, index)
        if text.startswith(",", index):
            index = _skip(text, index + 1)
        elif text.startswith("]", index):
            return items, index + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)


async def _object(text: str, index: int, breathe: Breather) -> tuple[JSONValue, int]:
    members: dict[str, JSONValue] = {}
    index = _skip(text, index)
    if text.startswith("}", index):
        return members, index + 1
    while True:
        if not text.startswith('"', index):
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, index
            )
        key, index = _DECODER.raw_decode(text, index)
        assert isinstance(key, str)
        index = _skip(text, index)
        if not text.startswith(":", index):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, index)
        members[key], index = await _value(text, _skip(text, index + 1), breathe, members=False)
        index = _skip(text, index)
        if text.startswith(",", index):
            index = _skip(text, index + 1)
        elif text.startswith("}", index):
            return members, index + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
