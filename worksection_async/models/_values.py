"""How each JSON value becomes a field's value: read this first.

The API sends numbers as strings, flags as ``"1"``, dates in two formats and PHP's
``[]`` for an empty object. A model field's type
decides the rule; :mod:`._converter` registers each rule as the cattrs structure
hook of its type and builds the model and container hooks around them.

* ``int``: ``"123"`` or ``123`` (ids, ``priority``, ``size``, ...): ``int(value)``.
* ``str``: a string; a number is accepted as its text.
* ``Decimal``: ``"75.17"``, ``"0,15"``, ``20400`` or ``12.5`` (``max_time``,
  ``max_money``, ``money``, ``rate``): exact, never a binary float; finite (no
  ``NaN``, ``Infinity``), exponent within ±1000 (``1e1001`` would print as a thousand
  digits).
* ``bool``: ``1``/``0``, ``"1"``/``"0"``, ``true``/``false``.
* ``datetime``: ``"YYYY-MM-DD HH:MM"`` (also ``DD.MM.YYYY HH:MM``), naive as sent.
* ``date``: ``"YYYY-MM-DD"`` (also ``DD.MM.YYYY``); ``time``: ``"HH:MM"``.
* ``timedelta``: ``"H:MM"`` (costs; hours may exceed 24), ``"HH:MM:SS"``
  (``get_timers``), or a number of seconds (``get_my_timer``).
* page values: ``"/project/P/"`` is a :class:`ProjectPage`, task links are
  :class:`TaskPage` / :class:`SubtaskPage` (a ``#com..`` anchor is dropped); a field
  typed ``Page | str`` keeps a string that is no page as it is.
* ``tuple[str, ...]`` / ``tuple[int, ...]``: a JSON list or a comma string
  (``"post_task,post_comment"``, ``"8522, 8530"``).
* a raw JSON object field: a ``dict``, or PHP's ``[]`` for an empty one.

An optional field that is missing, ``null``, ``""`` or a zero date (``0000-00-00``,
:data:`NULL_STRINGS`) is ``None``. A value that fits no rule raises ``TypeError`` or
``ValueError`` with a message starting "expected ...", and the value shortened
(:func:`show`): a hostile answer cannot make an error message huge.

Each rule is called ``rule(value)`` or, by cattrs, ``rule(value, type)``; the type is
ignored.

Pages repeat within an answer (a task's comments all carry its page): parsed pages
are memoized by link in :data:`PAGES`, which :func:`~._converter.structure` empties
when it returns (:mod:`._slicing` gives each call its own).
"""

from __future__ import annotations

import datetime as dt
import re
import reprlib
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from .._pages import Page, ProjectPage, SubtaskPage, TaskPage, parse_page

NULL_STRINGS: Final = frozenset(
    ("", "0000-00-00", "0000-00-00 00:00", "0000-00-00 00:00:00", "00.00.0000")
)
"""Strings an optional field reads as absent (``None``)."""

INTERN_LIMIT: Final = 16_384
"""Entries kept in the page memo and in each intern table of :mod:`._converter`; a
full table is emptied and refilled, so memory stays bounded in long-running processes."""

Hook = Callable[..., Any]
"""A rule, or any structure hook: ``hook(value)`` or ``hook(value, type)``."""

_REPR: Final = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 80
_REPR.maxlevel = 2


def show(value: object) -> str:
    """A short ``repr`` for error messages: a hostile answer must not make them huge."""
    try:
        return _REPR.repr(value)
    except Exception:  # an int too long to print (sys.set_int_max_str_digits)
        return f"<{type(value).__name__}>"


# ------------------------------------------------------------------------ scalars


