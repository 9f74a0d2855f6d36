"""The documentation site's API reference covers every public name."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import worksection_async

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def public_modules() -> list[str]:
    """Every importable module whose dotted path has no underscore-led part."""
    names = ["worksection_async"]
    for info in pkgutil.walk_packages(worksection_async.__path__, "worksection_async."):
        parts = info.name.split(".")
        if not any(part.startswith("_") for part in parts):
            names.append(info.name)
    return names


def load_conf() -> ModuleType:
    """docs/conf.py, imported as a module (it generates the reference pages)."""
    spec = importlib.util.spec_from_file_location("docs_conf", DOCS / "conf.py")
    assert spec is not None and spec.loader is not None
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


def test_every_public_module_has_a_reference_page() -> None:
    """A reference page marks each public module for generation, and conf.py knows it."""
    marked = set()
    for page in (DOCS / "reference").glob("*.md"):
        marked |= set(re.findall(r"^<!-- api: (\S+) -->$", page.read_text(), flags=re.M))
    modules = {m for m in public_modules() if hasattr(importlib.import_module(m), "__all__")}
    assert modules == marked
    assert set(load_conf().PUBLIC_MODULES) == modules


@pytest.mark.parametrize("module", public_modules())
def test_reference_names_every_exported_name(module: str) -> None:
    """The generated reference has a directive, or a link to the top-level entry, for
    each name in the module's ``__all__``."""
    mod = importlib.import_module(module)
    text = load_conf()._directives(module)
    for name in getattr(mod, "__all__", []):
        assert (
            f":: {module}.{name}\n" in text
            or f".. py:data:: {name}\n" in text
            or f"{{py:obj}}`~worksection_async.{name}`" in text
        ), name


def _own_members(cls: type) -> list[tuple[str, Any]]:
    """Public methods and properties a class defines itself (not attrs' or object's)."""
    members = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        code = value.fget if isinstance(value, property) else value
        own = (getattr(code, "__module__", None) or "").startswith("worksection_async")
        if (inspect.isfunction(value) or isinstance(value, property)) and own:
            members.append((name, value))
    return members


def test_every_public_function_class_and_method_has_a_docstring() -> None:
    """No public API object without its own docstring."""
    missing = []
    for module in public_modules():
        mod = importlib.import_module(module)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                if not (obj.__doc__ or "").strip():
                    missing.append(f"{module}.{name}")
                if inspect.isclass(obj):
                    for member, value in _own_members(obj):
                        if not (value.__doc__ or "").strip():
                            missing.append(f"{module}.{name}.{member}")
    assert missing == []


def test_no_page_or_docstring_cites_a_file_the_repository_lacks() -> None:
    """``worksection-api.md`` and private modules are no reader's reference."""
    texts = {p: p.read_text() for p in [ROOT / "README.md", *DOCS.rglob("*.md")]}
    for path in (ROOT / "worksection_async").rglob("*.py"):
        texts[path] = "\n".join(inspect.getdoc(o) or "" for o in _docstring_owners(path))
    for path, text in texts.items():
        assert "worksection-api.md" not in text, path
        assert not re.search(r"worksection_async(\.\w+)*\._\w+", text), path


def _docstring_owners(path: Path) -> list[Any]:
    """The public objects defined in one source file (by their ``__module__``)."""
    owners = []
    for module in public_modules():
        mod = importlib.import_module(module)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            source = getattr(inspect.getmodule(obj), "__file__", None)
            if source and Path(source) == path:
                owners.append(obj)
    return owners
