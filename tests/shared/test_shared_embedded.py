"""SharedQuota on ``memory://`` and ``sqlite://`` in one process, on asyncio and trio.

Sharing and fairness run on virtual time (the clients, the fake and the store read
one ``ManualClock``); the SQLite file's faults run on real time at high rates, with the
file deleted, locked by another program, garbage, or held by a process that is
SIGKILLed inside its write transaction. The multi-process runs are in
``test_shared_processes.py``.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx
import pytest

import worksection_async as ws
from worksection_async import Client, RateLimit
from worksection_async.shared import SharedQuota
from worksection_async.shared._decision import QuotaState, Request, decide
from worksection_async.shared._embedded import EmbeddedQuota, embedded_quota
from worksection_async.testing import FakeWorksection, ManualClock

pytestmark = pytest.mark.anyio

_names = itertools.count()


def memory_url() -> str:
    """A ``memory://`` name no other test uses (the store lives as long as the process)."""
    return f"memory://test-{os.getpid()}-{next(_names)}"


def sent(events: list[ws.ClientEvent]) -> list[float]:
    return [e.at for e in events if isinstance(e, ws.RequestSent)]


def quota_errors(events: list[ws.ClientEvent]) -> int:
    return sum(
        1 for e in events if isinstance(e, ws.ResponseReceived) and e.error == "QuotaExceededError"
    )


def successes(events: list[ws.ClientEvent]) -> int:
    return sum(1 for e in events if isinstance(e, ws.ResponseReceived) and e.error is None)


# -- sharing, on virtual time -------------------------------------------------------------


async def test_two_clients_on_memory_share_a_one_per_second_account() -> None:
    """Two clients in one process, 8 callers each, on ``memory://`` against an account
    of 1 request/s for 200 s: no error 20, the account used at >= 0.95, each client
    between 40 % and 60 % of the requests, and no two requests closer than the
    interval."""
    clock = ManualClock(1000.0)
    fake = FakeWorksection(clock=clock, quota="1/s")
    url = memory_url()
    events: list[list[ws.ClientEvent]] = [[], []]

    async def program(i: int) -> None:
        quota = embedded_quota(
            url, key="acct", on_unavailable="fallback", timeout=None, clock=clock.now
        )
        async with Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            clock=clock,
            shared_quota=quota,
            on_event=events[i].append,
        ) as client:

            async def caller() -> None:
                while clock.now() < 1200.0:
                    await client.call("get_projects")

            async with anyio.create_task_group() as tg:
                for _ in range(8):
                    tg.start_soon(caller)

    async with clock.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(program, 0)
        tg.start_soon(program, 1)
    assert quota_errors(events[0]) + quota_errors(events[1]) == 0
    done = [successes(e) for e in events]
    assert sum(done) >= 0.95 * 200, done
    assert 0.4 <= done[0] / sum(done) <= 0.6, done
    times = sorted(sent(events[0]) + sent(events[1]))
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0 - 0.0021


async def test_a_client_that_starts_gets_no_free_burst() -> None:
    """A client that joins a quota in use (a new process on the file) waits its turn: its
    first request leaves one interval after the last one of the others, not at once."""
    clock = ManualClock(50.0)
    fake = FakeWorksection(clock=clock, quota="2/s")
    url = memory_url()
    events: list[ws.ClientEvent] = []

    def client() -> Client:
        quota = embedded_quota(
            url, key="acct", on_unavailable="fallback", timeout=None, clock=clock.now
        )
        return Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            clock=clock,
            rate_limit=RateLimit(rate=2),
            shared_quota=quota,
            on_event=events.append,
        )

    async with clock.autojump(), client() as first:
        for _ in range(5):
            await first.call("get_projects")
        async with client() as second:
            await second.call("get_projects")
    times = sent(events)
    assert len(times) == 6
    assert times[-1] - times[-2] >= 0.5 - 1e-9
    assert quota_errors(events) == 0


