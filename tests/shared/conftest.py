"""Fixtures for the shared quota: real redis-server processes."""

from __future__ import annotations

import gc
import itertools
import warnings
from collections.abc import Callable, Iterator

import pytest

from ._redis import RedisServer
from ._scenarios import ProcessRuns

_EARLY = pytest.StashKey[bool]()

_keys = itertools.count()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session (tests use keys of their own)."""
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def make_redis_server() -> Iterator[Callable[..., RedisServer]]:
    """Private redis-servers, for tests that stop them or set a password."""
    servers: list[RedisServer] = []

    def make(*, password: str | None = None, start: bool = True) -> RedisServer:
        server = RedisServer(password=password)
        servers.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def key(request: pytest.FixtureRequest) -> str:
    """A shared-quota key no other test uses."""
    return (
        f"test-{next(_keys)}-{request.node.name[:40]}".replace(" ", "_")
        .replace("[", "-")
        .replace("]", "")
    )


@pytest.fixture(autouse=True)
def _coredis_failed_connections() -> Iterator[None]:
    """coredis 6.9 leaves the memory streams of a connection whose connect fails
    unclosed (they warn when collected). Tests here make connections fail on purpose:
    ignore that one warning while they run, and collect the leftovers before the next
    test, so that it does not surface (as an error) somewhere else."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unclosed <MemoryObject", ResourceWarning)
        yield
        gc.collect()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The multi-process runs take ~45 s of wall time and little CPU: their tests go last
    (then the cancellation tests), and the runs start with the first test of this
    directory (below), so that the rest of the suite runs while they do."""
    late = [item for item in items if item.path.name == "test_shared_processes.py"]
    if late:
        # The cancellation tests time a program to the second: after the runs, whose
        # processes (higher priority, see _procs.PRIORITY) starve others as they start.
        last = [item for item in items if item.path.name == "test_shared_cancel.py"]
        items[:] = [item for item in items if item not in late and item not in last]
        items += late + last
        config.stash[_EARLY] = True


@pytest.fixture(scope="session")
def process_runs(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessRuns]:
    """The multi-process runs of test_shared_processes.py, started in a thread."""
    runs = ProcessRuns(tmp_path_factory.mktemp("processes"), redis_server)
    yield runs
    runs.close()


@pytest.fixture(autouse=True, scope="session")
def _start_process_runs(request: pytest.FixtureRequest) -> None:
    if request.config.stash.get(_EARLY, False):
        request.getfixturevalue("process_runs")
