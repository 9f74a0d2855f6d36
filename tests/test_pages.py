"""Page paths: construction, navigation, parsing, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worksection_async import ProjectPage, SubtaskPage, TaskPage, parse_page

ids = st.integers(min_value=1, max_value=10**12)
pages = st.one_of(
    st.builds(ProjectPage, ids),
    st.builds(TaskPage, ids, ids),
    st.builds(SubtaskPage, ids, ids, ids),
)


def test_paths() -> None:
    """Each page renders its system link."""
    assert ProjectPage(1).path == "/project/1/"
    assert TaskPage(1, 2).path == "/project/1/2/"
    assert SubtaskPage(1, 2, 3).path == "/project/1/2/3/"
    assert str(TaskPage(1, 2)) == "/project/1/2/"


def test_navigation() -> None:
    """Navigation returns new values: down with task()/subtask(), up with project/parent."""
    sub = ProjectPage(1).task(2).subtask(3)
    assert sub == SubtaskPage(1, 2, 3)
    assert sub.parent == TaskPage(1, 2)
    assert sub.project == ProjectPage(1)
    assert TaskPage(1, 2).parent == ProjectPage(1)
    assert sub.id == 3 and TaskPage(1, 2).id == 2
    assert sub.subtask(4) == SubtaskPage(1, 2, 4)  # links name the top-level task


def test_values_are_frozen_hashable_ordered() -> None:
    """Pages compare by value, hash, sort, and cannot be mutated."""
    assert {TaskPage(1, 2), TaskPage(1, 2)} == {TaskPage(1, 2)}
    assert sorted([TaskPage(2, 1), TaskPage(1, 5), TaskPage(1, 2)]) == [
        TaskPage(1, 2),
        TaskPage(1, 5),
        TaskPage(2, 1),
    ]
    with pytest.raises(AttributeError):
        TaskPage(1, 2).task_id = 3  # type: ignore[misc]


@pytest.mark.parametrize("bad", [0, -1, True, "1", 1.0])
def test_ids_must_be_positive_ints(bad: object) -> None:
    """A page cannot be built from a non-positive or non-int id."""
    with pytest.raises(ValueError, match="positive integer"):
        ProjectPage(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/project/1/", ProjectPage(1)),
        ("/project/1", ProjectPage(1)),
        ("/project/1/2/", TaskPage(1, 2)),
        ("/project/1/2", TaskPage(1, 2)),
        ("/project/1/2/3/", SubtaskPage(1, 2, 3)),
        ("https://acme.worksection.com/project/1/2/", TaskPage(1, 2)),
        ("https://acme.worksection.com/project/1/2/3/?tab=files#com123", SubtaskPage(1, 2, 3)),
        ("http://acme.worksection.com/project/7/#com9", ProjectPage(7)),
        ("/project/6622/330090/#com19086", TaskPage(6622, 330090)),
        ("  /project/5/  ", ProjectPage(5)),
    ],
)
def test_parse_page(text: str, expected: object) -> None:
    """Paths and browser URLs parse to the right page type."""
    assert parse_page(text) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "/",
        "/project/",
        "/project/0/",
        "/project/-1/",
        "/project/x/",
        "/project/1/x/",
        "/project/01/",
        "/tasks/1/",
        "/project/1/2/3/4/",
        "project/1/",
        "ftp://acme.worksection.com/project/1/",
        "https:///project/1/",
        "/project/1//",
    ],
)
def test_parse_page_rejects(bad: str) -> None:
    """Anything that is not a project/task/subtask link is a ValueError naming the input."""
    with pytest.raises(ValueError, match="not a Worksection page") as info:
        parse_page(bad)
    assert repr(bad) in str(info.value)


def test_parse_page_rejects_non_str() -> None:
    """A non-string is a TypeError, not a silent conversion."""
    with pytest.raises(TypeError):
        parse_page(5)  # type: ignore[arg-type]


@given(pages)
def test_round_trip(page: ProjectPage | TaskPage | SubtaskPage) -> None:
    """parse_page(p.path) == p for every page, also from a full URL."""
    assert parse_page(page.path) == page
    assert parse_page(f"https://x.worksection.com{page.path}?a=1#com5") == page
