"""``SharedBackend``: one client's side of a shared quota (a ``QuotaBackend``).

Each ``Client`` given ``shared_quota=`` gets one in place of its local quota. Its calls
still queue in the process (the concurrency cap and the FIFO turn stay local); the
caller at the head of the queue asks the store for the next free moment (one decision,
reporting the outcomes of the process's requests since its last one), sleeps toward it
on its own clock and sends. A round trip runs in the quota's task group, so that a
cancelled caller leaves at once and what the store did for it is taken over (a
reservation becomes the next caller's). When the store does not answer, the calls go on
through a local quota (``on_unavailable="fallback"``) or raise ``QuotaBackendError``.
How a store decides is ``_quota.SharedQuota`` (Redis) or ``_embedded.EmbeddedQuota``
(SQLite, memory); this module knows them only as a ``QuotaStore``.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import anyio
import anyio.lowlevel
import attrs

from .._clock import Clock
from .._events import (
    ClientEvent,
    EventHook,
    PauseEnded,
    PauseStarted,
    QuotaBackendRestored,
    QuotaBackendUnavailable,
)
from .._exceptions import QuotaBackendError
from .._throttle import LocalQuota, QuotaDeadline, QuotaFigures, QuotaWaitExpired, RateLimit
from ._lua import MAX_JITTER, MAX_SPREAD
from ._reply import (
    CLOCK_WINDOW,
    HANDOVER,
    LATENESS_SAMPLES,
    PROBE_INTERVAL,
    RESTORE_FRACTION,
    SLOT_GUARD,
    SPIN,
    SPREAD_QUIET,
    SPREAD_SAMPLES,
    _fmt,
    _LocalGrant,
    _Misconfigured,
    _Reply,
    _Reservation,
    _RoundTrip,
    _Slots,
    _Unavailable,
)

__all__ = ["QuotaStore", "SharedBackend"]

logger = logging.getLogger("worksection_async.shared")


class QuotaStore(Protocol):
    """What a backend needs of its quota (``SharedQuota`` and its subclasses)."""

    _timeout: float
    _noun: str
    fallback_processes: int

    @property
    def on_unavailable(self) -> str: ...

    async def _open(self) -> None: ...

    async def _close(self) -> None: ...

    def _register(self, backend: SharedBackend) -> None: ...

    def _unregister(self, backend: SharedBackend) -> None: ...

    def _subscription(self, channel: str) -> int | None: ...

    def _start_soon(self, function: Callable[[], Any]) -> bool: ...

    async def _evaluate(self, keys: Sequence[str], args: Sequence[str]) -> _Reply: ...

    def _lost(self, backend: SharedBackend) -> None: ...


class SharedBackend:
    """One client's view of the shared state (a ``QuotaBackend``)."""

    def __init__(
        self,
        quota: QuotaStore,
        prefix: str,
        limit: RateLimit,
        clock: Clock,
        *,
        jitter: Callable[[float, float], float],
        on_event: EventHook | None,
        member: str | None = None,
    ) -> None:
        self._quota = quota
        self.keys = (f"{prefix}:state", f"{prefix}:members")
        self.channel = f"{prefix}:gate"
        self._limit = limit
        self._clock = clock
        self._jitter = jitter
        self._on_event = on_event
        ttl_ms = int(1000 * (2 * limit.recovery_seconds + 60))
        self._ttl = ttl_ms / 1000
        self._config = [
            _fmt(limit.configured),
            _fmt(limit.floor * limit.configured),
            _fmt(limit.decrease),
            _fmt(limit.margin),
            _fmt(limit.recovery_seconds),
            str(limit.burst),
            str(ttl_ms),
        ]
        self.member = member or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.now_override: float | None = None
        """Tests only: the time the script uses instead of the server's ``TIME``."""
        self._outbox: list[str] = []
        self._lateness: collections.deque[float] = collections.deque(maxlen=LATENESS_SAMPLES)
        self._departed: dict[float, float] = {}
        """The reserved moment of each request under way, by its grant."""
        self._answers: collections.deque[float] = collections.deque(maxlen=LATENESS_SAMPLES)
        """How long after its reserved moment each recent request was answered."""
        self._errors_seen: int | None = None
        """The shared state's count of error 20s at the latest reply..."""
        self._refused_at = -math.inf
        """...and when this process last saw it grow (or got an error 20 itself)."""
        self._told_success = False
        """A success of this process was reported (or is on its way)."""
        self._lazy_flush = False
        self._generation = 0
        self._born = ""
        self._sleeping: tuple[anyio.CancelScope, int] | None = None
        self._spares: collections.deque[_Reservation] = collections.deque()
        """Reservations of callers cancelled before their moment: the next caller of
        this process goes at that moment instead of reserving another (see ``take``)."""
        self._orphans: set[_RoundTrip] = set()
        """Round trips whose callers were cancelled, still under way."""
        self.reservations_unused = 0
        """Reservations no request went at: voided by a gate closure, or left by a
        cancelled caller and expired (tests: with the requests sent, they account for
        every reservation the store made for this backend)."""
        self._reply: _Reply | None = None
        self._asked = self._reply_at = 0.0
        self._offsets: collections.deque[tuple[float, float, float]] = collections.deque(
            maxlen=LATENESS_SAMPLES
        )
        """(when, lowest, highest offset of the server's clock from this one) of recent
        replies."""
        self._clock_error = 0.0
        self._offset = 0.0
        """The server's clock less this one, as recent replies bound it (the middle)."""
        self._processes = 1
        self._rank: int | None = None
        self._slots: _Slots | None = None
        """The turns this process sends in while falling back and for ``HANDOVER``
        seconds after (``None``: the shared state alone paces it)."""
        self._seen = False
        """Redis answered this backend at least once (so ``_processes`` is a count)."""
        self._fallback: LocalQuota | None = None
        self._next_probe = 0.0
        self._refused: str | None = None
        """A refusal a background probe met: the next call raises it."""
        self._opened = False

    def __repr__(self) -> str:
        mode = "falling back" if self._fallback is not None else "shared"
        return f"<SharedBackend {self.keys[0]!r} {mode}>"

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        if self._opened:
            return
        await self._quota._open()
        self._opened = True
        self._quota._register(self)

    async def close(self) -> None:
        if not self._opened:
            return
        self._opened = False
        try:
            if self._outbox and self._fallback is None:
                with anyio.CancelScope(shield=True), contextlib.suppress(_Unavailable):
                    await self._run(reserve=False)
        finally:
            self._quota._unregister(self)
            await self._quota._close()

    # -- taking a token --------------------------------------------------------------

    def take_nowait(self) -> object | None:
        fallback = self._fallback
        if self._slots is not None:
            return None  # a turn to wait for
        if fallback is not None and self._clock.now() < self._next_probe:
            at = fallback.take_nowait()
            return _LocalGrant(at, fallback) if isinstance(at, float) else None
        return None  # the shared state is one round trip away

    async def take(self, deadline: QuotaDeadline | None) -> object:
        if not self._opened:
            raise QuotaBackendError(
                "the shared quota is not open: use the client as 'async with Client(...)' "
                "(or open the quota with 'async with quota')"
            )
        while True:
            if self._refused is not None:
                refused, self._refused = self._refused, None
                raise QuotaBackendError(refused)
            # A cancelled caller's round trip may still bring its reservation back:
            # wait for it (one round trip at most) rather than reserve past it.
            while self._orphans:
                await next(iter(self._orphans)).done.wait()
            reservation = self._spare()
            turn: tuple[int, float] | None = None  # (slot, start) when sending in turns
            if reservation is None:
                now = self._clock.now()
                fallback = self._fallback
                slots = self._schedule(now)
                if fallback is not None and slots is not None and now >= self._next_probe:
                    # Sending in turns: the store is asked in the background, the
                    # caller waits for no probe (and a turn for none).
                    self._next_probe = now + PROBE_INTERVAL
                    self._quota._start_soon(self._probe)
                if fallback is not None and now < self._next_probe:
                    at = await fallback.take(deadline)
                    assert isinstance(at, float)
                    if slots is not None:
                        await self._turn(slots, deadline, 0.0)
                        # Woken too late for it: the next turn (the token is taken).
                        while self._clock.now() > self._turn_end(slots):
                            await self._turn(slots, deadline, 0.0)
                    return _LocalGrant(at, fallback)
                max_wait = None
                if deadline is not None and deadline.at is not None:
                    max_wait = max(0.0, deadline.at - now)
                if slots is not None:
                    # In a turn of this process only: reserve just before it starts,
                    # and only a moment in its first few milliseconds.
                    lead = min(slots.width / 4, self._round_trip_estimate())
                    turn = await self._turn(slots, deadline, lead)
                    window = lead + self._turn_slack(slots)
                    max_wait = window if max_wait is None else min(max_wait, window)
                try:
                    reply = await self._run_detached(reserve=True, max_wait=max_wait)
                except _Misconfigured as exc:
                    raise QuotaBackendError(str(exc)) from None
                except _Unavailable as exc:
                    self._unavailable(exc)
                    if (
                        turn is not None
                        and slots is not None
                        and self._slots is slots
                        and self._clock.now() < turn[1]
                    ):  # the probe failed before its turn: the fallback send takes it
                        slots.next_index = min(slots.next_index, turn[0])
                    continue  # on to the fallback quota
                if not reply.reserved:
                    if turn is not None:
                        continue  # the next turn (the deadline is checked there)
                    raise QuotaWaitExpired
                reservation = self._reservation(reply)
            elif (
                deadline is not None
                and deadline.at is not None
                and reservation.moment > deadline.at
            ):
                self._spares.appendleft(reservation)  # for a caller that can wait
                raise QuotaWaitExpired
            moment = reservation.moment
            # In turns: within the turn's slack of its start, on either side (the
            # reservation passes unused if that is too late).
            leave = moment
            if turn is not None:
                leave = max(moment, turn[1] - self._turn_slack(self._slots))
            if turn is not None and leave > self._turn_end(self._slots, turn[1]):
                self.reservations_unused += 1
                continue
            try:
                if leave > self._clock.now() and not await self._sleep(leave, reservation.gen):
                    logger.debug("shared quota: the gate closed meanwhile, reserving again")
                    self.reservations_unused += 1
                    continue
            except BaseException:
                # Cancelled before its moment: the reservation is the next caller's.
                self._spares.appendleft(reservation)
                raise
            now = self._clock.now()
            if turn is not None and now > self._turn_end(self._slots, turn[1]):
                self.reservations_unused += 1
                continue
            self._lateness.append(max(0.0, now - moment))
            departed = self._departed
            departed[reservation.granted] = moment
            if len(departed) > LATENESS_SAMPLES:  # outcomes never reported (a transport error)
                del departed[next(iter(departed))]
            if reservation.closed:
                self._emit(PauseEnded(at=now))
            return reservation.granted

    def _schedule(self, now: float) -> _Slots | None:
        """The turns in force (``None`` once the hand-over after an outage is over)."""
        slots = self._slots
        if slots is not None and slots.until is not None and now >= slots.until:
            self._slots = slots = None
        return slots

    @staticmethod
    def _turn_slack(slots: _Slots | None) -> float:
        """How far into its turn a process may still send: half what a turn keeps
        beyond the configured interval (so that neither the previous process, late by
        as much, nor this one comes within the interval of the other)."""
        return 0.0 if slots is None else max(0.0, slots.width - 1.0 / slots.rate) / 2

    def _turn_end(self, slots: _Slots | None, start: float | None = None) -> float:
        """The last moment to send in the turn that starts at ``start`` (the latest
        taken, by default)."""
        if slots is None:
            return math.inf
        if start is None:
            start = slots.start(slots.next_index - 1)
        return start + self._turn_slack(slots)

    def _round_trip_estimate(self) -> float:
        """The shortest round trip to the store of the last ``CLOCK_WINDOW`` seconds."""
        if not self._offsets:
            return self._reply_at - self._asked
        return min(high - low for _, low, high in self._offsets)

    async def _turn(
        self, slots: _Slots, deadline: QuotaDeadline | None, lead: float
    ) -> tuple[int, float]:
        """Wait until ``lead`` seconds before the next turn of this process, and take
        that turn: (its slot, its start on this clock). ``QuotaWaitExpired`` if it
        starts past the deadline."""
        index = slots.index_at(self._clock.now() + lead)
        start = slots.start(index)
        if deadline is not None and deadline.at is not None and start > deadline.at:
            raise QuotaWaitExpired
        slots.next_index = index + 1
        try:
            await self._sleep_until(start - lead)
        except BaseException:
            # Cancelled before its turn: the turn is the next caller's.
            if slots.next_index == index + 1:
                slots.next_index = index
            raise
        return index, start

    def _reservation(self, reply: _Reply) -> _Reservation:
        return _Reservation(self._local_moment(reply), reply.gen, reply.granted, reply.closed)

    def _spare(self) -> _Reservation | None:
        """A cancelled caller's reservation still good to use now, if there is one. One
        whose moment has passed (beyond how late this process leaves anyway) is
        dropped: the store counted its token spent then, and the next token is due
        one interval after it. One the gate's closure voided was given back by the
        store."""
        now = self._clock.now()
        late = max(SPIN, self._jitter_estimate())
        while self._spares:
            spare = self._spares.popleft()
            if spare.gen >= self._generation and spare.moment + late >= now:
                return spare
            self.reservations_unused += 1
        return None

    def _local_moment(self, reply: _Reply) -> float:
        """The reserved moment on this process's clock, never before the real one.

        The server decided at its time ``granted``, somewhere within the round trip
        (``asked`` to ``answered`` here): the offset between its clock and this one is
        at least ``granted - answered``. Of the round trips of the last
        ``CLOCK_WINDOW`` seconds, the one that bounds it best from below gives the
        moment (as NTP filters its samples): at most the best round trip late, and
        not early. A host's clock may be off by any amount; only the two clocks'
        rates must agree over the window."""
        asked, answered = self._asked, self._reply_at
        horizon = answered - CLOCK_WINDOW
        while self._offsets and self._offsets[0][0] < horizon:
            self._offsets.popleft()
        self._offsets.append((answered, reply.granted - answered, reply.granted - asked))
        low = max(sample[1] for sample in self._offsets)
        high = min(sample[2] for sample in self._offsets)
        if high < low:  # the clocks moved apart: start again from this round trip
            self._offsets.clear()
            self._offsets.append((answered, reply.granted - answered, reply.granted - asked))
            low, high = reply.granted - answered, reply.granted - asked
        self._clock_error = high - low
        self._offset = (low + high) / 2
        return min(max(reply.granted + reply.wait - low, asked + reply.wait), answered + reply.wait)

    async def _sleep(self, moment: float, generation: int) -> bool:
        """Sleep until a reservation's moment (clock time); ``False`` if a gate closure
        voided it."""
        if self._generation > generation:
            return False
        subscription = self._quota._subscription(self.channel)
        with anyio.CancelScope() as scope:
            self._sleeping = (scope, generation)
            try:
                await self._sleep_until(moment)
            finally:
                self._sleeping = None
        if scope.cancelled_caught:
            return False
        if subscription is None or self._quota._subscription(self.channel) != subscription:
            # No channel heard a closure all along: check the gate before sending.
            with contextlib.suppress(_Unavailable):
                await self._run_detached(reserve=False)
        return self._generation <= generation

    async def _sleep_until(self, target: float) -> None:
        """Sleep until ``target`` (clock time), the last ``SPIN`` seconds yielding to the
        event loop rather than waiting on its timer: a timer fires up to a millisecond
        late, and requests from different processes must not bunch up by that much."""
        wait = target - self._clock.now()
        if wait > SPIN:
            await self._clock.sleep(wait - SPIN)
        give_up = time.monotonic() + 2 * SPIN  # a virtual clock does not move on its own
        while self._clock.now() < target and time.monotonic() < give_up:
            await anyio.lowlevel.checkpoint()

    def _jitter_estimate(self) -> float:
        """How late this process's requests may leave after their reserved moments:
        the 90th percentile of how late its latest ``LATENESS_SAMPLES`` woke (0 before
        the first). Not how far off its estimate of the server's clock may be (the
        tightest round trip, ``_clock_error``): that estimate is one offset for every
        moment of the window, so it moves them all by the same amount, and processes
        as far from Redis are late together; counting it spaced every reservation by
        the distance to Redis (Redis 25 ms away: a tenth of the interval, the most the
        script keeps, and 0.90 of the quota where a perfect sender uses 0.95)."""
        samples = sorted(self._lateness)
        if not samples:
            return 0.0
        return samples[int(0.9 * (len(samples) - 1))]

    def _spread_estimate(self) -> float:
        """How unevenly this process's requests reach the API, as their answers show
        (one that reached it late comes back late): the 90th percentile of how long
        after their moments its latest ``LATENESS_SAMPLES`` were answered, less the
        least of them (it includes how late they left; 0 before ``SPREAD_SAMPLES``
        answers: a few, among them the first ones on new connections, say little).
        Counted only for ``SPREAD_QUIET`` intervals
        after an error 20 on the shared state, and only beyond ``MAX_JITTER`` of the
        interval (0 otherwise: how late the process leaves and the learned margin
        cover less): an API that answers slowly and unevenly but refuses nothing,
        or a spread of a few milliseconds, costs no use."""
        if not self._refused_recently():
            return 0.0
        samples = sorted(self._answers)
        count = len(samples)
        if count < SPREAD_SAMPLES:
            return 0.0  # too few to tell: the others may
        spread = samples[int(0.9 * (count - 1))] - samples[0]
        return spread if spread > MAX_JITTER / self._limit.configured else 0.0

    def _refused_recently(self) -> bool:
        """An error 20 on the shared state less than ``SPREAD_QUIET`` intervals ago."""
        quiet = SPREAD_QUIET / self._limit.configured
        return self._clock.now() - self._refused_at <= quiet

    def _answered(self, grant: float, *, refused: bool) -> None:
        """The request of ``grant`` was answered now."""
        now = self._clock.now()
        if refused:
            self._refused_at = now
        moment = self._departed.pop(grant, None)
        if moment is not None:
            self._answers.append(max(0.0, now - moment))

    def heard(self, generation: int, born: str) -> None:
        """The gate's generation is at least ``generation`` (from the channel or a
        reply): a caller sleeping toward an older reservation wakes up."""
        if born != self._born:
            return  # another state's: the next reply says which one is current
        if generation > self._generation:
            self._generation = generation
            sleeping = self._sleeping
            if sleeping is not None and sleeping[1] < generation:
                sleeping[0].cancel()

    # -- outcomes --------------------------------------------------------------------

    def on_success(self, grant: object) -> None:
        if isinstance(grant, _LocalGrant):
            grant.quota.on_success(grant.at)
            return
        assert isinstance(grant, float)
        self._answered(grant, refused=False)
        self._outbox.append("s")
        if not self._told_success or self._refused_recently():
            # The law tells back-to-back error 20s (another program on the account)
            # from isolated ones by the successes between them: the first success, and
            # every one while error 20s are recent, reach the shared state at once.
            self._told_success = True
            self._quota._start_soon(self._flush)
        elif not self._lazy_flush:
            # Usually the next reservation carries it; if none comes soon, send it.
            self._lazy_flush = self._quota._start_soon(self._flush_later)

    def on_quota_exceeded(self, grant: object) -> None:
        if isinstance(grant, _LocalGrant):
            grant.quota.on_quota_exceeded(grant.at)
            return
        assert isinstance(grant, float)
        self._answered(grant, refused=True)
        self._outbox.append(f"e{_fmt(grant)}:{_fmt(self._jitter(0.0, 1.0))}")
        self._quota._start_soon(self._flush)  # every process must pause: at once

    async def _probe(self) -> None:
        """While falling back in turns: ask the store whether it answers again (a
        report, no reservation), in the quota's task group."""
        if self._fallback is None:
            return
        started = self._clock.now()
        try:
            await self._run(reserve=False)
        except _Unavailable as exc:
            self._unavailable(exc, background=True)
            self._next_probe = started + PROBE_INTERVAL  # once a second, however slow
        except _Misconfigured as exc:
            self._refused = str(exc)
        except Exception:  # a background task's failure would cancel the client's work
            logger.exception("shared quota: probing the store failed")

    async def _flush_later(self) -> None:
        try:
            await self._clock.sleep(min(1.0, 1.0 / self._limit.configured))
        finally:
            self._lazy_flush = False
        await self._flush()

    async def _flush(self) -> None:
        if not self._outbox or self._fallback is not None:
            return
        try:
            await self._run(reserve=False)
        except _Unavailable as exc:
            self._unavailable(exc, background=True)
        except _Misconfigured as exc:  # the next call raises it to its caller
            logger.debug("shared quota: outcomes not reported: %s", exc)
        except Exception:  # a background task's failure would cancel the client's work
            logger.exception("shared quota: reporting outcomes failed")

    # -- round trips -----------------------------------------------------------------

    def _arguments(self, reserve: bool, max_wait: float | None) -> list[str]:
        """The script's ``ARGV`` (taking the outcomes to report out of the outbox)."""
        outcomes, self._outbox = self._outbox, []
        return [
            *self._config,
            self.member,
            "1" if reserve else "0",
            "" if max_wait is None else _fmt(max_wait),
            "" if self.now_override is None else _fmt(self.now_override),
            self.channel,
            _fmt(self._spacing_report()),
            *outcomes,
        ]

    def _spacing_report(self) -> float:
        """What the script spaces reservations by beyond the interval for this process
        (``ARGV[13]``): how late it leaves, or how unevenly its requests arrive."""
        interval = 1.0 / self._limit.configured
        return max(
            min(MAX_JITTER * interval, self._jitter_estimate()),
            min(MAX_SPREAD * interval, self._spread_estimate()),
        )

    async def _run(self, *, reserve: bool, max_wait: float | None = None) -> _Reply:
        """One round trip, in this task (reports, closing, tests)."""
        args = self._arguments(reserve, max_wait)
        asked = self._clock.now()
        reply = await self._quota._evaluate(self.keys, args)
        return self._settle(reply, asked, self._clock.now(), background=not reserve)

    async def _run_detached(self, *, reserve: bool, max_wait: float | None = None) -> _Reply:
        """One round trip for a caller that may be cancelled while it runs: run in the
        quota's task group, so that the caller leaves at once when cancelled (never held
        by a slow or reconnecting store) and what the store did for it is taken over
        (a reservation becomes the next caller's, see ``_spare``)."""
        trip = _RoundTrip(reserve)
        args = self._arguments(reserve, max_wait)
        if not self._quota._start_soon(functools.partial(self._round_trip, trip, args)):
            raise _Unavailable("the shared quota is closed")
        try:
            await trip.done.wait()
        except BaseException:
            self._abandon(trip)
            raise
        if trip.error is not None:
            raise trip.error
        if trip.reply is None:
            raise _Unavailable("the shared quota closed during the round trip")
        return self._settle(trip.reply, trip.asked, trip.answered, background=not reserve)

    async def _round_trip(self, trip: _RoundTrip, args: list[str]) -> None:
        trip.asked = self._clock.now()
        try:
            trip.reply = await self._quota._evaluate(self.keys, args)
            trip.answered = self._clock.now()
        except Exception as exc:  # the caller's to raise (or the orphan's to drop)
            trip.error = exc
        finally:
            trip.done.set()
            if trip.abandoned:
                self._orphans.discard(trip)
                self._adopt(trip)

    def _abandon(self, trip: _RoundTrip) -> None:
        """The caller of ``trip`` was cancelled: the backend takes over its outcome."""
        if trip.done.is_set():
            self._adopt(trip)
        else:
            trip.abandoned = True
            self._orphans.add(trip)

    def _adopt(self, trip: _RoundTrip) -> None:
        if trip.reply is None:
            return  # failed: the next caller finds out for itself
        try:
            reply = self._settle(trip.reply, trip.asked, trip.answered, background=True)
        except _Unavailable:
            return  # too slow to trust while falling back: its reservation just passes
        except Exception:  # no caller to raise into
            logger.exception("shared quota: taking over a cancelled call's reply failed")
            return
        if trip.reserve and reply.reserved:
            self._spares.append(self._reservation(reply))

    def _settle(self, reply: _Reply, asked: float, answered: float, *, background: bool) -> _Reply:
        """Take in the store's answer to a round trip from ``asked`` to ``answered``."""
        now = answered
        timeout = self._quota._timeout
        if self._fallback is not None and answered - asked > RESTORE_FRACTION * timeout:
            raise _Unavailable(
                f"answered in {answered - asked:.3f}s, too near the {timeout:g}s timeout to rely on"
            )
        if (
            self._born
            and reply.born != self._born
            and self._fallback is None  # not after an outage it knows of
            and now - self._reply_at < self._ttl
        ):
            self._quota._lost(self)
        self._asked = asked
        kept = self._reply
        if kept is None or reply.born != kept.born or reply.calls >= kept.calls:
            # An older answer settled late (a cancelled caller's round trip taken over
            # in the background) does not turn the figures back.
            self._reply, self._reply_at = reply, now
        self._processes = max(1, reply.processes)
        self._rank = reply.rank
        if (
            self._errors_seen is not None
            and reply.born == self._born
            and reply.errors > self._errors_seen
        ):
            self._refused_at = now  # another process's error 20 (or this one's)
        self._errors_seen = reply.errors
        self._seen = True
        if self._fallback is not None:
            self._fallback = None
            slots = self._slots
            if slots is not None:  # the others may still be falling back
                slots.until = now + HANDOVER + 2 * slots.count * slots.width
            logger.info("shared quota %s answers again: back on the shared state", self._quota)
            self._emit(QuotaBackendRestored(at=now), background=background)
        if reply.started is not None:
            logger.debug(
                "quota exceeded: pausing every process for %.3fs, rate now %.3f/s",
                reply.started,
                reply.rate,
            )
            # The server closed the gate somewhere in the round trip: from its start, the
            # pause is not said to last longer than it does.
            until = asked + reply.started
            self._emit(PauseStarted(at=now, until=until), background=background)
        if reply.born != self._born:  # a new state (Redis restarted, the key expired)
            self._born, self._generation = reply.born, reply.gen
        self.heard(reply.gen, reply.born)
        return reply

    def _unavailable(self, exc: _Unavailable, *, background: bool = False) -> None:
        error = str(exc)
        self._outbox.clear()
        if self._quota.on_unavailable == "raise":
            if background:
                logger.debug("shared quota unavailable (%s): outcomes not reported", error)
                return
            raise QuotaBackendError(
                f"the shared quota's {self._quota._noun} did not answer ({error}); nothing was sent"
            ) from exc
        now = self._clock.now()
        self._next_probe = now + PROBE_INTERVAL
        if self._fallback is not None:
            return
        processes = self._processes if self._seen else self._quota.fallback_processes
        limit = attrs.evolve(
            self._limit,
            rate=self._limit.configured / processes,
            per=1.0,
            recovery=self._limit.recovery_seconds,
        )
        self._fallback = LocalQuota(
            limit, self._clock, jitter=self._jitter, on_event=self._on_event
        )
        self._slots = self._turns(now, processes)
        logger.warning(
            "shared quota %s unavailable (%s): falling back to a local quota of %.3g "
            "requests/s (the configured rate shared by %d process%s%s)%s until its %s answers",
            self._quota,
            error,
            limit.configured,
            processes,
            "" if processes == 1 else "es",
            "" if self._seen else ", a guess: fallback_processes",
            "" if self._slots is None else ", in turns with the others by rank",
            self._quota._noun,
        )
        self._emit(
            QuotaBackendUnavailable(
                at=now, error=error, rate=limit.configured, processes=processes
            ),
            background=background,
        )

    def _turns(self, now: float, processes: int) -> _Slots | None:
        """The turns to send in while falling back, if this process knows its rank.

        The first is held back by ``processes + 1`` turns: the moments the others
        reserved before the store went away (one each, at most) pass first."""
        if not self._seen or self._rank is None:
            return None  # no rank, no turns: the local quota alone
        limit = self._limit
        width = 1.0 / limit.per_second + SLOT_GUARD / limit.configured
        slots = _Slots(
            width=width,
            count=processes,
            rank=self._rank % processes,
            offset=self._offset,
            rate=limit.configured,
        )
        slots.next_index = slots.index_at(now + (processes + 1) * width)
        if self._slots is not None:
            slots.next_index = max(slots.next_index, self._slots.next_index)
        return slots

    def _emit(self, event: ClientEvent, *, background: bool = False) -> None:
        if self._on_event is None:
            return
        if not background:
            self._on_event(event)
            return
        try:  # no call's task to raise into: a hook's failure must not stop the quota
            self._on_event(event)
        except Exception:
            logger.exception("on_event hook failed on %r", event)

    # -- state -----------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        return self._fallback is None

    def figures(self) -> QuotaFigures:
        limit = self._limit
        if self._fallback is not None:
            return attrs.evolve(
                self._fallback.figures(),
                configured_rate=limit.per_second,
                processes=self._processes,
            )
        reply = self._reply
        if reply is None:
            return QuotaFigures(
                configured_rate=limit.per_second,
                current_rate=limit.configured,
                rate_at_last_decrease=None,
                since_last_decrease=None,
                contended=False,
                learned_margin=0.0,
                tokens=1.0,
                paused_until=None,
                shared=True,
            )
        now = self._clock.now()
        elapsed = now - self._reply_at
        paused_until = self._reply_at + reply.paused_for
        return QuotaFigures(
            configured_rate=limit.per_second,
            current_rate=reply.rate,
            rate_at_last_decrease=reply.plateau,
            since_last_decrease=(
                reply.since_age + elapsed if reply.since_age is not None else None
            ),
            contended=reply.contended,
            learned_margin=reply.widening / reply.rate + reply.jitter,
            tokens=reply.tokens,
            paused_until=paused_until if paused_until > now else None,
            shared=True,
            shared_calls=reply.calls,
            shared_quota_errors=reply.errors,
            processes=reply.processes,
        )