async def test_a_pause_in_one_client_holds_the_other() -> None:
    """An error 20 seen by one client (the account's quota is lower than configured)
    closes the gate for both clients of the memory store: no request of either leaves
    while a pause lasts, and together they find the account's rate."""
    clock = ManualClock(0.0)
    fake = FakeWorksection(clock=clock, quota="1/s")
    url = memory_url()
    events: list[ws.ClientEvent] = []
    pauses: list[ws.PauseStarted] = []

    def hook(event: ws.ClientEvent) -> None:
        events.append(event)
        if isinstance(event, ws.PauseStarted):
            pauses.append(event)

    async def program() -> None:
        quota = embedded_quota(
            url, key="acct", on_unavailable="fallback", timeout=None, clock=clock.now
        )
        async with Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            clock=clock,
            rate_limit=RateLimit(rate=1.5),
            shared_quota=quota,
            on_event=hook,
        ) as client:
            await client.map(lambda _: client.call("get_projects"), range(30))

    async with clock.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(program)
        tg.start_soon(program)
    assert pauses
    times = sent(events)
    for pause in pauses:  # (on a virtual clock a caller stops spinning SPIN = 2 ms early)
        assert not [t for t in times if pause.at < t < pause.until - 0.0021], pause
    assert fake.stats.by_action["get_projects"] == 60
    assert quota_errors(events) <= 12


async def test_a_pause_reaches_a_sleeping_client_of_another_sqlite_quota(
    tmp_path: Path,
) -> None:
    """Two quotas on one SQLite file (as two processes have): an error 20 seen by one
    client closes the gate, and the other client's caller, asleep toward its moment,
    hears it from the file (the gates are read while it sleeps) and does not send while
    the pause lasts (50 ms allowed for the news to arrive, as for Redis)."""
    fake = FakeWorksection(quota="8/s")
    url = f"sqlite://{tmp_path}/quota.db"
    events: list[ws.ClientEvent] = []
    pauses: list[ws.PauseStarted] = []

    def hook(event: ws.ClientEvent) -> None:
        events.append(event)
        if isinstance(event, ws.PauseStarted):
            pauses.append(event)

    async def program() -> None:
        async with Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            rate_limit=RateLimit(rate=10),
            shared_quota=SharedQuota.from_url(url),
            on_event=hook,
        ) as client:
            await client.map(lambda _: client.call("get_projects"), range(15))

    async with anyio.create_task_group() as tg:
        tg.start_soon(program)
        tg.start_soon(program)
    assert pauses
    times = sent(events)
    for pause in pauses:
        assert not [t for t in times if pause.at + 0.05 < t < pause.until - 0.0021], pause
    assert fake.stats.by_action["get_projects"] == 30


# -- cancellation ---------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return memory_url() if request.param == "memory" else f"sqlite://{tmp_path}/quota.db"


async def test_cancelling_waiting_calls_returns_at_once(store_url: str) -> None:
    """40 calls wait on the shared quota (5/s); cancelling them all ends within 1 s,
    and the quota is closed and usable again afterwards."""
    fake = FakeWorksection(quota=None)
    quota = SharedQuota.from_url(store_url, key="cancel")

    async def waiting_calls() -> None:
        async with (
            Client(
                fake.account_url,
                fake.api_key,
                transport=fake.transport,
                rate_limit=RateLimit(rate=5),
                shared_quota=quota,
            ) as client,
            anyio.create_task_group() as tg,
        ):
            for _ in range(40):
                tg.start_soon(client.call, "get_projects")

    start = time.monotonic()
    with anyio.move_on_after(0.6):
        await waiting_calls()
    assert time.monotonic() - start < 0.6 + 1.0
    assert not quota.is_open
    assert 1 <= fake.stats.requests <= 6
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, shared_quota=quota
    ) as client:
        with anyio.fail_after(5):
            await client.call("get_projects")


# -- the SQLite file's faults, real time ---------------------------------------------------


def fast_client(fake: FakeWorksection, quota: SharedQuota, events: list[ws.ClientEvent]) -> Client:
    return Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        rate_limit=RateLimit(rate=50),
        shared_quota=quota,
        on_event=events.append,
    )


def kinds(events: list[ws.ClientEvent], kind: type) -> list[ws.ClientEvent]:
    return [e for e in events if isinstance(e, kind)]


