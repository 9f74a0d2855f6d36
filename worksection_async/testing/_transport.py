"""``FakeTransport``: the fake as an httpx transport, in-process, without sockets.

::

    fake = FakeWorksection()
    async with httpx.AsyncClient(transport=fake.transport, base_url=fake.account_url) as http:
        ...

A dropped-connection fault raises ``httpx.RemoteProtocolError``, as a server that
closes the connection without answering makes httpx do.
"""

from __future__ import annotations

import httpx

from ._base import FakeBase
from ._http import FakeRequest

__all__ = ["FakeTransport"]


class FakeTransport(httpx.AsyncBaseTransport):
    """Hands each request to a ``FakeWorksection`` and returns its answer."""

    def __init__(self, fake: FakeBase) -> None:
        self.fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer ``request`` from the fake account, in process."""
        body = await request.aread()
        headers = tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in request.headers.raw
        )
        answer = await self.fake.handle(
            FakeRequest(request.method, request.url.raw_path, headers, body)
        )
        if answer.drop:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(
            answer.status, headers=list(answer.headers), content=answer.body, request=request
        )

    def __repr__(self) -> str:
        return f"FakeTransport({self.fake!r})"
