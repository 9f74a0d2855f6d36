"""Real OS processes share one quota through a real redis-server, against served fakes
with real-time quotas.

Five runs go at once (each on its own fake, so their accounts do not mix), and the
tests below read their logs:

* ``shared``: 4 processes (2 on asyncio, 2 on trio) x 8 callers, 300 get_task calls
  at a quota of 10/s, sharing one SharedQuota; ``unshared``: the same with 4
  independent clients, the baseline;
* ``kill``: 4 processes x 8 callers on get_projects at 10/s, two of them with clocks
  off by five minutes either way; one is SIGKILLed 3 s in;
* ``restart``: 2 processes on a redis-server of their own, stopped 2 s in and started
  again 3 s later;
* ``pause``: 3 processes configured at 5/s on an account that allows 4/s, so error
  20s close the shared gate;
* ``sqlite``: ``shared`` with one SQLite file in place of Redis;
* ``sqlite-kill``: 4 processes on one SQLite file at 10/s; 3 s in, another process
  takes the file's write lock and is SIGKILLed holding it, and one of the four is
  SIGKILLed;
* ``sqlite-faults``: 2 processes on one SQLite file; 2 s in the file is deleted, 4 s
  in another program locks it for 2 s.

The thresholds leave room for a loaded 2-core machine, and are still far from what
the same processes do without a shared quota. The runs start with the first test of
tests/shared and these tests run last (``conftest.py``): the rest of the suite runs
while they do.
"""

from __future__ import annotations

import itertools
import statistics

import pytest

from ._procs import times
from ._scenarios import QUOTA, ProcessRuns, Run


@pytest.fixture(scope="module")
def runs(process_runs: ProcessRuns) -> dict[str, Run]:
    """The runs, started with the first test of tests/shared (see conftest.py)."""
    return process_runs.get()


def rate(successes: list[float]) -> float:
    return (len(successes) - 1) / (successes[-1] - successes[0])


def test_four_processes_share_the_quota(runs: dict[str, Run]) -> None:
    """4 processes x 8 callers, 300 get_task at a real 10/s: the shared quota runs at
    >= 0.9 of it with error 20 on <= 1 % of the requests, and every call returns its
    task; 4 unshared clients (the baseline) meet far more error 20s."""
    lines = []
    for name in ("shared", "unshared"):
        run = runs[name]
        ok = run.answers(error=None)
        requests = len(run.sent())
        lines.append(
            f"{name:9} {len(ok)} tasks in {ok[-1] - ok[0]:5.1f} s: rate/quota "
            f"{rate(ok) / QUOTA:.3f}, error 20 on {run.errors()}/{requests} requests "
            f"({run.errors() / requests:.1%})"
        )
    summary = "\n".join(lines)  # the figures, in a failure's message (never among the dots)
    shared, unshared = runs["shared"], runs["unshared"]
    for worker in shared.workers:
        [result] = worker.of("result")
        assert result["returned_its_task"] is True, (worker.name, summary)
        assert result["failed"] == 0, summary
        [done] = worker.of("done")
        assert done["shared"] is True
    ok = shared.answers(error=None)
    assert len(ok) == 300
    assert shared.fake_stats["by_action"]["get_task"] == 300
    assert rate(ok) >= 0.9 * QUOTA, lines[0]
    assert shared.errors() <= 0.01 * len(shared.sent()), lines[0]
    assert unshared.errors() > 5 * max(1, shared.errors()), lines


def test_a_killed_process_leaves_nothing_behind(runs: dict[str, Run]) -> None:
    """One of four processes is SIGKILLed: from 3 s after, the other three run at the
    aggregate rate the four had before (nothing waits for what it had reserved)."""
    run = runs["kill"]
    killed = run.marks["killed"]
    survivors = [w for i, w in enumerate(run.workers) if i != 1]
    ok = sorted(times(survivors, "answer", error=None))
    end = max(ok)
    after = [t for t in ok if killed + 3.0 <= t <= end]
    before = [t for t in times(run.workers, "answer", error=None) if run.start + 1.0 <= t < killed]
    assert end - killed >= 5.0
    rate_before = len(before) / (killed - run.start - 1.0)
    rate_after = len(after) / (end - killed - 3.0)
    assert rate_after >= 0.9 * rate_before, (rate_after, rate_before)
    assert rate_after >= 0.75 * QUOTA, (rate_after, rate_before)


def test_clocks_minutes_apart_pace_together(runs: dict[str, Run]) -> None:
    """In the same run, two processes' clocks are five minutes ahead and behind: the
    four keep to the quota together (Redis's clock times them), with error 20 on
    <= 2 % of the requests."""
    run = runs["kill"]
    ok = sorted(times(run.workers, "answer", error=None))
    span = max(ok) - run.start
    assert len(ok) / span <= QUOTA * 1.02
    assert run.errors() <= 0.02 * len(run.sent())
    for i in (0, 2):  # the offset ones took their part
        assert len(run.workers[i].of("answer")) >= 10


