"""A populated account shows every field of the official examples somewhere.

For each read action with a success example in ``postman-examples.json``, the key
paths of the example's answer (``$.data[].relations.from[].task.id``; ids and dates
used as object keys count as ``*``) must all appear in the answers the populated
account gives to the same action, asked with the example's ``extra`` over the
account's objects. Write actions answer with what the request set, so their shapes are
the Postman contract's business (tests/test_fake_postman.py), not the account's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from worksection_async import SubtaskPage, parse_page
from worksection_async.testing import FakeWorksection

_EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "postman-examples.json"
_VARIABLE_KEY = re.compile(r"\d+|\d{4}-\d{2}(?:-\d{2})?")
TASK_EXTRAS = "text,files,comments,relations,subtasks,subscribers"


def paths(value: Any, prefix: str = "$") -> Iterator[str]:
    """Every key path of a JSON value; list items share ``[]``, id/date keys are ``*``."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{'*' if _VARIABLE_KEY.fullmatch(key) else key}"
            yield path
            yield from paths(item, path)
    elif isinstance(value, list):
        for item in value:
            yield from paths(item, f"{prefix}[]")


def _body(example: dict[str, Any]) -> Any:
    body = example["body"]
    if not isinstance(body, str):
        return body
    try:
        return json.loads(re.sub(r",(\s*[\]}])", r"\1", body))
    except ValueError:
        return None


def postman_paths() -> dict[str, set[str]]:
    """Key paths of the success answers, per action."""
    found: dict[str, set[str]] = {}
    for request in json.loads(_EXAMPLES.read_text(encoding="utf-8")):
        for example in request["examples"]:
            body = _body(example)
            if isinstance(body, dict) and body.get("status") == "ok":
                found.setdefault(request["name"], set()).update(paths(body))
    return found


POSTMAN = postman_paths()


def answers(fake: FakeWorksection) -> dict[str, list[Any]]:
    """The populated account's answers to every read action of the examples."""
    first = fake.projects[min(fake.projects)]
    tasks = fake.tasks_of(first, subtasks=True)
    timer = next(iter(fake.timers.values()))
    out: dict[str, list[Any]] = {
        "me": [fake.call("me", as_user=fake.owner)],
        "get_my_timer": [fake.call("get_my_timer", as_user=timer.user_id)],
        "get_project": [
            fake.call("get_project", id_project=p, extra="text,options,users")
            for p in fake.projects
        ],
        "get_projects": [fake.call("get_projects", extra="text,options,users")],
        "get_tasks": [fake.call("get_tasks", id_project=first.id, extra=TASK_EXTRAS)],
        "get_all_tasks": [fake.call("get_all_tasks", extra=TASK_EXTRAS)],
        "get_task": [fake.call("get_task", id_task=t.id, extra=TASK_EXTRAS) for t in tasks],
        "get_comments": [fake.call("get_comments", id_task=t.id, extra="files") for t in tasks],
        "search_tasks": [fake.call("search_tasks", id_project=first.id)],
        "get_events": [fake.call("get_events", period="1d")],
        "get_files": [fake.call("get_files", id_project=p) for p in fake.projects],
        "get_costs": [fake.call("get_costs", id_project=p) for p in fake.projects],
    }
    for action in (
        "get_users",
        "get_user_groups",
        "get_contacts",
        "get_contact_groups",
        "get_project_groups",
        "get_task_tags",
        "get_task_tag_groups",
        "get_project_tags",
        "get_project_tag_groups",
        "get_costs_total",
        "get_timers",
        "get_webhooks",
    ):
        out[action] = [fake.call(action)]
    return out


READ_ACTIONS = sorted(
    {
        "me",
        "get_my_timer",
        "get_users",
        "get_user_groups",
        "get_contacts",
        "get_contact_groups",
        "get_projects",
        "get_project",
        "get_project_groups",
        "get_events",
        "get_all_tasks",
        "get_tasks",
        "get_task",
        "search_tasks",
        "get_comments",
        "get_task_tags",
        "get_task_tag_groups",
        "get_project_tags",
        "get_project_tag_groups",
        "get_costs",
        "get_costs_total",
        "get_timers",
        "get_files",
        "get_webhooks",
    }
)


@pytest.fixture(scope="module")
def populated() -> dict[str, set[str]]:
    fake = FakeWorksection.populated(dialect="postman")  # the examples' shapes
    return {action: {p for a in found for p in paths(a)} for action, found in answers(fake).items()}


def test_every_read_action_of_the_examples_is_walked() -> None:
    """The walk covers each read action that has a success example."""
    assert set(READ_ACTIONS) <= set(POSTMAN)
    assert len(POSTMAN["get_tasks"]) > 100


@pytest.mark.parametrize("action", READ_ACTIONS)
def test_populated_answers_show_every_postman_key(
    populated: dict[str, set[str]], action: str
) -> None:
    """Every key path of the example's answer appears in the populated account's."""
    missing = sorted(POSTMAN[action] - populated[action])
    assert missing == []


def test_the_walk_notices_a_missing_key() -> None:
    """paths() sees nested keys, list items and id keys (so the comparison can fail)."""
    found = set(paths({"data": [{"id": "1", "tags": {"7": "x"}, "child": [{"page": "/"}]}]}))
    assert found == {
        "$.data",
        "$.data[].id",
        "$.data[].tags",
        "$.data[].tags.*",
        "$.data[].child",
        "$.data[].child[].page",
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("size", [(1, 3), (3, 20)])
def test_small_accounts_still_show_the_rare_things(seed: int, size: tuple[int, int]) -> None:
    """Whatever the seed and size, the first project has relations, a sub-subtask, a
    comment with a file, a project file, times of day, custom fields, a recent event
    log; the account has two running timers."""
    fake = FakeWorksection.populated(*size, seed=seed)
    first = fake.projects[min(fake.projects)]
    tasks = fake.tasks_of(first, subtasks=True)
    assert any(t.relations_to for t in tasks) and any(t.relations_from for t in tasks)
    deepest = [t for t in tasks if t.depth == 2]
    assert deepest and deepest[0].subscriber_ids
    assert isinstance(parse_page(deepest[0].page), SubtaskPage)
    assert any(f.comment_id is not None for f in fake.files.values())
    assert any(f.project_id == first.id and f.task_id is None for f in fake.files.values())
    assert any(t.time_start and t.time_end for t in tasks)
    assert first.custom_fields
    assert len(fake.timers) == 2
    events = fake.call("get_events", period="1d")["data"]
    assert isinstance(events, list) and {e["action"] for e in events} == {"post", "update"}
    assert fake.call("get_all_tasks")["data"].__len__() == size[0] * size[1]  # type: ignore[union-attr]
