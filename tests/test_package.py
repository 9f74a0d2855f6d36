"""The package itself: one version source, a clean namespace, a cheap import, a licence."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import types
from pathlib import Path

import worksection_async
from worksection_async import _version

ROOT = Path(__file__).resolve().parent.parent


def test_version_has_one_source() -> None:
    """pyproject.toml takes the version from _version.py, the installed metadata agrees,
    and the package exports that same string."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert not re.search(r"(?m)^version\s*=", pyproject)
    assert re.search(r'(?m)^dynamic = \["version"\]$', pyproject)
    assert '[tool.hatch.version]\npath = "worksection_async/_version.py"\n' in pyproject
    assert worksection_async.__version__ == _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", worksection_async.__version__)
    assert importlib.metadata.version("worksection-async") == worksection_async.__version__


def test_namespace_holds_only_exports_and_subpackages() -> None:
    """No stray helpers (``annotations``, ``version``, ``PackageNotFoundError``) in
    ``dir(worksection_async)``: every public name is exported or a module."""
    names = set(dir(worksection_async))
    assert not names & {"annotations", "version", "PackageNotFoundError"}
    stray = {
        name
        for name in names - set(worksection_async.__all__)
        if not name.startswith("_")
        and not isinstance(getattr(worksection_async, name), types.ModuleType)
    }
    assert stray == set()


def test_import_does_not_read_installed_metadata() -> None:
    """``import worksection_async`` does not load importlib.metadata (about 85 ms)."""
    probe = (
        "import sys, worksection_async; "
        "print('importlib.metadata' in sys.modules, worksection_async.__version__)"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", worksection_async.__version__]


def test_license_is_mit() -> None:
    """The LICENSE file exists and matches the metadata's MIT."""
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 worksection_async developers" in text
    assert '\nlicense = "MIT"\n' in (ROOT / "pyproject.toml").read_text()
