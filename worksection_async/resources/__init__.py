"""The resource layer: page handles and account-wide namespaces over ``Client.send``."""

from __future__ import annotations

from ._mixin import ResourcesMixin

__all__ = ["ResourcesMixin"]
