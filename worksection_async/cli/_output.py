"""Records out: models unstructured to JSON, written as NDJSON, JSON or CSV.

Every format is a start, one piece of text per record and an end, so that a file can be
appended to one whole record at a time and closed (or reopened) at any record:

* ``ndjson``: one compact JSON object per line; no start, no end;
* ``json``: an array with one record per line: ``[``, the records separated by ``,``
  and a line break, ``]``;
* ``csv``: a header row, then one row per record. Columns are ``--fields`` or the
  model's fields; nested values (a user, a list of comments) are compact JSON in their
  cell, and keys the model does not know go, as one JSON object, in an ``extra``
  column: nothing is left out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, get_args

import attrs

from ..models import unstructure
from ..models._base import JSON_KEY

__all__ = ["FORMATS", "Format", "RecordFormat", "model_columns", "parse_fields", "to_record"]

Format = Literal["ndjson", "json", "csv"]
FORMATS: Final[tuple[str, ...]] = get_args(Format)

EXTRA_COLUMN: Final = "extra"


def to_record(model: object) -> dict[str, Any]:
    """A model as JSON-ready data (``models.unstructure``)."""
    data = unstructure(model)
    if not isinstance(data, dict):  # pragma: no cover - every model is an object
        raise TypeError(f"expected a model, got {type(model).__name__}")
    return data


def parse_fields(text: str | None) -> tuple[str, ...] | None:
    """``--fields id,name,user_to.email``: the field paths, or ``None`` for all."""
    if text is None:
        return None
    fields = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not fields:
        raise ValueError("--fields names no field; give them like id,name,user_to.email")
    return fields


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


def select(record: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The ``fields`` of ``record`` (dotted paths reach into objects and lists; a
    field the record does not have is ``null``), keyed by the paths as given."""
    return {field: _lookup(record, field) for field in fields}


def model_columns(cls: type) -> tuple[str, ...]:
    """The JSON keys of a model's fields, in order, and ``extra`` last."""
    keys = tuple(
        field.metadata.get(JSON_KEY, field.name)
        for field in attrs.fields(cls)
        if field.name != "extra"
    )
    return (*keys, EXTRA_COLUMN)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return _compact(value)


@attrs.frozen
class RecordFormat:
    """How records are laid out in one format (see the module docstring).

    ``fields`` selects dotted paths; CSV needs ``columns`` (the fields, or the
    model's columns) fixed before the first record.
    """

    format: Format
    fields: tuple[str, ...] | None = None
    columns: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.format == "csv" and not (self.fields or self.columns):
            raise ValueError("CSV needs its columns")

    def start(self) -> str:
        if self.format == "json":
            return "[\n"
        if self.format == "csv":
            return self._row(list(self.fields or self.columns))
        return ""

    def record(self, index: int, data: Mapping[str, Any]) -> str:
        """The text of record number ``index`` (0-based), separator included."""
        if self.fields is not None:
            data = select(data, self.fields)
        if self.format == "ndjson":
            return _compact(data) + "\n"
        if self.format == "json":
            return ("" if index == 0 else ",\n") + _compact(data)
        return self._row(self._cells(data))

    def end(self, count: int) -> str:
        if self.format == "json":
            return "\n]\n" if count else "]\n"
        return ""

    def _cells(self, data: Mapping[str, Any]) -> list[str]:
        if self.fields is not None:
            return [_cell(data.get(field)) for field in self.fields]
        known = [column for column in self.columns if column != EXTRA_COLUMN]
        cells = [_cell(data.get(column)) for column in known]
        if EXTRA_COLUMN in self.columns:
            rest = {key: value for key, value in data.items() if key not in known}
            cells.append(_compact(rest) if rest else "")
        return cells

    @staticmethod
    def _row(cells: list[str]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(cells)
        return buffer.getvalue()
