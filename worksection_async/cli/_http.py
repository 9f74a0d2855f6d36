"""The command's own ``httpx.AsyncClient``: request credentials noted, ``--raw`` answers kept.

The library masks the key and each request's hash in everything it raises. The command
prints more than errors (answers, ``--raw`` envelopes, tracebacks), so it learns each
request's credentials as it goes out (httpx request hook: its ``hash`` values and the
``Authorization`` credential) and masks them, with the key, in whatever it prints.

``--raw`` needs the answer's bytes: the response hook copies the body as the client
reads it, and the request asks for an unencoded answer so the copy is the JSON itself.
The client still reads, bounds and decodes the answer as always.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Final
from urllib.parse import unquote

import httpx

from .._client import DEFAULT_TIMEOUT
from ._errors import Secrets

__all__ = ["AnswerRecorder", "http_client"]

_HASH: Final = re.compile(rb"(?:^|[&?])hash=([^&\s]+)")
_FORM: Final = "application/x-www-form-urlencoded"


class _Tee(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, sink: bytearray) -> None:
        self._stream = stream
        self._sink = sink

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._sink.extend(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class AnswerRecorder:
    """Keeps the body of the last answer (``--raw``)."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.encoding = ""

    async def on_request(self, request: httpx.Request) -> None:
        request.headers["Accept-Encoding"] = "identity"

    async def on_response(self, response: httpx.Response) -> None:
        self.body = bytearray()
        self.encoding = response.headers.get("content-encoding", "")
        stream = response.stream
        if isinstance(stream, httpx.AsyncByteStream):
            response.stream = _Tee(stream, self.body)

    def text(self) -> str:
        """The body as text (decoded if the server encoded it anyway)."""
        body = bytes(self.body)
        if self.encoding and self.encoding != "identity":
            headers = {"content-encoding": self.encoding}
            with contextlib.suppress(httpx.DecodingError):
                body = httpx.Response(200, headers=headers, content=body).content
        return body.decode("utf-8", errors="replace")


def http_client(
    max_concurrency: int, secrets: Secrets, recorder: AnswerRecorder | None = None
) -> httpx.AsyncClient:
    """An httpx client as ``Client`` would build it (a pool as large as the concurrency
    cap, no pool timeout), with the hooks above."""

    async def note_credentials(request: httpx.Request) -> None:
        found = _HASH.findall(request.url.query)
        if request.headers.get("content-type", "").startswith(_FORM):
            with contextlib.suppress(httpx.RequestNotRead):
                found += _HASH.findall(request.content)
        for value in found:
            secrets.add_request_secret(unquote(value.decode("ascii", "replace")))
        authorization = request.headers.get("authorization")
        if authorization:
            credential = authorization.strip().partition(" ")[2].strip()
            secrets.add_request_secret(credential)
            secrets.add_request_secret(credential.partition("_")[2])

    request_hooks = [note_credentials]
    response_hooks = []
    if recorder is not None:
        request_hooks.append(recorder.on_request)
        response_hooks.append(recorder.on_response)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=DEFAULT_TIMEOUT.connect,
            read=DEFAULT_TIMEOUT.read,
            write=DEFAULT_TIMEOUT.write,
            pool=None,
        ),
        limits=httpx.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        ),
        event_hooks={"request": request_hooks, "response": response_hooks},
    )
