"""Field helpers shared by every model: the ``extra`` field, renamed keys, mappings.

Conventions every model follows:

* ``@attrs.frozen(kw_only=True)``: frozen, slotted, keyword-only values.
* Field names are the API's JSON keys; a key that is not a Python name (``from``) gets
  a trailing underscore and a :func:`key` rename the converter reads.
* Fields the API documents as always present are required; everything the docs or
  the official examples show as optional is ``X | None = None`` (``None`` = absent).
* ``extra`` keeps every key the model does not know, as the decoded JSON value.
* Models are hashable. Mapping and raw-JSON fields take part in equality but not in
  the hash (a ``dict`` has no hash), so two equal models always hash equally.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NoReturn, TypeVar

import attrs

from .._json import JSONValue

__all__ = [
    "JSON_KEY",
    "NO_EXTRA",
    "RAW",
    "RAW_JSON",
    "ReadOnlyDict",
    "extra_field",
    "json_object_field",
    "key",
    "mapping_field",
]

T = TypeVar("T")

JSON_KEY: Final = "worksection_async.json_key"
"""Metadata key naming the JSON key of a field whose name differs from it."""

RAW: Final = "worksection_async.raw"
"""Metadata key marking a field kept as decoded JSON: ``"json"`` (any value) or
``"object"`` (a JSON object; PHP's empty ``[]`` becomes ``{}``)."""

RAW_JSON: Final[Mapping[str, str]] = MappingProxyType({RAW: "json"})
"""Field metadata for raw JSON of an undocumented shape: use with ``hash=False``."""


class ReadOnlyDict(dict[str, JSONValue]):
    """A ``dict`` that refuses changes: the type of every model's ``extra``.

    Unlike ``MappingProxyType`` it pickles, copies and ``json.dumps`` like a dict.
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a model's extra is read-only; copy it with dict(model.extra)")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[type[ReadOnlyDict], tuple[dict[str, JSONValue]]]:
        return (ReadOnlyDict, (dict(self),))

    def __repr__(self) -> str:
        return repr(dict(self))


NO_EXTRA: Final[Mapping[str, JSONValue]] = ReadOnlyDict()
"""The shared, read-only ``extra`` of a model that had no unknown keys."""


def extra_field() -> Mapping[str, JSONValue]:
    """The ``extra`` field: unknown JSON keys, kept verbatim (read-only)."""
    return attrs.field(default=NO_EXTRA, hash=False)


def mapping_field(default: T) -> T:
    """A field holding a mapping or raw JSON: compared, but left out of the hash."""
    return attrs.field(default=default, hash=False)


def json_object_field(default: T) -> T:
    """A JSON object kept as decoded (``[]`` for empty becomes ``{}``); not hashed."""
    return attrs.field(default=default, hash=False, metadata={RAW: "object"})


def key(name: str, default: T) -> T:
    """A field whose JSON key is ``name`` (for keys that are not Python names)."""
    return attrs.field(default=default, metadata={JSON_KEY: name})
