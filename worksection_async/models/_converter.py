"""The one cattrs converter that turns decoded JSON into models.

Conversion rules (worksection-api.md §2.2, §7.11), decided by each field's type:

* ``int``: ``"123"`` or ``123`` (ids, ``priority``, ``size``, ...).
* ``Decimal``: ``"75.17"``, ``20400`` or ``12.5`` (``max_time``, ``max_money``,
  ``money``, ``rate``): exact, never a binary float; finite (no ``NaN``,
  ``Infinity``), exponent within ±1000 (``1e1001`` would print as a thousand digits).
* ``bool``: ``1``/``0``, ``"1"``/``"0"``, ``true``/``false``.
* ``datetime``: ``"YYYY-MM-DD HH:MM"`` (also ``DD.MM.YYYY HH:MM``), naive as sent.
* ``date``: ``"YYYY-MM-DD"`` (also ``DD.MM.YYYY``); ``time``: ``"HH:MM"``.
* ``timedelta``: ``"H:MM"`` (costs; hours may exceed 24), ``"HH:MM:SS"``
  (``get_timers``), or a number of seconds (``get_my_timer``).
* page values: ``"/project/P/"`` is a :class:`ProjectPage`, task links are
  :class:`TaskPage` / :class:`SubtaskPage` (a ``#com..`` anchor is dropped).
* ``tuple[str, ...]`` / ``tuple[int, ...]``: a JSON list or a comma string
  (``"post_task,post_comment"``, ``"8522, 8530"``).
* ``Mapping[int, str]``: ``{"105554": "inner"}`` (tag maps; ids become ``int``).

An optional field that is missing, ``null``, ``""`` or a zero date (``0000-00-00``)
is ``None``; PHP's ``[]`` for an empty object is accepted wherever an object or a map
is expected. Keys a model does not know go to its ``extra`` mapping, never an error.

Speed: every model's hook is one generated function (``_direct_model_hook``): each
field's hook called in field order and its value set straight into the new instance's
slot (what attrs' ``__init__`` does, without the keyword call), unknown keys counted
rather than searched for, string fields checked inline. It gives what cattrs'
``make_dict_structure_fn`` code gives, errors included (that code is kept as the
``reference`` of each hook, used for anything but a ``dict``, and compared in
``tests/test_models_direct.py``). ``int`` fields compile to direct ``int()`` calls,
dates and times use ``fromisoformat``, optional scalars cost one Python call, pages
are parsed once per call (a task's comments share its page) and built from the ids
the canonical-link pattern has checked, and the heavily repeated :class:`UserRef`
and :class:`ProjectRef` objects are interned across calls, so identical references
are one object. The intern tables are
bounded (:data:`INTERN_LIMIT` entries each) and hold only the key strings. Lists of
:data:`GC_PAUSE_MIN_ITEMS` items or more are structured with the cyclic GC paused
(structuring creates no cycles; the passes it would run only re-walk the fresh
``json.loads`` output). ``benchmarks/big_responses.py`` measures all this.

Failures: a value that does not fit is structured once, like the others; the
containers record where it failed without redoing anything, so a hostile answer
fails in time linear in its size (``_locate``). A :class:`StructureError` message
names the first :data:`_MAX_DETAILS` errors with their paths and counts the rest;
values in it are shortened. An answer nested deeper than the stack allows is a
:class:`StructureError` ("nested too deeply"), like any other misfit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import linecache
import operator
import re
import reprlib
import threading
import types
import typing
from collections.abc import Callable, Generator, Iterator, Mapping, Sized
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any, Final, TypeVar, overload

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, override

from .._exceptions import WorksectionError
from .._json import JSONValue
from .._pages import Page, ProjectPage, SubtaskPage, TaskPage, parse_page
from ._base import JSON_KEY, RAW, ReadOnlyDict
from ._refs import ProjectRef, TaskRef, UserRef
from ._tasks import Task

__all__ = [
    "GC_PAUSE_MIN_ITEMS",
    "INTERN_LIMIT",
    "StructureError",
    "clear_intern_tables",
    "converter",
    "structure",
    "structure_list",
    "structure_one",
]

T = TypeVar("T")

INTERN_LIMIT: Final = 16_384
"""Entries kept per intern table (user refs, project refs) and in the page memo; a
full table is emptied and refilled, so memory stays bounded in long-running processes."""

Hook = Callable[..., Any]
"""A structure hook: ``hook(value)`` or ``hook(value, type)``."""


class StructureError(WorksectionError, ValueError):
    """A decoded answer does not fit its model (wrong type, missing required field).

    Part of the library's tree (``except WorksectionError`` catches it) and a
    ``ValueError``.

    The message names the model and the path of every offending value; the original
    cattrs error is chained as ``__cause__``.
    """


converter: Final = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
"""The one converter. Private to the package: callers use :func:`structure`."""

_EXTRA_KEY: Final = "\x00extra"
_NULL_STRINGS: Final = frozenset(
    ("", "0000-00-00", "0000-00-00 00:00", "0000-00-00 00:00:00", "00.00.0000")
)


# --------------------------------------------------------------------------- scalars

_REPR: Final = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 80
_REPR.maxlevel = 2


def _show(value: object) -> str:
    """A short ``repr`` for error messages: a hostile answer must not make them huge."""
    try:
        return _REPR.repr(value)
    except Exception:  # an int too long to print (sys.set_int_max_str_digits)
        return f"<{type(value).__name__}>"


def _to_str(value: object, _: object = None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {_show(value)}")


def _optional_str(value: object, _: object = None) -> str | None:
    if value is None or value.__class__ is str:
        return value
    return _to_str(value)


def _to_bool(value: object, _: object = None) -> bool:
    if value is True or value is False:
        return value
    if value.__class__ is int:
        if value in (0, 1):
            return value == 1
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true"):
            return True
        if text in ("0", "false", ""):
            return False
    raise ValueError(f"expected a 0/1 flag, got {_show(value)}")


_MAX_DECIMAL_EXPONENT: Final = 1000
"""A number whose exponent is beyond this (``1e1001``, ``1e-1001``) is refused: it
would print as more than a thousand digits."""


def _finite(number: Decimal, value: object) -> Decimal:
    if number.is_finite() and -_MAX_DECIMAL_EXPONENT <= number.adjusted() <= _MAX_DECIMAL_EXPONENT:
        return number
    # NaN and sNaN would make the model unhashable (sNaN) or unequal to itself
    raise ValueError(f"expected a finite number, exponent within ±1000, got {_show(value)}")


def _parse_decimal(text: str) -> Decimal:
    return _finite(Decimal(text), text)


def _to_decimal(value: object, _: object = None) -> Decimal:
    if isinstance(value, str):
        try:
            return _finite(Decimal(value), value)
        except InvalidOperation:
            pass
        try:
            # decimal comma, as the API accepts it on input ("0,15")
            return _finite(Decimal(value.replace(",", ".", 1)), value)
        except InvalidOperation:
            raise ValueError(f"expected a number, got {_show(value)}") from None
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {_show(value)}")
    if isinstance(value, (int, Decimal)):
        return _finite(Decimal(value), value)
    if isinstance(value, float):
        # the shortest decimal that reads back as the float
        return _finite(Decimal(repr(value)), value)
    raise TypeError(f"expected a number, got {_show(value)}")


_DATETIME_FORMATS: Final = ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y")


def _to_datetime(value: object, _: object = None) -> dt.datetime:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        for fmt in _DATETIME_FORMATS:
            try:
                return dt.datetime.strptime(value, fmt)
            except ValueError:
                continue
        raise ValueError(f"expected 'YYYY-MM-DD HH:MM', got {_show(value)}")
    if isinstance(value, dt.datetime):
        return value
    raise TypeError(f"expected a date-time string, got {_show(value)}")


def _to_date(value: object, _: object = None) -> dt.date:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
        try:
            return dt.datetime.strptime(value, "%d.%m.%Y").date()
        except ValueError:
            pass
        try:
            return dt.datetime.fromisoformat(value).date()
        except ValueError:
            pass
        raise ValueError(f"expected 'YYYY-MM-DD', got {_show(value)}")
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise TypeError(f"expected a date string, got {_show(value)}")


def _to_time(value: object, _: object = None) -> dt.time:
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected 'HH:MM', got {_show(value)}") from None
    if isinstance(value, dt.time):
        return value
    raise TypeError(f"expected a time string, got {_show(value)}")


def _to_timedelta(value: object, _: object = None) -> dt.timedelta:
    if isinstance(value, str):
        text = value.strip()
        sign = -1 if text[:1] == "-" else 1
        parts = text.lstrip("-").split(":")
        if 2 <= len(parts) <= 3 and all(part.isdecimal() for part in parts):
            hours, minutes, seconds = (*map(int, parts), 0)[:3]
            return sign * dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)
        if len(parts) == 1:
            try:
                return dt.timedelta(seconds=float(text))
            except (ValueError, OverflowError):
                pass
        raise ValueError(f"expected 'H:MM', 'HH:MM:SS' or seconds, got {_show(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    if isinstance(value, dt.timedelta):
        return value
    raise TypeError(f"expected a duration, got {_show(value)}")


_NEW: Final = object.__new__


def _slot(cls: type, name: str) -> object:
    """The descriptor of ``cls`` for attribute ``name`` (a slot: a member descriptor)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


