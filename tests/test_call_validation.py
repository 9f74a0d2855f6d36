"""Call parameters that cannot be sent faithfully are refused before anything happens:
no quota token taken, no event fired, no request sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from worksection_async import (
    Call,
    Client,
    ClientClosed,
    ClientCreated,
    ClientEvent,
    JSONParam,
    RateLimit,
    UploadFile,
)

from .conftest import ACCOUNT, API_KEY, RecordingClock

pytestmark = pytest.mark.anyio


def refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no request may be sent")


@pytest.fixture
async def guarded(clock: RecordingClock) -> AsyncIterator[tuple[Client, list[ClientEvent]]]:
    """A client with the quota on, whose transport fails the test if it is ever used."""
    events: list[ClientEvent] = []
    async with Client(
        ACCOUNT,
        API_KEY,
        transport=httpx.MockTransport(refuse),
        rate_limit=RateLimit(),
        clock=clock,
        on_event=events.append,
    ) as client:
        yield client, events


def untouched(client: Client, events: list[ClientEvent]) -> None:
    snapshot = client.quota
    assert [e for e in events if not isinstance(e, (ClientCreated, ClientClosed))] == []
    assert snapshot.calls == 0 and snapshot.in_flight == 0 and snapshot.waiting == 0


BAD_VALUES: list[tuple[str, Any, type[Exception], str]] = [
    ("float nan", float("nan"), ValueError, "finite"),
    ("float inf", float("inf"), ValueError, "finite"),
    ("float -inf", float("-inf"), ValueError, "finite"),
    ("Decimal 1e999999", Decimal("1e999999"), ValueError, "1,000,000 digits"),
    ("Decimal 1e1000000", Decimal("1e1000000"), ValueError, "digits"),
    ("Decimal 1e-999999", Decimal("1e-999999"), ValueError, "digits"),
    ("Decimal 401 digits", Decimal(10) ** 400, ValueError, "digits"),
    ("Decimal NaN", Decimal("NaN"), ValueError, "finite"),
    ("Decimal sNaN", Decimal("sNaN"), ValueError, "finite"),
    ("Decimal -Infinity", Decimal("-Infinity"), ValueError, "finite"),
    ("int 401 digits", 10**400, ValueError, "digits"),
    ("lone surrogate", "caf\udce9", ValueError, "surrogate"),
    ("surrogate in a list", ["ok", "\ud800"], ValueError, "item 1"),
    ("JSON NaN", JSONParam({"a": float("nan")}), ValueError, "JSON"),
    ("JSON surrogate value", JSONParam({"a": ["\ud800"]}), ValueError, "surrogate"),
    ("JSON surrogate key", JSONParam({"\udfff": 1}), ValueError, "surrogate"),
    ("JSON not serialisable", JSONParam({"a": object()}), TypeError, "JSON"),  # type: ignore[dict-item]
]


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [case[1:] for case in BAD_VALUES],
    ids=[case[0] for case in BAD_VALUES],
)
async def test_unsendable_values_are_refused_before_anything_happens(
    guarded: tuple[Client, list[ClientEvent]], value: Any, error: type[Exception], match: str
) -> None:
    """NaN, infinities, numbers of hundreds of thousands of digits and lone surrogates:
    a clear error naming the parameter, and nothing taken, fired or sent."""
    client, events = guarded
    with pytest.raises(error, match=match) as caught:
        await client.call("update_task", page="/project/1/2/", max_money=value)
    assert "'max_money'" in str(caught.value)
    assert len(str(caught.value)) < 300
    untouched(client, events)


@pytest.mark.parametrize(
    ("action", "page", "params", "match"),
    [
        ("get_task\ud800", None, {}, "action"),
        ("get_task", "/project/1/\ud800/", {}, "page"),
        ("get_task", "/project/1/2/\udc00", {}, "page"),
        ("get_task", None, {"ti\ud800tle": "x"}, "parameter name"),
    ],
    ids=["action", "page id", "page tail", "key"],
)
async def test_surrogates_in_names_and_pages_are_refused(
    guarded: tuple[Client, list[ClientEvent]],
    action: str,
    page: str | None,
    params: dict[str, Any],
    match: str,
) -> None:
    """Action names, parameter names and pages with lone surrogates never reach the
    throttle."""
    client, events = guarded
    with pytest.raises(ValueError, match=match):
        await client.call(action, page=page, **params)
    untouched(client, events)


async def test_a_resource_method_refuses_a_huge_decimal(
    guarded: tuple[Client, list[ClientEvent]],
) -> None:
    """The typed layer's money arguments share the bound (``1e999999`` was sent as a
    million-digit number, ``1e1000000`` raised decimal.Overflow)."""
    client, events = guarded
    for value in (Decimal("1e999999"), Decimal("1e1000000")):
        with pytest.raises(ValueError, match="max_money"):
            await client.task("/project/1/2/").update(max_money=value)
    with pytest.raises(ValueError, match=r"'text'.*surrogate"):
        await client.task("/project/1/2/").post_comment("caf\udce9")
    untouched(client, events)


def test_upload_file_names_must_be_valid_text() -> None:
    """A multipart part's name or filename with a lone surrogate is refused at once."""
    with pytest.raises(ValueError, match=r"filename.*surrogate"):
        UploadFile("attach[0]", "r\udce9sum\u00e9.pdf", b"%PDF")
    with pytest.raises(ValueError, match=r"field.*surrogate"):
        UploadFile("attach\ud800", "ok.pdf", b"%PDF")
    with pytest.raises(TypeError, match="filename must be str"):
        UploadFile("attach[0]", b"report.pdf", b"%PDF")  # type: ignore[arg-type]
    assert UploadFile("attach[0]", "résumé.pdf", b"%PDF").filename == "résumé.pdf"


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (Decimal("12.50"), "12.5"),
        (Decimal("1E+2"), "100"),
        (Decimal("-0.00"), "0"),
        (Decimal("0.001"), "0.001"),
        (Decimal("1234567890123456789012345678901234.5"), "1234567890123456789012345678901234.5"),
        (Decimal(10) ** 399, "1" + "0" * 399),
        (10**400 - 1, "9" * 400),
        (1e300, str(int(1e300))),
        (2.5, "2.5"),
        ("Привет ✓", "Привет ✓"),
        (["a", "é"], ("a", "é")),
        (dt.date(2026, 1, 31), "31.01.2026"),
    ],
)
def test_sendable_values_are_rendered_exactly(value: Any, wire: object) -> None:
    """Decimals go out as exact plain text (no rounding to 28 digits, no exponent);
    the bound leaves room for every finite float and 400-digit numbers."""
    assert Call.build("update_task", None, {"x": value}).params == (("x", wire),)


