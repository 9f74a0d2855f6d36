"""The search filter builder renders the API's grammar exactly, and refuses what it can't."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import worksection_async._filters as filters_module
from worksection_async import ProjectPage, SubtaskPage, TaskPage
from worksection_async._filters import (
    CostFilter,
    DateField,
    Filter,
    IntField,
    TaskFilter,
    TextField,
    UnsupportedFieldError,
    all_of,
    any_of,
)

F = TaskFilter


def test_api_doc_example_renders_exactly() -> None:
    """The example of worksection-api.md §8, character for character."""
    query = (F.name.has("Report") | F.name.has("Approval")) & (
        (F.dateend > dt.date(2021, 5, 25)) & (F.dateend < dt.date(2021, 5, 31))
    )
    assert str(query) == (
        "(name has 'Report' or name has 'Approval') and "
        "(dateend>'25.05.2021' and dateend<'31.05.2021')"
    )


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        (F.id == 1234, "id = 1234"),
        (F.project == 2456, "project = 2456"),
        (F.parent == 7, "parent = 7"),
        (F.id.in_(1234, 1240), "id in (1234, 1240)"),
        (F.project.in_(5), "project in (5)"),
        (F.name == "Task Report", "name = 'Task Report'"),
        (F.name.has("Report"), "name has 'Report'"),
        (F.dateadd == dt.date(2021, 5, 1), "dateadd='01.05.2021'"),
        (F.datestart != dt.date(2021, 5, 1), "datestart!='01.05.2021'"),
        (F.dateend > dt.date(2021, 5, 25), "dateend>'25.05.2021'"),
        (F.dateend >= dt.date(2021, 5, 25), "dateend>='25.05.2021'"),
        (F.dateclose < dt.date(2021, 12, 31), "dateclose<'31.12.2021'"),
        (F.dateclose <= dt.date(999, 1, 2), "dateclose<='02.01.0999'"),
        (CostFilter.comment.has("review"), "comment has 'review'"),
        (CostFilter.id == 330090, "id = 330090"),
        (CostFilter.dateadd < dt.date(2021, 5, 25), "dateadd<'25.05.2021'"),
    ],
)
def test_condition_rendering(condition: Filter, text: str) -> None:
    """Each operator renders in the one canonical spelling (spaces as the API's examples)."""
    assert str(condition) == text


def test_reflected_date_comparison() -> None:
    """``date < field`` is ``field > date``."""
    assert str(dt.date(2021, 5, 25) < F.dateend) == "dateend>'25.05.2021'"
    assert str(dt.date(2021, 5, 25) >= F.dateadd) == "dateadd<='25.05.2021'"


def test_page_values_give_their_ids() -> None:
    """Pages are accepted where ids are: a project page for project, task pages for ids."""
    assert str(F.project == ProjectPage(8562)) == "project = 8562"
    assert str(F.project == TaskPage(8562, 1)) == "project = 8562"
    assert str(F.parent == TaskPage(1, 331894)) == "parent = 331894"
    assert str(F.id.in_(SubtaskPage(1, 2, 3), 4)) == "id in (3, 4)"
    with pytest.raises(ValueError, match="project page"):
        F.id == ProjectPage(1)  # noqa: B015


@pytest.mark.parametrize("name", ["priority", "status", "tag", "tags", "user_to", "comment"])
def test_unsupported_task_fields_raise_naming_the_field(name: str) -> None:
    """Fields the grammar lacks fail loudly, by name, as ValueError (and AttributeError)."""
    with pytest.raises(ValueError, match=repr(name)):
        getattr(F, name)
    with pytest.raises(UnsupportedFieldError, match="search_tasks"):
        F.field(name)
    assert not hasattr(F, name)


def test_cost_filter_has_its_own_fields() -> None:
    """get_costs filters on comment, not name; dates only on dateadd."""
    assert CostFilter.field_names() == ("id", "project", "comment", "dateadd")
    with pytest.raises(ValueError, match="'name'"):
        CostFilter.field("name")
    with pytest.raises(ValueError, match="'dateend'"):
        _ = CostFilter.dateend  # type: ignore[attr-defined]


def test_field_lookup_by_name() -> None:
    """``field(name)`` returns the typed field objects."""
    assert F.field_names() == (
        "id",
        "project",
        "parent",
        "name",
        "dateadd",
        "datestart",
        "dateend",
        "dateclose",
    )
    assert F.field("name") is F.name
    assert isinstance(F.field("id"), IntField)
    assert isinstance(F.field("name"), TextField)
    assert isinstance(F.field("dateclose"), DateField)
    assert "search_tasks" in repr(F)
    assert repr(F.name) == "TextField('name')"


@pytest.mark.parametrize(
    "text", ["Bob's task", "'", "it''s", "a'b'c"], ids=["apostrophe", "alone", "double", "many"]
)
def test_single_quote_in_text_is_refused(text: str) -> None:
    """The grammar has no escape: a quote would end the literal, so it is an error."""
    with pytest.raises(ValueError, match="single quote"):
        F.name.has(text)
    with pytest.raises(ValueError, match="single quote"):
        F.name == text  # noqa: B015


def test_operators_the_grammar_lacks_raise() -> None:
    """No != on ids or text, no ordering on ids: refused, not rewritten."""
    with pytest.raises(ValueError, match="no !="):
        F.id != 5  # noqa: B015
    with pytest.raises(ValueError, match="no !="):
        F.name != "x"  # noqa: B015
    with pytest.raises(TypeError):
        F.id < 5  # type: ignore[operator]  # noqa: B015


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: F.id == True, TypeError),  # noqa: E712
        (lambda: F.id == "12", TypeError),
        (lambda: F.id == 0, ValueError),
        (lambda: F.project.in_(1, -2), ValueError),
        (lambda: F.project.in_(), ValueError),
        (lambda: F.project.in_([1, 2]), TypeError),  # type: ignore[arg-type]
        (lambda: F.name.has(5), TypeError),  # type: ignore[arg-type]
        (lambda: F.dateend > "25.05.2021", TypeError),  # type: ignore[operator]
        (lambda: F.dateend > dt.datetime(2021, 5, 25, 10, 30), TypeError),
    ],
    ids=["bool", "str-id", "zero", "negative", "empty-in", "list-in", "int-text", "str-date", "dt"],
)
def test_wrong_values_raise(build: Any, error: type[Exception]) -> None:
    """Values are checked when the condition is built: nothing is coerced or dropped."""
    with pytest.raises(error):
        build()


