"""Hypothesis fuzzes the data of every model: a model, or a StructureError, nothing else.

Each model's data is drawn field by field from its annotations: mostly values of the
right shape (so structuring goes deep), mixed with hostile ones: wrong types, huge
numbers (``10**400``, 5,000-digit strings), ``NaN`` and infinities, lone surrogates
and control characters, nesting thousands of levels deep, unknown keys. Whatever comes
in, :func:`structure` (and :func:`structure_response` for every action) returns a value
of the model or raises a :class:`StructureError`, which is a ``WorksectionError``.
The example counts are bounded so the suite stays fast.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import worksection_async.models as models
from worksection_async import ProjectPage, SubtaskPage, TaskPage, WorksectionError
from worksection_async._json import JSONValue
from worksection_async.models import (
    RESPONSE_MODELS,
    StructureError,
    structure,
    structure_list,
    structure_one,
    structure_response,
    unstructure,
)
from worksection_async.models._base import JSON_KEY

MODELS = sorted(
    (
        obj
        for name in models.__all__
        if isinstance(obj := getattr(models, name), type)
        and attrs.has(obj)
        and obj is not models.ResponseModel
    ),
    key=lambda cls: cls.__name__,
)

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _nested_list(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def _nested_dict(depth: int) -> object:
    """A tree of objects ``depth`` deep, shaped like a task chain (decoded JSON is a
    tree: nothing in it is shared)."""
    value: object = {"id": "1"}
    for _ in range(depth):
        value = {"id": "1", "child": [value], "page": "/project/1/2/", "zz": [[[1]]]}
    return value


ODD_STRINGS = [
    "9" * 5000,
    "-" + "9" * 5000,
    "1e400",
    "-1e400",
    "1e999999999",
    "NaN",
    "nan",
    "sNaN",
    "Infinity",
    "-inf",
    "\ud800",
    "\udcff",
    "a\udfffb",
    "\x00",
    "\ufeff1",
    "²",
    "٣",
    "\uff11\uff12",
    "",
    " ",
    "1,5",
    "0,15",
    "0000-00-00",
    "9999-99-99",
    "2021-02-30",
    "24:60",
    "99:99:99",
    "-1:00",
    "/project/0/",
    "/project/1/2/3/4/",
    "/project/" + "9" * 400 + "/",
    "https://acme.worksection.com/project/1/2/",
    "ANY",
    "NOONE",
    "[]",
    "{}",
]

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(exclude_categories=()), max_size=12),
)

RAW_JSON: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)

HOSTILE: st.SearchStrategy[Any] = st.one_of(
    JSON_SCALARS,
    st.sampled_from([10**400, -(10**400), 10**4000, 2**63, -1, 0, 1.5, float("nan")]),
    st.sampled_from(ODD_STRINGS),
    st.lists(JSON_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=3), JSON_SCALARS, max_size=3),
    st.just([]),
    st.just({}),
    st.integers(100, 3000).map(_nested_list),
    st.integers(100, 1500).map(_nested_dict),
)


DATES = st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1))


def _plausible_scalar(tp: object) -> st.SearchStrategy[Any] | None:
    ids = st.integers(0, 10**7)
    if tp is int:
        return ids | ids.map(str)
    if tp is str:
        return st.text(max_size=10) | st.integers(0, 99)
    if tp is bool:
        return st.sampled_from([0, 1, "0", "1", True, False, "true", ""])
    if tp is Decimal:
        return st.one_of(
            st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
            st.integers(-(10**6), 10**6),
            st.floats(-1e6, 1e6),
        )
    if tp is dt.datetime:
        return st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 1, 1)).map(
            lambda d: d.strftime("%Y-%m-%d %H:%M")
        )
    if tp is dt.date:
        return DATES.map(str) | DATES.map(lambda d: d.strftime("%d.%m.%Y"))
    if tp is dt.time:
        return st.times().map(lambda t: t.strftime("%H:%M"))
    if tp is dt.timedelta:
        return st.one_of(
            st.tuples(st.integers(0, 999), st.integers(0, 59)).map(lambda t: f"{t[0]}:{t[1]:02}"),
            st.integers(0, 10**6),
        )
    return None


_PROJECT_PAGES = st.integers(1, 10**6).map(lambda p: f"/project/{p}/")
_TASK_PAGES = st.one_of(
    st.tuples(st.integers(1, 10**6), st.integers(1, 10**6)).map(
        lambda t: f"/project/{t[0]}/{t[1]}/"
    ),
    st.tuples(st.integers(1, 10**6), st.integers(1, 10**6), st.integers(1, 10**6)).map(
        lambda t: f"/project/{t[0]}/{t[1]}/{t[2]}/#com{t[2]}"
    ),
)


def _union_args(tp: object) -> tuple[object, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return ()


def _plausible(tp: object, depth: int, hostile: bool) -> st.SearchStrategy[Any]:
    """A value of the shape ``tp`` expects (its parts may be hostile if ``hostile``)."""
    scalar = _plausible_scalar(tp)
    if scalar is not None:
        return scalar
    if tp is ProjectPage:
        return _PROJECT_PAGES
    args = _union_args(tp)
    if args:
        pages = {ProjectPage, TaskPage, SubtaskPage}
        if set(args) - {types.NoneType} <= pages | {str}:
            options = [_TASK_PAGES] if TaskPage in args else []
            if ProjectPage in args:
                options.append(_PROJECT_PAGES)
            if str in args:
                options.append(st.text(max_size=10))
            return st.one_of(options) | st.none() if types.NoneType in args else st.one_of(options)
        if len(args) == 2 and types.NoneType in args:
            (inner,) = (arg for arg in args if arg is not types.NoneType)
            return st.none() | st.just("") | value_of(inner, depth, hostile)
        return RAW_JSON  # JSONValue
    origin = typing.get_origin(tp)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        lists = st.lists(value_of(item, depth + 1, hostile), max_size=3)
        if item in (str, int):
            return lists | st.lists(st.integers(0, 99), max_size=3).map(
                lambda xs: ",".join(map(str, xs))
            )
        return lists
    if origin in (Mapping, dict):
        key_tp, value_tp = typing.get_args(tp)
        if value_tp == JSONValue or value_tp is object:
            return st.dictionaries(st.text(max_size=4), RAW_JSON, max_size=3)
        keys = DATES.map(str) if key_tp is dt.date else _plausible(key_tp, depth, hostile).map(str)
        return st.dictionaries(keys, value_of(value_tp, depth + 1, hostile), max_size=3)
    if isinstance(tp, type) and attrs.has(tp):
        return st.deferred(lambda: model_data(tp, depth + 1, hostile))
    return RAW_JSON


@functools.cache
def value_of(tp: object, depth: int, hostile: bool = True) -> st.SearchStrategy[Any]:
    """Mostly a plausible value of ``tp``; sometimes a hostile one (if ``hostile``)."""
    if not hostile:
        if depth > 3 and types.NoneType in _union_args(tp):
            return st.none()
        return _plausible(tp, depth, hostile)
    if depth > 2:
        return HOSTILE | st.none()
    return st.one_of(_plausible(tp, depth, hostile), _plausible(tp, depth, hostile), HOSTILE)


@functools.cache
def model_data(
    cls: type, depth: int = 0, hostile: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object for ``cls``: every field under its JSON key, some left out, plus
    unknown keys. Not ``hostile``: valid data (no required field left out)."""
    attrs.resolve_types(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(cls):
        if field.name == "extra":
            continue
        fields[field.metadata.get(JSON_KEY, field.name)] = value_of(field.type, depth, hostile)
    required = {
        k: v
        for k, v in fields.items()
        if attrs.fields_dict(cls)[_name(cls, k)].default is attrs.NOTHING
    }
    optional = {k: v for k, v in fields.items() if k not in required}
    known = st.fixed_dictionaries(required, optional=optional)
    unknown = st.dictionaries(st.sampled_from(["zz", "\ud800", "", "id "]), RAW_JSON, max_size=2)
    return st.builds(
        lambda a, b, drop: {**{k: v for k, v in a.items() if k != drop}, **b},
        known,
        unknown,
        st.sampled_from([None, *(fields if hostile else optional)]),
    )


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


def _name(cls: type, json_key: str) -> str:
    for field in attrs.fields(cls):
        if field.metadata.get(JSON_KEY, field.name) == json_key:
            return field.name
    raise KeyError(json_key)


def _check(outcome: object, cls: type) -> None:
    """A model of the class asked for, and usable as one: hashable, equal to itself,
    and unstructured into data that structures back into an equal model (unless its
    raw JSON holds a NaN, which equals nothing, or nests too deep for json.dumps)."""
    assert isinstance(outcome, cls), outcome
    hash(outcome)
    assert outcome == outcome
    data = unstructure(outcome)
    try:
        json.dumps(data, allow_nan=False)
    except (ValueError, RecursionError):  # a NaN, or nesting, kept verbatim in raw JSON
        return
    assert structure(data, cls) == outcome


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@FUZZ
@given(data=st.data())
def test_any_data_gives_a_model_or_a_structure_error(cls: type, data: st.DataObject) -> None:
    """Data of a model's shape with hostile values: the model, or StructureError."""
    value = data.draw(st.one_of(model_data(cls), HOSTILE), label="data")
    outcome: object
    try:
        outcome = structure(value, cls)
    except WorksectionError as exc:  # anything else fails the test
        outcome = exc
    if isinstance(outcome, WorksectionError):
        assert isinstance(outcome, StructureError)
        assert len(str(outcome)) < 20_000
    else:
        _check(outcome, cls)


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@FUZZ
@given(data=st.data())
def test_any_list_gives_models_or_a_structure_error(cls: type, data: st.DataObject) -> None:
    """Lists (and objects keyed by id) of a model's data: models, or StructureError;
    structure_one as well."""
    items = st.lists(st.one_of(model_data(cls), HOSTILE), max_size=4)
    value = data.draw(items | items.map(lambda xs: {str(i): x for i, x in enumerate(xs)}) | HOSTILE)
    try:
        results = structure_list(value, cls)
    except StructureError:
        pass
    else:
        for result in results:
            _check(result, cls)
    try:
        one = structure_one(value, cls)
    except StructureError:
        pass
    else:
        _check(one, cls)


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@FUZZ
@given(data=st.data())
def test_valid_data_round_trips_through_unstructure(cls: type, data: st.DataObject) -> None:
    """Valid data of every shape the converter reads: a model, which unstructure
    turns into data that structures back into an equal model."""
    value = data.draw(model_data(cls, hostile=False), label="data")
    _check(structure(value, cls), cls)


@pytest.mark.parametrize("action", sorted(RESPONSE_MODELS))
@FUZZ
@given(data=st.data())
def test_any_answer_of_an_action_gives_its_models_or_a_structure_error(
    action: str, data: st.DataObject
) -> None:
    """A whole answer of every action with a model: its model(s), None, or
    StructureError."""
    spec = RESPONSE_MODELS[action]
    payload = st.one_of(
        model_data(spec.model), st.lists(model_data(spec.model), max_size=3), HOSTILE
    )
    if spec.source == "body":
        answer = st.one_of(model_data(spec.model).map(lambda d: {"status": "ok", **d}), HOSTILE)
    else:
        answer = st.one_of(
            st.fixed_dictionaries({"status": st.just("ok"), "data": payload}), HOSTILE
        )
    value = data.draw(answer)
    try:
        result = structure_response(action, value)
    except StructureError:
        return
    for item in result if isinstance(result, list) else [result]:
        assert item is None or isinstance(item, spec.model), item
