"""The package's front door: ``__all__`` lists exactly the public names."""

from __future__ import annotations

import importlib

import pytest

import worksection_async


@pytest.mark.parametrize(
    "module", ["worksection_async", "worksection_async.testing", "worksection_async.otel"]
)
def test_all_matches_public_names(module: str) -> None:
    """Every public attribute is in __all__, every __all__ entry exists, sorted."""
    mod = importlib.import_module(module)
    public = {
        name
        for name, value in vars(mod).items()
        if not name.startswith("_")
        and getattr(value, "__module__", module).startswith("worksection_async")
        and not isinstance(value, type(importlib))
    }
    public.discard("annotations")
    exported = set(mod.__all__)
    assert public <= exported | {"annotations"}
    for name in mod.__all__:
        assert hasattr(mod, name), name
    assert list(mod.__all__) == sorted(mod.__all__)


def test_public_objects_live_in_private_modules() -> None:
    """Public classes are defined in underscore modules and re-exported."""
    for name in worksection_async.__all__:
        obj = getattr(worksection_async, name)
        module = getattr(obj, "__module__", None)
        if isinstance(obj, type) and module:
            leaf = module.rsplit(".", 1)[-1]
            assert leaf.startswith("_"), f"{name} is defined in public module {module}"


def test_version() -> None:
    """__version__ comes from the installed metadata."""
    assert worksection_async.__version__.count(".") >= 2
