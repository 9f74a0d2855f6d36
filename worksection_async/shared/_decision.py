"""The shared quota's decision, once, in Python: for the stores that run in this process.

``decide(state, request, now)`` is the Lua script of ``_lua.py`` as a pure function: it
applies the outcomes a process reports, then (when asked) reserves the next moment a
request may leave, and answers what the script answers (a ``_Reply``). The law itself
is ``_throttle._Law``, not a copy of it: ``decide`` loads the law's state into a
``_Law``, feeds it the outcomes and stores what it became. Around it, the two pacing
buckets, the pause gate, the reservations not yet due, the spread of send times and
the members are the script's, step for step (``tests/shared/test_shared_conformance.py``
feeds the same outcomes at the same times to ``_Law``/``LocalQuota``, to the script
and to this function, and compares decisions and state).

The stores only make a decision atomic: ``memory://`` holds a lock around it,
``sqlite://`` runs it inside one write transaction. The state is a ``QuotaState``
record; ``dump``/``load`` turn it into the bytes SQLite keeps, a fixed layout packed
with ``struct`` (a decision's thread wakes to a cold cache: JSON and attrs' ``asdict``
cost several times as much there); whatever is found there, ``load`` returns a valid
state or a fresh one. A thread reuses the ``_Law`` of its latest decision for the
same ``RateLimit``, loading the state into it (not at all when the state is the one
that law was saved as: the same state decided on again); a deque of the law is kept
as its length and bits, converted through a small table of the patterns met.
"""

from __future__ import annotations

import collections
import functools
import itertools
import math
import operator
import secrets
import struct
import threading
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from .._rate_limit import _EPSILON, RateLimit
from .._throttle import CARRY, _Law
from ._lua import JITTER_HALF_LIFE, MAX_QUEUE, MAX_SPREAD, MEMBER_TTL
from ._reply import _Reply, _Unavailable

__all__ = ["QuotaState", "Request", "decide", "gate", "parse_request"]

MAX_MEMBERS: Final = 4096
"""Processes remembered on one key (the least recently seen are forgotten past that)."""

_CONFIG_SLOTS: Final = frozenset({"_beta", "_ceiling", "_floor", "_margin", "_recovery"})
"""``_Law`` slots set from the caller's ``RateLimit`` (as the script takes them from
``ARGV``); every other slot is the law's state, kept in the store."""

LAW_SLOTS: Final = tuple(sorted(set(_Law.__slots__) - _CONFIG_SLOTS))
"""The law's state: whatever ``_Law`` keeps besides its configuration."""


@attrs.frozen(kw_only=True)
class Request:
    """One call of the decision (the script's ``ARGV``, parsed)."""

    limit: RateLimit
    ttl: float
    """Seconds after its last use that a state is forgotten (the keys' expiry)."""
    member: str
    reserve: bool
    max_wait: float | None
    now: float | None
    """The time to decide at instead of the store's clock (tests only)."""
    jitter: float
    outcomes: tuple[tuple[float, float] | float | None, ...]
    """Oldest first: ``None`` a success, a number a success of the request granted at
    that time (``s<granted>``), ``(granted, u)`` an error 20."""


def parse_request(args: Sequence[str], limits: dict[tuple[str, ...], RateLimit]) -> Request:
    """The script's ``ARGV`` (see ``_lua.py``) as a ``Request``. ``limits`` maps the
    configuration part of ``ARGV`` to the ``RateLimit`` it was written from (so that no
    rate is rounded through text); one not found there is rebuilt from the text."""
    try:
        config = tuple(args[:7])
        limit = limits.get(config)
        if limit is None:
            ceiling = float(args[0])
            limit = RateLimit(
                rate=ceiling,
                floor=float(args[1]) / ceiling,
                decrease=float(args[2]),
                margin=float(args[3]),
                recovery=float(args[4]),
                burst=int(args[5]),
            )
        outcomes: list[tuple[float, float] | float | None] = []
        for text in args[13:]:
            if text == "s":
                outcomes.append(None)
            elif text.startswith("s"):
                outcomes.append(float(text[1:]))
            else:
                granted, _, u = text[1:].partition(":")
                outcomes.append((float(granted), float(u)))
        return Request(
            limit=limit,
            ttl=int(args[6]) / 1000.0,
            member=args[7],
            reserve=args[8] == "1",
            max_wait=float(args[9]) if args[9] else None,
            now=float(args[10]) if args[10] else None,
            jitter=float(args[12]) if args[12] else 0.0,
            outcomes=tuple(outcomes),
        )
    except (IndexError, ValueError, TypeError) as exc:  # a bug, not a store's fault
        raise _Unavailable(f"malformed request to the shared quota: {exc}") from None


