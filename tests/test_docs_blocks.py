"""Every fenced Python block of README.md and docs/ runs, as written.

A block is a whole program: it runs alone, in an empty directory. A block that reads
the account from the environment (``Client.from_env()``) gets ``WORKSECTION_URL`` and
``WORKSECTION_API_KEY`` of a populated ``FakeWorksection`` served on 127.0.0.1, the
account a reader gets from ``worksection fake serve``. A ```` ```text ```` block right
after it is its output, checked exactly. A block that cannot run alone says so in its
fence, ```` ```python test="skip" ````, and such blocks stay under 10 % of all blocks.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from worksection_async.testing import FakeWorksection

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", flags=re.M | re.S)


@dataclass(frozen=True)
class Block:
    """One fenced Python block: where it is, its code, its output if shown."""

    path: Path
    line: int
    code: str
    skip: bool
    output: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    """README.md and every Markdown page of the site (not the build)."""
    pages = sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts)
    return [ROOT / "README.md", *pages]


def blocks_of(path: Path) -> Iterator[Block]:
    """The Python blocks of one document, each with the text block that follows it."""
    text = path.read_text(encoding="utf-8")
    fences = list(FENCE.finditer(text))
    for index, fence in enumerate(fences):
        info = fence[1].strip()
        if info.split(" ", 1)[0] != "python":
            continue
        output = None
        if index + 1 < len(fences):
            following = fences[index + 1]
            between = text[fence.end() : following.start()]
            if following[1].strip() == "text" and not between.strip():
                output = following[2]
        yield Block(
            path=path,
            line=text.count("\n", 0, fence.start()) + 1,
            code=fence[2],
            skip='test="skip"' in info,
            output=output,
        )


ALL_BLOCKS = [block for path in documents() for block in blocks_of(path)]


def test_blocks_are_found() -> None:
    """The collector sees the blocks (a broken pattern would pass everything)."""
    assert len(ALL_BLOCKS) >= 20
    assert any(block.output is not None for block in ALL_BLOCKS)


def test_under_ten_percent_of_blocks_are_skipped() -> None:
    """Blocks that cannot run alone are the exception."""
    skipped = [block.id for block in ALL_BLOCKS if block.skip]
    assert len(skipped) * 10 < len(ALL_BLOCKS), skipped


def served_account() -> FakeWorksection:
    """The account of ``worksection fake serve --populate 3x10`` (no quota of its own:
    the client paces itself)."""
    return FakeWorksection.populated(projects=3, tasks_per_project=10, seed=1, quota=None)


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if not b.skip], ids=lambda b: b.id)
def test_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The block runs as a script in an empty directory and prints what it shows."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("WORKSECTION_"):
            monkeypatch.delenv(name)
    if "multiprocessing" in block.code:  # forks: run it as a script of its own
        script = tmp_path / "example.py"
        script.write_text(block.code, encoding="utf-8")
        done = subprocess.run(  # noqa: S603
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return
    if "from_env" not in block.code:
        run(block)
        return
    fake = served_account()
    with fake.serve_in_thread() as url:
        monkeypatch.setenv("WORKSECTION_URL", url)
        monkeypatch.setenv("WORKSECTION_API_KEY", fake.api_key)
        run(block)


def run(block: Block) -> None:
    """Execute the block as ``__main__``; compare its output with the block shown."""
    out = io.StringIO()
    namespace = {"__name__": "__main__", "__file__": str(block.path)}
    with contextlib.redirect_stdout(out):
        exec(compile(block.code, block.id, "exec"), namespace)  # noqa: S102
    if block.output is not None:
        assert out.getvalue().rstrip() == block.output.rstrip()


def test_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    """Every block that runs also type-checks with ``mypy --strict``: one mypy process
    over all of them, each block a module of its own."""
    names = {}
    for index, block in enumerate(b for b in ALL_BLOCKS if not b.skip):
        name = f"block_{index:03d}"
        (tmp_path / f"{name}.py").write_text(block.code, encoding="utf-8")
        names[name] = block.id
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            *sorted(str(tmp_path / f"{name}.py") for name in names),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
    report = done.stdout
    for name, where in names.items():
        report = report.replace(str(tmp_path / f"{name}.py"), where).replace(name, where)
    assert done.returncode == 0, report
