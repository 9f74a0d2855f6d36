"""``ResourcesMixin``: what ``Client`` exposes of the resource layer.

``Client`` inherits this mixin: ``client.project(x)``, ``client.task(x)`` and the
namespaces (``client.projects``, ``client.tasks``, ...) are defined here, next to the
resources they return, so the client module stays about transport and quota.
"""

from __future__ import annotations


class ResourcesMixin:
    """Page handles and namespaces (filled in by the resource layer)."""

    __slots__ = ()
