"""Deliveries per second a ``WebhookReceiver`` accepts with each store.

Each delivery (one event, as Worksection sends them) goes through the receiver's ASGI
app (``httpx.ASGITransport``, no sockets): parse, dedup, commit, answer 200. The
handler does nothing; it is the acceptance that is measured. Side by side in one run:

* ``memory``: no store (in memory, a crash loses accepted events) — the baseline;
* ``sqlite``: ``EventStore.from_url("sqlite:///...")`` — WAL, ``synchronous=FULL``,
  one ``BEGIN IMMEDIATE`` transaction per delivery, in a worker thread.

Deliveries come ``--concurrency`` at a time (Worksection sends one at a time per hook;
several hooks or a burst overlap). Target: sqlite >= 500 deliveries/s, so the 5 s
answer limit stays far away.

    python benchmarks/event_store.py [--deliveries 2000] [--concurrency 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import anyio
import httpx

from worksection_async.models import Event
from worksection_async.webhooks import EventStore, WebhookReceiver


def delivery(n: int) -> bytes:
    return json.dumps(
        [
            {
                "action": "post",
                "object": {"type": "comment", "id": str(n), "page": "/project/1/100/"},
                "date_added": "2024-05-01 10:00",
                "user_from": {"id": "7", "email": "ann@example.com", "name": "Ann"},
                "new": {"text": f"comment {n} " + "x" * 200},
            }
        ]
    ).encode()


async def nothing(event: Event) -> None:
    return None


async def run(store: EventStore | None, deliveries: int, concurrency: int) -> float:
    receiver = WebhookReceiver(nothing, store=store, max_queue=deliveries + 1)
    bodies = [delivery(n) for n in range(deliveries)]
    transport = httpx.ASGITransport(app=receiver)
    async with receiver, httpx.AsyncClient(transport=transport, base_url="http://h") as http:
        left = list(range(deliveries))

        async def send() -> None:
            while left:
                response = await http.post("/", content=bodies[left.pop()])
                assert response.status_code == 200, response.text

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(send)
        elapsed = time.perf_counter() - started
        await receiver.join()
    return deliveries / elapsed


async def main(deliveries: int, concurrency: int, rounds: int) -> None:
    rates: dict[str, list[float]] = {"memory": [], "sqlite": []}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(rounds):
            rates["memory"].append(await run(None, deliveries, concurrency))
            path = os.path.join(folder, f"events-{round_}.db")
            store = EventStore.from_url(f"sqlite:///{path}")
            async with store:
                rates["sqlite"].append(await run(store, deliveries, concurrency))
    memory, sqlite = (statistics.median(rates[k]) for k in ("memory", "sqlite"))
    print(f"deliveries={deliveries} concurrency={concurrency} rounds={rounds}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"memory (no store, baseline): {memory:8.0f} deliveries/s")
    print(
        f"sqlite (WAL, accept FULL):        {sqlite:8.0f} deliveries/s  ratio {sqlite / memory:.2f}"
    )
    print(f"target sqlite >= 500/s: {'met' if sqlite >= 500 else 'NOT met'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    anyio.run(main, args.deliveries, args.concurrency, args.rounds)