@attrs.define(kw_only=True)
class QuotaState:
    """Everything the script keeps in ``{tag}:state`` and ``{tag}:members``."""

    law_values: tuple[Any, ...] = ()
    """The ``_Law``'s state slots, in ``_LAW``'s order (a deque as its length and its
    bits; empty: a law never fed)."""
    spacing: float = 1.0
    pacing: float = 1.0
    stamp: float | None = None
    paused_until: float = 0.0
    last_pause: float = -math.inf
    generation: int = 0
    queue: list[tuple[float, float, float, float]] = attrs.Factory(list)
    """Reservations not yet due: (moment, spacing, pacing, stamp before it)."""
    calls: int = 0
    errors: int = 0
    jitter: float = 0.0
    jitter_at: float | None = None
    born: str = ""
    members: dict[str, float] = attrs.Factory(dict)
    used: float | None = None
    """When the state was last decided on (``None``: never)."""

    @classmethod
    def fresh(cls) -> QuotaState:
        return cls()

    @property
    def law(self) -> dict[str, Any]:
        """The law's state slots by name (empty: a law never fed)."""
        if not self.law_values:
            return {}
        law = _load_law(RateLimit(rate=1.0), self.law_values)
        slots: dict[str, Any] = {}
        for name, kind, _ in _SLOTS:
            value = getattr(law, name)
            slots[name] = list(value) if kind == "r" else value
        return slots

    def dump(self) -> bytes:
        """The state as bytes (``_LAYOUT``'s, then the variable parts; see ``load``)."""
        law = self.law_values
        queue = self.queue
        members = self.members
        names = [name.encode() for name in members]
        born = self.born.encode()
        parts = [
            _HEAD.pack(
                _TAG,
                self.spacing,
                self.pacing,
                _NAN if self.stamp is None else self.stamp,
                self.paused_until,
                self.last_pause,
                self.jitter,
                _NAN if self.jitter_at is None else self.jitter_at,
                _NAN if self.used is None else self.used,
                self.generation,
                self.calls,
                self.errors,
                bool(law),
                len(queue),
                len(members),
                len(born),
            ),
            born,
        ]
        if law:
            if None in law:
                law = tuple([_NAN if value is None else value for value in law])
            parts.append(_LAW.pack(*law))
        if queue:
            parts.append(_floats(4 * len(queue)).pack(*itertools.chain.from_iterable(queue)))
        if members:
            parts.append(_members(len(members)).pack(*members.values(), *map(len, names)))
        parts.extend(names)
        return b"".join(parts)

    @classmethod
    def load(cls, data: bytes | str | None) -> QuotaState:
        """The state ``dump`` wrote; anything else (nothing, a state some other version
        or program wrote, garbage) is a fresh state."""
        if type(data) is not bytes or data[: len(_TAG)] != _TAG:
            return cls.fresh()
        try:
            (
                _,
                spacing,
                pacing,
                stamp,
                paused_until,
                last_pause,
                jitter,
                jitter_at,
                used,
                generation,
                calls,
                errors,
                fed,
                queued,
                count,
                born_size,
            ) = _HEAD.unpack_from(data)
            at = _HEAD.size + born_size
            born = data[_HEAD.size : at].decode()
            if (
                spacing != spacing
                or pacing != pacing
                or paused_until != paused_until
                or last_pause != last_pause
                or jitter != jitter
            ):
                return cls.fresh()
            law: tuple[Any, ...] = ()
            if fed:
                law = _LAW.unpack_from(data, at)
                at += _LAW.size
                if any(map(math.isnan, _GET_FLOATS(law))):
                    return cls.fresh()
                if any(map(math.isnan, _GET_OPTIONAL(law))):
                    law = tuple(
                        [None if i in _OPTIONAL and x != x else x for i, x in enumerate(law)]
                    )
            queue: list[tuple[float, float, float, float]] = []
            if queued:
                flat = _floats(4 * queued).unpack_from(data, at)
                at += 32 * queued
                if any(map(math.isnan, flat)):
                    return cls.fresh()
                queue = list(zip(flat[::4], flat[1::4], flat[2::4], flat[3::4], strict=True))
            members: dict[str, float] = {}
            if count:
                flat = _members(count).unpack_from(data, at)
                at += 12 * count
                times = flat[:count]
                if any(map(math.isnan, times)):
                    return cls.fresh()
            if count:
                for seen, size in zip(times, flat[count:], strict=True):
                    members[data[at : at + size].decode()] = seen
                    at += size
            if at != len(data) or len(members) != count:
                return cls.fresh()
        except (struct.error, ValueError):  # short, or not UTF-8
            return cls.fresh()
        return cls(
            law_values=law,
            spacing=spacing,
            pacing=pacing,
            stamp=None if stamp != stamp else stamp,
            paused_until=paused_until,
            last_pause=last_pause,
            generation=generation,
            queue=queue,
            calls=calls,
            errors=errors,
            jitter=jitter,
            jitter_at=None if jitter_at != jitter_at else jitter_at,
            born=born,
            members=members,
            used=None if used != used else used,
        )