def to_str(value: object, _: object = None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {show(value)}")


def optional_str(value: object, _: object = None) -> str | None:
    if value is None or value.__class__ is str:
        return value
    return to_str(value)


def to_bool(value: object, _: object = None) -> bool:
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
    raise ValueError(f"expected a 0/1 flag, got {show(value)}")


_MAX_DECIMAL_EXPONENT: Final = 1000


def _finite(number: Decimal, value: object) -> Decimal:
    if number.is_finite() and -_MAX_DECIMAL_EXPONENT <= number.adjusted() <= _MAX_DECIMAL_EXPONENT:
        return number
    # NaN and sNaN would make the model unhashable (sNaN) or unequal to itself
    raise ValueError(f"expected a finite number, exponent within ±1000, got {show(value)}")


def to_decimal(value: object, _: object = None) -> Decimal:
    if isinstance(value, str):
        try:
            return _finite(Decimal(value), value)
        except InvalidOperation:
            pass
        try:
            # decimal comma, as the API accepts it on input ("0,15")
            return _finite(Decimal(value.replace(",", ".", 1)), value)
        except InvalidOperation:
            raise ValueError(f"expected a number, got {show(value)}") from None
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {show(value)}")
    if isinstance(value, (int, Decimal)):
        return _finite(Decimal(value), value)
    if isinstance(value, float):
        # the shortest decimal that reads back as the float
        return _finite(Decimal(repr(value)), value)
    raise TypeError(f"expected a number, got {show(value)}")


_DATETIME_FORMATS: Final = ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y")


def to_datetime(value: object, _: object = None) -> dt.datetime:
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
        raise ValueError(f"expected 'YYYY-MM-DD HH:MM', got {show(value)}")
    if isinstance(value, dt.datetime):
        return value
    raise TypeError(f"expected a date-time string, got {show(value)}")


def to_date(value: object, _: object = None) -> dt.date:
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
        raise ValueError(f"expected 'YYYY-MM-DD', got {show(value)}")
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise TypeError(f"expected a date string, got {show(value)}")


def to_time(value: object, _: object = None) -> dt.time:
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected 'HH:MM', got {show(value)}") from None
    if isinstance(value, dt.time):
        return value
    raise TypeError(f"expected a time string, got {show(value)}")


def to_timedelta(value: object, _: object = None) -> dt.timedelta:
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
        raise ValueError(f"expected 'H:MM', 'HH:MM:SS' or seconds, got {show(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    if isinstance(value, dt.timedelta):
        return value
    raise TypeError(f"expected a duration, got {show(value)}")


# -------------------------------------------------------------------------- pages

PAGES: dict[str, Page] = {}
"""Pages parsed by the current call, by link without its ``#`` anchor."""


# The links the API sends, /project/P/, /project/P/T/ or /project/P/T/S/, read with one
# pattern: 50 ms for 30,000 links, against 75 ms through parse_page (which reads URLs
# and queries too, and gives the same pages for these).
_LINK: Final = re.compile(r"/project/([1-9]\d{0,17})/(?:([1-9]\d{0,17})/(?:([1-9]\d{0,17})/)?)?")


def _page(text: str) -> Page:
    link = text.partition("#")[0]
    page = PAGES.get(link)
    if page is None:
        match = _LINK.fullmatch(link)
        if match is None:
            page = parse_page(text)
        elif match[2] is None:
            page = ProjectPage(int(match[1]))
        elif match[3] is None:
            page = TaskPage(int(match[1]), int(match[2]))
        else:
            page = SubtaskPage(int(match[1]), int(match[2]), int(match[3]))
        if len(PAGES) >= INTERN_LIMIT:
            PAGES.clear()
        PAGES[link] = page
    return page


def to_project_page(value: object, _: object = None) -> ProjectPage:
    if isinstance(value, str):
        page = _page(value)
        if isinstance(page, ProjectPage):
            return page
    elif isinstance(value, ProjectPage):
        return value
    raise ValueError(f"expected a project page /project/P/, got {show(value)}")


def to_task_page(value: object, _: object = None) -> TaskPage | SubtaskPage:
    if isinstance(value, str):
        page = _page(value)
        if not isinstance(page, ProjectPage):
            return page
    elif isinstance(value, (TaskPage, SubtaskPage)):
        return value
    raise ValueError(f"expected a task page /project/P/T/, got {show(value)}")


def to_page_or_text(value: object, _: object = None) -> Page | str:
    if isinstance(value, (ProjectPage, TaskPage, SubtaskPage)):
        return value
    text = to_str(value)
    try:
        return _page(text)
    except ValueError:
        return text


# ------------------------------------------------------------ lists, raw objects


def _split_commas(value: object) -> list[object]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    raise TypeError(f"expected a list or a comma string, got {show(value)}")


def _to_int(value: object) -> int:
    if isinstance(value, (str, int)):
        return int(value)
    raise TypeError(f"expected an integer, got {show(value)}")


def to_str_tuple(value: object, _: object = None) -> tuple[str, ...]:
    return tuple(map(to_str, _split_commas(value)))


def to_int_tuple(value: object, _: object = None) -> tuple[int, ...]:
    return tuple(map(_to_int, _split_commas(value)))


def to_json_object(value: object, _: object = None) -> object:
    if value.__class__ is dict:
        return value
    if value == []:  # PHP encodes an empty associative array as []
        return {}
    raise TypeError(f"expected a JSON object, got {show(value)}")
