"""``Call``: one API action with its page and parameters, before signing.

A call is what the resource layer builds and the transport signs. Parameter values are
normalised once, here, into the API's wire strings:

* ``str`` stays as it is, ``int``/``float`` become their decimal text,
* ``bool`` becomes ``"1"``/``"0"`` (the API's flags),
* ``datetime.date`` becomes ``DD.MM.YYYY`` (the API's request date format),
* a list or tuple of strings is a *repeated* parameter (``todo[]=a&todo[]=b``);
  the API's comma lists (emails, tags, ``extra``) are plain comma strings,
* ``None`` means "not sent".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import IO, TypeAlias

import attrs

from ._json import JSONValue
from ._pages import Page, ProjectPage, SubtaskPage, TaskPage, parse_page

__all__ = [
    "Call",
    "FileContent",
    "JSONParam",
    "ParamValue",
    "UploadFile",
    "WireValue",
    "coerce_page",
]


@attrs.frozen
class JSONParam:
    """A parameter whose value is structured JSON (``files`` descriptors, schedules).

    Query-string dialects send it as compact JSON text; JSON-body dialects embed it.
    """

    value: JSONValue


WireValue: TypeAlias = str | tuple[str, ...] | JSONParam
"""A normalised parameter: one string, the items of a repeated ``key[]`` parameter, or
structured JSON."""

ParamValue: TypeAlias = str | int | float | bool | dt.date | Sequence[str] | JSONParam | None
"""What a caller may pass as a parameter value (see the module docstring)."""

FileContent: TypeAlias = bytes | IO[bytes]

_ACTION = re.compile(r"[a-z][a-z0-9_]*")
_VALID_ACTIONS: set[str] = set()
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def _resendable(instance: UploadFile, attribute: object, value: FileContent) -> None:
    if isinstance(value, bytes):
        return
    read = getattr(value, "read", None)
    seekable = getattr(value, "seekable", None)
    if not callable(read):
        raise TypeError(
            f"UploadFile {instance.filename!r}: content must be bytes or a binary file, "
            f"got {type(value).__name__}"
        )
    if not callable(seekable) or not seekable():
        # httpx rewinds a file to send it again; a pipe or socket would go out empty
        # on a retry after error 20, and the upload would be silently lost.
        raise ValueError(
            f"UploadFile {instance.filename!r}: the file cannot seek, so it could not be "
            "sent again on a retry; pass bytes or a seekable file"
        )


@attrs.frozen
class UploadFile:
    """One file part of a multipart request (``attach[n]`` or ``files[]``).

    ``content`` is bytes or a seekable binary file (it is rewound and re-sent if the
    call is retried after error 20).
    """

    field: str
    filename: str
    content: FileContent = attrs.field(repr=False, validator=_resendable)
    content_type: str = "application/octet-stream"


def render_value(key: str, value: ParamValue) -> WireValue:
    """Normalise one parameter value into its wire form (see module docstring)."""
    if isinstance(value, (str, JSONParam)):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, dt.datetime):
        raise TypeError(
            f"parameter {key!r}: the API takes dates, not datetimes; pass {value.date()!r}"
        )
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, (list, tuple)):
        items = tuple(value)
        for item in items:
            if not isinstance(item, str):
                raise TypeError(
                    f"parameter {key!r}: list items must be str, got {type(item).__name__}"
                )
        return items
    raise TypeError(f"parameter {key!r}: unsupported value type {type(value).__name__}")


def coerce_page(page: Page | str | None) -> Page | None:
    """Accept a page value, a page string or URL, or ``None``."""
    if page is None or isinstance(page, (ProjectPage, TaskPage, SubtaskPage)):
        return page
    if isinstance(page, str):
        return parse_page(page)
    raise TypeError(f"page must be a ProjectPage, TaskPage, SubtaskPage or str, got {page!r}")


@attrs.frozen
class Call:
    """An API action, the page it is about (if any) and its normalised parameters."""

    action: str
    page: Page | None = None
    params: tuple[tuple[str, WireValue], ...] = ()
    files: tuple[UploadFile, ...] = ()

    @classmethod
    def build(
        cls,
        action: str,
        page: Page | str | None = None,
        params: Mapping[str, ParamValue] | None = None,
        files: Sequence[UploadFile] = (),
    ) -> Call:
        """Validate and normalise; raises ``ValueError``/``TypeError`` before any I/O."""
        if not isinstance(action, str) or action not in _VALID_ACTIONS:
            if not isinstance(action, str) or not _ACTION.fullmatch(action):
                raise ValueError(f"invalid action name: {action!r}")
            if len(_VALID_ACTIONS) < 256:  # the API has 63: remember them, not junk
                _VALID_ACTIONS.add(action)
        rendered: list[tuple[str, WireValue]] = []
        for key, value in (params or {}).items():
            if not _KEY.fullmatch(key):
                raise ValueError(f"invalid parameter name: {key!r}")
            if key in ("action", "hash", "page"):
                raise ValueError(f"parameter {key!r} is set by the client, not by the caller")
            if value is None:
                continue
            rendered.append((key, render_value(key, value)))
        return cls(action, coerce_page(page), tuple(rendered), tuple(files))
