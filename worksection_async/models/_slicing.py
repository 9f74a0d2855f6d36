"""Structuring a big answer without holding the event loop: :func:`astructure`.

:func:`~._converter.structure` turns a 10,000-task answer into models in about half
a second of CPU, in one piece: a bot or a webhook receiver sharing the event loop
answers nothing meanwhile. :func:`astructure` gives the same result the same way
(the same hooks, the same errors), in time slices: it structures a big container
(a list of models, the values of a map, or such a container inside the top-level
object, like ``get_costs``' rows) chunk by chunk, and after each chunk, once
:data:`SLICE_SECONDS` have passed since the loop last had a turn, it awaits a
turn (``anyio.lowlevel.checkpoint()``, three times: other tasks run, those woken
by a timer or a socket meanwhile included, and a cancellation lands). Chunks are
sized from the time the previous one took, so a slice overruns
by about a quarter of :data:`SLICE_SECONDS` at most, whatever an item costs (one
item is never split: a single model with ten thousand nested ones is one piece).

What stays identical to :func:`structure`:

* the models, their order, and the objects they share: the page memo belongs to
  the call (the comments of a task share its page), the intern tables to the
  process, as always;
* the errors: a failing item is located as :func:`structure` locates it (each item
  structured once; the items after a failure are tried in slices too), with the
  same :class:`StructureError` message;
* the cyclic GC is paused for the whole call under the same rule (a list of
  :data:`GC_PAUSE_MIN_ITEMS` items or more), other tasks running in between included.

Slicing is done on the event loop rather than in a worker thread. Measured on the
14 MiB, 10,000-task answer of ``benchmarks/big_responses.py`` beside a 5 ms
heartbeat, the two come out even: the same wall time within noise (about 250-285 ms
either way, one piece 240-265 ms), a longest heartbeat interval of 45-65 ms for
both (one piece: 255-275 ms), most of it the GC's deferred collection, which holds
the GIL in a thread as well. Slicing wins on the rest: results stay deterministic
(one thread, one page memo per call), a cancelled call stops at its next turn
instead of finishing in the background, nothing is started per call, and a virtual
clock in tests does not see a task blocked on a thread as idle.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import time
import typing
from collections.abc import Callable, Generator
from typing import Any, Final, TypeVar, overload

import attrs

from .._bulk import SLICE_SECONDS, Breather
from .._json import JSONValue
from .._pages import Page
from . import _values
from ._converter import (
    GC_PAUSE_MIN_ITEMS,
    _gc_paused,
    _is_model,
    _json_key,
    _MappingSlicer,
    _Prebuilt,
    _SequenceSlicer,
    converter,
)
from ._errors import fail, failed_position, locating
from ._values import Hook

__all__ = ["SLICE_SECONDS", "astructure", "astructure_list"]

T = TypeVar("T")

_FIRST_CHUNK: Final = 8
_SLICED_MIN_ITEMS: Final = 16
"""A container (the answer, or one inside the top-level object) is structured in
slices from this many items; a smaller one in one go, without a checkpoint."""


class _Slices:
    """The time slices of one call: its page memo, and when to let others run."""

    __slots__ = ("breathe", "budget", "memo")

    def __init__(self, budget: float | None) -> None:
        self.memo: dict[str, Page] = {}
        # the first turn comes after the first chunk: whatever ran before (the
        # transport decoding the answer) does not add up with the first slice
        self.breathe = Breather(budget, first=True)
        self.budget = self.breathe.seconds

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` with this call's page memo (another call may run between
        slices, with its own)."""
        saved = _values.PAGES
        _values.PAGES = self.memo
        try:
            return fn(*args)
        finally:
            _values.PAGES = saved


def _next_chunk(chunk: int, took: float, budget: float) -> int:
    """Items for the next chunk: about a quarter of a slice, at most twice the last."""
    if took <= 0:
        return chunk * 2
    return max(1, min(chunk * 2, int(chunk * budget / 4 / took)))