def test_filters_have_no_truth_value() -> None:
    """``and``/``or`` and chained comparisons would drop conditions: they raise instead."""
    with pytest.raises(TypeError, match="no truth value"):
        dt.date(2021, 1, 1) < F.dateend < dt.date(2021, 2, 1)  # noqa: B015
    with pytest.raises(TypeError, match="no truth value"):
        bool((F.id == 1) and (F.id == 2))
    with pytest.raises(TypeError, match="no truth value"):
        bool(F.id)


def test_precedence_mistake_is_explained() -> None:
    """``q & F.dateend > d`` parses as ``(q & F.dateend) > d``: the error says so."""
    query = F.name.has("x")
    with pytest.raises(TypeError, match="parentheses"):
        query & F.dateend > dt.date(2021, 5, 25)  # type: ignore[operator]  # noqa: B015
    with pytest.raises(TypeError, match="must be filters"):
        query & "dateend>'25.05.2021'"  # type: ignore[operator]
    with pytest.raises(TypeError, match="must be filters"):
        "x" | query  # type: ignore[operator]


def test_grouping_follows_the_expression() -> None:
    """Chains flatten, explicit groups keep parentheses, mixed operators never share a level."""
    a, b, c = F.id == 1, F.id == 2, F.id == 3
    assert str(a & b & c) == "id = 1 and id = 2 and id = 3"
    assert str(a | b | c) == "id = 1 or id = 2 or id = 3"
    assert str(a | b & c) == "id = 1 or (id = 2 and id = 3)"
    assert str((a | b) & c) == "(id = 1 or id = 2) and id = 3"
    assert str(a & (b & c)) == "id = 1 and (id = 2 and id = 3)"
    assert str(all_of(a, b, c)) == "id = 1 and id = 2 and id = 3"
    assert str(any_of(a, b & c)) == "id = 1 or (id = 2 and id = 3)"
    assert str(all_of(a)) == "id = 1"
    with pytest.raises(TypeError):
        all_of("id = 1")  # type: ignore[arg-type]


def test_filters_are_values() -> None:
    """Equal filters compare and hash equal; building never mutates an operand."""
    first = F.name.has("a") & (F.id == 1)
    second = F.name.has("a") & (F.id == 1)
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1
    extended = first & (F.id == 2)
    assert str(first) == "name has 'a' and id = 1"
    assert str(extended) == "name has 'a' and id = 1 and id = 2"


