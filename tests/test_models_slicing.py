"""astructure: what structure gives, in time slices that let other tasks run.

Slices are counted, not timed: with ``slice_seconds=0`` every chunk ends in a turn
for the other tasks, so a task counting its own turns sees how often the loop was
given back, on asyncio and trio alike, without depending on the machine's speed.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given
from hypothesis import strategies as st

import worksection_async._bulk as bulk
from worksection_async import Client, TaskPage
from worksection_async.models import (
    Cost,
    CostReport,
    CostTotals,
    StructureError,
    Task,
    _values,
    astructure,
    astructure_list,
    clear_intern_tables,
    structure,
    structure_list,
)
from worksection_async.testing import FakeWorksection

from .test_models_fuzz import FUZZ, HOSTILE, _too_deep, model_data

pytestmark = pytest.mark.anyio

T = TypeVar("T")

_ROOT = Path(__file__).resolve().parents[1]


def _big_answer(count: int) -> list[Any]:
    """``count`` tasks with subtasks, comments, relations and files (the benchmark's)."""
    import sys

    sys.path.insert(0, str(_ROOT / "benchmarks"))
    try:
        from big_responses import _Generator
    finally:
        sys.path.remove(str(_ROOT / "benchmarks"))
    return json.loads(json.dumps(_Generator().body(count)))["data"]  # type: ignore[no-any-return]


async def _counting_turns(job: Callable[[], Awaitable[T]]) -> tuple[T, int]:
    """Run ``job`` beside a task that counts how many times it got to run."""
    turns = 0
    done = anyio.Event()

    async def count() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await anyio.lowlevel.checkpoint()

    result: list[T] = []

    async def run() -> None:
        try:
            result.append(await job())
        finally:
            done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(count)
        await anyio.lowlevel.checkpoint()
        start = turns
        tg.start_soon(run)
    return result[0], turns - start


async def test_sliced_structuring_gives_what_structure_gives() -> None:
    """300 rich tasks: equal models, in order; a task's comments share its page, as
    with structure; the interned user refs are the same objects."""
    data = _big_answer(300)
    expected = structure_list(data, Task)
    got, turns = await _counting_turns(lambda: astructure_list(data, Task, slice_seconds=0))
    assert got == expected
    assert [t.id for t in got] == [t.id for t in expected]
    assert turns >= 300 // 2  # a turn after every chunk of one or two items
    with_comments = [t for t in got if t.comments]
    assert with_comments
    for task in with_comments:
        assert all(comment.page is task.page for comment in task.comments or ())
    assert got[0].user_to is expected[0].user_to or got[0].user_to == expected[0].user_to
    users = {id(t.user_to) for t in got} | {id(t.user_to) for t in expected}
    assert len(users) <= len({t.user_to for t in got}) * 2


async def test_a_small_answer_is_structured_in_one_go() -> None:
    """Fewer than 16 items: no checkpoint at all (nothing to gain, a turn to lose)."""
    data = _big_answer(10)
    got, turns = await _counting_turns(lambda: astructure_list(data, Task, slice_seconds=0))
    assert got == structure_list(data, Task)
    assert turns <= 2  # the counter's own start (trio runs a batch in random order)


async def test_the_default_slices_give_the_whole_answer() -> None:
    """With the default 20 ms slices (chunks sized from the time they take), every
    item of a big answer arrives, in order."""
    data = _big_answer(2000)
    got, _ = await _counting_turns(lambda: astructure_list(data, Task))
    assert got == structure_list(data, Task)


@FUZZ
@given(data=st.data())
async def test_sliced_errors_are_the_errors_of_structure(data: st.DataObject) -> None:
    """Lists of task data with hostile values: the same StructureError message, or
    equal models. (Where an answer nests deeper than the stack, the message depends
    on how deep the caller's stack already was, for structure as well: those only
    have to fail alike.)"""
    items = data.draw(st.lists(st.one_of(model_data(Task), HOSTILE), min_size=16, max_size=30))
    deep = False
    try:
        expected: object = structure_list(items, Task)
    except StructureError as exc:
        expected, deep = str(exc), _too_deep(exc)
    try:
        got: object = await astructure_list(items, Task, slice_seconds=0)
    except StructureError as exc:
        got, deep = str(exc), deep or _too_deep(exc)
    if deep:
        assert isinstance(got, str) and isinstance(expected, str)
    else:
        assert got == expected


async def test_a_bad_item_late_in_a_big_answer_is_located() -> None:
    """One bad task among 400: the message names it, like structure's does."""
    data = _big_answer(400)
    data[371]["priority"] = "high"
    data[5]["child"] = "not a list"
    with pytest.raises(StructureError) as sync:
        structure_list(data, Task)
    with pytest.raises(StructureError) as sliced:
        await astructure_list(data, Task, slice_seconds=0)
    assert str(sliced.value) == str(sync.value)
    assert "$[371].priority" in str(sliced.value)


async def test_a_big_list_inside_an_object_is_sliced_too() -> None:
    """get_costs' rows (a list inside the answer object) and get_costs_total's
    projects (a map) are structured in slices; the result and errors are structure's."""
    tasks = _big_answer(40)
    rows = [
        {
            "id": str(i + 1),
            "comment": f"row {i}",
            "time": "1:30",
            "money": "12.50",
            "date": "2024-05-01",
            "is_timer": False,
            "user_from": tasks[i % 40]["user_to"],
            "task": {k: v for k, v in tasks[i % 40].items() if k != "child"},
        }
        for i in range(300)
    ]
    answer = {"data": rows, "total": {"time": "450:00", "money": "3750"}}
    expected = structure(answer, CostReport)
    got, turns = await _counting_turns(lambda: astructure(answer, CostReport, slice_seconds=0))
    assert got == expected
    assert isinstance(got.costs[0], Cost)
    assert turns >= 100
    rows[250]["money"] = "lots"
    with pytest.raises(StructureError) as sync:
        structure(answer, CostReport)
    with pytest.raises(StructureError) as sliced:
        await astructure(answer, CostReport, slice_seconds=0)
    assert str(sliced.value) == str(sync.value)
    assert "$.costs[250].money" in str(sliced.value)

    totals = {
        "total": {"time": "10:00", "money": "100"},
        "projects": {
            str(p): {"id": str(p), "time": "1:00", "money": "10", "name": f"P{p}"}
            for p in range(1, 200)
        },
    }
    expected_totals = structure(totals, CostTotals)
    got_totals, turns = await _counting_turns(
        lambda: astructure(totals, CostTotals, slice_seconds=0)
    )
    assert got_totals == expected_totals
    assert list(got_totals.projects or ()) == list(expected_totals.projects or ())
    assert turns >= 50


async def test_cancelling_sliced_structuring_leaves_nothing_behind() -> None:
    """Cancelled between slices: the GC is enabled again and the call's page memo is
    not left in place of the shared one."""
    data = _big_answer(400)
    shared_memo = _values.PAGES
    assert gc.isenabled()
    with anyio.CancelScope() as scope:

        async def cancel_soon() -> None:
            await anyio.lowlevel.checkpoint()
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_soon)
            await astructure_list(data, Task, slice_seconds=0)
    assert scope.cancelled_caught
    assert gc.isenabled()
    assert _values.PAGES is shared_memo


async def test_get_many_gives_the_loop_back_while_it_structures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A get_tasks answer of 600 tasks (and their subtasks) is structured, filled in
    and indexed in slices: with zero-length slices the loop is given back hundreds of
    times (in one piece, it would be given back only around the request itself)."""
    monkeypatch.setattr(bulk, "SLICE_SECONDS", 0.0)
    fake = FakeWorksection.populated(projects=1, tasks_per_project=600, seed=3)
    pages = [p for t in fake.tasks.values() if isinstance(p := _page(t.page), TaskPage)]
    pages.append(_page(next(t.page for t in fake.tasks.values() if t.depth == 1)))  # type: ignore[arg-type]
    clear_intern_tables()
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, rate_limit=None
    ) as client:
        tasks, turns = await _counting_turns(lambda: client.tasks.get_many(pages))
        assert [task.page for task in tasks] == pages
        assert turns >= 600
        listed, turns = await _counting_turns(lambda: client.tasks.list(extra=["subtasks"]))
        assert len(listed) == 600
        assert turns >= 600


def _page(text: str) -> Any:
    from worksection_async import parse_page

    return parse_page(text)
