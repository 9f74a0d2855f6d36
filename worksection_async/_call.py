"""``Call``: one API action with its page and parameters, before signing.

A call is what the resource layer builds and the transport signs. Parameter values are
normalised once, here, into the API's wire strings:

* ``str`` stays as it is, ``int``/``float``/``Decimal`` become their decimal text,
* ``bool`` becomes ``"1"``/``"0"`` (the API's flags),
* ``datetime.date`` becomes ``DD.MM.YYYY`` (the API's request date format),
* a list or tuple of strings is a *repeated* parameter (``todo[]=a&todo[]=b``);
  the API's comma lists (emails, tags, ``extra``) are plain comma strings,
* ``None`` means "not sent".

Whatever cannot be sent faithfully is refused here, before a quota token is taken or an
event fires, with a ``ValueError``/``TypeError`` naming the parameter: NaN and
infinities, numbers whose decimal text would exceed ``MAX_NUMBER_DIGITS`` digits
(``Decimal("1e999999")`` is a million digits), and text that is not valid UTF-8 (lone
surrogates such as ``"\\ud800"``) in values, list items, structured JSON and file names.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import IO, TypeAlias

import attrs

from ._json import JSONValue
from ._pages import Page, ProjectPage, SubtaskPage, TaskPage, parse_page

__all__ = [
    "MAX_NUMBER_DIGITS",
    "Call",
    "FileContent",
    "JSONParam",
    "ParamValue",
    "UploadFile",
    "WireValue",
    "check_text",
    "coerce_page",
    "plain_decimal",
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

ParamValue: TypeAlias = (
    str | int | float | Decimal | bool | dt.date | Sequence[str] | JSONParam | None
)
"""What a caller may pass as a parameter value (see the module docstring)."""

FileContent: TypeAlias = bytes | IO[bytes]

_ACTION = re.compile(r"[a-z][a-z0-9_]*")
_VALID_ACTIONS: set[str] = set()
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")

MAX_NUMBER_DIGITS = 400
"""The most digits a number parameter may be sent with. Every finite ``float`` fits
(the largest is 309 digits); a ``Decimal`` or ``int`` beyond it is refused."""

_INT_LIMIT = 10**MAX_NUMBER_DIGITS


def check_text(label: str, text: str) -> None:
    """Refuse text that cannot be encoded as UTF-8 (a lone surrogate such as ``\\ud800``)."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{label}: contains a lone surrogate {text[exc.start]!r} at index {exc.start}, "
            "which is not valid Unicode text and cannot be sent as UTF-8"
        ) from None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-12:]}"


def plain_decimal(label: str, value: Decimal) -> str:
    """A finite ``Decimal`` as exact plain decimal text (``12.5``, ``100``, never
    ``1E+2``), trailing fractional zeros dropped; NaN, infinities and numbers longer than
    ``MAX_NUMBER_DIGITS`` digits are refused before anything is expanded."""
    if not value.is_finite():
        raise ValueError(f"{label} must be a finite number, got {_short(value)}")
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    if exponent >= 0:
        length = len(digits) + exponent
    else:  # "123.45" has 5 digits, "0.001" has 4
        length = len(digits) if len(digits) > -exponent else 1 - exponent
    if length > MAX_NUMBER_DIGITS:
        raise ValueError(
            f"{label}: {_short(value)} would be sent as a number of {length:,} digits; "
            f"at most {MAX_NUMBER_DIGITS} are allowed"
        )
    if not value:
        return "0"
    text = format(value, "f")  # exact: no precision given, so no context rounding
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _check_json(key: str, value: JSONParam) -> None:
    try:
        json.dumps(value.value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"parameter {key!r}: the JSON value contains a lone surrogate, which is not "
            "valid Unicode text and cannot be sent as UTF-8"
        ) from exc
    except ValueError as exc:  # NaN, infinities, a circular reference
        raise ValueError(f"parameter {key!r}: not valid JSON ({exc})") from None
    except TypeError as exc:
        raise TypeError(f"parameter {key!r}: not JSON-serialisable ({exc})") from None
    except RecursionError:
        raise ValueError(f"parameter {key!r}: the JSON value is nested too deeply") from None


def _sendable_text(instance: UploadFile, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"UploadFile {attribute.name} must be str, got {type(value).__name__}")
    check_text(f"UploadFile {attribute.name}", value)


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

    field: str = attrs.field(validator=_sendable_text)
    filename: str = attrs.field(validator=_sendable_text)
    content: FileContent = attrs.field(repr=False, validator=_resendable)
    content_type: str = "application/octet-stream"


def render_value(key: str, value: ParamValue) -> WireValue:
    """Normalise one parameter value into its wire form (see module docstring)."""
    if isinstance(value, str):
        if not value.isascii():
            check_text(f"parameter {key!r}", value)
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        if not -_INT_LIMIT < value < _INT_LIMIT:
            raise ValueError(
                f"parameter {key!r}: an integer of more than {MAX_NUMBER_DIGITS} digits"
            )
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"parameter {key!r} must be a finite number, got {value!r}")
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, Decimal):
        return plain_decimal(f"parameter {key!r}", value)
    if isinstance(value, JSONParam):
        _check_json(key, value)
        return value
    if isinstance(value, dt.datetime):
        raise TypeError(
            f"parameter {key!r}: the API takes dates, not datetimes; pass {value.date()!r}"
        )
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, (list, tuple)):
        items = tuple(value)
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise TypeError(
                    f"parameter {key!r}: list items must be str, got {type(item).__name__}"
                )
            if not item.isascii():
                check_text(f"parameter {key!r} item {index}", item)
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
            if not isinstance(key, str) or not _KEY.fullmatch(key):
                raise ValueError(f"invalid parameter name: {key!r}")
            if key in ("action", "hash", "page"):
                raise ValueError(f"parameter {key!r} is set by the client, not by the caller")
            if value is None:
                continue
            rendered.append((key, render_value(key, value)))
        return cls(action, coerce_page(page), tuple(rendered), tuple(files))
