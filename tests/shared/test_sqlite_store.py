"""The SQLite store's decision, piece by piece: the state's bytes, the one-statement
write transaction, the state kept from the store's own latest write, and the law a
thread reuses. Blocking calls of ``SqliteStore.decide`` (what the store's thread runs);
the store as a client uses it is in ``test_shared_embedded.py``."""

from __future__ import annotations

import math
import sqlite3
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from worksection_async import RateLimit
from worksection_async.shared import _decision, _sqlite
from worksection_async.shared._decision import QuotaState, Request, decide, gate
from worksection_async.shared._reply import _Unavailable
from worksection_async.shared._sqlite import SqliteStore

from .test_shared_embedded import request


def busy_state() -> QuotaState:
    """A state with every part filled: the law fed (a cut, a deque), reservations,
    several members, a pause."""
    state = QuotaState.fresh()
    for i, t in enumerate((10.0, 10.2, 10.4, 10.6)):
        outcomes = (None, (t - 0.1, 0.3)) if i % 2 else (t - 0.2, None)
        decide(state, request(member=f"host:{i}:é", outcomes=outcomes), t)
    assert state.law_values and state.queue and len(state.members) == 4
    return state


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(str(tmp_path / "quota.db"), timeout=1.0)
    yield store
    store._close_connection()


# -- the state's bytes ---------------------------------------------------------------------


def test_a_full_state_round_trips_through_its_bytes() -> None:
    state = busy_state()
    again = QuotaState.load(state.dump())
    assert again == state
    assert again.law == state.law
    assert isinstance(again.law["_recent"], list)
    assert decide(again, request(), 11.0) == decide(state, request(), 11.0)


def test_every_cut_short_state_is_a_fresh_one() -> None:
    """A state's bytes cut anywhere (a torn or foreign row) load as a fresh state, never
    as a state with parts missing, and never raise."""
    data = busy_state().dump()
    for size in range(len(data)):
        assert QuotaState.load(data[:size]) == QuotaState.fresh(), size
    assert QuotaState.load(data + b"\x00") == QuotaState.fresh()


def nan_at(data: bytes, offset: int) -> bytes:
    return data[:offset] + struct.pack("<d", math.nan) + data[offset + 8 :]


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        b"",
        b"\x00" * 300,
        "an earlier version's JSON text",
        '{"law": {}, "spacing": 1.0}',
        pytest.param(lambda data: nan_at(data, 8), id="NaN spacing"),
        pytest.param(lambda data: nan_at(data, 8 + 8 * 4), id="NaN last pause"),
        pytest.param(lambda data: b"wsq1" + data[4:], id="another layout"),
        pytest.param(lambda data: data[:-1] + b"\xff", id="a name not UTF-8"),
    ],
)
def test_whatever_the_row_holds_is_a_state(garbage: object) -> None:
    data = garbage(busy_state().dump()) if callable(garbage) else garbage
    state = QuotaState.load(data)  # type: ignore[arg-type]
    assert state == QuotaState.fresh()
    reply = decide(state, request(), 1000.0)
    assert reply.reserved and reply.wait == 0.0


def test_a_state_without_a_time_keeps_none() -> None:
    """``None`` times (a fresh law's plateau, a state never stamped) come back as
    ``None``, not NaN."""
    state = QuotaState.fresh()
    decide(state, request(reserve=False), 5.0)
    again = QuotaState.load(state.dump())
    assert again.stamp is None
    assert again.law["plateau"] is None
    assert again == state


def test_the_gate_is_read_from_the_first_bytes() -> None:
    state = busy_state()
    data = state.dump()
    assert gate(data) == f"{state.born} {state.generation}"
    assert gate(data[:256]) == gate(data)  # what the watchers read
    assert gate(data[: _decision._HEAD.size + 3]) is None  # born cut short
    assert gate(b"garbage") is None
    assert gate("text") is None
    assert gate(None) is None


# -- the store's transaction ---------------------------------------------------------------


def test_decisions_count_on_one_row_across_stores(tmp_path: Path) -> None:
    """Two stores on one file, deciding in turn and twice in a row: every decision
    sees the one before it (the state kept from a store's own write is used only when
    the row is still that write)."""
    path = str(tmp_path / "quota.db")
    a, b = SqliteStore(path, timeout=1.0), SqliteStore(path, timeout=1.0)
    try:
        order = [a, b, b, a, a, a, b, a, b, b]
        calls = [s.decide("k", request(limit=RateLimit(rate=1e6))).calls for s in order]
        assert calls == list(range(1, len(order) + 1))
        state = a.peek("k")
        assert state is not None
        assert state.calls == len(order)
        assert set(state.members) == {"host:1:abcd"}
    finally:
        a._close_connection()
        b._close_connection()


