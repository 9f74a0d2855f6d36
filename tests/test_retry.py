"""Retry policy: error 20 is retried with growing waits; everything else passes through."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
import pytest
import respx

import worksection_async as ws
from worksection_async import Client, RetryPolicy

from .conftest import RecordingClock, error, ok

pytestmark = pytest.mark.anyio

QUOTA = error(20, "Quota exceeded")


async def test_quota_twice_then_ok(
    router: respx.MockRouter, make_client: Callable[..., Client], clock: RecordingClock
) -> None:
    """Two error 20s then ok: the payload, three requests, two growing waits."""
    route = router.post("/api/admin/v2/").mock(side_effect=[QUOTA, QUOTA, ok({"id": "1"})])
    async with make_client(retry=RetryPolicy(jitter=False)) as client:
        assert await client.call("get_task", page="/project/1/2/") == {"id": "1"}
    assert route.call_count == 3
    assert clock.sleeps == [1.0, 2.0]


async def test_every_attempt_is_freshly_signed(
    router: respx.MockRouter, make_client: Callable[..., Client], clock: RecordingClock
) -> None:
    """HmacToken retries carry a token for the time of that attempt, not the first one."""
    times = iter([1000.0, 1005.0])
    route = router.post("/api/admin/v2").mock(side_effect=[QUOTA, ok([])])
    async with make_client(
        signer=ws.HmacToken(), retry=RetryPolicy(jitter=False), wall_clock=lambda: next(times)
    ) as client:
        await client.call("get_projects")
    auth = [call.request.headers["authorization"] for call in route.calls]
    assert auth[0].startswith("Admin 1000_") and auth[1].startswith("Admin 1005_")


async def test_quota_forever_gives_up_after_max_attempts(
    router: respx.MockRouter, make_client: Callable[..., Client], clock: RecordingClock
) -> None:
    """Error 20 forever: QuotaExceededError after max_attempts requests, saying so."""
    route = router.post("/api/admin/v2/").mock(return_value=QUOTA)
    policy = RetryPolicy(max_attempts=5, initial_wait=1, max_wait=4, jitter=False)
    async with make_client(retry=policy) as client:
        with pytest.raises(ws.QuotaExceededError) as info:
            await client.call("get_projects")
    assert route.call_count == 5
    assert info.value.attempts == 5
    assert "after 5 attempts" in str(info.value)
    assert clock.sleeps == [1.0, 2.0, 4.0, 4.0]


async def test_jittered_waits_stay_within_bounds(
    router: respx.MockRouter, make_client: Callable[..., Client], clock: RecordingClock
) -> None:
    """With jitter each wait lies in [base/2, base] and the bases grow."""
    router.post("/api/admin/v2/").mock(return_value=QUOTA)
    async with make_client(retry=RetryPolicy(max_attempts=6, initial_wait=1)) as client:
        with pytest.raises(ws.QuotaExceededError):
            await client.call("get_projects")
    assert len(clock.sleeps) == 5
    for n, wait in enumerate(clock.sleeps):
        base = 2.0**n
        assert base / 2 <= wait <= base


async def test_deadline_stops_before_the_wait_that_would_pass_it(
    router: respx.MockRouter, make_client: Callable[..., Client], clock: RecordingClock
) -> None:
    """With deadline=5 s the waits 1+2 fit, the next (4) would end at 7: give up."""
    route = router.post("/api/admin/v2/").mock(return_value=QUOTA)
    policy = RetryPolicy(jitter=False, deadline=dt.timedelta(seconds=5))
    async with make_client(retry=policy) as client:
        with pytest.raises(ws.QuotaExceededError) as info:
            await client.call("get_projects")
    assert clock.sleeps == [1.0, 2.0]
    assert route.call_count == 3
    assert info.value.attempts == 3


@pytest.mark.parametrize(
    "response",
    [
        error(5, "Task is invalid"),
        error(2, "Action hash is missed or invalid"),
        error(12, "Task is already closed"),
        httpx.Response(502, text="<html>bad gateway</html>"),
    ],
)
async def test_other_errors_raise_after_one_request(
    response: httpx.Response,
    router: respx.MockRouter,
    make_client: Callable[..., Client],
    clock: RecordingClock,
) -> None:
    """Any error but quota is raised at once: one request, no wait."""
    route = router.post("/api/admin/v2/").mock(return_value=response)
    async with make_client() as client:
        with pytest.raises(ws.WorksectionError) as info:
            await client.call("get_task", page="/project/1/2/")
    assert not isinstance(info.value, ws.QuotaExceededError)
    assert route.call_count == 1
    assert clock.sleeps == []


async def test_connect_error_raises_after_one_request(
    router: respx.MockRouter, make_client: Callable[..., Client], clock: RecordingClock
) -> None:
    """A ConnectError is a TransportError after exactly one request."""
    route = router.post("/api/admin/v2/").mock(side_effect=httpx.ConnectError("refused"))
    async with make_client() as client:
        with pytest.raises(ws.TransportError):
            await client.call("get_projects")
    assert route.call_count == 1
    assert clock.sleeps == []


async def test_retry_none_disables_retrying(
    router: respx.MockRouter, make_client: Callable[..., Client], clock: RecordingClock
) -> None:
    """retry=None: the first QuotaExceededError reaches the caller."""
    route = router.post("/api/admin/v2/").mock(side_effect=[QUOTA, ok([])])
    async with make_client(retry=None) as client:
        with pytest.raises(ws.QuotaExceededError):
            await client.call("get_projects")
    assert route.call_count == 1
    assert clock.sleeps == []


def test_policy_validation() -> None:
    """Nonsense policies fail at construction, with the value named."""
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(initial_wait=-1)
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="finite"):
            RetryPolicy(max_wait=bad)
        with pytest.raises(ValueError, match="finite"):
            RetryPolicy(deadline=bad)
    with pytest.raises(TypeError, match="seconds or a timedelta"):
        RetryPolicy(initial_wait="1")  # type: ignore[arg-type]
    assert RetryPolicy(deadline=dt.timedelta(minutes=1)).deadline == 60.0


def test_limits_paced_and_unpaced() -> None:
    """Unpaced: 8 attempts, no time bound. Paced by the client-side quota: no count,
    300 s. Explicit values win either way."""
    default = RetryPolicy()
    assert default.attempt_limit(paced=False) == 8
    assert default.budget(paced=False) is None
    assert default.attempt_limit(paced=True) is None
    assert default.budget(paced=True) == ws.DEFAULT_PACED_DEADLINE == 300.0
    explicit = RetryPolicy(max_attempts=3, deadline=30)
    assert explicit.attempt_limit(paced=True) == 3
    assert explicit.budget(paced=True) == explicit.budget(paced=False) == 30.0


def test_wait_formula_survives_huge_attempt_numbers() -> None:
    """Attempt 5,000 of an unbounded policy waits max_wait, not OverflowError."""
    assert RetryPolicy(max_attempts=10_000, jitter=False).wait_for(5_000) == 60.0


def test_wait_formula() -> None:
    """wait(n) = min(max_wait, initial * 2**(n-1)), jitter in [w/2, w]."""
    policy = RetryPolicy(initial_wait=0.5, max_wait=3, jitter=False)
    assert [policy.wait_for(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    jittered = RetryPolicy(initial_wait=2, jitter=True)
    assert jittered.wait_for(2, rng=lambda lo, hi: lo) == 2.0
    assert jittered.wait_for(2, rng=lambda lo, hi: hi) == 4.0
