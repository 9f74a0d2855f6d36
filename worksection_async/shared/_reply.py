"""What a shared quota's store and a client's backend exchange: the reply of one
decision, a reservation, a round trip under way, and the failures of a store. Plain
values below ``_quota`` (the quota and its stores) and ``_backend`` (a client's side)."""

from __future__ import annotations

import math
from typing import Final

import anyio
import attrs

from .._throttle import LocalQuota

__all__ = [
    "CLOCK_WINDOW",
    "HANDOVER",
    "LATENESS_SAMPLES",
    "LISTEN_RETRY",
    "PROBE_INTERVAL",
    "RESTORE_FRACTION",
    "SLOT_GUARD",
    "SPIN",
    "SPREAD_QUIET",
    "SPREAD_SAMPLES",
]

PROBE_INTERVAL: Final = 1.0
"""While falling back, Redis is tried again at most this often (seconds)."""

LATENESS_SAMPLES: Final = 64
"""Sends over which a process measures how late it leaves after its moments."""

SPREAD_QUIET: Final = 300.0
"""Intervals of the configured rate after the latest error 20 on the shared state during
which a process counts how unevenly its requests reach the API (the spread of its
answers' times after their moments): refusals show that the account sees that spread,
and without them a slow, uneven API costs nothing."""

SPREAD_SAMPLES: Final = 4
"""Answers a process needs before it measures that spread."""

CLOCK_WINDOW: Final = 10.0
"""Seconds of round trips from which the server's clock is estimated."""

SPIN: Final = 0.002
"""Seconds before a reserved moment during which the caller yields instead of sleeping."""

LISTEN_RETRY: Final = 0.5
"""Seconds between attempts to subscribe again after the channel's connection broke."""

RESTORE_FRACTION: Final = 0.5
"""While falling back, a probe brings the client back to the shared state only when
Redis answered within this fraction of ``timeout`` (hysteresis: a Redis that answers
near the timeout does not flap between the two)."""


SLOT_GUARD: Final = 0.1
"""While falling back, each process sends in turns (``_Slots``): a turn lasts the
interval the pacing keeps (the configured interval, less ``margin``) plus this fraction
of the configured interval, so that a process waking a little late does not meet the
next one (the most the script keeps between reservations for how late processes
leave, too)."""

HANDOVER: Final = 2.0 * PROBE_INTERVAL
"""Seconds a client back on the shared state still sends only in its own turns, beyond
two rounds of turns: the other processes may still be falling back, each until its next
probe (which waits for a turn of its own)."""


def _fmt(value: float) -> str:
    """A float as the script reads it back exactly."""
    return repr(float(value))


class _Unavailable(Exception):
    """A round trip to Redis failed; ``str()`` is safe to show (credentials masked)."""


class _Misconfigured(Exception):
    """Redis answered with a refusal that is a configuration error (a wrong password,
    an ACL refusal, another rate on the key): never a reason to fall back."""


@attrs.frozen
class _LocalGrant:
    """A request the fallback quota let go: its outcome goes back to that quota."""

    at: float
    quota: LocalQuota


@attrs.frozen
class _Reservation:
    """A moment the store reserved for one request of this process."""

    moment: float
    """On this process's clock."""
    gen: int
    granted: float
    closed: bool


@attrs.define
class _Slots:
    """Turns in which the processes on a key send while they cannot reach the store: the
    time of the store's clock cut into slots of ``width`` seconds, slot ``k`` being the
    turn of the process of rank ``k % count`` (the ranks and the count of the last
    reply, so every process places the same slots, each with its own estimate of the
    store's clock). A process sends at the start of its own slots only, once each, and
    so never within ``width`` of another's send: the fallback quotas of the processes,
    each at its share of the rate, no longer meet at random."""

    width: float
    count: int
    rank: int
    offset: float
    """The store's clock less this process's (as the last replies bound it)."""
    rate: float
    """The configured rate (requests/s)."""
    next_index: int = 0
    """The first slot not yet used (or held back: see ``SharedBackend._unavailable``)."""
    until: float | None = None
    """``None`` while falling back; after, the local time the hand-over ends."""

    def index_at(self, local: float) -> int:
        """The first slot of this process that starts at or after ``local`` and is not
        used yet."""
        index = max(self.next_index, math.ceil((local + self.offset) / self.width))
        return index + (self.rank - index) % self.count

    def start(self, index: int) -> float:
        """When slot ``index`` starts, on this process's clock."""
        return index * self.width - self.offset


@attrs.define(eq=False)
class _RoundTrip:
    """One round trip run in the quota's task group for a caller that waits on it: a
    caller cancelled meanwhile leaves at once, and what the store did for it (a
    reservation, a report) is not lost but taken over by the backend."""

    reserve: bool
    done: anyio.Event = attrs.Factory(anyio.Event)
    reply: _Reply | None = None
    error: Exception | None = None
    asked: float = 0.0
    answered: float = 0.0
    abandoned: bool = False


@attrs.define(kw_only=True)
class _Reply:
    """The script's answer (see the return statement of ``_lua.py``). Never changed
    once made (not frozen: a frozen class's ``__init__`` costs twice as much, and the
    embedded stores make one per decision)."""

    reserved: bool
    wait: float
    """Seconds from the server's now to the reserved moment."""
    granted: float
    """Server time of this decision (a grant's stamp for reporting its outcome)."""
    gen: int
    rate: float
    plateau: float | None
    since_age: float | None
    contended: bool
    widening: float
    paused_for: float
    calls: int
    errors: int
    processes: int
    started: float | None
    """This call's error 20 closed the gate for that many seconds."""
    hit: float | None
    cut: bool
    turned: bool
    closed: bool
    """The gate was closed when the reservation was made."""
    tokens: float
    jitter: float
    """The spread of send times kept between reservations (s)."""
    born: str
    """When the shared state was made (its generations count from then)."""
    rank: int | None = None
    """How many of the processes on the key have a name before this one's (its turn
    while falling back, see ``_Slots``); ``None``: not known."""

    @classmethod
    def parse(cls, raw: object) -> _Reply:
        if isinstance(raw, (list, tuple)) and len(raw) == 3 and str(raw[0]) == "conflict":
            raise _Misconfigured(
                f"the shared quota's key is used at a configured rate of {raw[1]}/s by "
                f"other processes, this client is configured at {raw[2]}/s: every process "
                "on one key must use the same rate_limit (refused, nothing was sent)"
            )
        if not isinstance(raw, (list, tuple)) or len(raw) != 22:
            raise _Unavailable(f"unexpected answer from the shared quota's script: {raw!r:.80}")
        f = [x.decode() if isinstance(x, bytes) else str(x) for x in raw]

        def opt(text: str) -> float | None:
            return float(text) if text else None

        return cls(
            reserved=f[0] == "1",
            wait=float(f[1]),
            granted=float(f[2]),
            gen=int(f[3]),
            rate=float(f[4]),
            plateau=opt(f[5]),
            since_age=opt(f[6]),
            contended=f[7] == "1",
            widening=float(f[8]),
            paused_for=float(f[9]),
            calls=int(f[10]),
            errors=int(f[11]),
            processes=int(f[12]),
            started=opt(f[13]),
            hit=opt(f[14]),
            cut=f[15] == "1",
            turned=f[16] == "1",
            closed=f[17] == "1",
            tokens=float(f[18]),
            jitter=float(f[19]),
            born=f[20],
            rank=int(f[21]),
        )
