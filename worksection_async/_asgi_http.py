"""What the webhook receiver needs of ASGI and of its arguments: the message types,
reading a bounded body, answering with JSON, and checking seconds and counts. Plain
functions with no state, below ``_webhook_receiver``."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final, TypeAlias

import anyio

from ._clock import Clock
from .models import Event

__all__ = [
    "OK",
    "TOO_LARGE",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "answer",
    "error_body",
    "positive_int",
    "read_body",
    "seconds",
    "where",
    "within",
]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]

OK: Final = b'{"status":"OK"}'

TOO_LARGE: Final = b"\x00too large"


def seconds(name: str, value: float | dt.timedelta, *, allow_zero: bool = False) -> float:
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(f"{name} must be seconds or a timedelta, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return seconds


def positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def where(event: Event) -> str:
    page = event.object.page
    shown = getattr(page, "path", page) if page is not None else f"id {event.object.id}"
    return f"{event.action} {event.object.type} {shown}"


async def within(clock: Clock, seconds: float, operation: Callable[[], Awaitable[None]]) -> bool:
    """Run ``operation``; give up after ``seconds`` on ``clock``. True if it finished."""
    finished = False
    async with anyio.create_task_group() as tg:

        async def expire() -> None:
            await clock.sleep(seconds)
            tg.cancel_scope.cancel()

        tg.start_soon(expire)
        await operation()
        finished = True
        tg.cancel_scope.cancel()
    return finished


def error_body(message: str) -> bytes:
    return json.dumps({"status": "error", "message": message}).encode()


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The request body, ``TOO_LARGE`` past ``limit`` bytes, ``None`` on disconnect."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                if int(value) > limit:
                    return TOO_LARGE
            except ValueError:
                pass
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def answer(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    head: bool = False,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})
