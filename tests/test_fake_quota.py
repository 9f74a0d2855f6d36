"""The fake's quota: a token bucket on a clock the test controls, error 20, no side effect."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.fake_support import admin, api, client_for, encode
from worksection_async.testing import DEFAULT_QUOTA, FakeWorksection, ManualClock, RateQuota

QUOTA_EXCEEDED = {"status": "error", "status_code": 20, "message": "Quota exceeded"}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_fake(clock: ManualClock, quota: str | RateQuota | None = "1/s") -> FakeWorksection:
    fake = FakeWorksection(quota=quota, clock=clock)
    fake.add_project("Website", id=10)
    return fake


@pytest.mark.anyio
async def test_one_request_per_second_by_default() -> None:
    """1/s: the second request in the same second is error 20 (HTTP 200), then it passes."""
    clock = ManualClock()
    fake = make_fake(clock, DEFAULT_QUOTA)
    async with client_for(fake) as http:
        assert (await api(http, fake, "get_projects"))["status"] == "ok"
        rejected = await api(http, fake, "get_projects")
        assert rejected == QUOTA_EXCEEDED
        clock.advance(0.999)
        assert await api(http, fake, "get_projects") == QUOTA_EXCEEDED
        clock.advance(0.001)
        assert (await api(http, fake, "get_projects"))["status"] == "ok"
        for _ in range(5):
            clock.advance(1.0)
            assert (await api(http, fake, "get_projects"))["status"] == "ok"
    assert (fake.stats.served, fake.stats.rejected_quota) == (7, 2)
    assert fake.stats.by_action == {"get_projects": 7}
    assert fake.stats.rejected_by_action == {"get_projects": 2}
    assert fake.stats.errors[20] == 2


@pytest.mark.anyio
async def test_a_rejected_request_changes_nothing() -> None:
    """Over the quota a post_task creates no task, records no event, spends no token."""
    clock = ManualClock()
    fake = make_fake(clock)
    async with client_for(fake) as http:
        first = await api(http, fake, "post_task", id_project=10, title="kept")
        assert first["status"] == "ok"
        second = await api(http, fake, "post_task", id_project=10, title="dropped")
        assert second == QUOTA_EXCEEDED
        assert [t.name for t in fake.tasks.values()] == ["kept"]
        assert [e.action for e in fake.events] == ["post"]
        clock.advance(1.0)
        assert fake.quota_tokens() == pytest.approx(1.0)
        third = await api(http, fake, "post_task", id_project=10, title="later")
        assert third["status"] == "ok"
    assert [t.name for t in fake.tasks.values()] == ["kept", "later"]


@pytest.mark.anyio
async def test_rate_and_burst_are_configurable() -> None:
    """RateQuota(rate=2, burst=3): three at once, then one every half second."""
    clock = ManualClock()
    fake = make_fake(clock, RateQuota(rate=2, burst=3))
    async with client_for(fake) as http:
        results = [(await api(http, fake, "get_users"))["status"] for _ in range(4)]
        assert results == ["ok", "ok", "ok", "error"]
        clock.advance(0.5)
        assert (await api(http, fake, "get_users"))["status"] == "ok"
        assert (await api(http, fake, "get_users"))["status"] == "error"
        clock.advance(10)
        results = [(await api(http, fake, "get_users"))["status"] for _ in range(4)]
        assert results == ["ok", "ok", "ok", "error"]
    assert fake.stats.rejected_quota == 3


@pytest.mark.anyio
async def test_unlimited_by_default_and_switchable() -> None:
    """quota=None never rejects; set_quota turns a limit on and off at run time."""
    clock = ManualClock()
    fake = make_fake(clock, None)
    async with client_for(fake) as http:
        for _ in range(50):
            assert (await api(http, fake, "get_users"))["status"] == "ok"
        fake.set_quota("1/s")
        assert (await api(http, fake, "get_users"))["status"] == "ok"
        assert await api(http, fake, "get_users") == QUOTA_EXCEEDED
        fake.set_quota(None)
        assert (await api(http, fake, "get_users"))["status"] == "ok"
    assert fake.quota is None


@pytest.mark.anyio
async def test_failed_signatures_spend_no_quota() -> None:
    """A request refused with error 2 does not use the account's quota."""
    clock = ManualClock()
    fake = make_fake(clock)
    async with client_for(fake) as http:
        for _ in range(3):
            bad = await http.post(f"/api/admin/v2/?{encode([('action', 'get_users')])}&hash=00")
            assert bad.json()["status_code"] == 2
        assert (await api(http, fake, "get_users"))["status"] == "ok"
    assert (fake.stats.rejected_auth, fake.stats.served, fake.stats.rejected_quota) == (3, 1, 0)


