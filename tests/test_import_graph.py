"""The package's modules import each other one way: no import cycle, hidden or not.

Every import of a package module counts as an edge of the graph: at module level,
under ``if TYPE_CHECKING:``, and inside a function (a local import that would close a
cycle is a cycle dodged, not broken). Local imports that close no cycle stay allowed:
``cli`` loads click and rich only when a command runs. Importing ``pkg.sub`` also
runs ``pkg/__init__.py`` first; that implicit edge is left out (every package's
``__init__`` imports its own submodules, which import their siblings).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import worksection_async

PACKAGE = Path(worksection_async.__file__).parent


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module and package under ``root``."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(
    node: ast.Import | ast.ImportFrom, name: str, path: Path, known: dict[str, Path]
) -> Iterator[str]:
    """The package modules one import statement of module ``name`` (in ``path``) loads."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names if alias.name in known)
        return
    if node.level:
        base = name.split(".")
        if path.name != "__init__.py":
            base.pop()
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    if target not in known:
        return
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        yield sub if sub in known else target


def import_graph(root: Path) -> tuple[dict[str, set[str]], list[tuple[str, int, str]]]:
    """Each module's imported package modules, and the function-level imports among them."""
    known = modules(root)
    graph: dict[str, set[str]] = {}
    local: list[tuple[str, int, str]] = []
    for name, path in known.items():
        edges = graph.setdefault(name, set())
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
        stack: list[tuple[ast.AST, bool]] = [(tree, False)]
        while stack:
            node, in_function = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    for target in _imported(child, name, path, known):
                        if target != name:
                            edges.add(target)
                            if in_function:
                                local.append((name, child.lineno, target))
                stack.append((child, in_function or isinstance(child, scopes)))
    return graph, local


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its modules in import order, the first repeated), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle is not None:
                    return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle is not None:
                return cycle
    return None


def test_no_import_cycles() -> None:
    """No chain of imports (module-level, TYPE_CHECKING or local) leads back to its start."""
    graph, local = import_graph(PACKAGE)
    assert len(graph) > 50, sorted(graph)  # the walk found the package
    cycle = find_cycle(graph)
    dodges = [f"{m}:{line} imports {t} in a function" for m, line, t in local if t in (cycle or ())]
    assert cycle is None, f"import cycle: {' -> '.join(cycle or ())} {dodges}"


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The walk finds cycles closed at module level, under TYPE_CHECKING and in a
    function, through relative, absolute and ``from . import`` imports."""
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "a.py").write_text("from .b import x\n")
    (root / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub import c\n"
    )
    (root / "sub" / "c.py").write_text("def f():\n    from .. import a\n")
    graph, local = import_graph(root)
    assert graph["pkg.a"] == {"pkg.b"}
    assert graph["pkg.b"] == {"pkg.sub.c"}
    assert graph["pkg.sub.c"] == {"pkg.a"}
    assert local == [("pkg.sub.c", 2, "pkg.a")]
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]
    (root / "sub" / "c.py").write_text("import pkg.b\n")
    graph, _ = import_graph(root)
    assert find_cycle(graph) == ["pkg.b", "pkg.sub.c", "pkg.b"]
    (root / "sub" / "c.py").write_text("")
    graph, _ = import_graph(root)
    assert find_cycle(graph) is None