# Pages repeat within an answer (a task's comments all carry its page, relations and
# ``project`` refs point at pages seen before): parsed pages are memoized by their
# link without the "#com.." anchor. Top-level calls empty the memo when they end.
_PAGES: dict[str, Page] = {}

# The canonical links the API sends: /project/P/, /project/P/T/ or /project/P/T/S/.
# Anything else (URLs, no trailing slash...) goes to parse_page, which accepts a
# superset of these and returns the same values for them.
_CANONICAL_LINK: Final = re.compile(
    r"/project/([1-9][0-9]{0,17})/(?:([1-9][0-9]{0,17})/(?:([1-9][0-9]{0,17})/)?)?"
)


def _checked_ids(cls: type[Any]) -> Callable[..., Any]:
    """A constructor of page values from ids the canonical-link pattern has already
    checked (positive, at most 18 digits): the page's own validators, done again,
    were a fifth of the time of a big answer's pages. Falls back to the class itself
    unless its ``__init__`` only validates and sets each field."""
    fields = attrs.fields(cls)
    slots = [_slot(cls, a.name) for a in fields]
    plain = (
        "__slots__" in cls.__dict__
        and not any("cached_hash" in slot for slot in getattr(cls, "__slots__", ()))
        and not hasattr(cls, "__attrs_post_init__")
        and not hasattr(cls, "__attrs_pre_init__")
        and all(isinstance(slot, types.MemberDescriptorType) for slot in slots)
        and all(a.init and a.converter is None and a.default is attrs.NOTHING for a in fields)
    )
    if not plain:
        return cls
    names = [f"i{n}" for n in range(len(fields))]
    glob: dict[str, Any] = {"__new": _NEW, "__cl": cls}
    lines = [f"def make_{cls.__name__}({', '.join(names)}):", "  self = __new(__cl)"]
    for n, (name, slot) in enumerate(zip(names, slots, strict=True)):
        glob[f"__s{n}"] = slot.__set__  # type: ignore[attr-defined]
        lines.append(f"  __s{n}(self, {name})")
    lines.append("  return self")
    exec("\n".join(lines), glob)  # noqa: S102  # generated from the page's fields
    return glob[f"make_{cls.__name__}"]  # type: ignore[no-any-return]


