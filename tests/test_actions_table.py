"""docs/actions.md: every one of the 63 actions listed once, every method named exists."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import pytest

from worksection_async import Client
from worksection_async.testing._actions import ACTIONS

TABLE = Path(__file__).parent.parent / "docs" / "actions.md"

# worksection-api.md §6: 57 Postman requests + 2 docs-only + 4 SDK-only actions.
API_ACTIONS = frozenset(
    (
        "me",
        "get_users",
        "add_user",
        "get_user_groups",
        "add_user_group",
        "get_contacts",
        "add_contact",
        "get_contact_groups",
        "add_contact_group",
        "subscribe",
        "unsubscribe",
        "get_users_schedule",
        "update_users_schedule",
        "get_projects",
        "get_project",
        "post_project",
        "update_project",
        "close_project",
        "activate_project",
        "add_project_members",
        "delete_project_members",
        "get_project_groups",
        "add_project_group",
        "get_project_custom_fields",
        "get_events",
        "get_all_tasks",
        "get_tasks",
        "get_task",
        "post_task",
        "update_task",
        "complete_task",
        "reopen_task",
        "search_tasks",
        "get_task_custom_fields",
        "get_comments",
        "post_comment",
        "get_task_tags",
        "add_task_tags",
        "update_task_tags",
        "get_task_tag_groups",
        "add_task_tag_groups",
        "get_project_tags",
        "add_project_tags",
        "update_project_tags",
        "get_project_tag_groups",
        "add_project_tag_groups",
        "get_costs",
        "get_costs_total",
        "add_costs",
        "update_costs",
        "delete_costs",
        "get_timers",
        "stop_timer",
        "get_my_timer",
        "start_my_timer",
        "stop_my_timer",
        "delete_my_timer",
        "get_files",
        "download",
        "upload_files",
        "get_webhooks",
        "add_webhook",
        "delete_webhook",
    )
)

_ROW = re.compile(r"^\| `(?P<action>[a-z_0-9]+)` \| (?P<methods>[^|]+) \|")
_CODE = re.compile(r"`([^`]+)`")


def table_rows() -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []
    text = TABLE.read_text(encoding="utf-8")
    table = text.split("| action | method | notes |", 1)[1]
    for line in table.splitlines():
        match = _ROW.match(line)
        if match is not None:
            rows.append((match["action"], _CODE.findall(match["methods"])))
    return rows


def segments(path: str) -> list[str]:
    """``client.project(p).task(t).get()`` -> ``["client", "project", "task", "get"]``."""
    names: list[str] = []
    depth = 0
    current = ""
    for char in path:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0:
            if char == ".":
                names.append(current)
                current = ""
            else:
                current += char
    names.append(current)
    return names


def resolve(path: str) -> object:
    """Follow a method path from ``Client`` through the declared return types."""
    names = segments(path)
    assert names[0] == "client", path
    owner: type = Client
    for name in names[1:-1]:
        attribute = inspect.getattr_static(owner, name)
        function = attribute.fget if isinstance(attribute, property) else attribute
        returned = typing.get_type_hints(function)["return"]
        assert isinstance(returned, type), f"{path}: {name} does not return a class"
        owner = returned
    method = getattr(owner, names[-1])
    assert inspect.iscoroutinefunction(method), f"{path}: {names[-1]} is not an async method"
    return method


def test_the_catalogue_has_63_actions_and_the_fake_implements_them() -> None:
    """The list checked here is the API's: 63 names, all served by the fake."""
    assert len(API_ACTIONS) == 63
    assert set(ACTIONS) - {"add_project_groups"} == API_ACTIONS


def test_every_action_is_listed_once() -> None:
    """Each of the 63 actions has exactly one row, and no row names anything else."""
    actions = [action for action, _ in table_rows()]
    assert sorted(actions) == sorted(API_ACTIONS)
    assert len(actions) == len(set(actions)) == 63


@pytest.mark.parametrize(("action", "methods"), table_rows(), ids=lambda v: str(v))
def test_every_named_method_exists(action: str, methods: list[str]) -> None:
    """Every method path in a row resolves, from Client, to an async method."""
    assert methods, f"{action}: no method named"
    for path in methods:
        resolve(path)


def test_a_wrong_path_does_not_resolve() -> None:
    """The resolver really checks: a misspelt method fails."""
    with pytest.raises(AttributeError):
        resolve("client.project(p).gett()")
