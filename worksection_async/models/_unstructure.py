"""Models back to plain JSON data: :func:`unstructure`, the inverse of ``structure``.

A second cattrs converter, dispatching on the runtime class of each value:

* a model becomes a ``dict`` keyed by the API's JSON keys (``from_`` is ``"from"``);
  fields that are ``None`` (absent) are left out; the keys kept in ``extra`` are
  merged back in (a field of the model wins over an ``extra`` key of the same name);
  ``extra`` and the fields kept as raw JSON are passed on as they are (shared, not
  copied: they are plain JSON already);
* ``date`` is ``"YYYY-MM-DD"``, ``datetime`` ``"YYYY-MM-DD HH:MM"`` (with ``:SS`` when
  there are seconds, as ``isoformat(" ")``), ``time`` ``"HH:MM"`` (or ``"HH:MM:SS"``);
* ``timedelta`` is ``"H:MM"`` or ``"H:MM:SS"`` (hours may exceed 24; a leading ``-``
  when negative; seconds as a decimal string if it has microseconds);
* ``Decimal`` is its exact string (``"75.17"``); pages are their paths;
* tuples are lists; mapping keys are strings (ids in decimal, dates in ISO form).

The result is JSON-ready (``json.dumps`` takes it as is) and structures back into an
equal model: ``structure(unstructure(model), type(model)) == model``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

import attrs
import cattrs

from .._json import JSONValue
from .._pages import ProjectPage, SubtaskPage, TaskPage
from ._base import JSON_KEY, RAW

__all__ = ["unstructure"]

_converter: Final = cattrs.Converter()


def unstructure(obj: object) -> Any:
    """Plain JSON data for a model, a list of models, or any value a model holds.

    >>> from worksection_async.models import UserRef
    >>> unstructure(UserRef(id=2, email="ANY", name="Anyone"))
    {'id': 2, 'email': 'ANY', 'name': 'Anyone'}

    See the module docstring for the rules; ``structure`` reads the result back into
    an equal model.
    """
    return _converter.unstructure(obj)


def _datetime(value: dt.datetime) -> str:
    precise = value.second or value.microsecond
    return value.isoformat(" ", "auto" if precise else "minutes")


def _time(value: dt.time) -> str:
    precise = value.second or value.microsecond
    return value.isoformat("auto" if precise else "minutes")


def _timedelta(value: dt.timedelta) -> str:
    if value.microseconds:
        return str(
            Decimal(value.days * 86_400 + value.seconds) + Decimal(value.microseconds) / 10**6
        )
    sign = "-" if value < dt.timedelta(0) else ""
    seconds = abs(value.days * 86_400 + value.seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02}:{seconds:02}" if seconds else f"{sign}{hours}:{minutes:02}"


def _key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (dt.date, dt.datetime)):
        return key.isoformat()
    return str(key)


@functools.cache
def _hook(cls: type) -> Callable[[Any], Any]:
    return _converter.get_unstructure_hook(cls)


def _mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {_key(key): _hook(item.__class__)(item) for key, item in value.items()}


def _sequence(value: tuple[Any, ...] | list[Any]) -> list[Any]:
    return [_hook(item.__class__)(item) for item in value]


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, JSON key, raw) of each field of a model but ``extra``."""
    return tuple(
        (field.name, field.metadata.get(JSON_KEY, field.name), RAW in field.metadata)
        for field in attrs.fields(cls)
        if field.name != "extra"
    )


def _model(obj: Any) -> dict[str, JSONValue]:
    # One Python frame per level of models (the hooks are called directly), so every
    # answer structure() accepts can be unstructured; raw JSON (``extra``, fields kept
    # as decoded) is already plain data and is passed on as it is, not walked.
    out: dict[str, JSONValue] = {}
    for name, key, raw in _fields(obj.__class__):
        value = getattr(obj, name)
        if value is not None:
            out[key] = value if raw else _hook(value.__class__)(value)
    extra = getattr(obj, "extra", None)
    if extra:
        for key, value in extra.items():
            out.setdefault(key, value)
    return out


def _is_page(cls: type) -> bool:
    return cls in (ProjectPage, TaskPage, SubtaskPage)


def _is_model(cls: type) -> bool:
    return isinstance(cls, type) and attrs.has(cls) and not _is_page(cls)


def _is_mapping(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, Mapping)


def _is_sequence(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, (tuple, list))


_converter.register_unstructure_hook(dt.datetime, _datetime)  # before date: a subclass
_converter.register_unstructure_hook(dt.date, dt.date.isoformat)
_converter.register_unstructure_hook(dt.time, _time)
_converter.register_unstructure_hook(dt.timedelta, _timedelta)
_converter.register_unstructure_hook(Decimal, str)
_converter.register_unstructure_hook_func(_is_page, lambda page: page.path)
_converter.register_unstructure_hook_func(_is_mapping, _mapping)
_converter.register_unstructure_hook_func(_is_sequence, _sequence)
_converter.register_unstructure_hook_func(_is_model, _model)
