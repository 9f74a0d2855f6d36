"""Redis as production runs it, started by the tests on loopback: a TLS server with an
ACL user (certificates made with the ``openssl`` CLI), a Sentinel group (a primary, a
replica, 3 sentinels) and a 3-primary 3-replica Cluster. No mocks: Debian's
``redis-server``, ``redis-sentinel`` and ``redis-cli`` (``.ci/run`` installs them)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ._redis import RedisServer, free_port

SERVICE = "quota-primary"
USER, PASSWORD = "quota-app", "tls-acl-s3cret"


def need(binary: str) -> str:
    """The path of ``binary``; fails (CI) or skips (elsewhere) without it."""
    found = shutil.which(binary)
    if found is None:
        message = f"{binary} is not installed (.ci/run installs it)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _wait(condition: object, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {seconds:g} s")
        time.sleep(0.05)


def cli(port: int, *args: str, tls: Path | None = None) -> str:
    """``redis-cli -p port args...`` (loopback), its output."""
    command = [need("redis-cli"), "-h", "127.0.0.1", "-p", str(port)]
    if tls is not None:
        command += ["--tls", "--cacert", str(tls / "ca.pem")]
    result = subprocess.run(  # noqa: S603
        [*command, *args], capture_output=True, text=True, timeout=20, check=False
    )
    return result.stdout


def kill(server: RedisServer) -> None:
    """SIGKILL, as a crashed host: no goodbye to the replicas or sentinels."""
    if server.process is not None and server.process.poll() is None:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    server.process = None


class TlsServer:
    """A redis-server with TLS on ``tls_port`` (a plain port too, for readiness) and
    an ACL user ``USER`` that may do everything the quota needs."""

    def __init__(self) -> None:
        openssl = need("openssl")
        self.certs = Path(tempfile.mkdtemp(prefix="ws-redis-tls-"))
        c = self.certs

        def run(*args: str) -> None:
            subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)  # noqa: S603

        run(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
            "-keyout",
            str(c / "ca.key"),
            "-out",
            str(c / "ca.pem"),
        )
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(c / "server.key"),
            "-out",
            str(c / "server.csr"),
        )
        (c / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run("x509", "-req", "-in", str(c / "server.csr"), "-CA", str(c / "ca.pem"),
            "-CAkey", str(c / "ca.key"), "-CAcreateserial", "-days", "2",
            "-extfile", str(c / "ext.cnf"), "-out", str(c / "server.pem"))  # fmt: skip
        self.tls_port = free_port()
        self.server = RedisServer(
            args=[
                "--tls-port", str(self.tls_port),
                "--tls-cert-file", str(c / "server.pem"),
                "--tls-key-file", str(c / "server.key"),
                "--tls-ca-cert-file", str(c / "ca.pem"),
                "--tls-auth-clients", "no",
                "--user", USER, "on", f">{PASSWORD}", "~*", "&*", "+@all",
            ]
        )  # fmt: skip
        self.server.start()

    def url(self, password: str = PASSWORD) -> str:
        return (
            f"rediss://{USER}:{password}@127.0.0.1:{self.tls_port}/0"
            f"?ssl_ca_certs={self.certs / 'ca.pem'}"
        )

    def close(self) -> None:
        self.server.close()
        shutil.rmtree(self.certs, ignore_errors=True)


class SentinelGroup:
    """A primary, its replica and 3 sentinels (quorum 2) watching it as ``SERVICE``."""

    def __init__(self) -> None:
        sentinel = need("redis-sentinel")
        self.primary = RedisServer()
        self.primary.start()
        self.replica = RedisServer(args=["--replicaof", "127.0.0.1", str(self.primary.port)])
        self.replica.start()
        self.directory = Path(tempfile.mkdtemp(prefix="ws-sentinel-"))
        self.ports = [free_port() for _ in range(3)]
        self.sentinels: list[subprocess.Popen[bytes]] = []
        for port in self.ports:
            conf = self.directory / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"logfile {self.directory / f'sentinel-{port}.log'}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 800\n"
                f"sentinel failover-timeout {SERVICE} 3000\n"
            )
            self.sentinels.append(
                subprocess.Popen(  # noqa: S603
                    [sentinel, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        _wait(
            lambda: "master_link_status:up" in cli(self.replica.port, "INFO", "replication"),
            "the replica did not sync",
        )
        _wait(
            lambda: all(
                "num-other-sentinels\n2" in cli(p, "SENTINEL", "MASTER", SERVICE)
                and "num-slaves\n1" in cli(p, "SENTINEL", "MASTER", SERVICE)
                for p in self.ports
            ),
            "the sentinels did not find each other and the replica",
        )

    @property
    def url(self) -> str:
        nodes = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        return f"redis+sentinel://{nodes}/{SERVICE}/0"

    def primary_port(self) -> int:
        lines = cli(self.ports[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE).split()
        return int(lines[1])

    def close(self) -> None:
        for process in self.sentinels:
            process.terminate()
        for process in self.sentinels:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        self.primary.close()
        self.replica.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def _cluster_port() -> int:
    """A free port below 55536 whose cluster bus port (+10000) is free too."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20000, 55000)
        with contextlib.ExitStack() as stack:
            try:
                for p in (port, port + 10000):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", p))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port pair for a cluster node")


class Cluster:
    """A Redis Cluster: 3 primaries, 3 replicas (``redis-cli --cluster create``)."""

    def __init__(self) -> None:
        self.nodes = []
        for _ in range(6):
            node = RedisServer(args=[])
            node.port = _cluster_port()
            node.args = [
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(node.directory / "nodes.conf"),
                "--cluster-node-timeout", "1000",
            ]  # fmt: skip
            node.start()
            self.nodes.append(node)
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        created = subprocess.run(  # noqa: S603
            [need("redis-cli"), "--cluster", "create", *addresses,
             "--cluster-replicas", "1", "--cluster-yes"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout[-2000:]}")
        _wait(
            lambda: all("cluster_state:ok" in cli(n.port, "CLUSTER", "INFO") for n in self.nodes),
            "the cluster did not come up",
        )
        _wait(  # a replica that never synced would not take over from its primary
            lambda: (
                sum(
                    "master_link_status:up" in cli(n.port, "INFO", "replication")
                    for n in self.nodes
                )
                == 3
            ),
            "the cluster's replicas did not sync",
        )

    def url(self, count: int = 2) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:count])

    def owner(self, tag: str) -> RedisServer:
        """The primary that owns ``{tag}``'s slot."""
        alive = next(n for n in self.nodes if n.process is not None)
        slot = int(cli(alive.port, "CLUSTER", "KEYSLOT", f"{{{tag}}}").strip())
        for line in cli(alive.port, "CLUSTER", "NODES").splitlines():
            fields = line.split()
            if "master" not in fields[2] or "fail" in fields[2]:
                continue
            for part in fields[8:]:
                low, _, high = part.partition("-")
                if low.isdigit() and int(low) <= slot <= int(high or low):
                    port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
                    return next(n for n in self.nodes if n.port == port)
        raise RuntimeError(f"no primary owns slot {slot}")

    def close(self) -> None:
        for node in self.nodes:
            node.close()
