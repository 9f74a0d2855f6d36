"""What the resource layer needs from a client: ``send``, ``download`` and ``map``.

Handles and namespaces hold any object with these two methods (``Client`` is the real
one), so this package never imports ``_client`` (which imports this package).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from typing import IO, Protocol, TypeAlias, TypeVar

from .._call import Call
from .._json import JSONValue
from .._transport import Download

__all__ = ["AsyncWritable", "ClientLike", "Destination"]

T = TypeVar("T")
R = TypeVar("R")


class AsyncWritable(Protocol):
    """A binary sink with an async ``write`` (an anyio file, a custom stream)."""

    async def write(self, data: bytes, /) -> object:
        """Write ``data``; the return value is ignored."""


Destination: TypeAlias = str | os.PathLike[str] | IO[bytes] | AsyncWritable
"""Where a download goes: a path, a binary file object, or an async writable."""


class ClientLike(Protocol):
    """The client methods every resource method is built on."""

    async def send(self, call: Call, /) -> JSONValue:
        """Send one call and return its decoded payload."""

    async def download(self, call: Call, destination: Destination, /) -> Download:
        """Stream one call's answer to ``destination``."""

    async def map(self, fn: Callable[[T], Awaitable[R]], items: Iterable[T], /) -> list[R]:
        """Apply ``fn`` to every item concurrently; results in input order."""
