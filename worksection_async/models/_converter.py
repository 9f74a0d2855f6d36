"""The one cattrs converter that turns decoded JSON into models.

How each value is read (``"123"`` is an ``int``, ``"1"`` a ``bool``, ...) is in
:mod:`._values`; this module registers those rules with cattrs and builds, around them:

* the hook of each model: cattrs' ``make_dict_structure_fn`` code (the JSON key of a
  renamed field, ``from`` for ``from_``, and raw JSON fields as overrides), behind a
  function that puts the keys the model does not know in its ``extra`` mapping, never
  an error. An optional model is ``None`` for ``null``, ``""`` or PHP's ``[]``;
* the hooks of containers: ``tuple[X, ...]`` and ``list[X]`` read a JSON list, or an
  object whose values are the items (a PHP array keyed by id); ``Mapping[K, V]`` an
  object, PHP's ``[]``, or a list of objects keyed by their ``"id"``. An optional
  container is ``None`` for ``null`` or ``""``; ``[]`` / ``{}`` are empty, not absent;
* interning: the heavily repeated :class:`UserRef` and :class:`ProjectRef` objects
  (``{id, email, name}`` in every task and comment) are one object per distinct value,
  across calls, in tables of at most :data:`INTERN_LIMIT` entries that hold only the
  key strings (:func:`clear_intern_tables` empties them);
* a pause of the cyclic GC while a list of :data:`GC_PAUSE_MIN_ITEMS` items or more is
  structured (:func:`_gc_paused`).

Speed, measured by ``benchmarks/big_responses.py`` on a 10,000-task answer (14 MiB):
``json.loads`` plus structuring costs 2.85-2.9 times the CPU of ``json.loads`` alone
(target: at most 3.3). The GC pause and the interning earn their place: in one run,
the total grew by a third without the pause and by a fifth without interning. Every
hook is plain Python around cattrs' own code; nothing is generated with ``exec`` (a
layer that was, removed in issue #25, made it 2.4 times, at the cost of 500 lines).

Failures are located and reported by :mod:`._errors`: in time linear in the size of
the answer, as a :class:`StructureError` naming the path of each misfit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import threading
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from operator import itemgetter
from typing import Any, Final, TypeVar, overload

import attrs
import cattrs
from cattrs.errors import IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, override

from .._json import JSONValue
from .._pages import Page, ProjectPage, SubtaskPage, TaskPage
from . import _values
from ._base import JSON_KEY, RAW, ReadOnlyDict
from ._errors import StructureError, fail, failed_position, locate
from ._refs import ProjectRef, TaskRef, UserRef
from ._tasks import Task
from ._values import INTERN_LIMIT, NULL_STRINGS, Hook, show

__all__ = [
    "GC_PAUSE_MIN_ITEMS",
    "INTERN_LIMIT",
    "clear_intern_tables",
    "converter",
    "structure",
    "structure_list",
    "structure_one",
]

T = TypeVar("T")

converter: Final = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
"""The one converter. Private to the package: callers use :func:`structure`."""

_EXTRA_KEY: Final = "\x00extra"

for _type, _hook in (
    (str, _values.to_str),
    (bool, _values.to_bool),
    (Decimal, _values.to_decimal),
    (dt.datetime, _values.to_datetime),
    (dt.date, _values.to_date),
    (dt.time, _values.to_time),
    (dt.timedelta, _values.to_timedelta),
    (ProjectPage, _values.to_project_page),
):
    converter.register_structure_hook(_type, _hook)
converter.register_structure_hook(int, converter._structure_call)  # int(value), in C


# ----------------------------------------------------------------------- models

_MODEL_HOOKS: dict[tuple[type, bool], Hook] = {}
_BUILDING: set[type] = set()
_BUILD_LOCK: Final = threading.RLock()
_INTERN_KEYS: Final[dict[type, tuple[str, ...]]] = {
    UserRef: ("id", "email", "name"),
    ProjectRef: ("id", "name", "page"),
}


def _json_key(attribute: attrs.Attribute[object]) -> str:
    return attribute.metadata.get(JSON_KEY, attribute.name)  # type: ignore[no-any-return]


def json_keys(cls: type) -> dict[str, str]:
    """Map each JSON key a model reads to its field name (``extra`` excluded)."""
    return {
        _json_key(attribute): attribute.name
        for attribute in attrs.fields(cls)
        if attribute.name != "extra"
    }


def _identity(value: object, _: object = None) -> object:
    return value


def _raw_hook(kind: str, tp: object) -> Hook:
    if kind != "object":
        return _identity
    if not _is_optional(tp):
        return _values.to_json_object

    def optional_json_object(value: object, _: object = None) -> object:
        if value is None or value == "":  # absent, like every optional field
            return None
        return _values.to_json_object(value)

    return optional_json_object


def _task_id_from_page(data: dict[str, Any]) -> dict[str, Any]:
    # The docs show timer task refs without "id": the page's last segment is the id.
    if data.get("page").__class__ is str:
        return {**data, "id": _values.to_task_page(data["page"]).id}
    return data


def _model_hook(cls: type, optional: bool = False) -> Hook:
    """The hook of a model class (``optional``: also ``None`` for null / ``[]`` / ``""``).

    Built once per class; a reference back to a class being built (``Task.child``,
    ``TaskRef.parent``) gets a stub that looks the finished hook up when called.
    """
    hook = _MODEL_HOOKS.get((cls, optional))
    if hook is not None:
        return hook
    with _BUILD_LOCK:  # reentrant: building Task asks for Task again (child)
        hook = _MODEL_HOOKS.get((cls, optional))
        if hook is not None:
            return hook
        if cls in _BUILDING:

            def deferred(value: object, _: object = None) -> object:
                return _MODEL_HOOKS[cls, optional](value)

            deferred.deferred = (cls, optional)  # type: ignore[attr-defined]
            return deferred
        _BUILDING.add(cls)
        try:
            required = _build_model_hook(cls)
        finally:
            _BUILDING.discard(cls)
        _register_model_hooks(cls, required)
    return _MODEL_HOOKS[cls, optional]


def _build_model_hook(cls: type) -> Hook:
    """cattrs' code for ``cls`` (JSON keys of renamed fields and raw fields as
    overrides), behind ``structure_model``: it refuses what is not an object, and
    passes the keys ``cls`` does not know to cattrs as one ``extra`` value."""
    attrs.resolve_types(cls)
    if "extra" not in attrs.fields_dict(cls):
        # without it, unknown keys would vanish: cattrs ignores keys it does not know
        raise TypeError(f"{cls.__qualname__} has no 'extra' field to keep unknown keys in")
    overrides: dict[str, Any] = {}
    for attribute in attrs.fields(cls):
        if attribute.name == "extra":
            overrides["extra"] = override(rename=_EXTRA_KEY, struct_hook=_identity)
            continue
        kind = attribute.metadata.get(RAW)
        rename = attribute.metadata.get(JSON_KEY)
        if kind is not None or rename is not None:
            overrides[attribute.name] = override(
                rename=rename,
                struct_hook=_raw_hook(kind, attribute.type) if kind is not None else None,
            )
    base: Hook = make_dict_structure_fn(cls, converter, **overrides)
    known = frozenset(json_keys(cls))
    name = cls.__name__
    prepare = _task_id_from_page if cls in (Task, TaskRef) else None

    def structure_model(value: Any, _: object = None) -> object:
        try:
            plain = value.keys() <= known
        except AttributeError:
            raise TypeError(f"expected a JSON object for {name}, got {show(value)}") from None
        if prepare is not None and "id" not in value:
            value = prepare(value)
        if plain:
            return base(value)
        unknown = {k: v for k, v in value.items() if k not in known}
        fields = {k: v for k, v in value.items() if k in known}
        fields[_EXTRA_KEY] = ReadOnlyDict(unknown)
        return base(fields)

    return structure_model


def _register_model_hooks(cls: type, required: Hook) -> None:
    intern_keys = _INTERN_KEYS.get(cls)
    if intern_keys is not None:
        table: dict[tuple[object, ...], object] = {}
        _INTERN_TABLES.append(table)
        _MODEL_HOOKS[cls, True] = _interning(required, table, intern_keys, optional=True)
        _MODEL_HOOKS[cls, False] = _interning(required, table, intern_keys, optional=False)
    else:
        _MODEL_HOOKS[cls, True] = _optional_model(required)
        _MODEL_HOOKS[cls, False] = required


def _optional_model(required: Hook) -> Hook:
    def optional_model(value: object, _: object = None) -> object:
        if value.__class__ is dict:
            return required(value)
        if value is None or value == [] or value == "":
            return None
        return required(value)  # raises the model's own error

    return optional_model


def _interning(
    hook: Hook, table: dict[tuple[object, ...], object], keys: tuple[str, ...], optional: bool
) -> Hook:
    """Share one object per distinct value: ``{id, email, name}`` -> one :class:`UserRef`.

    Only objects with exactly ``keys`` are interned (no ``extra``); the key is the raw
    values, so the table never holds a decoded answer alive.
    """
    size = len(keys)
    key_of = itemgetter(*keys)

    def interned(value: Any, _: object = None) -> object:
        if value.__class__ is dict:
            if len(value) == size:
                try:
                    key = key_of(value)
                    found = table.get(key)
                except (KeyError, TypeError):  # other keys, or unhashable values
                    return hook(value)
                if found is None:
                    found = hook(value)
                    if len(table) >= INTERN_LIMIT:
                        table.clear()
                    table[key] = found
                return found
        elif optional and (value is None or value == [] or value == ""):
            return None
        return hook(value)

    return interned


_INTERN_TABLES: list[dict[tuple[object, ...], object]] = []


def clear_intern_tables() -> None:
    """Empty the intern tables (user refs, project refs) and the page memo."""
    for table in _INTERN_TABLES:
        table.clear()
    _values.PAGES.clear()


# ------------------------------------------------------------------- containers


class _Prebuilt:
    """A container that :mod:`._slicing` structured ahead, in slices, put where its
    JSON was: the container's hook returns ``value`` (or raises ``error``, the error
    it would have raised itself) instead of structuring it again."""

    __slots__ = ("error", "value")

    def __init__(self, value: object, error: Exception | None) -> None:
        self.value = value
        self.error = error

    def unwrap(self) -> object:
        if self.error is not None:
            raise self.error
        return self.value


@attrs.frozen
class _SequenceSlicer:
    """What structuring a ``tuple[X, ...]`` / ``list[X]`` item by item takes."""

    tp: object
    item_tp: object
    item_hook: Callable[[], Hook]  # late: a self-referencing model's hook is a stub at first
    build: Callable[[Iterator[object]], object]


@attrs.frozen
class _MappingSlicer:
    """What structuring a ``Mapping[K, V]`` pair by pair takes."""

    tp: object
    key_tp: object
    value_tp: object
    key_hook: Hook
    value_hook: Hook


def _is_optional(tp: object) -> bool:
    args = _union_args(tp)
    return len(args) == 2 and types.NoneType in args


def _make_optional(tp: object) -> Hook:
    (inner_tp,) = (arg for arg in typing.get_args(tp) if arg is not types.NoneType)
    if inner_tp is str:
        return _values.optional_str

    if _is_model(inner_tp):
        return _model_hook(inner_tp, optional=True)

    sequence = _is_homogeneous_tuple(inner_tp) or _is_list(inner_tp)
    if sequence and typing.get_args(inner_tp)[0] not in (str, int):
        return _make_sequence(inner_tp, optional=True)
    origin = typing.get_origin(inner_tp)
    if origin is tuple or origin is Mapping or origin is dict or origin is list:
        # containers: None and "" are absent; [] / {} are empty, not absent
        container = _unary(inner_tp)

        def optional_container(value: object, _: object = None) -> object:
            if value is None or value == "":
                return None
            return container(value)

        optional_container.sliced = getattr(container, "sliced", None)  # type: ignore[attr-defined]
        return optional_container

    scalar = _unary(inner_tp)

    def optional_scalar(value: object, _: object = None) -> object:
        if value is None or (value.__class__ is str and value in NULL_STRINGS):
            return None
        return scalar(value)

    return optional_scalar


def _is_homogeneous_tuple(tp: object) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _make_tuple(tp: object) -> Hook:
    elem_tp = typing.get_args(tp)[0]
    if elem_tp is str:
        return _values.to_str_tuple
    if elem_tp is int:
        return _values.to_int_tuple
    return _make_sequence(tp)


def _is_list(tp: object) -> bool:
    return typing.get_origin(tp) is list


def _make_list(tp: object) -> Hook:
    return _make_sequence(tp)


def _make_sequence(tp: object, optional: bool = False) -> Hook:
    """The hook of ``tuple[X, ...]`` or ``list[X]`` (``optional``: also ``None``).

    A JSON list, or an object whose values are the items (a PHP array keyed by id).
    One Python frame per level of nesting (``optional`` is built in, a model's hook is
    called directly, not through the stub a self-referencing model gets while it is
    being built): deep answers stay within the stack.
    """
    elem_tp = typing.get_args(tp)[0]
    build: Callable[[Iterator[object]], object] = tuple if typing.get_origin(tp) is tuple else list
    inner = _model_hook(elem_tp) if _is_model(elem_tp) else _unary(elem_tp)
    deferred: tuple[type, bool] | None = getattr(inner, "deferred", None)

    def structure_sequence(value: Any, _: object = None) -> object:
        if value.__class__ is list:
            items = iter(value)
        elif value.__class__ is dict:
            items = iter(value.values())
        elif value.__class__ is _Prebuilt:
            return value.unwrap()
        elif optional and (value is None or value == ""):
            return None
        else:
            raise TypeError(f"expected a JSON list, got {show(value)}")
        hook = inner if deferred is None else _MODEL_HOOKS[deferred]
        try:
            return build(map(hook, items))
        except Exception as exc:
            failed = failed_position(value, items)
            raise locate(exc, tp, elem_tp, hook, value, failed) from None

    def item_hook() -> Hook:
        return inner if deferred is None else _MODEL_HOOKS[deferred]

    structure_sequence.sliced = _SequenceSlicer(tp, elem_tp, item_hook, build)  # type: ignore[attr-defined]
    return structure_sequence


def _is_mapping(tp: object) -> bool:
    return typing.get_origin(tp) in (Mapping, dict) and len(typing.get_args(tp)) == 2


def _make_mapping(tp: object) -> Hook:
    key_tp, value_tp = typing.get_args(tp)
    key_hook = _unary(key_tp)
    value_hook = _model_hook(value_tp) if _is_model(value_tp) else _unary(value_tp)
    titled = value_tp is str

    def structure_mapping(value: Any, _: object = None) -> dict[object, object]:
        if value.__class__ is dict:
            items = iter(value.items())
            try:
                return {key_hook(k): value_hook(v) for k, v in items}
            except Exception as exc:
                failed = failed_position(value, items)
                raise locate(
                    exc, tp, value_tp, value_hook, value, failed, key_hook, key_tp
                ) from None
        if value.__class__ is list:
            # PHP's [] for an empty map, or a list of objects keyed by their "id"
            # (tags as [{id, title}], cost projects as a list in SDK-PY's reading)
            result: dict[object, object] = {}
            for index, item in enumerate(value):
                if item.__class__ is not dict or "id" not in item:
                    raise TypeError(f"expected a JSON object keyed by id, got {show(value)}")
                try:
                    if titled:
                        title = item.get("title", item.get("name"))
                        result[key_hook(item["id"])] = value_hook(title)
                    else:
                        result[key_hook(item["id"])] = value_hook(item)
                except Exception as exc:
                    note = IterableValidationNote(
                        f"Structuring {tp!r} @ index {index!r}", index, value_tp
                    )
                    exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]
                    raise IterableValidationError(
                        f"While structuring {tp!r}", [exc], typing.cast(type, tp)
                    ) from None
            return result
        if value.__class__ is _Prebuilt:
            return typing.cast(dict[object, object], value.unwrap())
        raise TypeError(f"expected a JSON object, got {show(value)}")

    structure_mapping.sliced = _MappingSlicer(tp, key_tp, value_tp, key_hook, value_hook)  # type: ignore[attr-defined]
    return structure_mapping


# ----------------------------------------------------------- types, registration


def _is_union(tp: object) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _union_args(tp: object) -> frozenset[object]:
    return frozenset(typing.get_args(tp)) if _is_union(tp) else frozenset()


_TASK_PAGE_ARGS: Final = frozenset((TaskPage, SubtaskPage))
_ANY_PAGE_ARGS: Final = frozenset((ProjectPage, TaskPage, SubtaskPage, str))


_PAGE_TYPES: Final = frozenset((ProjectPage, TaskPage, SubtaskPage))


def _is_model(tp: object) -> bool:
    """A model class: an attrs class other than the page values (which parse strings)."""
    return isinstance(tp, type) and attrs.has(tp) and tp not in _PAGE_TYPES


def _unary(tp: object) -> Hook:
    """A hook callable with the value alone (``map`` friendly)."""
    hook = converter.get_structure_hook(tp)
    if hook is converter._structure_call:
        return tp  # type: ignore[return-value]
    if _is_model(tp) or _takes_value_alone(hook):
        return hook  # one frame less per nested level: deep answers fit the stack
    return lambda value, _hook=hook, _tp=tp: _hook(value, _tp)


def _takes_value_alone(hook: Hook) -> bool:
    """``hook(value, _=None)``: this module's hooks, whose type argument is optional."""
    code = getattr(hook, "__code__", None)
    defaults = getattr(hook, "__defaults__", None) or ()
    return code is not None and code.co_argcount == 2 and len(defaults) >= 1


