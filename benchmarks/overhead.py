"""Per-call overhead of ``Client.call`` next to a bare ``httpx.AsyncClient``.

Both send ``get_task`` to the same ``httpx.MockTransport``, which answers a fixed task
body; the bare client only does ``post()`` and ``.json()``. The client additionally
validates the call, signs it, decodes the envelope and runs the retry policy.
Target: ratio <= 1.3.

    python benchmarks/overhead.py [--calls 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

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


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})


def same_url() -> str:
    """The exact URL the client sends (its default PageHash signer), for the baseline."""
    wire = PageHash().sign(Call.build("get_task", TaskPage(8562, 331894)), KEY, 0.0)
    return ACCOUNT + wire.target


async def bare(calls: int) -> float:
    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport) as http:
        url = same_url()
        start = time.perf_counter()
        for _ in range(calls):
            response = await http.post(url)
            response.json()
        return (time.perf_counter() - start) / calls


async def ours(calls: int) -> float:
    transport = httpx.MockTransport(handler)
    page = TaskPage(8562, 331894)
    # The quota is switched off: this measures the cost of the pipeline, not waiting.
    async with Client(ACCOUNT, KEY, transport=transport, rate_limit=None) as client:
        start = time.perf_counter()
        for _ in range(calls):
            await client.call("get_task", page=page)
        return (time.perf_counter() - start) / calls


async def main(calls: int, rounds: int) -> None:
    await bare(200)  # warm up both paths
    await ours(200)
    bare_times, our_times = [], []
    for _ in range(rounds):  # interleave so drift hits both sides alike
        bare_times.append(await bare(calls))
        our_times.append(await ours(calls))
    b, o = statistics.median(bare_times), statistics.median(our_times)
    print(f"bare httpx.AsyncClient post+json : {b * 1e6:8.1f} us/call")
    print(f"Client.call('get_task', page=...): {o * 1e6:8.1f} us/call")
    print(f"ratio                            : {o / b:8.2f}  (target <= 1.3)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    anyio.run(main, args.calls, args.rounds)