def test_the_stores_own_write_is_not_read_again(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[object] = []
    load = QuotaState.load

    def counted(data: bytes | str | None) -> QuotaState:
        loads.append(data)
        return load(data)

    monkeypatch.setattr(QuotaState, "load", counted)
    for _ in range(3):
        store.decide("k", request())
    assert len(loads) == 1  # the first decision's (an empty row)
    with sqlite3.connect(store.path) as other:  # another program rewrites the row
        other.execute("UPDATE quota SET state = ? WHERE key = 'k'", (QuotaState.fresh().dump(),))
    assert store.decide("k", request()).calls == 1
    assert len(loads) == 2


def test_a_deleted_file_takes_at_most_one_decision_more(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file's identity is checked after each decision (off its time), and before
    one only when the latest check is ``IDENTITY_AGE`` old: a file deleted after a check
    takes that one decision more, the check after it notices, the next decision is on a
    new file; a decision long after the deletion checks first."""
    import os

    def delete() -> None:
        for suffix in ("", "-wal", "-shm"):
            os.unlink(store.path + suffix)

    store.decide("k", request(limit=RateLimit(rate=1e6)))
    store._verify()
    delete()
    assert store.decide("k", request(limit=RateLimit(rate=1e6))).calls == 2  # the old file
    assert not os.path.exists(store.path)
    store._verify()
    assert store.decide("k", request(limit=RateLimit(rate=1e6))).calls == 1  # a new one
    store._verify()
    delete()
    monkeypatch.setattr(_sqlite, "IDENTITY_AGE", 0.0)  # the latest check is old now
    assert store.decide("k", request(limit=RateLimit(rate=1e6))).calls == 1
    assert os.path.exists(store.path)


def test_a_failed_decision_changes_nothing(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decision that raises (a bug) after changing the state it was given: the row
    stays as it was, and the next decision does not start from the changed state."""
    assert store.decide("k", request()).calls == 1

    def broken(state: QuotaState, request: Request, clock: float) -> object:
        state.calls += 100
        raise RuntimeError("a bug")

    monkeypatch.setattr(_sqlite, "decide", broken)
    with pytest.raises(_Unavailable, match="RuntimeError in a decision"):
        store.decide("k", request())
    monkeypatch.undo()
    state = store.peek("k")
    assert state is not None
    assert state.calls == 1
    assert store.decide("k", request()).calls == 2


def hold(path: str, seconds: float, released: threading.Event) -> threading.Thread:
    """Another connection takes the file's write lock now and keeps it ``seconds``."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")

    def run() -> None:
        time.sleep(seconds)
        released.set()
        holder.execute("COMMIT")
        holder.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_decision_waits_for_the_write_lock_before_reading(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another connection holds the write lock briefly: the decision waits for it and
    reads the row only once it has the lock (never a state that another process is
    about to replace)."""
    store.decide("k", request())
    released = threading.Event()
    seen: list[bool] = []
    decision_of = store._decision_of

    def watched(data: object) -> bytes:
        seen.append(released.is_set())
        return decision_of(data)

    monkeypatch.setattr(store, "_decision_of", watched)
    store._drop()  # connect again: the SQL function is the watched one
    thread = hold(store.path, 0.05, released)
    try:
        assert store.decide("k", request()).calls == 2
    finally:
        thread.join()
    assert seen == [True]


def test_a_write_lock_held_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "quota.db"), timeout=0.2)
    try:
        store.decide("k", request())
        released = threading.Event()
        thread = hold(store.path, 0.6, released)
        try:
            with pytest.raises(_Unavailable, match="locked"):
                store.decide("k", request())
            assert not released.is_set()
        finally:
            thread.join()
        assert store.decide("k", request()).calls == 2
    finally:
        store._close_connection()


# -- the law a thread reuses ---------------------------------------------------------------


def test_a_reused_law_decides_as_a_new_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decisions on two states with two limits, interleaved (one thread reusing its
    law), against the same decisions with a new law each time: same replies, same
    states."""
    fast, slow = RateLimit(rate=5), RateLimit(rate=1, recovery=20.0)
    steps = [
        (fast, (), 10.0),
        (slow, (None,), 10.1),
        (fast, ((9.9, 0.4),), 10.3),
        (fast, (10.25,), 10.6),
        (slow, ((10.0, 0.2), None), 10.7),
        (slow, ((10.6, 0.3),), 12.0),
        (fast, (None, None), 13.0),
        (slow, (), 40.0),
    ]

    def run(new_law_each_time: bool) -> tuple[list[object], list[QuotaState]]:
        states = {fast: QuotaState.fresh(), slow: QuotaState.fresh()}
        replies: list[object] = []
        for limit, outcomes, t in steps:
            if new_law_each_time:
                monkeypatch.setattr(_decision._REUSED, "law", None)
            req = request(limit=limit, outcomes=outcomes, member=f"m{t}")
            reply = decide(states[limit], req, t)
            replies.append(attrs_without_born(reply))
        return replies, [states[fast], states[slow]]

    reused = run(new_law_each_time=False)
    fresh = run(new_law_each_time=True)
    assert reused[0] == fresh[0]
    assert [s.law_values for s in reused[1]] == [s.law_values for s in fresh[1]]


def test_a_law_a_failed_decision_left_is_loaded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The law is not loaded again for the state its thread saved last (the same
    tuple), unless a decision fed it since and failed before saving it: then the next
    decision on that state loads it, as a new law would."""
    import copy

    limit = RateLimit(rate=5)
    state = QuotaState.fresh()
    decide(state, request(limit=limit, outcomes=(None,)), 10.0)
    saved, reference = copy.deepcopy(state), QuotaState.load(state.dump())
    assert saved.law_values is state.law_values is _decision._REUSED.values

    def broken(law: object) -> tuple[object, ...]:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patch:
        patch.setattr(_decision, "_save_law", broken)
        with pytest.raises(RuntimeError):
            decide(state, request(limit=limit, outcomes=(None, None, None)), 10.5)
    decide(saved, request(limit=limit, outcomes=(None,)), 11.0)
    monkeypatch.setattr(_decision._REUSED, "law", None)
    decide(reference, request(limit=limit, outcomes=(None,)), 11.0)
    assert saved.law_values == reference.law_values


def attrs_without_born(reply: object) -> dict[str, object]:
    import attrs

    fields = attrs.asdict(reply)  # type: ignore[arg-type]
    fields.pop("born")  # a random part
    return fields
