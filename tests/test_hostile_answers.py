"""Whatever a server answers, a call ends in a result or a typed ``WorksectionError``.

The specific answers that escaped the error tree before (a ``RecursionError``, a
``ValueError``), then Hypothesis over answers of every shape: HTTP statuses, envelope
shapes, nesting, huge numbers, non-UTF-8 bytes.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import worksection_async as ws
from worksection_async import Client
from worksection_async._transport import MAX_DETAILS_ITEMS, MAX_ERROR_TEXT

from .conftest import ACCOUNT, API_KEY

pytestmark = pytest.mark.anyio


def answering(status: int, body: bytes, headers: dict[str, str] | None = None) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)

    return Client(
        ACCOUNT, API_KEY, transport=httpx.MockTransport(handler), rate_limit=None, retry=None
    )


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize("depth", [2_000, 100_000])
async def test_deep_nesting_on_http_200_is_a_protocol_error(depth: int) -> None:
    """JSON nested past the parser's recursion limit is a ProtocolError, not a
    RecursionError."""
    body = f'{{"status":"ok","data":{nested(depth)}}}'.encode()
    async with answering(200, body) as client:
        with pytest.raises(ws.ProtocolError, match="nested too deeply"):
            await client.call("get_task", page="/project/1/2/")


async def test_deep_nesting_on_http_401_is_an_authentication_error() -> None:
    """A 401 whose body cannot be decoded is still the 401 it is."""
    body = f'{{"message":{nested(100_000, chr(34) + "x" + chr(34))}}}'.encode()
    async with answering(401, body) as client:
        with pytest.raises(ws.AuthenticationError) as info:
            await client.call("me")
    assert info.value.message == "Unauthorized (HTTP 401)"


@pytest.mark.parametrize(
    "code", ["²", "٣", "1" * 5_000, "-" + "9" * 5_000, "12.5", " 7 ", 10**30, 1e300, True]
)
async def test_odd_status_codes_keep_a_readable_error(code: object) -> None:
    """status_code "²" or 5,000 digits: an APIError whose message is kept (code unknown,
    unless it is a plain number)."""
    body = json.dumps({"status": "error", "status_code": code, "message": "Odd"}).encode()
    async with answering(200, body) as client:
        with pytest.raises(ws.APIError) as info:
            await client.call("get_projects")
    assert info.value.message == "Odd"
    assert info.value.code == (7 if code == " 7 " else None)


async def test_a_5000_digit_json_number_is_a_protocol_error() -> None:
    """An integer past Python's digit limit cannot be decoded: ProtocolError."""
    body = b'{"status":"error","status_code":' + b"1" * 5_000 + b',"message":"x"}'
    async with answering(200, body) as client:
        with pytest.raises(ws.ProtocolError, match="not JSON"):
            await client.call("get_projects")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_non_json_constants_are_refused(constant: str) -> None:
    """NaN and Infinity are not JSON: the answer is a ProtocolError, not a float."""
    body = f'{{"status":"ok","data":{{"money":{constant}}}}}'.encode()
    async with answering(200, body) as client:
        with pytest.raises(ws.ProtocolError):
            await client.call("get_costs")


async def test_deep_error_details_are_a_protocol_error() -> None:
    """message_details nested hundreds of levels (unprintable) is a ProtocolError."""
    body = f'{{"status":"error","status_code":10,"message":"x","message_details":{nested(500)}}}'
    async with answering(200, body.encode()) as client:
        with pytest.raises(ws.ProtocolError, match="message_details"):
            await client.call("post_task")


async def test_non_utf8_bytes_are_a_protocol_error() -> None:
    """Bytes that are not text are a ProtocolError with a readable snippet."""
    async with answering(200, b'{"status":"ok","data":"\xff\xfe\xc3"}') as client:
        with pytest.raises(ws.ProtocolError) as info:
            await client.call("get_projects")
    assert "\ufffd" in info.value.snippet


async def test_a_huge_unknown_status_is_shown_short() -> None:
    """An unknown envelope status is quoted, not copied whole into the message."""
    body = json.dumps({"status": "z" * 100_000}).encode()
    async with answering(200, body) as client:
        with pytest.raises(ws.ProtocolError) as info:
            await client.call("get_projects")
    assert len(str(info.value)) < 500


