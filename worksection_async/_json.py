"""The JSON value type: what ``json.loads`` can return."""

from __future__ import annotations

from typing import TypeAlias, Union

__all__ = ["JSONObject", "JSONValue"]

JSONValue: TypeAlias = Union[
    None, bool, int, float, str, list["JSONValue"], dict[str, "JSONValue"]
]
JSONObject: TypeAlias = dict[str, JSONValue]