async def test_sqlite_shares_between_two_clients_and_paces(tmp_path: Path) -> None:
    """Two clients on one SQLite file at 20/s: 20 calls take >= 0.9 s together, at most
    three error 20s (timer jitter on a busy machine), nothing falls back, and the file
    holds one row, keyed by the account's host, whose counters count every call."""
    fake = FakeWorksection(quota="20/s")
    url = f"sqlite://{tmp_path}/quota.db"
    events: list[ws.ClientEvent] = []

    async def run() -> None:
        async with Client(
            fake.account_url,
            fake.api_key,
            transport=fake.transport,
            rate_limit=RateLimit(rate=20),
            shared_quota=SharedQuota.from_url(url),
            on_event=events.append,
        ) as client:
            await client.map(lambda _: client.call("get_projects"), range(10))
            assert client.quota.shared
            assert client.quota.shared_calls is not None

    start = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        tg.start_soon(run)
    elapsed = time.monotonic() - start
    assert fake.stats.by_action["get_projects"] == 20
    assert elapsed >= 19 / 20 * 0.95, elapsed
    errors = quota_errors(events)
    assert errors <= 3
    assert not kinds(events, ws.QuotaBackendUnavailable)
    with sqlite3.connect(tmp_path / "quota.db") as db:
        [(key, state)] = db.execute("SELECT key, state FROM quota").fetchall()
    assert key == f"{{worksection_async:{httpx.URL(fake.account_url).host}}}:state"
    assert QuotaState.load(state).calls >= 20 + errors  # and the reservations a pause voided


async def test_a_file_that_cannot_be_created_falls_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The file's directory does not exist: calls go on through the local quota (one
    WARNING naming the file, one QuotaBackendUnavailable); once the directory exists the
    next probe makes the file and the client is back on the shared state."""
    directory = tmp_path / "missing"
    fake = FakeWorksection(quota=None)
    events: list[ws.ClientEvent] = []
    caplog.set_level(logging.INFO, logger="worksection_async")
    quota = SharedQuota.from_url(f"sqlite://{directory}/quota.db")
    async with fast_client(fake, quota, events) as client:
        for _ in range(5):
            await client.call("get_projects")
        assert not client.quota.shared
        directory.mkdir()
        await anyio.sleep(1.1)
        for _ in range(3):
            await client.call("get_projects")
        assert client.quota.shared
    assert fake.stats.requests == 8
    [down] = kinds(events, ws.QuotaBackendUnavailable)
    assert "No such file or directory" in down.error  # type: ignore[attr-defined]
    assert len(kinds(events, ws.QuotaBackendRestored)) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "until its SQLite file answers" in warnings[0]
    assert (directory / "quota.db").exists()


async def test_on_unavailable_raise_sends_nothing(tmp_path: Path) -> None:
    """``on_unavailable="raise"`` and a file that cannot be made: QuotaBackendError that
    says so, and no request leaves."""
    fake = FakeWorksection(quota=None)
    quota = SharedQuota.from_url(f"sqlite://{tmp_path}/no/quota.db", on_unavailable="raise")
    async with Client(
        fake.account_url, fake.api_key, transport=fake.transport, shared_quota=quota
    ) as client:
        with pytest.raises(ws.QuotaBackendError, match="SQLite file did not answer"):
            await client.call("get_projects")
    assert fake.stats.requests == 0


async def test_a_deleted_file_is_made_again(tmp_path: Path) -> None:
    """The file (and its -wal, -shm) deleted mid-run: no call fails, and the store makes
    a new file and keeps deciding there (the new file counts the calls after it, but
    for the first: a decision may still go to the deleted file, which the check after
    it notices, see ``test_a_deleted_file_takes_at_most_one_decision_more``)."""
    path = tmp_path / "quota.db"
    fake = FakeWorksection(quota=None)
    events: list[ws.ClientEvent] = []
    async with fast_client(fake, SharedQuota.from_url(f"sqlite://{path}"), events) as client:
        for _ in range(5):
            await client.call("get_projects")
        for suffix in ("", "-wal", "-shm"):
            os.unlink(f"{path}{suffix}")
        for _ in range(5):
            await client.call("get_projects")
        assert client.quota.shared
    assert fake.stats.requests == 10
    assert not kinds(events, ws.QuotaBackendUnavailable)
    with sqlite3.connect(path) as db:
        [(state,)] = db.execute("SELECT state FROM quota").fetchall()
    assert QuotaState.load(state).calls in (4, 5)


async def test_a_deleted_database_alone_is_made_again(tmp_path: Path) -> None:
    """Only the database file deleted (its -wal and -shm left, in use): the new file
    does not take them for its own; calls go on, on the shared state (the first may
    still go to the deleted file)."""
    path = tmp_path / "quota.db"
    fake = FakeWorksection(quota=None)
    events: list[ws.ClientEvent] = []
    async with fast_client(fake, SharedQuota.from_url(f"sqlite://{path}"), events) as client:
        for _ in range(5):
            await client.call("get_projects")
        path.unlink()
        for _ in range(5):
            await client.call("get_projects")
        assert client.quota.shared
    assert not kinds(events, ws.QuotaBackendUnavailable)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        [(state,)] = db.execute("SELECT state FROM quota").fetchall()
    assert QuotaState.load(state).calls in (4, 5)


async def test_a_corrupt_file_falls_back_until_replaced(tmp_path: Path) -> None:
    """Garbage where the database should be: the calls go on through the local quota;
    the garbage deleted, the next probe makes a database and shares again."""
    path = tmp_path / "quota.db"
    path.write_bytes(b"this is not a database, " * 200)
    fake = FakeWorksection(quota=None)
    events: list[ws.ClientEvent] = []
    async with fast_client(fake, SharedQuota.from_url(f"sqlite://{path}"), events) as client:
        for _ in range(5):
            await client.call("get_projects")
        assert not client.quota.shared
        path.unlink()
        await anyio.sleep(1.1)
        await client.call("get_projects")
        assert client.quota.shared
    [down] = kinds(events, ws.QuotaBackendUnavailable)
    assert "not a database" in down.error  # type: ignore[attr-defined]
    assert len(kinds(events, ws.QuotaBackendRestored)) == 1


HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS other (x)")
db.execute(sys.argv[2])
db.execute("INSERT INTO other VALUES (1)")
print("locked", flush=True)
time.sleep(float(sys.argv[3]))
db.execute("COMMIT")
"""


