"""The fake's ``search_tasks`` filter grammar, strictly as documented, and its answer
limit on every task listing (issues 21 and 22 item 7)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import worksection_async.testing._actions._tasks as fake_tasks
from worksection_async.testing import TOO_MANY_TASKS_CODE, FakeWorksection

BAD_FILTER = {"status": "error", "status_code": 10, "message": "Field is required"}


@pytest.fixture
def fake() -> FakeWorksection:
    fake = FakeWorksection()
    project = fake.add_project("Grammar")
    day = dt.datetime(2024, 5, 1, 9, 0)
    for number in range(6):
        task = fake.add_task(project, f"Task {number}", date_added=day + dt.timedelta(days=number))
        if number % 2:
            fake.add_task(project, f"Sub {number}", parent=task, date_added=day)
    return fake


def ids(answer: dict[str, Any]) -> list[int]:
    assert answer["status"] == "ok", answer
    return [int(row["id"]) for row in answer["data"]]


def test_the_grammar_bulk_reads_need(fake: FakeWorksection) -> None:
    """id in, parent in, dateadd comparisons, and/or, parentheses: as the docs say."""
    tops = fake.tasks_of(min(fake.projects))
    first, second = tops[1], tops[3]
    found = fake.call("search_tasks", filter=f"id in ({tops[0].id}, {first.id})")
    assert ids(found) == [tops[0].id, first.id]
    subs = [t.id for t in fake.children_of(first) + fake.children_of(second)]
    found = fake.call("search_tasks", filter=f"parent in ({first.id}, {second.id})")
    assert ids(found) == subs
    text = f"id in ({tops[0].id}) or (parent in ({first.id}) and dateadd>='01.05.2024')"
    assert ids(fake.call("search_tasks", filter=text)) == [tops[0].id, subs[0]]
    window = "dateadd>='02.05.2024' and dateadd<'04.05.2024'"
    assert ids(fake.call("search_tasks", filter=window)) == [tops[1].id, tops[2].id]


@pytest.mark.parametrize(
    "text",
    [
        "id = 1 AND name has 'Task'",
        "id = 1 OR id = 2",
        "(id = 1) And (id = 2)",
        'name has "Task"',
        'dateadd>"01.05.2024"',
    ],
)
def test_upper_case_logic_and_double_quotes_are_refused(fake: FakeWorksection, text: str) -> None:
    """The docs: "and, or (only in lowercase)", values in single quotes; the service
    refuses the rest with error 10 on filter (the fake accepted both before)."""
    answer = fake.call("search_tasks", filter=text)
    assert {k: answer.get(k) for k in BAD_FILTER} == BAD_FILTER
    assert answer["message_details"] == "filter"


def test_status_active_is_filter_active_on_task_lists(fake: FakeWorksection) -> None:
    """status=active (older docs' name for filter=active) leaves out closed tasks on
    get_tasks and get_all_tasks (it was ignored before)."""
    project = min(fake.projects)
    closed = fake.tasks_of(project)[0]
    fake.call("complete_task", id_task=closed.id)
    for action, params in (("get_tasks", {"id_project": project}), ("get_all_tasks", {})):
        every = ids(fake.call(action, **params))
        active = ids(fake.call(action, status="active", **params))
        assert active == ids(fake.call(action, filter="active", **params))
        assert closed.id in every and closed.id not in active
        refused = fake.call(action, status="sleeping", **params)
        assert refused["status_code"] == 10


def test_every_task_listing_over_the_limit_is_refused(
    fake: FakeWorksection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """get_all_tasks, get_tasks (subtasks counted when asked) and search_tasks answer
    "Too many tasks (10000 max)" past the limit, as the documentation quotes it."""
    monkeypatch.setattr(fake_tasks, "MAX_RECORDS", 6)
    project = min(fake.projects)
    assert len(ids(fake.call("get_tasks", id_project=project))) == 6
    for action, params in (
        ("get_all_tasks", {"extra": "subtasks"}),
        ("get_tasks", {"id_project": project, "extra": "subtasks"}),
        ("search_tasks", {"id_project": project}),
        ("search_tasks", {"filter": "dateadd>='01.01.2000'"}),
    ):
        answer = fake.call(action, **params)
        assert answer["status"] == "error", action
        assert answer["status_code"] == TOO_MANY_TASKS_CODE
        assert answer["message"] == "Too many tasks (10000 max)"