async def _locate(slices: _Slices, steps: Generator[None, None, Exception]) -> Exception:
    """Run :func:`~._errors.locating` with checkpoints between its steps."""
    while True:
        try:
            slices.run(next, steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        await slices.breathe()


async def _sequence(value: Any, slicer: _SequenceSlicer, slices: _Slices) -> object:
    """What ``structure_sequence`` gives for a JSON list (or object), in slices."""
    hook = slicer.item_hook()
    items = iter(value) if value.__class__ is list else iter(value.values())
    done: list[object] = []
    chunk = _FIRST_CHUNK
    try:
        while operator.length_hint(items):
            started = time.perf_counter()
            slices.run(done.extend, map(hook, itertools.islice(items, chunk)))
            chunk = _next_chunk(chunk, time.perf_counter() - started, slices.budget)
            await slices.breathe()
    except Exception as exc:
        failed = failed_position(value, items)
        steps = locating(exc, slicer.tp, slicer.item_tp, hook, value, failed)
        raise await _locate(slices, steps) from None
    return slicer.build(iter(done))


def _fill(result: dict[object, object], pairs: Any, key_hook: Hook, value_hook: Hook) -> None:
    for k, v in pairs:
        key = key_hook(k)  # the key first, as in the dict comprehension it stands for
        result[key] = value_hook(v)


async def _mapping(value: dict[str, Any], slicer: _MappingSlicer, slices: _Slices) -> object:
    """What ``structure_mapping`` gives for a JSON object, in slices."""
    items = iter(value.items())
    result: dict[object, object] = {}
    chunk = _FIRST_CHUNK
    try:
        while operator.length_hint(items):
            started = time.perf_counter()
            pairs = itertools.islice(items, chunk)
            slices.run(_fill, result, pairs, slicer.key_hook, slicer.value_hook)
            chunk = _next_chunk(chunk, time.perf_counter() - started, slices.budget)
            await slices.breathe()
    except Exception as exc:
        failed = failed_position(value, items)
        steps = locating(
            exc,
            slicer.tp,
            slicer.value_tp,
            slicer.value_hook,
            value,
            failed,
            slicer.key_hook,
            slicer.key_tp,
        )
        raise await _locate(slices, steps) from None
    return result


def _slicer(hook: Hook, value: object) -> _SequenceSlicer | _MappingSlicer | None:
    """How to slice ``value`` for ``hook``, or ``None`` if it is not a container the
    hook would walk item by item."""
    slicer = getattr(hook, "sliced", None)
    if isinstance(slicer, _SequenceSlicer):
        return slicer if value.__class__ is list or value.__class__ is dict else None
    if isinstance(slicer, _MappingSlicer):
        return slicer if value.__class__ is dict else None
    return None


async def _container(
    value: Any, slicer: _SequenceSlicer | _MappingSlicer, slices: _Slices
) -> object:
    if isinstance(slicer, _SequenceSlicer):
        return await _sequence(value, slicer, slices)
    return await _mapping(value, slicer, slices)


_CONTAINER_FIELDS: dict[type, tuple[tuple[str, Hook], ...]] = {}


def _container_fields(cls: type) -> tuple[tuple[str, Hook], ...]:
    """The JSON keys of ``cls``'s container fields, with the hooks that read them."""
    found = _CONTAINER_FIELDS.get(cls)
    if found is None:
        found = tuple(
            (_json_key(a), hook)
            for a in attrs.fields(cls)
            if a.name != "extra"
            and getattr(hook := converter.get_structure_hook(a.type), "sliced", None) is not None
        )
        _CONTAINER_FIELDS[cls] = found
    return found


async def _model(data: dict[str, Any], cls: type, hook: Hook, slices: _Slices) -> object:
    """A top-level object: its big containers first, in slices, then the object."""
    replaced: dict[str, Any] | None = None
    for key, field_hook in _container_fields(cls):
        value = data.get(key)
        slicer = _slicer(field_hook, value)
        if slicer is None or len(value) < _SLICED_MIN_ITEMS:  # type: ignore[arg-type]
            continue
        try:
            marker = _Prebuilt(await _container(value, slicer, slices), None)
        except Exception as exc:  # raised where the field's hook would have raised it
            marker = _Prebuilt(None, exc)
        if replaced is None:
            replaced = dict(data)
        replaced[key] = marker
    return slices.run(hook, data if replaced is None else replaced, cls)


def _pauses_gc(data: object) -> bool:
    if isinstance(data, list):
        return len(data) >= GC_PAUSE_MIN_ITEMS
    if isinstance(data, dict):
        return len(data) >= GC_PAUSE_MIN_ITEMS or any(
            isinstance(value, (list, dict)) and len(value) >= GC_PAUSE_MIN_ITEMS
            for value in data.values()
        )
    return False


@overload
async def astructure(data: JSONValue, cls: type[T], *, slice_seconds: float | None = None) -> T: ...
@overload
async def astructure(
    data: JSONValue, cls: object, *, slice_seconds: float | None = None
) -> object: ...
async def astructure(data: JSONValue, cls: object, *, slice_seconds: float | None = None) -> object:
    """:func:`~._converter.structure`, letting other tasks run every ``slice_seconds``
    (default :data:`SLICE_SECONDS`).

    The same models, shared objects and :class:`StructureError` as ``structure``
    (see the module docstring). Cancelling it stops it at its next checkpoint.
    """
    slices = _Slices(slice_seconds)
    try:
        hook = converter.get_structure_hook(cls)
        pause = _pauses_gc(data)
        with _gc_paused() if pause else contextlib.nullcontext():
            slicer = _slicer(hook, data)
            if slicer is not None and len(data) >= _SLICED_MIN_ITEMS:  # type: ignore[arg-type]
                result = await _container(data, slicer, slices)
            elif data.__class__ is dict and _is_model(cls):
                result = await _model(data, typing.cast(type, cls), hook, slices)
            else:
                return slices.run(hook, data, cls)
            if pause:
                # the collection the pause deferred runs when it ends, in one piece (a
                # gen-0 pass over every new model): not on top of the last slice
                await slices.breathe.turn()
        return result
    except Exception as exc:
        raise fail(cls, exc) from exc


async def astructure_list(
    data: JSONValue, cls: type[T], *, slice_seconds: float | None = None
) -> list[T]:
    """:func:`~._converter.structure_list` in slices (see :func:`astructure`)."""
    if data is None:
        return []
    return await astructure(data, list[cls], slice_seconds=slice_seconds)  # type: ignore[valid-type]