# -- Hypothesis: answers of every shape ----------------------------------------------

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["0", "20", "²", "1" * 50, "Too many requests", "Too many tasks"]),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    """A JSON answer: a real envelope shape with odd values, or any JSON at all."""
    shape = draw(st.sampled_from(["ok", "ok-top", "error", "odd-status", "any"]))
    value: Any
    if shape == "ok":
        value = {"status": "ok", "data": draw(json_values)}
    elif shape == "ok-top":
        value = {"status": "ok", **draw(st.dictionaries(st.text(max_size=8), json_values))}
    elif shape == "error":
        value = {
            "status": "error",
            "status_code": draw(json_values),
            "message": draw(json_values),
            "message_details": draw(json_values),
        }
    elif shape == "odd-status":
        value = {"status": draw(json_values), "data": draw(json_values)}
    else:
        value = draw(json_values)
    return json.dumps(value).encode()


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    """Bytes that are not (quite) a JSON envelope."""
    kind = draw(st.sampled_from(["bytes", "nesting", "number", "truncated", "encoded"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    if kind == "nesting":
        depth = draw(st.sampled_from([10, 900, 1_000, 5_000, 50_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        where = draw(st.sampled_from(["data", "message_details", "message", "top"]))
        inner = opener * depth + "1" + closer * depth
        if where == "top":
            return inner.encode()
        status = "error" if where != "data" else "ok"
        return f'{{"status":"{status}","status_code":1,"{where}":{inner}}}'.encode()
    if kind == "number":
        digits = draw(st.sampled_from([10, 400, 4_300, 5_000]))
        number = draw(st.sampled_from(["1" * digits, f"1e{digits}", f"-0.{'9' * digits}"]))
        key = draw(st.sampled_from(["status_code", "data"]))
        return f'{{"status":"error","{key}":{number},"message":"m"}}'.encode()
    if kind == "truncated":
        whole = draw(envelopes())
        return whole[: draw(st.integers(0, max(0, len(whole) - 1)))]
    text = draw(envelopes()).decode()
    encoding = draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "cp1251"]))
    return text.encode(encoding, errors="replace")


answers = st.tuples(
    st.sampled_from([200, 200, 200, 201, 204, 301, 302, 307, 400, 401, 403, 404, 429, 500, 502]),
    st.one_of(envelopes(), raw_bodies()),
    st.sampled_from(
        [
            {},
            {"content-type": "application/json"},
            {"content-type": "text/html"},
            {"location": "https://elsewhere.example/"},
            {"location": "http://\x00bad/"},
            {"content-encoding": "gzip"},
        ]
    ),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(answer=answers)
async def test_any_answer_is_a_result_or_a_worksection_error(
    answer: tuple[int, bytes, dict[str, str]],
) -> None:
    """Any status, body and headers: the call returns, or raises a WorksectionError."""
    status, body, headers = answer
    errors: list[ws.WorksectionError] = []
    async with answering(status, body, headers) as client:
        for call in (
            client.call("get_task", page="/project/1/2/"),
            client.files.download(5, to=_Sink()),
        ):
            try:
                await call
            except ws.WorksectionError as exc:
                errors.append(exc)
    for error in errors:  # every error prints, pickles and never shows the key
        assert API_KEY not in f"{error!s} {error!r}"
        assert type(pickle.loads(pickle.dumps(error))) is type(error)


class _Sink:
    def write(self, data: bytes) -> int:
        return len(data)


async def test_a_huge_error_message_is_cut_with_a_note() -> None:
    """A 5 MB error message: the APIError keeps the first 64 K characters (masked) and
    says how much was left out, instead of masking megabytes of text."""
    message = "x" * (5 * 1024 * 1024) + API_KEY
    body = json.dumps({"status": "error", "status_code": 10, "message": message}).encode()
    async with answering(200, body) as client:
        with pytest.raises(ws.FieldRequiredError) as info:
            await client.call("post_task")
    shown = info.value.message
    assert shown.startswith("x" * 1000)
    assert shown.endswith(f"[... {len(message) - MAX_ERROR_TEXT} more characters not shown]")
    assert len(shown) < MAX_ERROR_TEXT + 100


@pytest.mark.parametrize(
    "details",
    [["e@x.com"] * (MAX_DETAILS_ITEMS + 1), ["y" * 1000] * 100, {"k" * 70_000: 1}],
)
async def test_huge_error_details_are_a_protocol_error(details: object) -> None:
    """message_details with over 10,000 values or 64 K characters: ProtocolError."""
    body = json.dumps(
        {
            "status": "error",
            "status_code": 11,
            "message": "Invalid email",
            "message_details": details,
        }
    ).encode()
    async with answering(200, body) as client:
        with pytest.raises(ws.ProtocolError, match="message_details"):
            await client.call("subscribe")
