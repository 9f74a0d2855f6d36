"""The generated model hooks give what cattrs' generated code gives, faster.

Each model's hook is one generated function (``_direct_model_hook``); the cattrs
path it replaced (``make_dict_structure_fn`` wrapped in ``structure_model``) is kept
as its ``reference``. Hypothesis draws data of every model's shape, with hostile
values: both paths give equal models or the same StructureError message.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worksection_async import SubtaskPage, TaskPage
from worksection_async.models import Task, structure, structure_list
from worksection_async.models._converter import (
    _MODEL_HOOKS,
    _fail,
    _subtask_page,
    _task_page,
)

from .test_models_fuzz import FUZZ, HOSTILE, MODELS, model_data
from .test_models_postman import SUCCESS_EXAMPLES


def _outcome(hook: Any, value: object, cls: type) -> tuple[str, object]:
    try:
        return "model", hook(value)
    except Exception as exc:
        if _too_deep(exc):
            # how deep the stack may go depends on the frames per level: the two paths
            # give up at different levels of an answer nested beyond the stack
            return "error", "nested too deeply"
        return "error", str(_fail(cls, exc))


def _too_deep(error: BaseException) -> bool:
    """Whether a RecursionError is anywhere in the error's tree."""
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop()
        if isinstance(current, RecursionError):
            return True
        if current.__cause__ is not None:
            stack.append(current.__cause__)
        stack.extend(getattr(current, "exceptions", ()))
    return False


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
def test_every_model_has_a_generated_hook(cls: type) -> None:
    """No model falls back to the slower cattrs path (it would, silently, if a model
    got a validator or a converter; then this test says which)."""
    structure_list([], cls)  # the hook is built on first use
    hook = _MODEL_HOOKS.get((cls, False)) or _MODEL_HOOKS[cls, True]
    found = getattr(hook, "__wrapped__", hook)
    assert hasattr(found, "reference") or cls.__name__ in ("UserRef", "ProjectRef")


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@FUZZ
@given(data=st.data())
def test_generated_hooks_agree_with_cattrs(cls: type, data: st.DataObject) -> None:
    """Any data of a model's shape: equal models (with equal extra), or the same error."""
    value = data.draw(st.one_of(model_data(cls), HOSTILE), label="data")
    structure_list([], cls)
    hook = _MODEL_HOOKS[cls, False]
    reference = getattr(hook, "reference", None)
    if reference is None:  # interned refs wrap the generated hook
        return
    fast, slow = _outcome(hook, value, cls), _outcome(reference, value, cls)
    assert fast[0] == slow[0]
    if fast[0] == "model":
        assert fast[1] == slow[1]
        assert fast[1].extra == slow[1].extra  # type: ignore[attr-defined]
        assert type(fast[1].extra) is type(slow[1].extra)  # type: ignore[attr-defined]
    else:
        assert fast[1] == slow[1]


def test_postman_tasks_agree_with_cattrs() -> None:
    """The official examples' tasks (subtasks, comments, relations, files): equal."""
    tasks: list[Any] = []
    for case in SUCCESS_EXAMPLES:
        action, body = case.values
        if action in ("get_all_tasks", "get_tasks", "get_task"):
            data = body["data"]
            tasks.extend(data if isinstance(data, list) else [data])
    assert len(tasks) >= 5
    structure_list([], Task)
    reference = _MODEL_HOOKS[Task, False].reference
    for task in tasks:
        assert structure(task, Task) == reference(task)


@given(
    project=st.integers(1, 10**18 - 1),
    task=st.integers(1, 10**18 - 1),
    subtask=st.integers(1, 10**18 - 1),
)
def test_pages_made_from_checked_ids_are_the_pages(project: int, task: int, subtask: int) -> None:
    """Pages built without re-running their validators equal, hash and order like
    the ones their constructor makes."""
    made, real = _task_page(project, task), TaskPage(project, task)
    assert made == real
    assert hash(made) == hash(real)
    assert type(made) is TaskPage
    sub = _subtask_page(project, task, subtask)
    assert sub == SubtaskPage(project, task, subtask)
    assert hash(sub) == hash(SubtaskPage(project, task, subtask))
    assert (made < real) is False
    assert (
        structure(
            {"id": "1", "name": "x", "page": sub.path, "status": "a", "priority": 1}, Task
        ).page
        == sub
    )
