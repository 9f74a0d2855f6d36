"""The README's and the guides' self-contained examples run as written.

The README's long sections moved to the guides in ``docs/``: a section is found by its
heading in either.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


DOCS = README.parent / "docs"


def section_text(section: str) -> str:
    """The text of the guide or README section whose ``##`` heading is ``section`` (a
    guide's first: the README keeps short versions of some, without their examples)."""
    for path in [*sorted(DOCS.rglob("*.md")), README]:
        text = path.read_text(encoding="utf-8")
        start = text.find(f"\n## {section}\n")
        if start != -1:
            end = text.find("\n## ", start + 1)
            return text[start : end if end != -1 else len(text)]
    raise LookupError(section)


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of the README or guide section headed ``section``."""
    return re.findall(r"```python[^\n]*\n(.*?)```", section_text(section), flags=re.S)


def test_bulk_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """'Bulk fetching and the quota': fetches every task in one request per project."""
    [code] = python_blocks("Bulk fetching and the quota")
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    out = capsys.readouterr().out
    assert "120 tasks in 3 requests" in out
    assert "QuotaSnapshot(" in out


def test_testing_example_passes() -> None:
    """'Testing your code with FakeWorksection': the example test passes."""
    code = python_blocks("Testing your code with FakeWorksection")[0]
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    anyio.run(namespace["test_close_every_open_task"])


def test_readme_keeps_exactly_two_commands() -> None:
    """The set-up section names `make demo` and `make test`, and the Makefile has both."""
    text = README.read_text(encoding="utf-8")
    setup = text[text.index("## Set up and run") :]
    block = re.search(r"```bash\n(.*?)```", setup, flags=re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block[1].splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    makefile = (README.parent / "Makefile").read_text(encoding="utf-8")
    assert "\ndemo:" in makefile and "\ntest:" in makefile
