"""Big answers are decoded in time slices: the same value or the same failure as
``json.loads``, with turns for the other tasks in between."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import worksection_async._limits as limits
from worksection_async._limits import aparse_json, parse_json

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=25,
)


def run(body: bytes) -> tuple[str, Any]:
    """("ok", value) or ("error", None) for ``aparse_json`` on any size of body."""

    async def decode() -> Any:
        return await aparse_json(body, seconds=0.0)

    try:
        return "ok", anyio.run(decode)
    except ValueError:
        return "error", None


def reference(body: bytes) -> tuple[str, Any]:
    try:
        return "ok", parse_json(body)
    except ValueError:
        return "error", None


@pytest.fixture(autouse=True)
def _every_body_is_big(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "INCREMENTAL_JSON_FROM", 0)


@settings(max_examples=300, deadline=None)
@given(
    value=st.dictionaries(st.text(max_size=6), json_values, max_size=5) | json_values,
    indent=st.sampled_from([None, 0, 2, "\t", "\r\n"]),
)
def test_same_value_as_json_loads(value: Any, indent: int | str | None) -> None:
    """Any JSON text, however it is spaced, decodes to what json.loads gives."""
    body = json.dumps(value, indent=indent, ensure_ascii=False).encode()
    assert run(body) == reference(body)


@settings(max_examples=300, deadline=None)
@given(
    value=st.dictionaries(st.text(max_size=4), json_values, max_size=4),
    cut=st.integers(min_value=0),
    junk=st.sampled_from(["", ",", "]", "}", ":", "NaN", "Infinity", " x", '"', "\\", "\x00"]),
)
def test_same_failures_as_json_loads(value: Any, cut: int, junk: str) -> None:
    """A text cut short or spliced with junk fails exactly when json.loads fails, and
    with a ValueError."""
    text = json.dumps(value)
    cut %= len(text) + 1
    body = (text[:cut] + junk + text[cut:]).encode()
    assert run(body)[0] == reference(body)[0]


@pytest.mark.parametrize(
    "body",
    [
        b'{"status":"ok","data":[1,2]} x',  # extra data
        b'{"status":"ok","data":[1,,2]}',
        b'{"status":"ok","data":[NaN]}',
        b'{"status":"ok",}',
        b'{status:"ok"}',
        b'{"status" "ok"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"\xff\xfe\x00",
    ],
)
def test_hostile_bodies_fail_as_value_error(body: bytes) -> None:
    """Broken, constant-laden or absurdly nested bodies are a ValueError, never a
    RecursionError."""
    assert run(body) == ("error", None) == reference(body)


@pytest.mark.anyio
async def test_other_tasks_run_while_a_big_answer_is_decoded() -> None:
    """A 5,000-item data list decoded with zero-length slices gives a side task a turn
    between items, and yields exactly the parsed value."""
    items = [{"id": str(i), "name": f"task {i}", "tags": ["a", "b"]} for i in range(5000)]
    body = json.dumps({"status": "ok", "data": items}).encode()
    turns = 0
    done = False

    async def side() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(side)
        await anyio.lowlevel.checkpoint()
        value = await aparse_json(body, seconds=0.0)
        done = True
    assert value == {"status": "ok", "data": items}
    assert turns >= 5000
