"""Fixtures for the shared quota: real redis-server processes."""

from __future__ import annotations

import gc
import itertools
import warnings
from collections.abc import Callable, Iterator, Sequence

import pytest

from ._redis import RedisServer
from ._scenarios import ProcessRuns
from ._topologies import Cluster, SentinelGroup, TlsServer

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

    def make(
        *, password: str | None = None, start: bool = True, args: Sequence[str] = ()
    ) -> RedisServer:
        server = RedisServer(password=password, args=args)
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
        # The 50-account run (~25 s, ~100 clients timed to the millisecond) after them.
        late += [item for item in items if item.path.name == "test_shared_accounts.py"]
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


@pytest.fixture(scope="session")
def tls_server() -> Iterator[TlsServer]:
    """A redis-server with TLS and an ACL user (certificates made by the test)."""
    server = TlsServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def sentinel_group() -> Iterator[SentinelGroup]:
    """A primary, a replica and 3 sentinels."""
    group = SentinelGroup()
    yield group
    group.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Cluster]:
    """A 3-primary, 3-replica Redis Cluster."""
    cluster = Cluster()
    yield cluster
    cluster.close()