def _register_page_unions() -> None:
    def is_task_page(tp: object) -> bool:
        return _union_args(tp) == _TASK_PAGE_ARGS

    def is_any_page(tp: object) -> bool:
        return _union_args(tp) - {types.NoneType} == _ANY_PAGE_ARGS

    def is_task_page_or_none(tp: object) -> bool:
        return _union_args(tp) == _TASK_PAGE_ARGS | {types.NoneType}

    def task_page_or_none(value: object, _: object = None) -> TaskPage | SubtaskPage | None:
        if value is None or value == "":
            return None
        return _values.to_task_page(value)

    def page_or_text_or_none(value: object, _: object = None) -> Page | str | None:
        if value is None or value == "":
            return None
        return _values.to_page_or_text(value)

    converter.register_structure_hook_func(is_task_page, _values.to_task_page)
    converter.register_structure_hook_func(is_task_page_or_none, task_page_or_none)
    converter.register_structure_hook_func(is_any_page, page_or_text_or_none)


converter.register_structure_hook_factory(_is_homogeneous_tuple, _make_tuple)
converter.register_structure_hook_factory(_is_list, _make_list)
converter.register_structure_hook_factory(_is_mapping, _make_mapping)
converter.register_structure_hook_factory(_is_optional, _make_optional)
_register_page_unions()
converter.register_structure_hook_factory(_is_model, lambda cls: _model_hook(cls))


