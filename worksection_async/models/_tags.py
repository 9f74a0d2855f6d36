"""Tags (statuses and labels) and tag groups."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from .._json import JSONValue
from ._base import extra_field

__all__ = ["Tag", "TagGroup"]


@attrs.frozen(kw_only=True)
class TagGroup:
    """A tag group ("set"): ``type`` "status" or "label" ("" as some examples show),
    ``access`` "public" or "private".

    As a tag's ``group`` it also carries ``id_group`` (the set's kind id, negative for
    the built-in project sets).
    """

    id: int
    title: str
    type: str | None = None
    access: str | None = None
    id_group: int | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class Tag:
    """A task or project tag: ``{id, title, group}`` (``add_*_tags`` omit ``group``)."""

    id: int
    title: str
    group: TagGroup | None = None
    extra: Mapping[str, JSONValue] = extra_field()
