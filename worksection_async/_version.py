"""The package version: the one place it is written.

Hatch reads it from here for the distribution's metadata (``[tool.hatch.version]`` in
pyproject.toml), so ``import worksection_async`` never asks ``importlib.metadata``.
"""

__version__ = "0.1.0"