def _page(text: str) -> Page:
    link = text.partition("#")[0] if "#" in text else text
    page = _PAGES.get(link)
    if page is not None:
        return page
    match = _CANONICAL_LINK.fullmatch(link)
    if match is None:
        page = parse_page(text)
    else:
        project_id, task_id, subtask_id = match.groups()
        if task_id is None:
            page = _project_page(int(project_id))
        elif subtask_id is None:
            page = _task_page(int(project_id), int(task_id))
        else:
            page = _subtask_page(int(project_id), int(task_id), int(subtask_id))
    if len(_PAGES) >= INTERN_LIMIT:
        _PAGES.clear()
    _PAGES[link] = page
    return page


_project_page: Final = _checked_ids(ProjectPage)
_task_page: Final = _checked_ids(TaskPage)
_subtask_page: Final = _checked_ids(SubtaskPage)


def _to_project_page(value: object, _: object = None) -> ProjectPage:
    if isinstance(value, str):
        page = _page(value)
        if isinstance(page, ProjectPage):
            return page
    elif isinstance(value, ProjectPage):
        return value
    raise ValueError(f"expected a project page /project/P/, got {_show(value)}")


def _to_task_page(value: object, _: object = None) -> TaskPage | SubtaskPage:
    if isinstance(value, str):
        page = _page(value)
        if not isinstance(page, ProjectPage):
            return page
    elif isinstance(value, (TaskPage, SubtaskPage)):
        return value
    raise ValueError(f"expected a task page /project/P/T/, got {_show(value)}")