def test_redis_stopped_and_started_again(runs: dict[str, Run]) -> None:
    """redis-server stops mid-run: no call fails (the local fallback carries them, the
    processes in turns), each process logs one WARNING; it starts again: the processes
    share again; error 20 on <= 2 % of the requests across it all."""
    run = runs["restart"]
    stopped, restarted = run.marks["stopped"], run.marks["restarted"]
    for worker in run.workers:
        [result] = worker.of("result")
        assert result["failed"] == 0
        warnings = [line for line in worker.of("log") if line["level"] == "WARNING"]
        assert len(warnings) == 1, warnings
        assert "falling back to a local quota" in warnings[0]["msg"]
        [down] = worker.of("QuotaBackendUnavailable")
        assert stopped <= down["t"] < restarted
        [up] = worker.of("QuotaBackendRestored")
        assert restarted <= up["t"] <= restarted + 3.0
        [done] = worker.of("done")
        assert done["shared"] is True
        assert done["shared_calls"] > 0
    during = [t for t in run.answers(error=None) if stopped + 0.5 <= t <= restarted]
    assert len(during) >= 0.3 * QUOTA * (restarted - stopped - 0.5)  # calls kept going
    # Issue 29: error 20 <= 2 % across the outage and the hand-over (11-12 % before the
    # processes took turns while falling back).
    assert run.errors() <= max(1, 0.02 * len(run.sent())), (run.errors(), len(run.sent()))


def test_a_pause_holds_every_process(runs: dict[str, Run]) -> None:
    """An error 20 in one process closes the gate for all: no request leaves any of the
    three processes while a pause lasts (50 ms allowed for the news to arrive)."""
    run = runs["pause"]
    pauses = [line for w in run.workers for line in w.of("pause")]
    assert pauses
    sent = run.sent()
    for pause in pauses:
        inside = [t for t in sent if pause["at"] + 0.05 < t < pause["until"]]
        assert not inside, (pause, inside)
    pausing = {line["pid"] for w in run.workers for line in w.of("pause")}
    gaps = statistics.median(b - a for a, b in itertools.pairwise(sent))
    assert gaps >= 0.2  # 4-5/s together, not 3 x 5/s
    assert len(pausing) >= 1


def test_four_processes_share_a_sqlite_file(runs: dict[str, Run]) -> None:
    """4 processes (2 asyncio, 2 trio) x 8 callers, 300 get_task at a real 10/s, sharing
    one SQLite file: no error reaches a caller, every call returns its task, the
    aggregate stays under the quota, error 20 on <= 1 % of the requests, and no two
    requests of the four leave closer than the interval less 5 ms (but for a few, on a
    loaded 2-core machine that other work shares: <= 3 % of the gaps; the benchmark
    measures it on a quiet one)."""
    run = runs["sqlite"]
    ok = run.answers(error=None)
    sent = run.sent()
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    close = [g for g in gaps if g < 1 / QUOTA - 0.005]
    summary = (  # the figures, in a failure's message (never among the dots)
        f"sqlite    {len(ok)} tasks in {ok[-1] - ok[0]:5.1f} s: rate/quota "
        f"{rate(ok) / QUOTA:.3f}, error 20 on {run.errors()}/{len(sent)} requests, "
        f"{len(close)} gaps < interval - 5 ms (smallest {min(gaps) * 1000:.1f} ms)"
    )
    for worker in run.workers:
        [result] = worker.of("result")
        assert result["returned_its_task"] is True, worker.name
        assert result["failed"] == 0
        [done] = worker.of("done")
        assert done["shared"] is True
        assert not worker.of("QuotaBackendUnavailable")
    assert len(ok) == 300
    assert run.fake_stats["by_action"]["get_task"] == 300
    assert rate(ok) <= QUOTA * 1.02, summary
    assert rate(ok) >= 0.85 * QUOTA, summary
    assert run.errors() <= 0.01 * len(sent), summary
    assert len(close) <= 0.03 * len(gaps), (summary, sorted(close)[:10])


def test_sqlite_survives_a_kill_inside_the_write_lock(runs: dict[str, Run]) -> None:
    """A process SIGKILLed while it holds the file's write lock, and one of the four
    clients SIGKILLed: from 2 s after, the other three run at >= 0.85 of the quota, no
    call of theirs failed, and they stayed on (or came back to) the shared state."""
    run = runs["sqlite-kill"]
    killed = run.marks["killed"]
    survivors = [w for i, w in enumerate(run.workers) if i != 1]
    ok = sorted(times(survivors, "answer", error=None))
    end = max(ok)
    after = [t for t in ok if killed + 2.0 <= t <= end]
    assert end - killed >= 5.0
    assert len(after) / (end - killed - 2.0) >= 0.85 * QUOTA
    for worker in survivors:
        [result] = worker.of("result")
        assert result["failed"] == 0
        [done] = worker.of("done")
        assert done["shared"] is True
    assert run.errors() <= 0.02 * len(run.sent())


def test_sqlite_file_deleted_and_locked_mid_run(runs: dict[str, Run]) -> None:
    """The file deleted mid-run, then locked by another program for 2 s: no call fails;
    each process falls back while it is locked (one WARNING) and is back on the shared
    state within 2 s of its release; calls go on all along."""
    run = runs["sqlite-faults"]
    deleted, locked, released = (run.marks[k] for k in ("deleted", "locked", "released"))
    for worker in run.workers:
        [result] = worker.of("result")
        assert result["failed"] == 0
        downs = worker.of("QuotaBackendUnavailable")
        ups = worker.of("QuotaBackendRestored")
        assert len(downs) == len(ups) == 1, (downs, ups)
        assert locked <= downs[0]["t"] <= released
        assert released <= ups[0]["t"] <= released + 2.0
        warnings = [line for line in worker.of("log") if line["level"] == "WARNING"]
        assert len(warnings) == 1, warnings
        [done] = worker.of("done")
        assert done["shared"] is True
    ok = run.answers(error=None)
    for start in (deleted, locked + 1.0):  # calls went on after each fault
        assert len([t for t in ok if start <= t <= start + 1.0]) >= 0.3 * QUOTA
