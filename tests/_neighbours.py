"""Clients that share one account and cannot see each other, on virtual time.

``run_account`` starts ``clients`` default ``Client`` s (each with ``callers`` callers
that call ``get_projects`` again and again) against one ``FakeWorksection`` whose token
bucket is the account's quota. Every request reaches the fake ``delay()`` seconds after
it leaves (seeded: arrival jitter, or a slow network path), so the account sees the
requests less evenly than the clients send them. Everything runs on a ``ManualClock``:
1,800 s of two clients take about a second of CPU.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import anyio
import attrs
import httpx

import worksection_async as ws
from worksection_async import Client, RateLimit
from worksection_async.testing import FakeWorksection, ManualClock


class LateTransport(httpx.AsyncBaseTransport):
    """Hands each request to ``inner`` after ``delay()`` seconds of virtual time."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, clock: ManualClock, delay: Callable[[], float]
    ) -> None:
        self.inner = inner
        self.clock = clock
        self.delay = delay

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        wait = self.delay()
        if wait > 0:
            await self.clock.sleep(wait)
        return await self.inner.handle_async_request(request)


def uniform(rng: random.Random, high: float) -> Callable[[], float]:
    """Arrival jitter: uniform in [0, high] seconds."""
    return lambda: rng.uniform(0.0, high)


def sometimes_late(
    rng: random.Random, late: float, share: float, high: float = 0.02
) -> Callable[[], float]:
    """A slow path: ``late`` seconds with probability ``share``, else [0, high]."""
    return lambda: late if rng.random() < share else rng.uniform(0.0, high)


@attrs.define
class Tally:
    """What one client saw."""

    ok: list[float] = attrs.Factory(list)
    errors: int = 0
    sent: int = 0
    raised: int = 0
    snapshot: ws.QuotaSnapshot | None = None

    def __call__(self, event: ws.ClientEvent) -> None:
        if isinstance(event, ws.RequestSent):
            self.sent += 1
        elif isinstance(event, ws.ResponseReceived):
            if event.error is None:
                self.ok.append(event.at)
            elif event.error == "QuotaExceededError":
                self.errors += 1

    def served(self, start: float = 0.0, end: float = 1e18) -> int:
        return sum(1 for t in self.ok if start <= t < end)


@attrs.define
class Account:
    """The outcome of one run."""

    tallies: list[Tally]
    seconds: float
    quota: float

    @property
    def error_share(self) -> float:
        sent = sum(t.sent for t in self.tallies)
        return sum(t.errors for t in self.tallies) / max(sent, 1)

    def use(self, start: float = 0.0, end: float | None = None) -> float:
        end = self.seconds if end is None else end
        return sum(t.served(start, end) for t in self.tallies) / ((end - start) * self.quota)

    def jain(self, start: float = 0.0) -> float:
        served = [t.served(start, self.seconds) for t in self.tallies]
        square = sum(n * n for n in served)
        return sum(served) ** 2 / (len(served) * square) if square else 0.0

    def worst_window(self, start: float, width: float = 120.0, step: float = 10.0) -> float:
        """The lowest use of the account over any ``width``-second window after ``start``."""
        worst = 1e18
        t = start
        while t + width <= self.seconds:
            worst = min(worst, self.use(t, t + width))
            t += step
        return worst

    @property
    def raised(self) -> int:
        return sum(t.raised for t in self.tallies)


async def run_account(
    *,
    clients: int,
    seconds: float,
    seed: int,
    callers: int = 8,
    jitter: float = 0.02,
    delay: Callable[[random.Random], Callable[[], float]] | None = None,
    quota: str = "1/s",
    quota_per_second: float = 1.0,
    rate_limit: RateLimit | None = None,
    starts: list[float] | None = None,
) -> Account:
    """``clients`` clients of ``callers`` callers each on one account until ``seconds``."""
    rng = random.Random(seed)
    state = random.getstate()
    random.seed(seed)  # the pause jitter of every client
    clock = ManualClock()
    fake = FakeWorksection(clock=clock, quota=quota)
    tallies = [Tally() for _ in range(clients)]
    starts = starts or [0.0] * clients

    async def caller(client: Client, tally: Tally) -> None:
        while clock.now() < seconds:
            try:
                await client.call("get_projects")
            except ws.QuotaExceededError:
                tally.raised += 1

    async def program(i: int) -> None:
        await clock.sleep(starts[i])
        late = delay(rng) if delay is not None else uniform(rng, jitter)
        transport = LateTransport(fake.transport, clock, late)
        async with (
            Client(
                fake.account_url,
                fake.api_key,
                transport=transport,
                clock=clock,
                on_event=tallies[i],
                rate_limit=rate_limit or ws.DEFAULT_RATE_LIMIT,
            ) as client,
            anyio.create_task_group() as tg,
        ):
            for _ in range(callers):
                tg.start_soon(caller, client, tallies[i])
        tallies[i].snapshot = client.quota

    try:
        async with clock.autojump(), anyio.create_task_group() as tg:
            for i in range(clients):
                tg.start_soon(program, i)
    finally:
        random.setstate(state)
    return Account(tallies, seconds, quota_per_second)


@attrs.define
class Backlog:
    """The outcome of ``run_backlog``."""

    served: list[float]
    """When calls of the client with a backlog succeeded..."""
    failed_unsent: int
    """...that gave up without sending anything (their deadline passed in the queue)..."""
    failed_sent: int
    """...and that gave up after they had been sent at least once."""
    neighbour: list[float]
    """...and when calls of the steady neighbour did."""
    seconds: float

    def share(self, start: float = 60.0) -> float:
        """The backlogged client's share of what the account served from ``start`` to
        the end of the run."""
        mine = sum(1 for t in self.served if start <= t < self.seconds)
        theirs = sum(1 for t in self.neighbour if start <= t < self.seconds)
        return mine / max(mine + theirs, 1)


async def run_backlog(
    *, seed: int, seconds: float = 720.0, batch: int = 200, every: float = 120.0
) -> Backlog:
    """A client that gets ``batch`` calls every ``every`` seconds (more than its share
    of a 1/s account) beside a steady neighbour of 8 callers, until ``seconds``."""
    state = random.getstate()
    random.seed(seed)
    rng = random.Random(seed)
    clock = ManualClock()
    fake = FakeWorksection(clock=clock, quota="1/s")
    result = Backlog([], 0, 0, [], seconds)

    def client() -> Client:
        transport = LateTransport(fake.transport, clock, uniform(rng, 0.02))
        return Client(fake.account_url, fake.api_key, transport=transport, clock=clock)

    async def one(c: Client) -> None:
        try:
            await c.call("get_projects")
            result.served.append(clock.now())
        except ws.QuotaExceededError as error:
            if error.attempts:
                result.failed_sent += 1
            else:
                result.failed_unsent += 1

    async def busy() -> None:
        async with client() as c, anyio.create_task_group() as tg:
            while clock.now() < seconds:
                for _ in range(batch):
                    tg.start_soon(one, c)
                await clock.sleep(every)

    async def steady() -> None:
        async with client() as c:

            async def caller() -> None:
                while clock.now() < seconds:
                    try:
                        await c.call("get_projects")
                        result.neighbour.append(clock.now())
                    except ws.QuotaExceededError:
                        pass

            async with anyio.create_task_group() as tg:
                for _ in range(8):
                    tg.start_soon(caller)

    try:
        async with clock.autojump(), anyio.create_task_group() as tg:
            tg.start_soon(busy)
            tg.start_soon(steady)
    finally:
        random.setstate(state)
    return result
