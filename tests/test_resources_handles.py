"""Handles and namespaces: addressing, navigation, equality, and no secret in a repr."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from worksection_async import Client, ProjectPage, SubtaskPage, TaskPage
from worksection_async.models import ProjectRef, Task, TaskRef
from worksection_async.resources import (
    ContactsNamespace,
    CostsNamespace,
    EventsNamespace,
    FilesNamespace,
    MembersNamespace,
    ProjectHandle,
    ProjectsNamespace,
    SchedulesNamespace,
    TagsNamespace,
    TaskHandle,
    TasksNamespace,
    TimersNamespace,
    WebhooksNamespace,
)
from worksection_async.resources import _render as render

from .conftest import ACCOUNT, API_KEY


@pytest.fixture
def client() -> Client:
    return Client(ACCOUNT, API_KEY)


@pytest.mark.parametrize(
    "address",
    [
        1,
        ProjectPage(1),
        "/project/1/",
        "/project/1",
        "https://acme.worksection.com/project/1/",
        ProjectRef(id=1, name="Site", page=ProjectPage(1)),
    ],
    ids=repr,
)
def test_a_project_is_addressed_many_ways(client: Client, address: object) -> None:
    """An id, a page, a link, a URL or a model with a page give the same handle."""
    handle = client.project(address)  # type: ignore[arg-type]
    assert handle == ProjectHandle(client, ProjectPage(1))
    assert handle.id == 1
    assert client.project(handle) == handle


@pytest.mark.parametrize(
    ("address", "page"),
    [
        (TaskPage(1, 2), TaskPage(1, 2)),
        ("/project/1/2/", TaskPage(1, 2)),
        ("https://acme.worksection.com/project/1/2/3/#com7", SubtaskPage(1, 2, 3)),
        (TaskRef(id=3, name="S", page=SubtaskPage(1, 2, 3)), SubtaskPage(1, 2, 3)),
        (
            Task(id=2, name="T", page=TaskPage(1, 2), status="active", priority=1),
            TaskPage(1, 2),
        ),
    ],
    ids=repr,
)
def test_a_task_is_addressed_by_its_page(client: Client, address: object, page: object) -> None:
    """Task and subtask pages, links, URLs and models with a page all work."""
    handle = client.task(address)  # type: ignore[arg-type]
    assert handle.page == page
    assert client.task(handle) == handle


def test_navigation(client: Client) -> None:
    """project.task(t), task.subtask(s), task.project; a subtask is a task by its own id."""
    task = client.project(1).task(2)
    assert task == client.task("/project/1/2/")
    sub = task.subtask(3)
    assert isinstance(sub, TaskHandle)
    assert (sub.page, sub.id) == (SubtaskPage(1, 2, 3), 3)
    assert sub.subtask(4).page == SubtaskPage(1, 2, 4)
    assert sub.project == client.project(1)
    assert task.project.task(2) == task


def test_handles_are_values(client: Client) -> None:
    """Handles compare and hash by client and page; another client, another handle."""
    other = Client(ACCOUNT, API_KEY)
    assert {client.project(1), client.project("/project/1/")} == {client.project(1)}
    assert client.project(1) != other.project(1)
    assert client.project(1) != client.project(2)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("projects", ProjectsNamespace),
        ("tasks", TasksNamespace),
        ("members", MembersNamespace),
        ("contacts", ContactsNamespace),
        ("tags", TagsNamespace),
        ("costs", CostsNamespace),
        ("timers", TimersNamespace),
        ("files", FilesNamespace),
        ("webhooks", WebhooksNamespace),
        ("events", EventsNamespace),
        ("schedules", SchedulesNamespace),
    ],
)
def test_namespaces(client: Client, name: str, kind: type) -> None:
    """Every namespace is reachable, bound to its client, and equal each time."""
    namespace = getattr(client, name)
    assert isinstance(namespace, kind)
    assert namespace.client is client
    assert getattr(client, name) == namespace


def test_reprs_show_the_page_and_never_the_key(client: Client) -> None:
    """A handle's repr names its page; neither it nor a namespace's shows the client."""
    text = repr(client.project(1).task(2)) + repr(client.tasks) + repr(client.project(1))
    assert "TaskPage(project_id=1, task_id=2)" in text
    assert API_KEY not in text
    assert "Client" not in text


def test_handles_are_frozen(client: Client) -> None:
    """A handle cannot be re-pointed."""
    handle = client.project(1)
    with pytest.raises(AttributeError):
        handle.page = ProjectPage(2)  # type: ignore[misc]


# -- rendering details not visible in the wire table ----------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.timedelta(minutes=1), "1m"),
        (dt.timedelta(minutes=360), "6h"),
        (dt.timedelta(hours=72), "3d"),
        (dt.timedelta(hours=36), "36h"),
        (dt.timedelta(minutes=150), "150m"),
        (dt.timedelta(days=30), "30d"),
        (" 7d ", "7d"),
        ("360m", "360m"),
    ],
)
def test_periods(value: render.Period, text: str) -> None:
    """A timedelta takes the largest unit that expresses it exactly, within the limits."""
    assert render.period(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12.50"), "12.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0.000001"), "0.000001"),
        (1e-07, "0.0000001"),
        (2.0, "2"),
        (0, "0"),
    ],
)
def test_decimals_are_plain_text(value: render.Money, text: str) -> None:
    """Numbers never go out in exponent notation."""
    assert render.decimal("money", value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.timedelta(0), "0:00"),
        (dt.timedelta(minutes=9), "0:09"),
        (dt.timedelta(hours=30, minutes=5), "30:05"),
        (Decimal("0.15"), "0.15"),
    ],
)
def test_cost_times(value: render.CostTime, text: str) -> None:
    """A timedelta is H:MM (hours may pass 24); a number is decimal hours."""
    assert render.cost_time("time", value) == text


def test_dates_keep_four_digit_years() -> None:
    """Early years are zero-padded, unlike strftime on some platforms."""
    assert render.day("start", dt.date(999, 1, 2)) == "02.01.0999"


def test_emails_are_deduplicated_and_stripped() -> None:
    """A repeated or padded address is sent once, trimmed."""
    assert render.emails("members", [" a@x.io", "a@x.io", "b@x.io"]) == "a@x.io,b@x.io"
    assert render.emails("members", "a@x.io") == "a@x.io"