@pytest.fixture
def hold_lock() -> Iterator[Callable[[Path, str, float], subprocess.Popen[str]]]:
    """``hold_lock(path, begin, seconds)``: another program that takes the file's lock
    (``BEGIN IMMEDIATE`` or ``BEGIN EXCLUSIVE``) and keeps it ``seconds``."""
    processes: list[subprocess.Popen[str]] = []

    def hold(path: Path, begin: str, seconds: float) -> subprocess.Popen[str]:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", HOLD, str(path), begin, str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "locked"
        return process

    yield hold
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


async def test_a_file_locked_by_another_program(
    tmp_path: Path, hold_lock: Callable[[Path, str, float], subprocess.Popen[str]]
) -> None:
    """Another program holds the file's exclusive lock for 2.5 s mid-run: no call fails
    (the local quota carries them, at most ``timeout`` late), and once the lock is
    released the client is back on the shared state."""
    path = tmp_path / "quota.db"
    fake = FakeWorksection(quota=None)
    events: list[ws.ClientEvent] = []
    quota = SharedQuota.from_url(f"sqlite://{path}", timeout=0.5)
    async with fast_client(fake, quota, events) as client:
        for _ in range(3):
            await client.call("get_projects")
        holder = hold_lock(path, "BEGIN EXCLUSIVE", 2.5)
        start = time.monotonic()
        while time.monotonic() - start < 2.0:
            with anyio.fail_after(1.0):
                await client.call("get_projects")
        during = fake.stats.requests - 3
        holder.wait(10)
        await anyio.sleep(1.1)
        await client.call("get_projects")
        assert client.quota.shared
    assert during >= 30
    assert len(kinds(events, ws.QuotaBackendUnavailable)) == 1
    assert len(kinds(events, ws.QuotaBackendRestored)) == 1


async def test_a_process_killed_inside_its_write_transaction(
    tmp_path: Path, hold_lock: Callable[[Path, str, float], subprocess.Popen[str]]
) -> None:
    """A process takes the file's write lock (``BEGIN IMMEDIATE``) and is SIGKILLed
    holding it: the client goes on within 2 s, on the shared state, and its
    transaction left nothing in the file."""
    path = tmp_path / "quota.db"
    fake = FakeWorksection(quota=None)
    events: list[ws.ClientEvent] = []
    async with fast_client(fake, SharedQuota.from_url(f"sqlite://{path}"), events) as client:
        await client.call("get_projects")
        holder = hold_lock(path, "BEGIN IMMEDIATE", 60)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        killed = time.monotonic()
        with anyio.fail_after(2.0):
            for _ in range(10):
                await client.call("get_projects")
        assert time.monotonic() - killed < 2.0
        assert client.quota.shared
    assert not kinds(events, ws.QuotaBackendUnavailable)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM other").fetchone() == (0,)


