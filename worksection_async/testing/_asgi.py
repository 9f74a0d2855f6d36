"""``FakeASGIApp``: the fake as a hand-written ASGI 3 application (no framework).

Serve it with uvicorn (``python -m worksection_async.testing serve``, or
``fake.serve_in_thread()``). It answers ``lifespan`` and ``http`` scopes; a
dropped-connection fault sends the headers and part of the body, then returns, and the
server closes the connection mid-answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._base import FakeBase
from ._http import JSON_CONTENT_TYPE, FakeRequest

__all__ = ["FakeASGIApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class FakeASGIApp:
    """ASGI 3 callable wrapping a ``FakeWorksection``."""

    def __init__(self, fake: FakeBase) -> None:
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        query: bytes = scope.get("query_string", b"")
        target = raw_path + (b"?" + query if query else b"")
        headers = tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope.get("headers", ())
        )
        answer = await self.fake.handle(
            FakeRequest(scope.get("method", "GET"), target, headers, b"".join(chunks))
        )
        if answer.drop:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", JSON_CONTENT_TYPE.encode()),
                        (b"content-length", b"4096"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b'{"status":', "more_body": True})
            return
        response_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
        if not any(k == b"content-length" for k, _ in response_headers):
            response_headers.append((b"content-length", str(len(answer.body)).encode()))
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": response_headers}
        )
        await send({"type": "http.response.body", "body": answer.body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def __repr__(self) -> str:
        return f"FakeASGIApp({self.fake!r})"
