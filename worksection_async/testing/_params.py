"""Request parameters: from the query string and from any body the clients send.

The fake accepts parameters in the query string, in an ``application/x-www-form-urlencoded``
body, in a JSON object body (the HMAC signer and the official SDK) and as multipart form
fields (files as ``attach[n]`` or ``files[]`` parts). Every parser here is total: garbage
in gives fewer parameters, never an exception.

Keys are normalised the PHP way: ``todo[]`` and ``attach[3]`` are the repeated key
``todo``/``attach``, ``options[allow_close]`` is ``options.allow_close``; a JSON object
value is flattened the same way (``{"options": {"allow_close": 1}}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl

import attrs

from .._json import JSONValue

__all__ = ["BodyKind", "Params", "UploadedPart", "parse_params"]

_BRACKET = re.compile(r"(?P<base>[^\[\]]+)\[(?P<inner>[^\[\]]*)\]")
_DISPOSITION_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_BOUNDARY = re.compile(r'boundary\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]+)', re.IGNORECASE)

BodyKind = str
"""``"none"``, ``"form"``, ``"json"``, ``"multipart"`` or ``"other"``."""


@attrs.frozen
class UploadedPart:
    """A file part of a multipart body."""

    field: str
    filename: str
    content: bytes = attrs.field(repr=False)
    content_type: str = "application/octet-stream"


def normalise_key(key: str) -> str:
    """``todo[]`` -> ``todo``, ``attach[2]`` -> ``attach``, ``a[b]`` -> ``a.b``."""
    match = _BRACKET.fullmatch(key)
    if match is None:
        return key
    inner = match["inner"]
    if inner == "" or inner.isdigit():
        return match["base"]
    return f"{match['base']}.{inner}"


def _scalar_text(value: JSONValue) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


class Params:
    """Parameters of one request: string values (JSON values for JSON bodies)."""

    def __init__(self) -> None:
        self._values: dict[str, list[JSONValue]] = {}
        self.files: list[UploadedPart] = []

    def add(self, key: str, value: JSONValue) -> None:
        name = normalise_key(key)
        self._values.setdefault(name, []).append(value)
        if isinstance(value, dict):
            for sub, sub_value in value.items():
                if not isinstance(sub_value, (dict, list)):
                    self._values.setdefault(f"{name}.{sub}", []).append(sub_value)

    def extend(self, pairs: Iterable[tuple[str, JSONValue]]) -> None:
        for key, value in pairs:
            self.add(key, value)

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def keys(self) -> list[str]:
        return list(self._values)

    def raw(self, key: str) -> JSONValue:
        """The last value given for ``key`` as it arrived (``None`` if absent)."""
        values = self._values.get(key)
        return values[-1] if values else None

    def text(self, key: str) -> str | None:
        """The last value as text (a JSON list becomes a comma list); ``None`` if absent."""
        value = self.raw(key)
        if isinstance(value, list):
            parts = [_scalar_text(item) for item in value]
            return ",".join(p for p in parts if p is not None)
        return _scalar_text(value)

    def filled(self, key: str) -> str | None:
        """The stripped text value, or ``None`` when absent or blank."""
        value = self.text(key)
        if value is None or not value.strip():
            return None
        return value.strip()

    def items(self, key: str) -> list[str]:
        """Every value of a repeated key (``todo[]``) or a JSON list, not comma-split."""
        out: list[str] = []
        for value in self._values.get(key, ()):
            seq = value if isinstance(value, list) else [value]
            for item in seq:
                text = _scalar_text(item)
                if text is not None and text.strip():
                    out.append(text.strip())
        return out

    def csv(self, key: str) -> list[str]:
        """A comma list (``"a, b"``), a repeated key or a JSON list: stripped, no blanks."""
        parts = (part.strip() for item in self.items(key) for part in item.split(","))
        return [part for part in parts if part]

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._values.items() if k not in ("hash", "access_token")}
        return f"Params({shown!r}, files={len(self.files)})"


def _parse_json_object(body: bytes) -> list[tuple[str, JSONValue]]:
    try:
        decoded: JSONValue = json.loads(body)
    except (ValueError, RecursionError):
        return []
    if not isinstance(decoded, dict):
        return []
    return list(decoded.items())


def _unquote_param(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _parse_multipart(
    body: bytes, content_type: str
) -> tuple[list[tuple[str, JSONValue]], list[UploadedPart]]:
    match = _BOUNDARY.search(content_type)
    if match is None:
        return [], []
    boundary = _unquote_param(match.group(1)).encode("latin-1", errors="replace")
    if not boundary:
        return [], []
    fields: list[tuple[str, JSONValue]] = []
    files: list[UploadedPart] = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n").removeprefix(b"\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = chunk.partition(b"\n\n")
            if not sep:
                continue
        # Only the line break before the next boundary belongs to the framing; a file
        # that ends with a newline keeps it.
        content = content[:-2] if content.endswith(b"\r\n") else content.removesuffix(b"\n")
        disposition = ""
        part_type = "application/octet-stream"
        for line in head.decode("utf-8", errors="replace").splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value
            elif name.strip().lower() == "content-type":
                part_type = value.strip() or part_type
        params = {k.lower(): _unquote_param(v) for k, v in _DISPOSITION_PARAM.findall(disposition)}
        field = params.get("name")
        if field is None:
            continue
        filename = params.get("filename")
        if filename is None and "filename*" in params:
            filename = params["filename*"].rpartition("'")[2]
        if filename is not None:
            files.append(UploadedPart(field, filename, content, part_type))
        else:
            fields.append((field, content.decode("utf-8", errors="replace")))
    return fields, files


def parse_params(raw_query: str, content_type: str, body: bytes) -> tuple[Params, BodyKind]:
    """Parameters from a raw query string and a body; returns them and the body's kind."""
    params = Params()
    params.extend(parse_qsl(raw_query, keep_blank_values=True, errors="replace"))
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params, "none"
    if kind == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", errors="replace")
        params.extend(parse_qsl(text, keep_blank_values=True, errors="replace"))
        return params, "form"
    if kind == "multipart/form-data":
        fields, files = _parse_multipart(body, content_type)
        params.extend(fields)
        params.files.extend(files)
        return params, "multipart"
    if "json" in kind or (not kind and body.lstrip()[:1] == b"{"):
        params.extend(_parse_json_object(body))
        return params, "json"
    return params, "other"