def _to_page_or_text(value: object, _: object = None) -> Page | str:
    if isinstance(value, (ProjectPage, TaskPage, SubtaskPage)):
        return value
    text = _to_str(value)
    try:
        return _page(text)
    except ValueError:
        return text


def _split_commas(value: object) -> list[object]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    raise TypeError(f"expected a list or a comma string, got {_show(value)}")


def _to_str_tuple(value: object, _: object = None) -> tuple[str, ...]:
    return tuple(map(_to_str, _split_commas(value)))


def _to_int(value: object) -> int:
    if isinstance(value, (str, int)):
        return int(value)
    raise TypeError(f"expected an integer, got {_show(value)}")


def _to_int_tuple(value: object, _: object = None) -> tuple[int, ...]:
    return tuple(map(_to_int, _split_commas(value)))


def _identity(value: object, _: object = None) -> object:
    return value


def _to_json_object(value: object, _: object = None) -> object:
    if value.__class__ is dict:
        return value
    if value == []:  # PHP encodes an empty associative array as []
        return {}
    raise TypeError(f"expected a JSON object, got {_show(value)}")


for _type, _hook in (
    (str, _to_str),
    (bool, _to_bool),
    (Decimal, _to_decimal),
    (dt.datetime, _to_datetime),
    (dt.date, _to_date),
    (dt.time, _to_time),
    (dt.timedelta, _to_timedelta),
    (ProjectPage, _to_project_page),
):
    converter.register_structure_hook(_type, _hook)
converter.register_structure_hook(int, converter._structure_call)  # int(value), in C


# ------------------------------------------------------- containers structured ahead


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


# --------------------------------------------------------------------- type plumbing


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
        return _to_task_page(value)

    def page_or_text_or_none(value: object, _: object = None) -> Page | str | None:
        if value is None or value == "":
            return None
        return _to_page_or_text(value)

    converter.register_structure_hook_func(is_task_page, _to_task_page)
    converter.register_structure_hook_func(is_task_page_or_none, task_page_or_none)
    converter.register_structure_hook_func(is_any_page, page_or_text_or_none)


def _is_optional(tp: object) -> bool:
    args = _union_args(tp)
    return len(args) == 2 and types.NoneType in args


# Optional scalars whose strings a C function parses: one Python frame per value.
_FAST_PARSERS: Final[dict[object, Callable[[str], object]]] = {
    int: int,
    Decimal: _parse_decimal,
    dt.datetime: dt.datetime.fromisoformat,
    dt.date: dt.date.fromisoformat,
    dt.time: dt.time.fromisoformat,
}


