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
``sqlite://`` runs it inside one ``BEGIN IMMEDIATE`` write transaction. The state is a
``QuotaState`` record; ``dump``/``load`` turn it into the JSON text SQLite keeps
(whatever text is found there, ``load`` returns a valid state or a fresh one).
"""

from __future__ import annotations

import collections
import json
import math
import secrets
from collections.abc import Sequence
from typing import Any, Final

import attrs

from .._rate_limit import _EPSILON, RateLimit
from .._throttle import CARRY, _Law
from ._lua import JITTER_HALF_LIFE, MAX_JITTER, MAX_QUEUE, MEMBER_TTL
from ._reply import _Reply, _Unavailable

__all__ = ["QuotaState", "Request", "decide", "parse_request"]

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

    law: dict[str, Any] = attrs.Factory(dict)
    """The ``_Law``'s state slots (empty: a law never fed)."""
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

    def dump(self) -> str:
        """The state as JSON text (non-finite floats as JavaScript's words)."""
        return json.dumps(attrs.asdict(self, recurse=False), separators=(",", ":"))

    @classmethod
    def load(cls, text: str | bytes | None) -> QuotaState:
        """The state ``dump`` wrote; anything else (nothing, a state some other version
        or program wrote, garbage) is a fresh state."""
        if text is None:
            return cls.fresh()
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict):
                return cls.fresh()
            law = raw["law"]
            if not isinstance(law, dict) or not all(isinstance(k, str) for k in law):
                return cls.fresh()
            members = {str(k): _real(v) for k, v in raw["members"].items()}
            queue = [tuple(_real(x) for x in entry) for entry in raw["queue"]]
            if any(len(entry) != 4 for entry in queue):
                return cls.fresh()
            return cls(
                law=law,
                spacing=_real(raw["spacing"]),
                pacing=_real(raw["pacing"]),
                stamp=_optional(raw["stamp"]),
                paused_until=_real(raw["paused_until"]),
                last_pause=_real(raw["last_pause"]),
                generation=_integer(raw["generation"]),
                queue=queue,  # type: ignore[arg-type]
                calls=_integer(raw["calls"]),
                errors=_integer(raw["errors"]),
                jitter=_real(raw["jitter"]),
                jitter_at=_optional(raw["jitter_at"]),
                born=str(raw["born"]),
                members=members,
                used=_optional(raw["used"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            return cls.fresh()


def _real(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(value)
    number = float(value)
    if math.isnan(number):
        raise ValueError(value)
    return number


def _optional(value: object) -> float | None:
    return None if value is None else _real(value)


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(value)
    return value


def _load_law(limit: RateLimit, saved: dict[str, Any]) -> _Law:
    """A ``_Law`` for ``limit`` in the state ``saved`` (slot by slot; a deque comes back
    as a deque of its own length)."""
    law = _Law(limit)
    for name in LAW_SLOTS:
        if name not in saved:
            continue
        value = saved[name]
        current = getattr(law, name)
        if isinstance(current, collections.deque):
            if isinstance(value, list) and all(isinstance(x, bool) for x in value):
                current.extend(value)
        elif value is None or isinstance(value, (int, float)):
            setattr(law, name, value)
    return law


def _save_law(law: _Law) -> dict[str, Any]:
    saved: dict[str, Any] = {}
    for name in LAW_SLOTS:
        value = getattr(law, name)
        saved[name] = list(value) if isinstance(value, collections.deque) else value
    return saved


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
    jitter = min(MAX_JITTER / ceiling, max(jitter, request.jitter))

    kept = [entry for entry in state.queue if entry[0] > now]
    if len(kept) > MAX_QUEUE:
        kept = kept[-MAX_QUEUE:]

    law = _load_law(limit, state.law)

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
    state.law = _save_law(law)
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