@pytest.mark.anyio
async def test_stats_reset_and_endpoint() -> None:
    """GET /_fake/stats answers the counters (and is not counted); reset() zeroes them."""
    clock = ManualClock()
    fake = make_fake(clock)
    async with client_for(fake) as http:
        await api(http, fake, "get_users")
        await api(http, fake, "get_users")
        stats: dict[str, Any] = (await http.get("/_fake/stats")).json()
        assert stats["requests"] == 2
        assert stats["served"] == 1 and stats["rejected_quota"] == 1
        assert stats["by_action"] == {"get_users": 1}
        assert stats["quota"] == "1/s,burst=1"
    fake.stats.reset()
    assert (fake.stats.requests, fake.stats.served, fake.stats.by_action) == (0, 0, {})


def test_quota_text_forms() -> None:
    """'1/s', '30/m', '5/2s', '10/s,burst=5' parse; nonsense is a ValueError."""
    assert RateQuota.parse("1/s") == RateQuota(rate=1, burst=1)
    assert RateQuota.parse("30/m").rate == pytest.approx(0.5)
    assert RateQuota.parse("5/2s").rate == pytest.approx(2.5)
    assert RateQuota.parse("100/h").rate == pytest.approx(100 / 3600)
    assert RateQuota.parse("10/s,burst=5") == RateQuota(rate=10, burst=5)
    for bad in ("", "fast", "1/fortnight", "-1/s", "1/s,burst=0"):
        with pytest.raises(ValueError, match=r"quota|burst"):
            RateQuota.parse(bad)
    with pytest.raises(ValueError, match="rate"):
        RateQuota(rate=0)
    with pytest.raises(TypeError):
        FakeWorksection(quota=3)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_virtual_time_paces_a_bulk_job() -> None:
    """Forty calls paced by the clock take forty virtual seconds and no real time."""
    clock = ManualClock()
    fake = make_fake(clock)
    async with client_for(fake) as http, clock.autojump():
        start = clock.now()
        for _ in range(40):
            while (await api(http, fake, "get_users"))["status"] != "ok":
                await clock.sleep(0.25)
    assert clock.now() - start == pytest.approx(39.0)
    assert fake.stats.served == 40


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("style", "status", "message"),
    [
        ("code20", 200, "Quota exceeded"),
        ("too_many_requests", 200, "Too many requests"),
        ("http429", 429, "Too many requests"),
    ],
)
async def test_quota_styles_answer_in_their_wording(style: str, status: int, message: str) -> None:
    """Each quota style: its HTTP status and message; Retry-After only with HTTP 429."""
    clock = ManualClock()
    fake = FakeWorksection(quota=RateQuota(rate=0.25), clock=clock, quota_style=style)  # type: ignore[arg-type]
    async with client_for(fake) as http:
        assert (await admin(http, fake, "get_users")).status_code == 200
        clock.advance(1.5)
        rejected = await admin(http, fake, "get_users")
        assert rejected.status_code == status
        assert rejected.json() == {"status": "error", "status_code": 20, "message": message}
        assert rejected.headers["content-type"] == "application/json; charset=utf-8"
        # a token every 4 s, 1.5 s gone: the next one in 2.5 s, announced as 3 whole seconds
        assert rejected.headers.get("retry-after") == ("3" if style == "http429" else None)
        clock.advance(2.4999)
        assert (await admin(http, fake, "get_users")).headers.get("retry-after") == (
            "1" if style == "http429" else None
        )
        stats = (await http.get("/_fake/stats")).json()
    assert stats["quota_style"] == style
    assert (fake.stats.rejected_quota, fake.stats.errors[20]) == (2, 2)


def test_quota_style_is_checked_and_settable() -> None:
    """An unknown style is a ValueError; the style can change at run time."""
    with pytest.raises(ValueError, match="quota_style must be one of code20"):
        FakeWorksection(quota_style="429")  # type: ignore[arg-type]
    fake = FakeWorksection()
    assert fake.quota_style == "code20"
    fake.quota_style = "http429"
    assert fake.quota_style == "http429"
    with pytest.raises(ValueError, match="quota_style"):
        fake.quota_style = "teapot"  # type: ignore[assignment]


@pytest.mark.anyio
async def test_the_quota_of_a_served_fake_can_be_changed_over_http() -> None:
    """PUT /_fake/quota sets the quota from another process (benchmarks squeeze a
    served fake this way); nonsense is a 400 and changes nothing; `none` lifts it."""
    fake = FakeWorksection(quota="1/s")
    async with httpx.AsyncClient(transport=fake.transport, base_url=fake.account_url) as http:
        answer = await http.put("/_fake/quota", content="4/s")
        assert answer.status_code == 200
        assert answer.json() == {"status": "ok", "quota": "4/s,burst=1"}
        assert str(fake.quota) == "4/s,burst=1"
        bad = await http.put("/_fake/quota", content="fast please")
        assert bad.status_code == 400
        assert str(fake.quota) == "4/s,burst=1"
        assert (await http.put("/_fake/quota", content="none")).json()["quota"] is None
        assert fake.quota is None
    assert fake.stats.requests == 0  # control requests are not counted
