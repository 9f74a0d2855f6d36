"""Clients on one account with no shared store: they take turns, with few collisions.

Every run is virtual time (``_neighbours.run_account``: default clients against one
``FakeWorksection`` with a 1/s token bucket of burst 1, each request reaching it after a
seeded arrival jitter), on asyncio and trio; the runs are deterministic, the same on
both. The figures quoted are from these seeds; other seeds are in the closing note.

Joining an account that another client holds costs 20-50 error 20s (the holder leaves
the account idle ``margin`` of each interval, and only then can a newcomer get through
and be heard; its tries walk across the holder's interval to that moment): over a run
of 1,200 s that entry is a third to a half of the errors counted below.
"""

from __future__ import annotations

import pytest

from ._neighbours import run_account, run_backlog, sometimes_late

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("callers", [8, 1])
async def test_two_clients_take_turns_with_few_collisions(callers: int) -> None:
    """Two clients, 0-20 ms of arrival jitter, 1,200 s: the account used >= 0.85, Jain
    fairness >= 0.95, error 20 on <= 10 % of the requests (the replaced law: 46-48 %).
    8 callers each: 7.2 %, 0.917, 0.996 (seeds 1-6: 6.1-8.8 %, Jain >= 0.99); 1 caller
    each: 6.5 %, 0.917, 0.997 (seeds 1-6: 6.1-7.1 %, Jain >= 0.98)."""
    account = await run_account(clients=2, callers=callers, seconds=1200, seed=1)
    assert account.error_share <= 0.10
    assert account.use() >= 0.85
    assert account.jain() >= 0.95
    assert account.raised == 0


THREE_CLIENTS_MISSED: dict[int, str] = {
    2: "15.02 %",
    3: "15.46 %",
    4: "18.17 %",
    5: "15.79 %",
    6: "17.88 %",
}
"""Seeds on which three clients still collide on more than 15 % of their requests (the
error-20 share measured with the law as it is; the replaced law: 62-64 %)."""


def _three_clients_error_case(seed: int) -> object:
    missed = THREE_CLIENTS_MISSED.get(seed)
    if missed is None:
        return seed
    reason = f"issue 24: three clients, seed {seed}: error 20 on {missed} of requests (target 15 %)"
    return pytest.param(seed, marks=pytest.mark.xfail(strict=True, reason=reason))


@pytest.mark.parametrize("seed", range(1, 7))
async def test_three_clients_use_the_account(seed: int) -> None:
    """Three clients, 0-50 ms of arrival jitter, 1,200 s: the account used >= 0.8 and
    no call fails. Seeds 1-6: use 0.888, 0.890, 0.887, 0.858, 0.878, 0.879."""
    account = await run_account(clients=3, jitter=0.05, seconds=1200, seed=seed)
    assert account.use() >= 0.8
    assert account.raised == 0


@pytest.mark.parametrize("seed", [_three_clients_error_case(seed) for seed in range(1, 7)])
async def test_three_clients_collide_on_at_most_15_percent(seed: int) -> None:
    """Three clients, 0-50 ms of arrival jitter, 1,200 s: error 20 on <= 15 % of the
    requests. Seeds 1-6 give 11.4, 15.0, 15.5, 18.2, 15.8, 17.9 % (the replaced law:
    62 %): met on seed 1 only, the others are expected failures that say their figure.
    Most of the excess comes from a waiter that missed a hand-off: after three turns
    without one it tries at every interval until it gets through."""
    account = await run_account(clients=3, jitter=0.05, seconds=1200, seed=seed)
    assert account.error_share <= 0.15


FIVE_CLIENTS_HALF_QUOTA: dict[int, str] = {
    1: "49.5 % error 20, 1 call raised",
    2: "40.6 % error 20, 8 calls raised",
    3: "48.2 % error 20, 12 calls raised",
    4: "45.9 % error 20, 8 calls raised",
    5: "44.9 % error 20, 3 calls raised",
    6: "44.9 % error 20, 12 calls raised",
}
"""What five clients on a half-quota account measure with the law as it is (the
replaced law: 76-82 % error 20, up to 29 calls raised)."""


@pytest.mark.parametrize(
    "seed",
    [
        pytest.param(
            seed,
            marks=pytest.mark.xfail(
                strict=True,
                reason=f"issue 24: five clients, half quota, seed {seed}: {figure} "
                "(target: none raised, <= 20 % error 20)",
            ),
        )
        for seed, figure in FIVE_CLIENTS_HALF_QUOTA.items()
    ],
)
async def test_five_clients_on_a_half_quota_account(seed: int) -> None:
    """Five clients of 8 callers on an account whose quota (1 request every 2 s) is half
    the configured one, 0-20 ms of arrival jitter, 900 s: no call raises
    ``QuotaExceededError`` and error 20 on <= 20 % of the requests. Not met on any seed
    (see ``FIVE_CLIENTS_HALF_QUOTA``): a waiter needs four turns of the others, more
    than the three after which it tries at every interval, and those tries collide."""
    account = await run_account(
        clients=5, seconds=900, seed=seed, quota="1/2s", quota_per_second=0.5
    )
    assert account.raised == 0
    assert account.error_share <= 0.20


async def test_a_slow_path_is_not_a_neighbour() -> None:
    """One client whose requests are 2.5 s late 5 % of the time: the error 20s its own
    late requests cause are explained (no cut, no pause, no contention), and it gets
    >= 0.9 of the quota (0.922; the replaced law: 0.82-0.83)."""
    account = await run_account(
        clients=1, seconds=600, seed=1, delay=lambda rng: sometimes_late(rng, 2.5, 0.05)
    )
    assert account.use() >= 0.9
    snapshot = account.tallies[0].snapshot
    assert snapshot is not None
    assert not snapshot.contended
    assert snapshot.rate_at_last_decrease is None


async def test_a_lone_client_keeps_the_whole_quota() -> None:
    """Alone, 0-20 ms of arrival jitter: >= 0.97 of the quota, no error 20."""
    account = await run_account(clients=1, seconds=600, seed=1)
    assert account.use() >= 0.97
    assert account.error_share == 0.0


@pytest.mark.parametrize("seed", range(1, 7))
async def test_two_single_callers_never_stall(seed: int) -> None:
    """Two clients of one caller each, 0-50 ms of arrival jitter, 1,800 s: no 120 s
    window after the first 300 s falls below 0.75 use (the replaced law: 0.41-0.42).
    Seeds 1-6 give 0.80, 0.79, 0.76, 0.81, 0.79, 0.78."""
    account = await run_account(clients=2, callers=1, jitter=0.05, seconds=1800, seed=seed)
    assert account.worst_window(300) >= 0.75


async def test_a_call_that_was_sent_keeps_its_place() -> None:
    """200 calls every 120 s beside a steady neighbour of 8 callers: a call that got
    error 20 is retried at the head of the client's queue, and its deadline runs from
    its first send, so no call that was sent fails on its deadline (the replaced law
    and queue: 255 of 1,200), and the client gets a fair part of the account (0.41)."""
    backlog = await run_backlog(seed=1)
    assert backlog.failed_sent == 0
    assert backlog.share() >= 0.35