async def test_valid_non_ascii_text_is_sent_as_utf8(clock: RecordingClock) -> None:
    """The checks refuse only what cannot be encoded: real Unicode goes out intact."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok"})

    async with Client(
        ACCOUNT, API_KEY, transport=httpx.MockTransport(answer), rate_limit=None, clock=clock
    ) as client:
        await client.call("post_comment", page="/project/1/2/", text="Привет ✓ 🎉")
    sent = dict(parse_qsl(seen[0].url.query.decode() + "&" + seen[0].content.decode()))
    assert sent["text"] == "Привет ✓ 🎉"


async def test_resource_money_is_sent_exactly(clock: RecordingClock) -> None:
    """A typed money argument keeps every digit (it was rounded to 28 significant
    digits by ``Decimal.normalize()``), trailing zeros dropped."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok", "id": 5})

    async with Client(
        ACCOUNT, API_KEY, transport=httpx.MockTransport(answer), rate_limit=None, clock=clock
    ) as client:
        await client.task("/project/1/2/").add_cost(
            money=Decimal("1234567890123456789012345678901234.50"), author="a@example.com"
        )
    sent = dict(parse_qsl(seen[0].url.query.decode() + "&" + seen[0].content.decode()))
    assert sent["money"] == "1234567890123456789012345678901234.5"
