"""Falling back in turns, on virtual time: two programs on one ``memory://`` quota lose
their store for a while (every round trip fails, as a killed Redis's would). While it
is away each sends only in its own turns (``_reply._Slots``: slots of the store's
clock, one process each in turn), and for a while after it answers again, since the
other may still be falling back. So no two requests of the two meet, before, during or
after the outage. Before, each fell back to a local quota at half the rate, and the two
met at random (issue 29: 11-12 % error 20 across a killed Redis)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import anyio
import pytest

import worksection_async as ws
from worksection_async import Client, RateLimit
from worksection_async.shared._embedded import embedded_quota
from worksection_async.shared._reply import _Reply, _Slots, _Unavailable
from worksection_async.testing import FakeWorksection, ManualClock, RateQuota

from .test_shared_embedded import memory_url, quota_errors, sent

pytestmark = pytest.mark.anyio

RATE = 1.0
"""The clients' configured rate."""

ACCOUNT = RateQuota(rate=RATE / (1.0 - 0.0025), burst=1)
"""The account: the virtual clock moves only when every task waits, so a sleeper
spinning out its last ``SPIN`` (2 ms) toward a moment leaves up to that much early
here, which a real clock does not do; the account lets 2.5 ms pass for it."""


async def _outage(start: float, length: float, callers: int) -> list[list[ws.ClientEvent]]:
    """Two programs, ``callers`` callers each, against an account of 1/s (one token)
    for 120 s of virtual time; the store stops answering ``start`` s in, for
    ``length`` s. The events of each program."""
    clock = ManualClock(1000.0)
    fake = FakeWorksection(clock=clock, quota=ACCOUNT)
    url = memory_url()
    down = False
    events: list[list[ws.ClientEvent]] = [[], []]

    async def program(i: int) -> None:
        quota = embedded_quota(
            url, key="acct", on_unavailable="fallback", timeout=None, clock=clock.now
        )
        evaluate = quota._evaluate

        async def failing(keys: Sequence[str], args: Sequence[str]) -> _Reply:
            if down:
                raise _Unavailable("ConnectionError: the store is away (test)")
            return await evaluate(keys, args)

        quota._evaluate = failing  # type: ignore[method-assign]
        async with Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            clock=clock,
            rate_limit=RateLimit(rate=RATE),
            shared_quota=quota,
            on_event=events[i].append,
        ) as client:

            async def caller() -> None:
                while clock.now() < 1120.0:
                    await client.call("get_projects")  # no caller error, whatever happens

            async with anyio.create_task_group() as tg:
                for _ in range(callers):
                    tg.start_soon(caller)
            assert client.quota.shared

    async def outage() -> None:
        nonlocal down
        await clock.sleep(start)
        down = True
        await clock.sleep(length)
        down = False

    async with clock.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(program, 0)
        tg.start_soon(program, 1)
        tg.start_soon(outage)
    return events


def _of(events: list[ws.ClientEvent], kind: type[ws.ClientEvent]) -> list[float]:
    return [e.at for e in events if isinstance(e, kind)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("start", "length"), [(30.0, 30.0), (23.7, 4.0), (40.5, 55.0)])
@pytest.mark.parametrize("callers", [1, 4])
async def test_an_outage_costs_no_error_20(
    start: float, length: float, callers: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The store away for ``length`` s: both programs fall back and come back, no
    request of either leaves within the account's interval of another (so no error
    20), and the calls go on while the store is away. Each says once, in its WARNING,
    that it sends in turns."""
    events = await _outage(start, length, callers)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert all("in turns with the others by rank" in w for w in warnings), warnings
    assert quota_errors(events[0]) + quota_errors(events[1]) == 0
    for mine in events:
        [down] = _of(mine, ws.QuotaBackendUnavailable)
        [up] = _of(mine, ws.QuotaBackendRestored)
        assert 1000.0 + start <= down < 1000.0 + start + 3.0 / RATE
        # A probe (a second after the last failed one) waits for a turn of this
        # program, after the turn a caller may be waiting for already: 2 cycles of
        # 2 turns of 1.13 intervals at most.
        assert 1000.0 + start + length <= up <= 1000.0 + start + length + 1.0 + 4.6 / RATE
    times = sorted(sent(events[0]) + sent(events[1]))
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0 / RATE - 0.0021
    during = [t for t in times if 1000.0 + start + 4.0 / RATE <= t <= 1000.0 + start + length]
    assert len(during) >= 0.8 * RATE * (length - 4.0 / RATE)


def test_turns_are_the_same_slots_for_every_process() -> None:
    """Slot ``k`` of the store's clock is the turn of rank ``k % count``, whatever clock
    each process keeps: two processes whose clocks are 300 s apart (each knowing its
    offset) place their turns in alternate slots, and a turn never repeats."""
    width = 0.1131
    a = _Slots(width=width, count=2, rank=0, offset=5000.0, rate=RATE)
    b = _Slots(width=width, count=2, rank=1, offset=4700.0, rate=RATE)
    turns = []
    for slots, now in ((a, 10.0), (b, 310.0)):
        for _ in range(5):
            index = slots.index_at(now)
            slots.next_index = index + 1
            assert index % 2 == slots.rank
            turns.append(slots.start(index) + slots.offset)  # on the store's clock
            now = slots.start(index)  # asked again at once: the next turn
    turns.sort()
    gaps = [b - a for a, b in itertools.pairwise(turns)]
    assert all(abs(gap - width) < 1e-6 for gap in gaps), gaps
