"""A delaying TCP proxy on loopback, for the benchmarks: a server that is far away.

``DelayProxy(target_port, delay=0.025, jitter=0.0)`` listens on a free 127.0.0.1 port
and forwards every connection to ``target_port``; each chunk read from one side reaches
the other ``delay`` seconds later, plus a uniform draw in ``[0, jitter]``, never before
the chunk read before it on the same connection (TCP keeps order). ``both=False``
delays only what the client sends (requests that reach a server unevenly; answers come
back at once). It runs in a thread of its own, with its own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time


class DelayProxy:
    """Forward 127.0.0.1:``port`` to 127.0.0.1:``target_port``, ``delay`` s one way."""

    def __init__(
        self, target_port: int, *, delay: float, jitter: float = 0.0, both: bool = True,
        seed: int = 1,
    ) -> None:  # fmt: skip
        self.target_port = target_port
        self.delay = delay
        self.jitter = jitter
        self.both = both
        self._random = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pump(reader, upstream_writer, delayed=True),
            self._pump(upstream_reader, writer, delayed=self.both),
            return_exceptions=True,
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(chunk)
                await writer.drain()
            with contextlib.suppress(OSError):
                writer.close()

        delivering = asyncio.ensure_future(deliver())
        last = 0.0
        try:
            while True:
                try:
                    chunk = await reader.read(65536)
                except OSError:
                    chunk = b""
                now = time.monotonic()
                wait = self.delay + self._random.uniform(0.0, self.jitter) if delayed else 0.0
                last = max(last, now + wait)
                queue.put_nowait((last, chunk))
                if not chunk:
                    break
            await delivering
        finally:
            if not delivering.done():
                delivering.cancel()

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
