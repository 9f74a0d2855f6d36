"""Hostile answers: locating an error is linear, and messages stay bounded.

Work is counted, not timed: every task's ``id`` is a :class:`CountedId`, whose
conversion to ``int`` (once per structuring pass over the task) is counted per task.
A pass that redoes a failed subtree shows up as a task converted twice; an exponential
one trips :class:`TooMuchWork` (a ``BaseException``, so no ``except Exception`` in the
converter can swallow it) long before it could run for minutes.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest

from worksection_async import WorksectionError
from worksection_async.models import CostTotal, StructureError, Task, structure, structure_list
from worksection_async.models._errors import _MAX_DETAILS


class TooMuchWork(BaseException):
    """Structuring did far more work than the answer's size allows."""


class Budget:
    """Conversions allowed in all, and how many each task got."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.per_task: dict[int, int] = {}

    def spend(self, task_id: int) -> None:
        self.total += 1
        self.per_task[task_id] = self.per_task.get(task_id, 0) + 1
        if self.total > self.limit:
            raise TooMuchWork(f"{self.total} conversions for an answer that allows {self.limit}")


class CountedId:
    """A task id whose every conversion to ``int`` is counted."""

    def __init__(self, value: int, budget: Budget) -> None:
        self.value = value
        self.budget = budget

    def __int__(self) -> int:
        self.budget.spend(self.value)
        return self.value


def _task(task_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(task_id),
        "name": f"Task {task_id}",
        "page": f"/project/1/{task_id}/",
        "status": "active",
        "priority": "1",
        **fields,
    }


def _chain(depth: int, first_id: int, bad: dict[str, Any]) -> dict[str, Any]:
    """A task whose ``child`` chain is ``depth`` levels deep; ``bad`` spoils the leaf."""
    node = _task(first_id + depth, **bad)
    for level in range(depth - 1, -1, -1):
        node = _task(first_id + level, child=[node])
    return node


def _count_ids(value: Any, budget: Budget) -> int:
    """Replace every task id in ``value`` with a :class:`CountedId`; return how many."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if "status" in item and "id" in item:
                item["id"] = CountedId(int(item["id"]), budget)
                count += 1
            stack.extend(item.values())
    return count


def test_a_bad_leaf_150_levels_down_is_found_in_one_pass() -> None:
    """A 150-deep child chain, one bad value at the bottom: every task is structured
    once, and the error names the full path (today's code redid each failed level:
    2**150 passes)."""
    depth = 150
    answer = _chain(depth, 1000, {"priority": "high"})
    budget = Budget(limit=10 * (depth + 1))
    assert _count_ids(answer, budget) == depth + 1
    with pytest.raises(StructureError) as info:
        structure(answer, Task)
    assert budget.total == depth + 1
    assert set(budget.per_task.values()) == {1}
    assert "$" + ".child[0]" * depth + ".priority" in str(info.value)
    assert "'high'" in str(info.value)
    assert isinstance(info.value, WorksectionError)


def _hostile_megabyte(rng: random.Random) -> list[dict[str, Any]]:
    """A ``get_all_tasks`` answer of about 1 MB built to make locating errors costly:
    chains 16 deep with a bad leaf, wide children with bad values, bad top-level fields.
    """
    tasks: list[dict[str, Any]] = []
    next_id = 10_000
    size = 0
    while size < 1_000_000:
        kind = rng.randrange(3)
        if kind == 0:
            task = _chain(16, next_id, {"date_start": "2021-13-45"})
            next_id += 17
        elif kind == 1:
            children = [
                _task(next_id + 1 + i, priority="x" if i % 3 == 0 else "2") for i in range(30)
            ]
            task = _task(next_id, child=children, max_money="lots")
            next_id += 31
        else:
            task = _task(next_id, user_to=[1, 2, 3], tags={"x": "y"}, date_added="never")
            next_id += 1
        size += len(json.dumps(task))
        tasks.append(task)
    return tasks


def test_a_hostile_megabyte_fails_with_each_task_structured_at_most_once() -> None:
    """About 1 MB of tasks with bad values at every depth: a StructureError naming
    paths, and no task is structured twice (linear work)."""
    answer = _hostile_megabyte(random.Random(9))
    assert len(json.dumps(answer)) >= 1_000_000
    budget = Budget(limit=0)
    tasks = _count_ids(answer, budget)
    budget.limit = tasks
    with pytest.raises(StructureError) as info:
        structure_list(answer, Task)
    assert max(budget.per_task.values()) == 1
    assert budget.total <= tasks
    message = str(info.value)
    assert message.startswith("cannot structure list[")
    assert "@ $[0]" in message


