"""From a decoded answer that does not fit to a :class:`StructureError` that says where.

Locating: a value that does not fit is structured once, like the others. A container's
hook (:mod:`._converter`) that meets a failing item keeps its error, tries only the
items after it (:func:`locate`), and raises cattrs' ``IterableValidationError`` with
the index of each; a model's hook (cattrs' code) raises ``ClassValidationError`` with
the name of each failing field. Nothing is redone, so a hostile answer fails in time
linear in its size, at any depth (redoing a failed item would redo its own failed
items, and so on down: exponential in the depth). :mod:`._slicing` runs the same
steps (:func:`locating`) with checkpoints between them.

Reporting: :func:`fail` walks that tree of errors without recursion and makes one
:class:`StructureError` whose message names the first :data:`_MAX_DETAILS` errors with
their paths (``$[3].child[0].priority``) and counts the rest; values in it are
shortened. An answer nested deeper than the stack allows is "nested too deeply", like
any other misfit.
"""

from __future__ import annotations

import itertools
import operator
import typing
from collections.abc import Generator, Iterator, Sized
from typing import Any, Final

from cattrs.errors import ClassValidationError, IterableValidationError, IterableValidationNote

from .._exceptions import WorksectionError
from ._values import Hook, show


class StructureError(WorksectionError, ValueError):
    """A decoded answer does not fit its model (wrong type, missing required field).

    Part of the library's tree (``except WorksectionError`` catches it) and a
    ``ValueError``.

    The message names the model and the path of every offending value; the original
    cattrs error is chained as ``__cause__``.
    """


# ---------------------------------------------------------------------- locating

_MAX_REPORTED: Final = 10
"""Failed items of one container that :func:`locate` records before it stops."""


def locate(
    exc: Exception,
    tp: object,
    item_tp: object,
    hook: Hook,
    value: Any,
    failed: int,
    key_hook: Hook | None = None,
    key_tp: object = None,
) -> Exception:
    """On failure only: say which items failed, as cattrs' ``IterableValidationError``,
    so that :func:`fail`'s message shows the path.

    ``exc`` is the error of the item at position ``failed`` (the items before it
    succeeded). It is kept, never redone: only the items after it are tried, until
    :data:`_MAX_REPORTED` errors are found. So every item is structured once (by the
    fast pass up to the failure, here after it), at any depth of nesting, and locating
    errors costs time linear in the size of the answer. (Redoing the failed item would
    redo its own failed items, and so on down: exponential in the depth.)
    """
    return finish(locating(exc, tp, item_tp, hook, value, failed, key_hook, key_tp))


def finish(steps: Generator[None, None, Exception]) -> Exception:
    """Run :func:`locating` to its end, in one go."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def locating(
    exc: Exception,
    tp: object,
    item_tp: object,
    hook: Hook,
    value: Any,
    failed: int,
    key_hook: Hook | None = None,
    key_tp: object = None,
) -> Generator[None, None, Exception]:
    """:func:`locate` in steps: it yields after each item it tries, and returns the
    error (:func:`~._slicing.astructure` lets the event loop run between steps)."""
    if not 0 <= failed < len(value):  # cannot happen; keep the error, without a path
        return IterableValidationError(f"While structuring {tp!r}", [exc], typing.cast(type, tp))
    pairs = value.items() if value.__class__ is dict else enumerate(value)
    errors: list[Exception] = []
    for position, (index, item) in enumerate(itertools.islice(pairs, failed, None), failed):
        yield
        failed_tp = key_tp
        try:
            if key_hook is not None:
                key_hook(index)  # a scalar: cheap to redo, and tells key from value
            failed_tp = item_tp
            if position == failed:
                raise exc
            hook(item)
        except Exception as item_exc:
            note = IterableValidationNote(f"Structuring {tp!r} @ index {index!r}", index, failed_tp)
            item_exc.__notes__ = [*getattr(item_exc, "__notes__", []), note]  # type: ignore[attr-defined]
            errors.append(item_exc)
            if len(errors) >= _MAX_REPORTED:
                break
    return IterableValidationError(f"While structuring {tp!r}", errors, typing.cast(type, tp))


def failed_position(value: Sized, items: Iterator[object]) -> int:
    """The position of the item whose hook raised, from what ``items`` has left.

    ``items`` is the iterator the fast pass consumed (a list or dict iterator, whose
    length hint is exact): it had just yielded the failed item.
    """
    return len(value) - operator.length_hint(items) - 1


# --------------------------------------------------------------------- reporting

_MAX_DETAILS: Final = 20
"""Errors a :class:`StructureError` message spells out; it counts the rest."""

_MAX_DETAIL_CHARS: Final = 300


def _describe(exc: BaseException, tp: object) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = str(exc) or type(exc).__name__
    if len(text) > _MAX_DETAIL_CHARS:
        text = text[:_MAX_DETAIL_CHARS] + "..."
    if tp is None or text.startswith("expected"):
        return text
    return f"{text} (expected {getattr(tp, '__name__', None) or tp})"


def _details(exc: BaseException) -> tuple[list[str], int]:
    """The first :data:`_MAX_DETAILS` errors in ``exc`` as ``"what @ $.path"``, and the
    number of errors in all.

    The walk of cattrs' ``transform_error``, without recursion (an error tree is as deep
    as the answer) and with bounded output (a hostile answer can hold many errors).
    """
    shown: list[str] = []
    total = 0
    stack: list[tuple[BaseException, str, object]] = [(exc, "$", None)]
    while stack:
        error, path, tp = stack.pop()
        if isinstance(error, (ClassValidationError, IterableValidationError)):
            with_notes, without = error.group_exceptions()
            below: list[tuple[BaseException, str, object]] = []
            for sub, note in with_notes:
                if isinstance(note, IterableValidationNote):
                    below.append((sub, f"{path}[{show(note.index)}]", note.type))
                else:
                    below.append((sub, f"{path}.{note.name}", note.type))
            below.extend((sub, path, None) for sub in without)
            stack.extend(reversed(below))
            continue
        total += 1
        if len(shown) < _MAX_DETAILS:
            shown.append(f"{_describe(error, tp)} @ {path}")
    return shown, total


def fail(cls: object, exc: Exception) -> StructureError:
    name = repr(cls) if typing.get_origin(cls) else getattr(cls, "__name__", repr(cls))
    shown, total = _details(exc)
    details = "; ".join(shown)
    if total > len(shown):
        details += f"; and {total - len(shown)} more"
    return StructureError(f"cannot structure {name}: {details}")