def _make_optional(tp: object) -> Hook:
    (inner_tp,) = (arg for arg in typing.get_args(tp) if arg is not types.NoneType)
    if inner_tp is str:
        return _optional_str

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

    slow = converter.get_structure_hook(inner_tp)
    if slow is converter._structure_call:
        slow = _call_type
    fast = _FAST_PARSERS.get(inner_tp)
    if fast is None:

        def optional_scalar(value: object, _: object = None) -> object:
            if value is None or (value.__class__ is str and value in _NULL_STRINGS):
                return None
            return slow(value, inner_tp)

        return optional_scalar

    def optional_parsed(value: object, _: object = None) -> object:
        if value.__class__ is str:
            if value in _NULL_STRINGS:
                return None
            try:
                return fast(value)
            except (ValueError, ArithmeticError):
                pass  # the lenient hook decides, or raises a clear error
        elif value is None:
            return None
        elif value.__class__ is inner_tp:
            return value
        return slow(value, inner_tp)

    optional_parsed.parser = fast  # type: ignore[attr-defined]  # inlined by model hooks
    return optional_parsed


def _call_type(value: object, tp: Callable[[object], object]) -> object:
    return tp(value)


def _locate(
    exc: Exception,
    tp: object,
    item_tp: object,
    hook: Hook,
    value: Any,
    failed: int,
    key_hook: Hook | None = None,
    key_tp: object = None,
) -> Exception:
    """On failure only: say which items failed, as cattrs' ``IterableValidationError``,
    so that :func:`structure`'s message shows the path.

    ``exc`` is the error of the item at position ``failed`` (the items before it
    succeeded). It is kept, never redone: only the items after it are tried, until
    :data:`_MAX_REPORTED` errors are found. So every item is structured once (by the
    fast pass up to the failure, here after it), at any depth of nesting, and locating
    errors costs time linear in the size of the answer. (Redoing the failed item would
    redo its own failed items, and so on down: exponential in the depth.)
    """
    return _finish(_locating(exc, tp, item_tp, hook, value, failed, key_hook, key_tp))


