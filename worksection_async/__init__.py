"""worksection_async: an async, typed, quota-aware client for the Worksection API."""

from __future__ import annotations
