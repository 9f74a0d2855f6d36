"""Custom fields: definitions and the values tasks and projects carry (§6.11)."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from .._json import JSONValue
from ._base import RAW_JSON, extra_field

__all__ = ["CustomField", "CustomFieldValue"]


@attrs.frozen(kw_only=True)
class CustomField:
    """A custom field definition (``get_project_custom_fields``, ``get_task_custom_fields``).

    Only the official SDKs document these; ``options`` is kept as raw JSON.
    """

    id: int
    name: str
    type: str | None = None
    descr: str | None = None
    options: JSONValue = attrs.field(default=None, hash=False, metadata=RAW_JSON)
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class CustomFieldValue:
    """A custom field's value on a task or project: ``{id, type, name, value}``.

    ``value`` is kept as raw JSON: its shape depends on the field's ``type``.
    """

    id: int
    name: str | None = None
    type: str | None = None
    value: JSONValue = attrs.field(default=None, hash=False, metadata=RAW_JSON)
    extra: Mapping[str, JSONValue] = extra_field()
