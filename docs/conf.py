"""Sphinx configuration: furo, MyST Markdown pages, autodoc from the docstrings.

The build needs no network: there is no intersphinx, and the few foreign types the
signatures name (httpx, anyio, attrs, click...) are listed in ``nitpick_ignore_regex``.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worksection_async import __version__  # noqa: E402

project = "worksection_async"
author = "worksection_async developers"
copyright = "worksection_async developers"
release = version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"worksection_async {release}"

autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True}
# ``type[T]`` in a signature would otherwise also match every model's ``type`` field.
suppress_warnings = ["ref.python"]
autodoc_inherit_docstrings = False

nitpicky = True
# Types from other packages: no inventory is fetched at build time.
nitpick_ignore_regex = [
    (r"py:.*", r"(httpx|anyio|attrs|attr|cattrs|tenacity|click|rich|coredis|starlette)(\..*)?"),
    (r"py:.*", r"(opentelemetry|uvicorn|_typeshed|types|typing_extensions)(\..*)?"),
    (r"py:.*", r"(datetime|decimal|pathlib|collections\.abc|os|enum|logging|ssl|io|abc)\..*"),
    (r"py:.*", r"(dt|trace|metrics|collections)\..*"),
    # Type variables and private helpers that public signatures name.
    (r"py:class", r"(worksection_async\.[\w.]+\.)?[TRK]"),
    (r"py:class", r"(worksection_async\.[\w.]+\.)?(JSONDetails|RefreshHook|FromTimeout)"),
    (r"py:class", r"(worksection_async\.[\w.]+\.)?(FakeBase|Decision|WireRequest)"),
]

PUBLIC_MODULES = (
    "worksection_async",
    "worksection_async.models",
    "worksection_async.resources",
    "worksection_async.shared",
    "worksection_async.testing",
    "worksection_async.webhooks",
    "worksection_async.otel",
    "worksection_async.cli",
)


def _public_target(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a short or private-module name (``JSONValue``, ``_client.Page``) to the
    public name of the same object, so that signatures link to the reference."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    name = target.rsplit(".", 1)[-1]
    domain = env.get_domain("py")
    for module in PUBLIC_MODULES:
        public = f"{module}.{name}"
        if public == target or public not in domain.objects:
            continue
        found = domain.resolve_any_xref(env, node["refdoc"], app.builder, public, node, contnode)
        if found:
            return found[0][1]
    return None


def _directives(module_name: str) -> str:
    """One autodoc directive per name in the module's ``__all__``, in that order.

    A name the top-level package exports too (the same object) is documented there
    only, and listed here with a link to it.
    """
    module = importlib.import_module(module_name)
    top = importlib.import_module("worksection_async")
    shared: list[str] = []
    lines: list[str] = []
    for name in module.__all__:
        obj = getattr(module, name)
        if module is not top and getattr(top, name, None) is obj:
            shared.append(name)
            continue
        if inspect.isclass(obj):
            kind = "exception" if issubclass(obj, BaseException) else "class"
            lines.append(f".. auto{kind}:: {module_name}.{name}\n   :members:\n")
        elif inspect.isfunction(obj):
            lines.append(f".. autofunction:: {module_name}.{name}\n")
        else:  # a constant or a type alias: its value (never the docstring of its type)
            value = re.sub(r"\btyping\.|\bworksection_async(\.\w+)*\._\w+\.", "", repr(obj))
            if len(value) > 120:
                value = f"{type(obj).__name__}(...)"
            lines.append(f".. py:data:: {name}\n   :value: {value}\n")
    text = ""
    if shared:
        links = ", ".join(f"{{py:obj}}`~worksection_async.{name}`" for name in shared)
        text += f"Also here, documented with the top-level package: {links}.\n\n"
    return text + "```{eval-rst}\n.. module:: " + module_name + "\n\n" + "\n".join(lines) + "```\n"


def _expand(app: Any, docname: str, source: list[str]) -> None:
    """Replace each ``{api} module`` marker line with that module's directives."""
    if not docname.startswith("reference/"):
        return
    out = []
    for line in source[0].splitlines(keepends=True):
        if line.startswith("<!-- api: "):
            out.append(_directives(line.removeprefix("<!-- api: ").removesuffix(" -->\n")))
        else:
            out.append(line)
    source[0] = "".join(out)


def setup(app: Any) -> None:
    """Register the reference generator and the resolver of short and private names."""
    app.connect("source-read", _expand)
    app.connect("missing-reference", _public_target)


default_role = "code"