def test_good_items_before_and_after_a_bad_one_are_structured_once() -> None:
    """Siblings of a failed item are not redone: the fast pass covers those before
    it, the locating pass those after it."""
    answer = [_task(i) for i in range(1, 50)]
    answer[20]["priority"] = "x"
    answer[40]["priority"] = "y"
    budget = Budget(limit=1000)
    _count_ids(answer, budget)
    with pytest.raises(StructureError) as info:
        structure_list(answer, Task)
    assert set(budget.per_task.values()) == {1}
    assert budget.total == 49
    assert "$[20].priority" in str(info.value)
    assert "$[40].priority" in str(info.value)


def test_bad_map_values_and_keys_are_located_once() -> None:
    """A tag map with a bad key: the path names the key, in one pass."""
    with pytest.raises(StructureError, match=r"\$\.tags\['x'\]"):
        structure(_task(1, tags={"12": "a", "x": "b"}), Task)
    with pytest.raises(StructureError, match=r"\$\.tags\[1\]"):
        structure(_task(1, tags=[{"id": "1", "title": "a"}, {"id": "x", "title": "b"}]), Task)


def test_a_message_lists_at_most_a_few_errors_and_counts_the_rest() -> None:
    """Thousands of bad values: the message shows the first ones and says how many
    more there are, so it stays short."""
    bad = {key: [1] for key in ("name", "status", "text", "date_added", "date_start")}
    answer = [_task(i, **bad) for i in range(1, 2000)]
    with pytest.raises(StructureError) as info:
        structure_list(answer, Task)
    message = str(info.value)
    assert message.count(" @ $") == _MAX_DETAILS
    assert "; and " in message
    assert " more" in message
    assert len(message) < 5_000


def test_huge_values_are_shortened_in_messages() -> None:
    """A megabyte string or list in a wrong place does not end up whole in the error."""
    with pytest.raises(StructureError) as info:
        structure(_task(1, name=["x" * 1_000_000]), Task)
    assert len(str(info.value)) < 1_000
    with pytest.raises(StructureError) as info:
        structure(_task(1, date_start="9" * 1_000_000), Task)
    assert len(str(info.value)) < 1_000
    with pytest.raises(StructureError) as info:
        structure(_task(1, page="/project/" + "1" * 1_000_000), Task)
    assert len(str(info.value)) < 1_000


def test_nesting_deeper_than_the_stack_is_a_structure_error() -> None:
    """A child chain thousands of levels deep ends in StructureError, not
    RecursionError."""
    answer = _chain(5_000, 1, {})
    budget = Budget(limit=5_001)
    _count_ids(answer, budget)
    with pytest.raises(StructureError, match="nested too deeply"):
        structure(answer, Task)
    assert set(budget.per_task.values()) == {1}


@pytest.mark.parametrize(
    "raw", ["sNaN", "NaN", "-Infinity", float("nan"), float("inf"), "1e1001", "1e-1001", 10**1100]
)
def test_numbers_that_are_not_finite_or_absurd_are_refused(raw: Any) -> None:
    """NaN (sNaN made a task unhashable and unequal to itself), infinities and
    exponents beyond 1000 are a StructureError, in the fast and the lenient path."""
    with pytest.raises(StructureError, match=r"finite number.*@ \$\.max_money"):
        structure(_task(1, max_money=raw), Task)
    with pytest.raises(StructureError, match=r"finite number.*@ \$\.money"):
        structure({"time": "1:00", "money": raw}, CostTotal)


def test_large_but_finite_numbers_are_kept_exactly() -> None:
    """Up to a thousand digits a number is kept exactly; 5,000 digits are refused."""
    task = structure(_task(1, max_money="1e1000", max_time="9" * 1000), Task)
    assert task.max_money == Decimal("1e1000")
    assert task.max_time == Decimal("9" * 1000)
    hash(task)
    with pytest.raises(StructureError, match=r"finite number.*@ \$\.max_time"):
        structure(_task(1, max_time="9" * 5000), Task)