# ------------------------------------------------------------------- GC pause

GC_PAUSE_MIN_ITEMS: Final = 256
"""A top-level list at least this long is structured with the cyclic GC paused."""

_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large answer is structured.

    Structuring builds immutable trees (no reference cycles) from a decoded answer the
    caller keeps alive, so a collection during it cannot free anything: it only walks
    the young objects ``json.loads`` just made, again and again (about 40% of the time
    on a 10,000-task answer). The pause is reentrant and thread-safe; the GC is
    re-enabled when the last concurrent pause ends, and only if it was enabled when the
    first one began.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


# ----------------------------------------------------------------- public API


@overload
def structure(data: JSONValue, cls: type[T]) -> T: ...
@overload
def structure(data: JSONValue, cls: object) -> object: ...
def structure(data: JSONValue, cls: object) -> object:
    """Structure decoded JSON into ``cls``: a model class, ``list[Model]``, ... .

    >>> structure({"id": "2", "email": "ANY", "name": "Anyone"}, UserRef).is_anyone
    True

    Raises :class:`StructureError` (a ``ValueError``) when the data does not fit. A
    list of :data:`GC_PAUSE_MIN_ITEMS` items or more is structured with the cyclic
    garbage collector paused (see ``_gc_paused``).
    """
    pause = isinstance(data, list) and len(data) >= GC_PAUSE_MIN_ITEMS
    try:
        hook = converter.get_structure_hook(cls)
        if pause:
            with _gc_paused():
                return hook(data, cls)
        return hook(data, cls)
    except Exception as exc:
        raise fail(cls, exc) from exc
    finally:
        _values.PAGES.clear()


def structure_list(data: JSONValue, cls: type[T]) -> list[T]:
    """Structure a JSON list of objects into a list of ``cls``.

    Lenient as the API needs: a missing payload (``None``) is an empty list, and an
    object keyed by id (``get_users_schedule``, PHP arrays) gives its values.
    """
    if data is None:
        return []
    return structure(data, list[cls])  # type: ignore[valid-type]


def structure_one(data: JSONValue, cls: type[T]) -> T:
    """Structure one object that may arrive wrapped in a one-element list.

    ``me`` and ``get_my_timer`` answer with an object (Postman) or a one-element list
    (the Russian docs). Anything else raises :class:`StructureError`; check for an
    empty answer first where one is possible (``get_my_timer`` with no timer).
    """
    if isinstance(data, list):
        if len(data) != 1:
            raise StructureError(
                f"cannot structure {cls.__name__}: expected one object, got a list of {len(data)}"
            )
        data = data[0]
    return structure(data, cls)
