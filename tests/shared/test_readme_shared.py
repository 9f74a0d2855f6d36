"""The README's "Many processes, one account" section: its example runs as written."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from ..test_readme import README, python_blocks
from ._redis import RedisServer

SECTION = "Many processes, one account"


def test_the_snippets_compile() -> None:
    """The short snippets (SQLite, Redis) are valid Python (with top-level await, as in
    a notebook), and the SQLite one leads."""
    blocks = python_blocks(SECTION)
    assert "sqlite:///" in blocks[0]
    for snippet in blocks[:-1]:
        compile(snippet, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_the_example_shares_one_quota(redis_server: RedisServer, tmp_path: Path) -> None:
    """Run as a script, the example starts its own redis-server and three processes of
    10 calls each at 20/s: all shared, together about 1.5 s (not 0.5 s)."""
    example = python_blocks(SECTION)[-1]
    script = tmp_path / "example.py"
    script.write_text(example)
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert sorted(line for line in lines if line.startswith("p")) == [
        f"p{i}: shared=True, 10 calls" for i in range(3)
    ]
    match = re.search(r"30 calls in ([\d.]+) s", result.stdout)
    assert match is not None, result.stdout
    assert float(match[1]) >= 29 / 20 * 0.95


def test_the_readme_leads_with_one_host_and_shows_production_urls() -> None:
    """The README's own short section: the table puts one host (SQLite) before several
    hosts (Redis), and the URLs show TLS, Sentinel and Cluster, each accepted by
    ``SharedQuota.from_url`` as written (no connection is made)."""
    import certifi

    from worksection_async.shared import SharedQuota

    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Many processes, one account\n")
    section = text[start : text.index("\n## ", start + 1)]
    assert section.index("sqlite:///") < section.index("redis://")
    [urls] = re.findall(r"```text\n(.*?)```", section, flags=re.S)
    schemes = [url.split("://")[0] for url in urls.split()]
    assert schemes == ["sqlite", "rediss", "redis+sentinel", "redis+cluster"]
    for url in urls.split():
        # The CA file the example names is this machine's bundle here (certifi's).
        quota = SharedQuota.from_url(url.replace("/etc/ssl/redis-ca.pem", certifi.where()))
        assert "PASSWORD" not in repr(quota)
