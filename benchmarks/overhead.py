"""Per-call overhead of ``Client.call`` next to a bare ``httpx.AsyncClient``.

Both send ``get_task`` to the same server, which answers a fixed task body; the bare
client only does ``post()`` and ``.json()``. The client additionally validates the call,
signs it, bounds the attempt (total timeout, size cap), decodes the envelope and runs
the retry policy; its quota is off (``rate_limit=None``: this measures the pipeline, not
waiting). Two servers:

* ``MockTransport``: ``httpx.MockTransport`` in the same process (no I/O at all, so the
  client's own work shows most);
* ``loopback``: a tiny HTTP/1.1 server on 127.0.0.1 in a subprocess (its own
  interpreter, as a real server would be), keep-alive, one canned answer.

Each round runs the sides one after the other (interleaved, so drift hits all alike);
the figures are medians over the rounds, in wall time and in this process's CPU time
(steadier on a busy machine; on loopback it leaves out the server). A third line is a
hand-tuned httpx loop that parses its URL once, for reference. Target: ratio to bare
httpx <= 1.10 on both servers.

    python benchmarks/overhead.py [--calls 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import anyio
import httpx

from worksection_async import Call, Client, PageHash, TaskPage

TASK = {
    "status": "ok",
    "data": {
        "id": "331894",
        "name": "Development",
        "page": "/project/8562/331894/",
        "status": "active",
        "priority": "7",
        "user_from": {"id": "3993", "email": "henry.gardner@ws.com", "name": "Henry Gardner"},
        "user_to": {"id": "3993", "email": "henry.gardner@ws.com", "name": "Henry Gardner"},
        "project": {"id": "8562", "name": "Owl brand launch", "page": "/project/8562/"},
        "text": "Business logic programming",
        "date_added": "2021-01-07 10:01",
        "date_start": "2021-01-16",
        "date_end": "2021-02-16",
        "max_time": 352,
        "max_money": 5280,
    },
}
BODY = json.dumps(TASK).encode()
ACCOUNT = "https://acme.worksection.com"
KEY = "bench-key"
PAGE = TaskPage(8562, 331894)
TARGET = 1.10

# The loopback server: asyncio streams, HTTP/1.1 keep-alive, the same answer to every
# request (its body read and dropped). Run with ``python -c``; prints its port.
SERVER = """
import asyncio, sys
BODY = sys.stdin.buffer.read()
ANSWER = (
    b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\n"
    b"content-length: " + str(len(BODY)).encode() + b"\\r\\n\\r\\n" + BODY
)
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = 0
            for line in head.split(b"\\r\\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            writer.write(ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


@contextlib.contextmanager
def loopback_server() -> Iterator[str]:
    """Start the tiny server in a subprocess; yield its ``http://127.0.0.1:port``."""
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(BODY)
        process.stdin.close()
        port = int(process.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("loopback server did not start")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})


def same_url(account: str) -> str:
    """The exact URL the client sends (its default PageHash signer), for the baseline."""
    wire = PageHash().sign(Call.build("get_task", PAGE), KEY, 0.0)
    return account + wire.target


def transport_for(account: str) -> httpx.AsyncBaseTransport | None:
    return httpx.MockTransport(handler) if account == ACCOUNT else None


class Timing:
    """Wall time and this process's CPU time per call (the CPU time leaves out whatever
    else the machine runs, and on loopback the server's share)."""

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()

    def per_call(self, calls: int) -> tuple[float, float]:
        wall = time.perf_counter() - self._wall
        cpu = time.process_time() - self._cpu
        return wall / calls, cpu / calls


async def bare(account: str, calls: int, *, parsed: bool = False) -> tuple[float, float]:
    async with httpx.AsyncClient(transport=transport_for(account)) as http:
        url: str | httpx.URL = same_url(account)
        if parsed:  # a hand-tuned loop: the URL parsed once, not on every post()
            url = httpx.URL(url)
        await http.post(url)  # connect outside the timing
        timing = Timing()
        for _ in range(calls):
            response = await http.post(url)
            response.json()
        return timing.per_call(calls)


async def ours(account: str, calls: int) -> tuple[float, float]:
    async with Client(account, KEY, transport=transport_for(account), rate_limit=None) as client:
        await client.call("get_task", page=PAGE)  # connect outside the timing
        timing = Timing()
        for _ in range(calls):
            await client.call("get_task", page=PAGE)
        return timing.per_call(calls)


async def compare(label: str, account: str, calls: int, rounds: int) -> None:
    await bare(account, 200)  # warm up both paths
    await ours(account, 200)
    runs: dict[str, list[tuple[float, float]]] = {"bare": [], "tuned": [], "ours": []}
    for _ in range(rounds):
        runs["bare"].append(await bare(account, calls))
        runs["tuned"].append(await bare(account, calls, parsed=True))
        runs["ours"].append(await ours(account, calls))

    def median(name: str, index: int) -> float:
        return statistics.median(run[index] for run in runs[name])

    print(f"{label}: us per call, median of {rounds} rounds (wall / this process's CPU)")
    for name, title in (
        ("bare", "bare httpx.AsyncClient post+json"),
        ("tuned", "the same, URL parsed once"),
        ("ours", "Client.call('get_task', page=...)"),
    ):
        print(f"  {title:<34}: {median(name, 0) * 1e6:8.1f} / {median(name, 1) * 1e6:8.1f}")
    for index, kind in ((0, "wall"), (1, "CPU")):
        ratio = median("ours", index) / median("bare", index)
        per_round = [
            round(o[index] / b[index], 2) for o, b in zip(runs["ours"], runs["bare"], strict=True)
        ]
        tuned = median("ours", index) / median("tuned", index)
        print(
            f"  ratio to bare, {kind:<4}              : {ratio:8.2f}  (target <= {TARGET:.2f}); "
            f"rounds {per_round}; to the URL-parsed-once loop {tuned:.2f}"
        )


async def main(calls: int, rounds: int) -> None:
    await compare("MockTransport", ACCOUNT, calls, rounds)
    with loopback_server() as url:
        await compare("loopback (127.0.0.1, separate process)", url, calls, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    anyio.run(main, args.calls, args.rounds)
