"""Redis far away (issue 29, item 4): the distance to Redis does not slow the sharing.

A process reports how late its requests leave after their reserved moments, and the
script spaces reservations by the largest report. That report once added the width of
the process's tightest round trip (how far off its estimate of the server's clock may
be): with Redis 25 ms away every process reported >= 50 ms, the script kept the most
it allows (a tenth of the interval), and 4 processes at 10/s used 0.88-0.90 of the
quota beside a perfect sender's 0.95 (``benchmarks/shared_quota.py --redis-delay 25``).
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from worksection_async import Client, RateLimit
from worksection_async.shared import SharedQuota
from worksection_async.testing import FakeWorksection

from ._redis import RedisServer

pytestmark = pytest.mark.anyio

ONE_WAY = 0.05


async def test_a_far_redis_is_not_reported_as_lateness(redis_server: RedisServer, key: str) -> None:
    """Every round trip to Redis takes 100 ms longer (50 ms each way): what the process
    reports as the spread of its send times stays what its own wake-ups show (well under
    the 100 ms round trip, which it reported before), and its calls keep the rate."""
    fake = FakeWorksection(quota="10/s,burst=2")
    quota = SharedQuota.from_url(redis_server.url, key=key)
    evaluate = quota._evaluate
    reported: list[float] = []

    async def far(keys: Sequence[str], args: Sequence[str]) -> object:
        reported.append(float(args[12]))
        await anyio.sleep(ONE_WAY)
        reply = await evaluate(keys, args)
        await anyio.sleep(ONE_WAY)
        return reply

    quota._evaluate = far  # type: ignore[method-assign,assignment]
    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        rate_limit=RateLimit(rate=10),
        max_concurrency=4,
        shared_quota=quota,
    ) as client:
        await client.map(lambda _: client.call("get_projects"), range(12))
    assert fake.stats.by_action["get_projects"] == 12
    assert fake.stats.rejected_quota == 0
    assert len(reported) >= 12
    assert max(reported) < 0.03, reported
