"""The ``filter`` grammar of ``search_tasks`` and ``get_costs``.

::

    expr    := term ("or" term)*
    term    := factor ("and" factor)*
    factor  := "(" expr ")" | field op value | field "in" "(" int ("," int)* ")"
             | field "has" 'text'
    op      := "=" | "!=" | ">" | "<" | ">=" | "<="

Integer fields compare numbers, text fields compare case-insensitively (``has`` is a
substring test), date fields take ``'DD.MM.YYYY'`` literals. Strictly as documented:
``and`` / ``or`` in lower case only, values in single quotes only (``AND``, ``OR`` and
double quotes are refused, as the service does). Anything else raises
``FilterError``, which the actions answer as the service does: error 10, "Field is
required", details ``filter``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping

from ._values import parse_request_day

__all__ = ["FilterError", "Predicate", "compile_filter"]

FieldValue = int | str | dt.date | None
Row = Callable[[str], FieldValue]
Predicate = Callable[[Row], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<punct>[(),])|(?P<op>>=|<=|!=|=|>|<)|'(?P<squote>[^']*)'|\"(?P<dquote>[^\"]*)\""
    r"|(?P<number>-?\d+)|(?P<word>[A-Za-z_][A-Za-z_0-9]*))"
)
_MAX_DEPTH = 32
_LOGIC = ("and", "or")


class FilterError(ValueError):
    """The filter does not parse or names a field the action does not filter on."""


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f"unexpected text at {pos}: {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "dquote":
            # the documentation quotes values in single quotes only
            raise FilterError("double quotes in the filter: quote values with ' '")
        if kind == "squote":
            tokens.append(("string", value))
        elif kind == "word":
            if value.lower() in _LOGIC and value not in _LOGIC:
                # "and, or (only in lowercase)", says the documentation
                raise FilterError(f"{value!r}: the logical operations are lowercase and / or")
            tokens.append(("word", value.lower()))
        else:
            tokens.append((kind, value))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], fields: Mapping[str, str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.fields = fields

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError("unexpected end of filter")
        self.pos += 1
        return token

    def expect(self, kind: str, value: str | None = None) -> str:
        got_kind, got = self.take()
        if got_kind != kind or (value is not None and got != value):
            raise FilterError(f"expected {value or kind}, got {got!r}")
        return got

    def expr(self, depth: int) -> Predicate:
        if depth > _MAX_DEPTH:
            raise FilterError("filter nested too deeply")
        parts = [self.term(depth)]
        while self.peek() == ("word", "or"):
            self.take()
            parts.append(self.term(depth))
        if len(parts) == 1:
            return parts[0]
        return lambda row: any(p(row) for p in parts)

    def term(self, depth: int) -> Predicate:
        parts = [self.factor(depth)]
        while self.peek() == ("word", "and"):
            self.take()
            parts.append(self.factor(depth))
        if len(parts) == 1:
            return parts[0]
        return lambda row: all(p(row) for p in parts)

    def factor(self, depth: int) -> Predicate:
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.expr(depth + 1)
            self.expect("punct", ")")
            return inner
        field = self.expect("word")
        kind = self.fields.get(field)
        if kind is None:
            raise FilterError(f"unknown field {field!r}")
        op_kind, op = self.take()
        if op_kind == "word" and op == "in":
            return self._in(field, kind)
        if op_kind == "word" and op == "has":
            if kind != "str":
                raise FilterError(f"'has' applies to text fields, not {field!r}")
            needle = self.expect("string").lower()
            return lambda row: needle in str(row(field) or "").lower()
        if op_kind != "op":
            raise FilterError(f"expected an operator after {field!r}, got {op!r}")
        value = self._value(kind)
        return _compare(field, op, value)

    def _in(self, field: str, kind: str) -> Predicate:
        if kind != "int":
            raise FilterError(f"'in' applies to id fields, not {field!r}")
        self.expect("punct", "(")
        wanted = {int(self._number())}
        while self.peek() == ("punct", ","):
            self.take()
            wanted.add(int(self._number()))
        self.expect("punct", ")")
        return lambda row: row(field) in wanted

    def _number(self) -> str:
        kind, value = self.take()
        if kind == "number" or (kind == "string" and value.strip().lstrip("-").isdigit()):
            return value.strip()
        raise FilterError(f"expected a number, got {value!r}")

    def _value(self, kind: str) -> FieldValue:
        if kind == "int":
            return int(self._number())
        token_kind, text = self.take()
        if token_kind not in ("string", "number"):
            raise FilterError(f"expected a quoted value, got {text!r}")
        if kind == "date":
            day = parse_request_day(text)
            if day is None:
                raise FilterError(f"not a date: {text!r} (use 'DD.MM.YYYY')")
            return day
        return text.lower()


def _compare(field: str, op: str, value: FieldValue) -> Predicate:
    def check(row: Row) -> bool:
        got = row(field)
        if got is None or value is None:
            return op == "!=" and got != value
        if isinstance(got, str):
            got = got.lower()
        if type(got) is not type(value):
            return False
        if op == "=":
            return got == value
        if op == "!=":
            return got != value
        if op == ">":
            return got > value  # type: ignore[operator]
        if op == "<":
            return got < value  # type: ignore[operator]
        if op == ">=":
            return got >= value  # type: ignore[operator]
        return got <= value  # type: ignore[operator]

    return check


def compile_filter(text: str, fields: Mapping[str, str]) -> Predicate:
    """Compile ``text`` for rows with ``fields`` (name -> ``"int"``/``"str"``/``"date"``)."""
    tokens = _tokenize(text)
    if not tokens:
        raise FilterError("empty filter")
    parser = _Parser(tokens, fields)
    predicate = parser.expr(0)
    if parser.peek() is not None:
        raise FilterError(f"unexpected {parser.peek()!r} after the filter")
    return predicate