def _finish(steps: Generator[None, None, Exception]) -> Exception:
    """Run :func:`_locating` to its end, in one go."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def _locating(
    exc: Exception,
    tp: object,
    item_tp: object,
    hook: Hook,
    value: Any,
    failed: int,
    key_hook: Hook | None = None,
    key_tp: object = None,
) -> Generator[None, None, Exception]:
    """:func:`_locate` in steps: it yields after each item it tries, and returns the
    error (:func:`astructure` lets the event loop run between steps)."""
    if not 0 <= failed < len(value):  # cannot happen; keep the error, without a path
        return IterableValidationError(f"While structuring {tp!r}", [exc], typing.cast(type, tp))
    pairs = value.items() if value.__class__ is dict else enumerate(value)
    errors: list[Exception] = []
    for position, (index, item) in enumerate(itertools.islice(pairs, failed, None), failed):
        yield
        failed_tp = key_tp
        try:
            if key_hook is not None:
                key_hook(index)  # a scalar: cheap to redo, and tells key from value
            failed_tp = item_tp
            if position == failed:
                raise exc
            hook(item)
        except Exception as item_exc:
            note = IterableValidationNote(f"Structuring {tp!r} @ index {index!r}", index, failed_tp)
            item_exc.__notes__ = [*getattr(item_exc, "__notes__", []), note]  # type: ignore[attr-defined]
            errors.append(item_exc)
            if len(errors) >= _MAX_REPORTED:
                break
    return IterableValidationError(f"While structuring {tp!r}", errors, typing.cast(type, tp))


def _failed_position(value: Sized, items: Iterator[object]) -> int:
    """The position of the item whose hook raised, from what ``items`` has left.

    ``items`` is the iterator the fast pass consumed (a list or dict iterator, whose
    length hint is exact): it had just yielded the failed item.
    """
    return len(value) - operator.length_hint(items) - 1


_MAX_REPORTED: Final = 10


def _is_homogeneous_tuple(tp: object) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _make_tuple(tp: object) -> Hook:
    elem_tp = typing.get_args(tp)[0]
    if elem_tp is str:
        return _to_str_tuple
    if elem_tp is int:
        return _to_int_tuple
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
            raise TypeError(f"expected a JSON list, got {_show(value)}")
        hook = inner if deferred is None else _MODEL_HOOKS[deferred]
        try:
            return build(map(hook, items))
        except Exception as exc:
            failed = _failed_position(value, items)
            raise _locate(exc, tp, elem_tp, hook, value, failed) from None

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
                failed = _failed_position(value, items)
                raise _locate(
                    exc, tp, value_tp, value_hook, value, failed, key_hook, key_tp
                ) from None
        if value.__class__ is list:
            # PHP's [] for an empty map, or a list of objects keyed by their "id"
            # (tags as [{id, title}], cost projects as a list in SDK-PY's reading)
            result: dict[object, object] = {}
            for index, item in enumerate(value):
                if item.__class__ is not dict or "id" not in item:
                    raise TypeError(f"expected a JSON object keyed by id, got {_show(value)}")
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
        raise TypeError(f"expected a JSON object, got {_show(value)}")

    structure_mapping.sliced = _MappingSlicer(tp, key_tp, value_tp, key_hook, value_hook)  # type: ignore[attr-defined]
    return structure_mapping


# ---------------------------------------------------------------------- model hooks

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


def _raw_hook(kind: str, tp: object) -> Hook:
    if kind != "object":
        return _identity
    if not _is_optional(tp):
        return _to_json_object

    def optional_json_object(value: object, _: object = None) -> object:
        if value is None or value == "":  # absent, like every optional field
            return None
        return _to_json_object(value)

    return optional_json_object


def _task_id_from_page(data: dict[str, Any]) -> dict[str, Any]:
    # The docs show timer task refs without "id": the page's last segment is the id.
    if data.get("page").__class__ is str:
        return {**data, "id": _to_task_page(data["page"]).id}
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


def _build_model_hook(cls: type) -> Hook:
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
            raise TypeError(f"expected a JSON object for {name}, got {_show(value)}") from None
        if prepare is not None and "id" not in value:
            value = prepare(value)
        if plain:
            return base(value)
        unknown = {k: v for k, v in value.items() if k not in known}
        fields = {k: v for k, v in value.items() if k in known}
        fields[_EXTRA_KEY] = ReadOnlyDict(unknown)
        return base(fields)

    if not _made_by_setattr(cls):
        return structure_model
    return _direct_model_hook(cls, overrides, known, prepare, structure_model)


def _made_by_setattr(cls: type) -> bool:
    """Whether attrs' ``__init__`` of ``cls`` does nothing but set each field: no
    validators, converters, factories, init hooks or cached hash. Then an instance can
    be made as ``__init__`` makes it, without the keyword-argument call."""
    if not getattr(cls, "__attrs_attrs__", None) or "__slots__" not in cls.__dict__:
        return False
    if any(
        hasattr(cls, hook)
        for hook in ("__attrs_pre_init__", "__attrs_post_init__", "__attrs_init_subclass__")
    ):
        return False
    if any("cached_hash" in slot for slot in getattr(cls, "__slots__", ())):
        return False
    return all(
        isinstance(_slot(cls, a.name), types.MemberDescriptorType)
        and a.init
        and a.validator is None
        and a.converter is None
        and a.alias == a.name
        and not isinstance(a.default, attrs.Factory)  # type: ignore[arg-type]
        for a in attrs.fields(cls)
    )


def _field_error(
    errors: list[Exception] | None, exc: Exception, text: str, name: str, tp: object
) -> list[Exception]:
    """Record a field's error as cattrs' generated code does (same note, same order)."""
    exc.__notes__ = [*getattr(exc, "__notes__", []), AttributeValidationNote(text, name, tp)]  # type: ignore[attr-defined]
    if errors is None:
        errors = []
    errors.append(exc)
    return errors


def _direct_model_hook(
    cls: type,
    overrides: Mapping[str, Any],
    known: frozenset[str],
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None,
    fallback: Hook,
) -> Hook:
    """The hook of ``cls`` as one generated function: each field's hook, in field order,
    its value set on a new instance; unknown keys counted, not searched for.

    Same results and the same errors as cattrs' ``make_dict_structure_fn`` code wrapped
    in ``structure_model`` (``fallback``, still used for anything but a ``dict``), in
    one Python frame instead of three and without the intermediate dict and keyword
    call: this is where most of the time of a big answer goes.
    """
    name = cls.__name__
    qualname = cls.__qualname__
    glob: dict[str, Any] = {
        "__cl": cls,
        "__new": _NEW,
        "__fallback": fallback,
        "__prepare": prepare,
        "__error": _field_error,
        "__cve": ClassValidationError,
        "__known": known,
        "__ro": ReadOnlyDict,
    }
    required = sum(1 for a in attrs.fields(cls) if a.name != "extra" and a.default is attrs.NOTHING)
    lines = [
        f"def structure_{name}(o, _=None):",
        "  if o.__class__ is not dict:",
        "    return __fallback(o)",
    ]
    if prepare is not None:
        lines += ["  if 'id' not in o:", "    o = __prepare(o)"]
    lines += ["  self = __new(__cl)", "  errors = None", f"  found = {required}"]
    extra_default: object = attrs.NOTHING
    for index, a in enumerate(attrs.fields(cls)):
        if a.name == "extra":
            extra_default = a.default
            continue
        spec = overrides.get(a.name)
        field_hook: Any = spec.struct_hook if spec is not None else None
        if field_hook is None:  # the hook cattrs' generated code would call
            field_hook = converter.get_structure_hook(a.type, cache_result=False)
        json_key = _json_key(a)
        glob[f"__t{index}"] = a.type
        glob[f"__s{index}"] = _slot(cls, a.name).__set__  # type: ignore[attr-defined]
        value = f"o[{json_key!r}]"
        if field_hook is converter._structure_call:
            glob[f"__h{index}"] = a.type
            set_value = [f"__s{index}(self, __h{index}({value}))"]
        elif field_hook is _to_str or field_hook is _optional_str:
            # the common case inline, one call less per string (the hook decides the rest)
            glob[f"__h{index}"] = field_hook
            passes = (
                "v.__class__ is str" if field_hook is _to_str else "v is None or v.__class__ is str"
            )
            set_value = [
                f"v = {value}",
                f"__s{index}(self, v if {passes} else __h{index}(v, __t{index}))",
            ]
        elif getattr(field_hook, "parser", None) is not None:
            # an optional date, time, number: the parser inline, the hook for the rest
            glob[f"__h{index}"] = field_hook
            glob[f"__f{index}"] = field_hook.parser
            glob["__null"] = _NULL_STRINGS
            set_value = [
                f"v = {value}",
                "if v.__class__ is str and v not in __null:",
                "  try:",
                f"    v = __f{index}(v)",
                "  except (ValueError, ArithmeticError):",
                f"    v = __h{index}(v, __t{index})",
                "else:",
                f"  v = __h{index}(v, __t{index})",
                f"__s{index}(self, v)",
            ]
        elif getattr(field_hook, "table", None) is not None:
            # an interned reference: a hit in the table inline, the hook for the rest
            table, key_of, size = field_hook.table
            glob[f"__h{index}"] = field_hook
            glob[f"__tab{index}"] = table
            glob[f"__key{index}"] = key_of
            set_value = [
                f"v = {value}",
                "r = None",
                f"if v.__class__ is dict and len(v) == {size}:",
                "  try:",
                f"    r = __tab{index}.get(__key{index}(v))",
                "  except (KeyError, TypeError):",
                "    pass",
                "if r is None:",
                f"  r = __h{index}(v, __t{index})",
                f"__s{index}(self, r)",
            ]
        else:
            glob[f"__h{index}"] = field_hook
            set_value = [f"__s{index}(self, __h{index}({value}, __t{index}))"]
        text = f"Structuring class {qualname} @ attribute {a.name}"
        body = [
            "try:",
            *(f"  {line}" for line in set_value),
            "except Exception as e:",
            f"  errors = __error(errors, e, {text!r}, {a.name!r}, __t{index})",
        ]
        if a.default is attrs.NOTHING:
            lines += [f"  {line}" for line in body]
        else:
            glob[f"__d{index}"] = a.default
            lines += [f"  if {json_key!r} in o:", "    found += 1"]
            lines += [f"    {line}" for line in body]
            lines += ["  else:", f"    __s{index}(self, __d{index})"]
    glob["__no_extra"] = extra_default
    glob["__set_extra"] = _slot(cls, "extra").__set__  # type: ignore[attr-defined]
    lines += [
        f"  if errors is not None: raise __cve('While structuring ' + {name!r}, errors, __cl)",
        "  if found == len(o):",
        "    __set_extra(self, __no_extra)",
        "  else:",
        "    __set_extra(self, __ro({k: v for k, v in o.items() if k not in __known}))",
        "  return self",
    ]
    source = "\n".join(lines)
    filename = f"<worksection_async structure {cls.__module__}.{qualname}>"
    exec(compile(source, filename, "exec"), glob)  # noqa: S102  # generated from the model's fields
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    generated: Hook = glob[f"structure_{name}"]
    generated.reference = fallback  # type: ignore[attr-defined]  # the cattrs path, for tests
    return generated


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

    interned.table = (table, key_of, size)  # type: ignore[attr-defined]  # inlined by model hooks
    return interned


_INTERN_TABLES: list[dict[tuple[object, ...], object]] = []


def clear_intern_tables() -> None:
    """Empty the intern tables (user refs, project refs) and the page memo."""
    for table in _INTERN_TABLES:
        table.clear()
    _PAGES.clear()


converter.register_structure_hook_factory(_is_homogeneous_tuple, _make_tuple)
converter.register_structure_hook_factory(_is_list, _make_list)
converter.register_structure_hook_factory(_is_mapping, _make_mapping)
converter.register_structure_hook_factory(_is_optional, _make_optional)
_register_page_unions()
converter.register_structure_hook_factory(_is_model, lambda cls: _model_hook(cls))


# ------------------------------------------------------------------------ public API


_MAX_DETAILS: Final = 20
"""Errors a :class:`StructureError` message spells out; it counts the rest."""

_MAX_DETAIL_CHARS: Final = 300


def _describe(exc: BaseException, tp: object) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = str(exc) or type(exc).__name__
    if len(text) > _MAX_DETAIL_CHARS:
        text = text[:_MAX_DETAIL_CHARS] + "..."
    if tp is None or text.startswith("expected"):
        return text
    return f"{text} (expected {getattr(tp, '__name__', None) or tp})"


def _details(exc: BaseException) -> tuple[list[str], int]:
    """The first :data:`_MAX_DETAILS` errors in ``exc`` as ``"what @ $.path"``, and the
    number of errors in all.

    The walk of cattrs' ``transform_error``, without recursion (an error tree is as deep
    as the answer) and with bounded output (a hostile answer can hold many errors).
    """
    shown: list[str] = []
    total = 0
    stack: list[tuple[BaseException, str, object]] = [(exc, "$", None)]
    while stack:
        error, path, tp = stack.pop()
        if isinstance(error, (ClassValidationError, IterableValidationError)):
            with_notes, without = error.group_exceptions()
            below: list[tuple[BaseException, str, object]] = []
            for sub, note in with_notes:
                if isinstance(note, IterableValidationNote):
                    below.append((sub, f"{path}[{_show(note.index)}]", note.type))
                else:
                    below.append((sub, f"{path}.{note.name}", note.type))
            below.extend((sub, path, None) for sub in without)
            stack.extend(reversed(below))
            continue
        total += 1
        if len(shown) < _MAX_DETAILS:
            shown.append(f"{_describe(error, tp)} @ {path}")
    return shown, total


def _fail(cls: object, exc: Exception) -> StructureError:
    name = repr(cls) if typing.get_origin(cls) else getattr(cls, "__name__", repr(cls))
    shown, total = _details(exc)
    details = "; ".join(shown)
    if total > len(shown):
        details += f"; and {total - len(shown)} more"
    return StructureError(f"cannot structure {name}: {details}")


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
        raise _fail(cls, exc) from exc
    finally:
        _PAGES.clear()


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
