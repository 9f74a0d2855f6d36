"""Typed builders for the ``filter`` grammar of ``search_tasks`` and ``get_costs``.

The API takes a small query language::

    (name has 'Report' or name has 'Approval') and (dateend>'25.05.2021' and dateend<'31.05.2021')

Build it from typed fields instead of pasting strings::

    from datetime import date
    from worksection_async import TaskFilter as F

    query = (F.name.has("Report") | F.name.has("Approval")) & (
        (F.dateend > date(2021, 5, 25)) & (F.dateend < date(2021, 5, 31))
    )
    str(query)  # the text above

Python's ``&`` and ``|`` bind tighter than comparisons: put each date comparison in
parentheses (``q & (F.dateend > day)``); forgetting them raises a ``TypeError`` that
says so.

Fields and operators (the server rejects anything else, with a misleading "Field is
required: filter"):

=====================  =======================================  ==================
:data:`TaskFilter`     ``id``, ``project``, ``parent`` (ints)    ``==``, ``.in_()``
(``search_tasks``)     ``name`` (text)                           ``==``, ``.has()``
                       ``dateadd``, ``datestart``, ``dateend``,  ``==``, ``!=``,
                       ``dateclose`` (dates)                     ``<``, ``<=``, ``>``,
                                                                 ``>=``
:data:`CostFilter`     ``id`` (the task), ``project`` (ints)     ``==``, ``.in_()``
(``get_costs``)        ``comment`` (text)                        ``==``, ``.has()``
                       ``dateadd`` (date)                        as above
=====================  =======================================  ==================

Canonical rendering, following the API's examples: ``project = 2456``,
``id in (1234, 1240)``, ``name = 'Task Report'``, ``name has 'Report'``, and date
comparisons without spaces, ``dateend>'25.05.2021'``. Conditions combine with
lowercase ``and`` / ``or``; a group inside another is always parenthesised, so the
text never depends on the server's (undocumented) precedence of ``and`` over ``or``.

Nothing is dropped or escaped silently: an unsupported field raises
:class:`UnsupportedFieldError` (a ``ValueError``) naming it, and a text value with a
single quote raises ``ValueError`` (the grammar has no escape).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, Final, Literal, NoReturn

import attrs

from ._pages import ProjectPage, SubtaskPage, TaskPage

__all__ = [
    "CostFilter",
    "DateField",
    "Filter",
    "IntField",
    "TaskFilter",
    "TextField",
    "UnsupportedFieldError",
    "all_of",
    "any_of",
]


class UnsupportedFieldError(ValueError, AttributeError):
    """A filter names a field the action cannot filter on (``priority``, ``status``...).

    A ``ValueError``; also an ``AttributeError``, so ``hasattr(TaskFilter, "status")``
    is simply ``False``.
    """


class Filter:
    """A filter expression: render it with ``str()``, combine with ``&`` and ``|``."""

    __slots__ = ()

    def __and__(self, other: Filter) -> Filter:
        return _combine("and", self, other)

    def __rand__(self, other: Filter) -> Filter:
        return _combine("and", other, self)

    def __or__(self, other: Filter) -> Filter:
        return _combine("or", self, other)

    def __ror__(self, other: Filter) -> Filter:
        return _combine("or", other, self)

    def __bool__(self) -> NoReturn:
        raise TypeError(
            "a filter has no truth value: combine conditions with & and |, not "
            "and/or, and write date ranges as (F.dateend > a) & (F.dateend < b)"
        )

    def __str__(self) -> str:  # pragma: no cover - every concrete filter overrides it
        raise NotImplementedError


@attrs.frozen(eq=True)
class _Condition(Filter):
    """One comparison, already rendered: ``field op value``."""

    text: str

    def __str__(self) -> str:
        return self.text


@attrs.frozen(eq=True)
class _Group(Filter):
    """Conditions joined by one operator; nested groups render in parentheses."""

    op: Literal["and", "or"]
    parts: tuple[Filter, ...]

    def __str__(self) -> str:
        return f" {self.op} ".join(
            f"({part})" if isinstance(part, _Group) else str(part) for part in self.parts
        )


def _check_operand(op: str, operand: object) -> None:
    if isinstance(operand, _Field):
        raise TypeError(
            f"cannot combine a filter with the field {operand.name!r}: & and | bind "
            f"tighter than comparisons, so write (F.{operand.name} > value) in parentheses"
        )
    if not isinstance(operand, Filter):
        raise TypeError(
            f"cannot combine a filter with {operand!r}: both sides of {op!r} must be filters"
        )


def _combine(op: Literal["and", "or"], left: object, right: Filter) -> Filter:
    _check_operand(op, left)
    _check_operand(op, right)
    assert isinstance(left, Filter)  # for the type checker; _check_operand raised otherwise
    # a & b & c is ((a & b) & c): extend the left group. A group on the right was
    # parenthesised by the caller and stays a group.
    if isinstance(left, _Group) and left.op == op:
        return _Group(op, (*left.parts, right))
    return _Group(op, (left, right))


def all_of(first: Filter, *others: Filter) -> Filter:
    """All conditions: ``a and b and ...`` (nested groups parenthesised)."""
    return _join("and", first, others)


def any_of(first: Filter, *others: Filter) -> Filter:
    """Any condition: ``a or b or ...`` (nested groups parenthesised)."""
    return _join("or", first, others)


def _join(op: Literal["and", "or"], first: Filter, others: Iterable[Filter]) -> Filter:
    if not isinstance(first, Filter):
        raise TypeError(f"expected a filter, got {first!r}")
    result = first
    for other in others:
        result = _combine(op, result, other)
    return result


# ------------------------------------------------------------------------------ fields


class _Field:
    """A field of the grammar. ``==`` builds a condition, so fields hash by identity."""

    __slots__ = ("name",)
    kind: ClassVar[str]

    def __init__(self, name: str) -> None:
        self.name = name

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __bool__(self) -> NoReturn:
        raise TypeError(f"the field {self.name!r} has no truth value")


class IntField(_Field):
    """An id field (``id``, ``project``, ``parent``): ``== n`` and ``.in_(a, b, ...)``.

    Values are positive ints, or page values (their ``project_id`` for ``project``,
    their ``id`` for tasks).
    """

    __slots__ = ()
    kind = "int"

    def __eq__(self, value: object) -> Filter:  # type: ignore[override]
        return _Condition(f"{self.name} = {self._id(value)}")

    def __ne__(self, value: object) -> NoReturn:
        raise ValueError(f"the filter grammar has no != for the id field {self.name!r}")

    def in_(self, *values: int | ProjectPage | TaskPage | SubtaskPage) -> Filter:
        """``field in (a, b, ...)``; at least one value (``in_(*ids)`` for a list)."""
        if not values:
            raise ValueError(f"{self.name} in (): give at least one id")
        return _Condition(f"{self.name} in ({', '.join(str(self._id(v)) for v in values)})")

    def _id(self, value: object) -> int:
        if isinstance(value, ProjectPage):
            if self.name != "project":
                raise ValueError(f"a project page is not a value for {self.name!r}")
            return value.project_id
        if isinstance(value, (TaskPage, SubtaskPage)):
            if self.name == "project":
                return value.project_id
            return value.id
        if type(value) is not int:
            raise TypeError(f"{self.name} takes an int id, got {value!r}")
        if value <= 0:
            raise ValueError(f"{self.name} takes a positive id, got {value!r}")
        return value


class TextField(_Field):
    """A text field (``name``, ``comment``): ``== text`` (whole value), ``.has(text)``."""

    __slots__ = ()
    kind = "text"

    def __eq__(self, value: object) -> Filter:  # type: ignore[override]
        return _Condition(f"{self.name} = {self._quote(value)}")

    def __ne__(self, value: object) -> NoReturn:
        raise ValueError(f"the filter grammar has no != for the text field {self.name!r}")

    def has(self, text: str) -> Filter:
        """``field has 'text'``: the value contains ``text``."""
        return _Condition(f"{self.name} has {self._quote(text)}")

    def _quote(self, value: object) -> str:
        if not isinstance(value, str):
            raise TypeError(f"{self.name} takes a str, got {value!r}")
        if "'" in value:
            raise ValueError(
                f"{self.name}: the filter grammar cannot quote a text with a single quote "
                f"(no escaping): {value!r}"
            )
        return f"'{value}'"


class DateField(_Field):
    """A date field: ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` a :class:`datetime.date`.

    Rendered without spaces, as the API's examples: ``dateend>'25.05.2021'``.
    """

    __slots__ = ()
    kind = "date"

    def __eq__(self, value: object) -> Filter:  # type: ignore[override]
        return self._compare("=", value)

    def __ne__(self, value: object) -> Filter:  # type: ignore[override]
        return self._compare("!=", value)

    def __lt__(self, value: dt.date) -> Filter:
        return self._compare("<", value)

    def __le__(self, value: dt.date) -> Filter:
        return self._compare("<=", value)

    def __gt__(self, value: dt.date) -> Filter:
        return self._compare(">", value)

    def __ge__(self, value: dt.date) -> Filter:
        return self._compare(">=", value)

    def _compare(self, op: str, value: object) -> Filter:
        if isinstance(value, dt.datetime):
            raise TypeError(
                f"{self.name} compares days: pass a date, not a datetime ({value!r}); "
                "the time of day would be dropped"
            )
        if not isinstance(value, dt.date):
            raise TypeError(f"{self.name} takes a datetime.date, got {value!r}")
        # 'DD.MM.YYYY' always: strftime's %Y gives "999", not "0999", on glibc
        return _Condition(f"{self.name}{op}'{value.day:02d}.{value.month:02d}.{value.year:04d}'")


# -------------------------------------------------------------------------- namespaces


class _Fields:
    """The fields one action filters on; any other name raises UnsupportedFieldError."""

    action: ClassVar[str]

    def __repr__(self) -> str:
        return f"<filter fields of {self.action}: {', '.join(self.field_names())}>"

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The names of the fields, in grammar order."""
        return tuple(name for name, value in vars(cls).items() if isinstance(value, _Field))

    def field(self, name: str) -> IntField | TextField | DateField:
        """The field called ``name``; :class:`UnsupportedFieldError` if there is none."""
        value = vars(type(self)).get(name)
        if isinstance(value, (IntField, TextField, DateField)):
            return value
        raise UnsupportedFieldError(
            f"{self.action} cannot filter on {name!r}: the filter grammar knows only "
            f"{', '.join(self.field_names())} (status, priority, tags... are not "
            "filterable; pass them as the action's own parameters or filter the results)"
        )

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> NoReturn:
            if name.startswith("__"):
                raise AttributeError(name)
            self.field(name)
            raise AssertionError("unreachable")  # pragma: no cover


class _TaskFields(_Fields):
    """Fields of ``search_tasks``'s ``filter``."""

    action = "search_tasks"
    id: Final = IntField("id")
    project: Final = IntField("project")
    parent: Final = IntField("parent")
    name: Final = TextField("name")
    dateadd: Final = DateField("dateadd")
    datestart: Final = DateField("datestart")
    dateend: Final = DateField("dateend")
    dateclose: Final = DateField("dateclose")


class _CostFields(_Fields):
    """Fields of ``get_costs``'s ``filter`` (``id`` is the task's id)."""

    action = "get_costs"
    id: Final = IntField("id")
    project: Final = IntField("project")
    comment: Final = TextField("comment")
    dateadd: Final = DateField("dateadd")


TaskFilter: Final = _TaskFields()
"""The fields of ``search_tasks``'s filter: ``TaskFilter.name.has("Report")``."""

CostFilter: Final = _CostFields()
"""The fields of ``get_costs``'s filter: ``CostFilter.comment.has("review")``."""
