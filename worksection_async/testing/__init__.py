"""Test helpers: ``FakeWorksection`` (an in-memory Worksection) and ``ManualClock``."""

from __future__ import annotations

from ._clock import ManualClock

__all__ = ["ManualClock"]
