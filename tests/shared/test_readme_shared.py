"""The README's "Many processes, one account" section: its example runs as written."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from ..test_readme import python_blocks
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