def read_only(path: Path) -> Callable[[], None]:
    """Make ``path`` read-only for this process (root ignores permissions: then the
    file is made immutable); return what undoes it."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return lambda: path.chmod(0o644)
    chattr = shutil.which("chattr")
    assert chattr is not None, "chattr (e2fsprogs) is needed to make a file read-only as root"
    subprocess.run([chattr, "+i", str(path)], check=True)  # noqa: S603
    return lambda: subprocess.run([chattr, "-i", str(path)], check=True)  # noqa: S603


async def test_a_read_only_file_falls_back_until_writable(tmp_path: Path) -> None:
    """A client that starts on a read-only file: no call fails (the local quota carries
    them); made writable, the next probe puts the client on the shared state."""
    path = tmp_path / "quota.db"
    sqlite3.connect(path).close()
    undo = read_only(path)
    fake = FakeWorksection(quota=None)
    events: list[ws.ClientEvent] = []
    try:
        async with fast_client(fake, SharedQuota.from_url(f"sqlite://{path}"), events) as client:
            for _ in range(5):
                await client.call("get_projects")
            assert not client.quota.shared
            undo()
            await anyio.sleep(1.1)
            await client.call("get_projects")
            assert client.quota.shared
    finally:
        undo()
    assert fake.stats.requests == 6
    assert len(kinds(events, ws.QuotaBackendUnavailable)) == 1
    assert len(kinds(events, ws.QuotaBackendRestored)) == 1


# -- settings ------------------------------------------------------------------------------


async def test_sqlite_decisions_run_in_the_stores_thread_and_skip_abandoned_ones(
    tmp_path: Path,
) -> None:
    """Every decision runs in the store's own thread (never on the event loop); a caller
    that gives up waiting gets ``_Unavailable``, and a decision whose caller gave up
    before it began is never taken (it would reserve a moment nobody uses)."""
    from worksection_async.shared._quota import _Unavailable
    from worksection_async.shared._sqlite import SqliteStore

    store = SqliteStore(str(tmp_path / "quota.db"), timeout=0.3)
    request = Request(
        limit=RateLimit(rate=10),
        ttl=3600.0,
        member="m",
        reserve=True,
        max_wait=None,
        now=None,
        jitter=0.0,
        outcomes=(),
    )
    loop_thread = threading.get_ident()
    threads: list[int] = []
    release = threading.Event()
    decide = store.decide

    def held(key: str, request: Request) -> object:
        threads.append(threading.get_ident())
        if len(threads) == 2:
            release.wait(5.0)
        return decide(key, request)

    store.decide = held  # type: ignore[method-assign]
    await store.open()
    try:
        first = await store.run("k", request)
        assert first.reserved
        with pytest.raises(_Unavailable, match="no decision within"):
            await store.run("k", request)  # held in the thread past the timeout
        with pytest.raises(_Unavailable, match="no decision within"):
            await store.run("k", request)  # queued behind it: abandoned, never begun
        release.set()
        after = await store.run("k", request)
        assert after.reserved
        state = store.peek("k")
        assert state is not None
        assert state.calls == 3  # the first, the held one, the last: not the abandoned one
        assert len(threads) == 3
        assert len(set(threads)) == 1
        assert loop_thread not in threads
    finally:
        release.set()
        await store.close()


def test_urls_are_checked() -> None:
    """A relative path, a query, an empty name, a bad key or timeout: a ValueError that
    says what is wrong, before anything is opened."""
    for url in ("sqlite://quota.db", "sqlite:///", "sqlite:///tmp/q.db?mode=ro"):
        with pytest.raises(ValueError, match="sqlite://"):
            SharedQuota.from_url(url)
    for url in ("memory://", "memory://a b", "memory://a/b"):
        with pytest.raises(ValueError, match="memory://"):
            SharedQuota.from_url(url)
    with pytest.raises(ValueError, match="key"):
        SharedQuota.from_url("memory://x", key="a{b}")
    with pytest.raises(ValueError, match="on_unavailable"):
        SharedQuota.from_url("memory://x", on_unavailable="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        SharedQuota.from_url("sqlite:///tmp/q.db", timeout=0)
    with pytest.raises(ValueError, match="sqlite:///PATH"):
        SharedQuota.from_url("postgres://db/quota")


def test_repr_and_type(tmp_path: Path) -> None:
    """from_url gives a SharedQuota whose repr names the store."""
    quota = SharedQuota.from_url(f"sqlite://{tmp_path}/q%20uota.db", key="k")
    assert isinstance(quota, SharedQuota)
    assert isinstance(quota, EmbeddedQuota)
    assert repr(quota) == (
        f"<SharedQuota sqlite://{tmp_path}/q uota.db key='k' on_unavailable='fallback' closed>"
    )
    assert repr(SharedQuota.from_url("memory://bots")).startswith("<SharedQuota memory://bots ")


def test_sqlite_and_memory_need_no_redis_extra(tmp_path: Path) -> None:
    """Without coredis, ``worksection_async.shared`` imports, and a sqlite:// quota
    works; a Redis URL says which extra to install."""
    probe = (
        "import sys\n"
        "sys.modules['coredis'] = None\n"
        "import anyio\n"
        "from worksection_async import Client\n"
        "from worksection_async.shared import SharedQuota\n"
        "from worksection_async.testing import FakeWorksection\n"
        "fake = FakeWorksection(quota=None)\n"
        "async def main():\n"
        f"    quota = SharedQuota.from_url('sqlite://{tmp_path}/quota.db')\n"
        "    async with Client(fake.account_url, fake.api_key, transport=fake.transport,\n"
        "                      shared_quota=quota) as client:\n"
        "        await client.call('get_projects')\n"
        "        print(client.quota.shared)\n"
        "anyio.run(main)\n"
        "try:\n"
        "    SharedQuota.from_url('redis://127.0.0.1:1')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "True"
    assert "pip install 'worksection-async[redis]'" in lines[1]


# -- the state in the file -----------------------------------------------------------------


def request(**changes: object) -> Request:
    fields: dict[str, object] = {
        "limit": RateLimit(rate=2),
        "ttl": 140.0,
        "member": "host:1:abcd",
        "reserve": True,
        "max_wait": None,
        "now": None,
        "jitter": 0.0,
        "outcomes": (),
    }
    fields.update(changes)
    return Request(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        "{}",
        '{"law": [], "members": {}}',
        '{"law": {}, "members": {"a": "x"}, "queue": []}',
        '{"law": {"_recent": "zzz", "_streak": "a"}, "spacing": NaN}',
        "[" * 100_000,
    ],
)
def test_whatever_the_file_holds_is_a_state(text: str) -> None:
    """Garbage, another version's state, NaN, deep nesting: ``load`` gives a valid state
    (a fresh one when in doubt), and a decision on it works."""
    state = QuotaState.load(text)
    reply = decide(state, request(), 1000.0)
    assert reply.reserved and reply.wait == 0.0
    assert QuotaState.load(state.dump()) == state


def test_a_state_round_trips_through_its_text() -> None:
    """After decisions with outcomes, reservations and members, the text ``dump``
    writes loads back to the same state, and decides alike."""
    state = QuotaState.fresh()
    for t in (10.0, 10.2, 10.4):
        decide(state, request(outcomes=(None, (t - 0.1, 0.3))), t)
    again = QuotaState.load(state.dump())
    assert again == state
    assert decide(again, request(), 11.0) == decide(state, request(), 11.0)


def test_an_old_or_earlier_boots_state_starts_again() -> None:
    """A state unused for longer than its expiry, or written at a later clock time (the
    host restarted: its monotonic clock counts from the boot again), is a fresh one: no
    pause or queue from it holds anyone back."""
    state = QuotaState.fresh()
    decide(state, request(outcomes=((99.0, 0.5),)), 100.0)
    assert state.paused_until > 100.0
    born = state.born
    later = QuotaState.load(state.dump())
    decide(later, request(), 100.0 + 141.0)
    assert later.born != born
    assert later.generation == 0
    rebooted = QuotaState.load(state.dump())
    reply = decide(rebooted, request(), 5.0)
    assert rebooted.born != born
    assert reply.wait == 0.0