def gate(data: object) -> str | None:
    """The gate of the state ``data`` (``dump``'s bytes) as ``SharedQuota._deliver``
    takes it, ``"born generation"``, read from its first bytes (``None``: not a state)."""
    if type(data) is not bytes or data[: len(_TAG)] != _TAG or len(data) < _HEAD.size:
        return None
    head = _HEAD.unpack_from(data)
    born = data[_HEAD.size : _HEAD.size + head[-1]]
    if len(born) != head[-1]:
        return None
    try:
        return f"{born.decode()} {head[9]}"
    except UnicodeDecodeError:
        return None


def _kinds() -> dict[str, str]:
    """How each of the law's state slots is kept (from a new ``_Law``'s values): ``d``
    a float, ``o`` a float or ``None`` (NaN), ``?`` a boolean, ``q`` an integer, ``r``
    a deque of booleans (its length and the bits of a number)."""
    law = _Law(RateLimit(rate=1.0))
    kinds: dict[str, str] = {}
    for name in LAW_SLOTS:
        value = getattr(law, name)
        if isinstance(value, collections.deque):
            if value.maxlen is None or value.maxlen > 64:
                raise TypeError(f"_Law.{name}: a deque longer than 64 cannot be kept")
            kinds[name] = "r"
        elif value is None:
            kinds[name] = "o"
        elif isinstance(value, bool):
            kinds[name] = "?"
        elif isinstance(value, int):
            kinds[name] = "q"
        elif isinstance(value, float):
            kinds[name] = "d"
        else:
            raise TypeError(f"_Law.{name}: a {type(value).__name__} cannot be kept")
    return kinds


_KINDS: Final = _kinds()

_LAYOUT: Final = " ".join(f"{name}:{kind}" for name, kind in _KINDS.items())
"""The law's part of the layout (the state's first bytes tell which one wrote it)."""

_TAG: Final = b"wsq2" + zlib.crc32(_LAYOUT.encode()).to_bytes(4, "little")

_HEAD: Final = struct.Struct("<8s8d3q?HHH")
"""The tag, the floats (NaN: ``None``), generation, calls, errors, whether the law was
fed (its part follows), and the lengths of the queue, the members and ``born``; then
``born`` (UTF-8), the law (``_LAW``), the queue (four floats each), the members' times
and names' lengths, and the names (UTF-8)."""

_LAW: Final = struct.Struct(
    "<" + "".join("BQ" if kind == "r" else "d" if kind == "o" else kind for kind in _KINDS.values())
)

_NAN: Final = math.nan


def _slots() -> list[tuple[str, str, int]]:
    """Each of the law's slots, its kind, and where it starts in ``_LAW``'s values."""
    slots = []
    i = 0
    for name, kind in _KINDS.items():
        slots.append((name, kind, i))
        i += 2 if kind == "r" else 1
    return slots


_SLOTS: Final = _slots()
_FLOATS: Final = tuple(i for _, kind, i in _SLOTS if kind == "d")
"""Where ``_LAW``'s values hold a float (never NaN)..."""
_OPTIONAL: Final = tuple(i for _, kind, i in _SLOTS if kind == "o")
"""...and a float or ``None`` (NaN in the bytes)."""