def test_module_all_is_sorted_and_complete() -> None:
    """``__all__`` lists the public names, sorted, for the package to re-export."""
    assert filters_module.__all__ == sorted(filters_module.__all__)
    public = {
        name
        for name, value in vars(filters_module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == filters_module.__name__
    }
    assert public <= set(filters_module.__all__)
    assert {"TaskFilter", "CostFilter"} <= set(filters_module.__all__)


# -------------------------------------------------------------- Hypothesis invariants

_CONDITION = re.compile(
    r"(?P<field>[a-z]+)(?:"
    r" = (?P<int>\d+)| in \((?P<ids>\d+(?:, \d+)*)\)| = '(?P<eq>[^']*)'| has '(?P<has>[^']*)'"
    r"|(?P<op>>=|<=|!=|=|>|<)'(?P<date>\d\d\.\d\d\.\d{4})')"
)
_TOKEN = re.compile(r"\(|\)| and | or ")


def _parse(text: str) -> Any:
    """Parse rendered text into nested ("and"|"or", [items]) / condition tuples.

    Fails if a level mixes ``and`` and ``or`` (the text would depend on precedence).
    """
    pos = 0

    def level() -> Any:
        nonlocal pos
        items: list[Any] = []
        ops: set[str] = set()
        while True:
            if text.startswith("(", pos):
                pos += 1
                items.append(level())
                assert text.startswith(")", pos), text[pos:]
                pos += 1
            else:
                match = _CONDITION.match(text, pos)
                assert match is not None, f"no condition at {text[pos:]!r}"
                pos = match.end()
                items.append(_leaf(match))
            op = _TOKEN.match(text, pos)
            if op is None or op.group() == ")":
                break
            ops.add(op.group().strip())
            pos = op.end()
        assert len(ops) <= 1, f"mixed and/or at one level: {text!r}"
        return items[0] if len(items) == 1 else (ops.pop(), items)

    tree = level()
    assert pos == len(text), f"trailing text {text[pos:]!r}"
    return tree


def _leaf(match: re.Match[str]) -> Any:
    field = match["field"]
    if match["int"] is not None:
        return (field, "=", int(match["int"]))
    if match["ids"] is not None:
        return (field, "in", tuple(int(v) for v in match["ids"].split(", ")))
    if match["eq"] is not None:
        return (field, "=", match["eq"])
    if match["has"] is not None:
        return (field, "has", match["has"])
    day, month, year = (int(part) for part in match["date"].split("."))
    return (field, match["op"], dt.date(year, month, day))


_ids = st.integers(min_value=1, max_value=10**12)
_texts = st.text(st.characters(exclude_characters="'", exclude_categories=["Cs"]), max_size=12)
_dates = st.dates()
_DATE_OPS = {
    "=": DateField.__eq__,
    "!=": DateField.__ne__,
    "<": DateField.__lt__,
    "<=": DateField.__le__,
    ">": DateField.__gt__,
    ">=": DateField.__ge__,
}


@st.composite
def _conditions(draw: st.DrawFn) -> tuple[Filter, Any]:
    """A condition and the tuple the parser must read back from its text."""
    kind = draw(st.sampled_from(["int", "in", "eq", "has", "date"]))
    if kind == "int":
        field, value = draw(st.sampled_from(["id", "project", "parent"])), draw(_ids)
        return F.field(field) == value, (field, "=", value)
    if kind == "in":
        field = draw(st.sampled_from(["id", "project", "parent"]))
        values = tuple(draw(st.lists(_ids, min_size=1, max_size=4)))
        return F.field(field).in_(*values), (field, "in", values)  # type: ignore[union-attr]
    if kind == "eq":
        value_text = draw(_texts)
        return F.name == value_text, ("name", "=", value_text)
    if kind == "has":
        value_text = draw(_texts)
        return F.name.has(value_text), ("name", "has", value_text)
    field = draw(st.sampled_from(["dateadd", "datestart", "dateend", "dateclose"]))
    op, day = draw(st.sampled_from(sorted(_DATE_OPS))), draw(_dates)
    return _DATE_OPS[op](F.field(field), day), (field, op, day)  # type: ignore[arg-type]


def _combine_trees(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    def build(op_and_parts: tuple[str, list[tuple[Filter, Any]]]) -> tuple[Filter, Any]:
        op, parts = op_and_parts
        result = parts[0][0]
        for part, _ in parts[1:]:
            result = result & part if op == "and" else result | part
        # left-nested groups of the same operator flatten into one level
        expected: list[Any] = []
        for index, (_, tree) in enumerate(parts):
            if index == 0 and isinstance(tree, tuple) and tree[0] == op and len(tree) == 2:
                expected.extend(tree[1])
            else:
                expected.append(tree)
        return result, (op, expected)

    return st.tuples(
        st.sampled_from(["and", "or"]), st.lists(children, min_size=2, max_size=3)
    ).map(build)


_trees = st.recursive(_conditions(), _combine_trees, max_leaves=12)


@given(_trees)
def test_rendering_parses_back_to_the_same_tree(case: tuple[Filter, Any]) -> None:
    """Any filter renders to text that parses back to its own structure and values.

    The parser fails on a level mixing ``and`` and ``or``, so the text never depends on
    the server's precedence; every value (ids, quoted text with parentheses or "and"
    inside, dates) reads back unchanged, so nothing is dropped or merged.
    """
    query, expected = case
    assert _parse(str(query)) == expected


@given(_trees)
def test_rendering_is_stable_and_balanced(case: tuple[Filter, Any]) -> None:
    """Rendering is deterministic, has no outer parentheses issue, and lowercase ops."""
    query, _ = case
    text = str(query)
    assert text == str(query)
    assert not text.startswith(" ")
    assert not text.endswith(" ")
    assert " AND " not in text
    assert " OR " not in text