def _getter(indices: tuple[int, ...]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """The values at ``indices``, as a tuple (at C speed)."""
    if not indices:
        return lambda values: ()
    if len(indices) == 1:
        return lambda values: (values[indices[0]],)
    return operator.itemgetter(*indices)


_GET_FLOATS: Final = _getter(_FLOATS)
_GET_OPTIONAL: Final = _getter(_OPTIONAL)


@functools.lru_cache(maxsize=64)
def _floats(count: int) -> struct.Struct:
    """``count`` floats (the queue's part of the layout)."""
    return struct.Struct(f"<{count}d")


@functools.lru_cache(maxsize=64)
def _members(count: int) -> struct.Struct:
    """``count`` members' times and names' lengths."""
    return struct.Struct(f"<{count}d{count}I")


class _Reused(threading.local):
    """The ``_Law`` a thread's latest decision ran, and the ``RateLimit`` it was made
    for: the next decision on that limit loads the state into it (making one costs
    more than the rest of the law's work on a cold cache)."""

    limit: RateLimit | None = None
    law: _Law | None = None
    values: tuple[Any, ...] | None = None
    """The ``law_values`` the law was saved as at the end of its latest decision
    (``None``: not known): a state holding that very tuple (the same state decided on
    again) is not loaded into it again."""


_REUSED: Final = _Reused()


def _load_law(limit: RateLimit, values: tuple[Any, ...]) -> _Law:
    """A ``_Law`` for ``limit`` in the state ``values`` (``QuotaState.law_values``,
    checked when it was loaded, or empty: a fresh law's); a deque comes back as a deque
    of its own length."""
    reused = _REUSED
    law = reused.law
    known, reused.values = reused.values, None  # the law changes from here on
    if law is None or reused.limit is not limit:
        law = _Law(limit)
        reused.limit, reused.law = limit, law
    elif values and values is known:
        return law  # already in that state
    if not values:
        values = _FRESH
    for put, i in _PUT:
        put(law, values[i])
    for name, i in _DEQUES:
        deque = getattr(law, name)
        deque.clear()
        flags = _FLAGS.get((values[i], values[i + 1]))
        if flags is None:
            flags = _flags(values[i], values[i + 1])
        deque.extend(flags)
    return law


def _flags(length: int, bits: int) -> tuple[bool, ...]:
    """A deque's ``length`` flags from its ``bits`` (kept in ``_FLAGS``)."""
    flags = tuple(bits >> j & 1 == 1 for j in range(length))
    if len(_FLAGS) >= _FLAGS_KEPT:
        _FLAGS.clear()
        _BITS.clear()
    _FLAGS[length, bits] = flags
    _BITS[flags] = (length, bits)
    return flags


_FLAGS: Final[dict[tuple[int, int], tuple[bool, ...]]] = {}
"""A deque's flags by its length and bits, and (``_BITS``) the other way round: the few
outcome patterns a law meets, converted once (a dict's lookup costs far less than the
loop on a cold cache)."""
_BITS: Final[dict[tuple[bool, ...], tuple[int, int]]] = {}
_FLAGS_KEPT: Final = 256


def _save_law(law: _Law) -> tuple[Any, ...]:
    values = _GET_SLOTS(law)
    if not _DEQUE_AT:
        return values
    flat = list(values)
    for at in reversed(_DEQUE_AT):  # each deque as its length and its bits
        flags = tuple(flat[at])
        kept = _BITS.get(flags)
        if kept is None:
            bits = sum(1 << j for j, flag in enumerate(flags) if flag)
            _flags(len(flags), bits)
            kept = len(flags), bits
        flat[at : at + 1] = kept
    return tuple(flat)


_PUT: Final = tuple((getattr(_Law, name).__set__, i) for name, kind, i in _SLOTS if kind != "r")
"""Each slot that is not a deque: its descriptor's setter, and where its value is."""

_DEQUES: Final = tuple((name, i) for name, kind, i in _SLOTS if kind == "r")

_GET_SLOTS: Final = operator.attrgetter(*(name for name, _, _ in _SLOTS))
"""The law's state slots, in ``_KINDS``'s order, as a tuple (at C speed)."""

_DEQUE_AT: Final = tuple(k for k, (_, kind, _) in enumerate(_SLOTS) if kind == "r")
"""Where the deques are among ``_GET_SLOTS``'s values."""

_FRESH: Final = _save_law(_Law(RateLimit(rate=1.0)))
"""A new ``_Law``'s state, in ``_LAW``'s order."""


def decide(state: QuotaState, request: Request, clock: float) -> _Reply:
    """One decision of the script (``_lua.py``) on ``state``, at the store's clock time
    ``clock`` (or at ``request.now``, tests only): ``state`` is updated in place, and
    the script's reply returned."""
    now = clock if request.now is None else request.now
    limit = request.limit
    ceiling = limit.configured
    margin = limit.margin
    burst = float(limit.burst)
    if state.used is not None and not (state.used - 1.0 <= clock <= state.used + request.ttl):
        # Forgotten, as Redis forgets an expired key; or the clock went back a second or
        # more (the host restarted: its monotonic clock counts from the boot again).
        _reset(state)
    if not state.born:
        state.born = repr(now) + "-" + secrets.token_hex(3)

    jitter = state.jitter * 0.5 ** (
        max(0.0, now - (state.jitter_at if state.jitter_at is not None else now)) / JITTER_HALF_LIFE
    )
    jitter = min(MAX_SPREAD / ceiling, max(jitter, request.jitter))

    kept = [entry for entry in state.queue if entry[0] > now]
    if len(kept) > MAX_QUEUE:
        kept = kept[-MAX_QUEUE:]

    law = _load_law(limit, state.law_values)

    def rates(t: float) -> tuple[float, float]:
        spacing = law.rate(t) / (1.0 + law.widening(t))
        return spacing, spacing * (1.0 - margin)

    def refill(to: float) -> None:
        assert state.stamp is not None
        s2, p2 = rates(to)
        s1, p1 = rates(state.stamp)
        elapsed = to - state.stamp
        state.spacing = min(burst, state.spacing + elapsed * (s2 + s1) / 2)
        state.pacing = min(burst + CARRY, state.pacing + elapsed * (p2 + p1) / 2)
        state.stamp = to

    def close_gate(until: float, *, restart: bool) -> None:
        nonlocal kept
        state.paused_until = until
        if restart:
            state.spacing, state.pacing, state.stamp = 1.0, 1.0, until
        elif kept:
            _, state.spacing, state.pacing, state.stamp = kept[0]
        kept = []
        state.generation += 1

    started: float | None = None
    hit: float | None = None
    cut = turned = False
    for outcome in request.outcomes:
        if not isinstance(outcome, tuple):
            aside = law.on_success(now, outcome)
            if aside > 0:
                turned = True
                until = now + aside
                if until > state.paused_until:
                    close_gate(until, restart=False)
            continue
        granted, u = outcome
        state.errors += 1
        if granted >= state.last_pause and not law.explained(now, granted):
            if state.stamp is None:
                state.stamp = now
            elif now > state.stamp:
                refill(now)
            before = law.plateau, law.since
            hit, pause = law.on_quota_exceeded(now, u)
            cut = (law.plateau, law.since) != before
            state.last_pause = now
            until = now + pause
            if until > state.paused_until:
                close_gate(until, restart=True)
                started = until - now

    reserved, wait, closed = False, 0.0, state.paused_until > now
    if request.reserve:
        t = max(now, state.paused_until)
        if state.stamp is None:
            state.stamp = t
        before_entry = (state.spacing, state.pacing, state.stamp)
        if t > state.stamp:
            refill(t)
        at = state.stamp
        if not (state.spacing >= 1.0 - _EPSILON and state.pacing >= 1.0 - _EPSILON):
            rs, rp = rates(state.stamp)
            at = state.stamp + max((1.0 - state.spacing) / rs, (1.0 - state.pacing) / rp, _EPSILON)
        wait = at - now
        if request.max_wait is None or wait <= request.max_wait:
            if at > state.stamp:
                refill(at)
            # A request leaves when its process wakes, up to ``jitter`` after the
            # moment: the next reservation keeps that much further away.
            state.spacing = max(0.0, state.spacing - 1.0) - jitter * rates(at)[0]
            state.pacing = max(0.0, state.pacing - 1.0)
            kept.append((at, *before_entry))
            state.calls += 1
            reserved = True

    state.queue = kept
    state.jitter, state.jitter_at = jitter, now
    state.law_values = _REUSED.values = _save_law(law)
    members = state.members
    members.pop(request.member, None)  # re-inserted last: the dict stays oldest first
    members[request.member] = now
    horizon = now - MEMBER_TTL
    for name in [name for name, seen in members.items() if seen < horizon]:
        del members[name]
    while len(members) > MAX_MEMBERS:
        del members[next(iter(members))]
    state.used = clock

    tokens = max(0.0, min(state.spacing, state.pacing))
    if state.stamp is not None and now > state.stamp:
        rs, rp = rates(now)
        elapsed = now - state.stamp
        tokens = min(
            min(burst, state.spacing + elapsed * rs),
            min(burst + CARRY, state.pacing + elapsed * rp),
        )
    plateau = law.plateau
    return _Reply(
        reserved=reserved,
        wait=wait,
        granted=now,
        gen=state.generation,
        rate=law.rate(now),
        plateau=plateau,
        since_age=now - law.since if plateau is not None else None,
        contended=law.contended(now),
        widening=law.widening(now),
        paused_for=max(0.0, state.paused_until - now),
        calls=state.calls,
        errors=state.errors,
        processes=len(members),
        started=started,
        hit=hit,
        cut=cut,
        turned=turned,
        closed=closed,
        tokens=tokens,
        jitter=jitter,
        born=state.born,
        rank=sum(1 for name in members if name < request.member),
    )


def _reset(state: QuotaState) -> None:
    """Start ``state`` again from nothing, in place."""
    fresh = QuotaState.fresh()
    for field in attrs.fields(QuotaState):
        setattr(state, field.name, getattr(fresh, field.name))
