"""The environment names every entry point reads: ``Client.from_env``, the command line
and the examples.

``WORKSECTION_URL`` and ``WORKSECTION_API_KEY`` are required; ``WORKSECTION_RATE``
(requests per second, or ``off``) and ``WORKSECTION_SHARED_QUOTA`` (a store URL for
``SharedQuota.from_url``, or ``off``) are read when set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from ._throttle import RateLimit

if TYPE_CHECKING:
    from .shared import SharedQuota

URL_ENV: Final = "WORKSECTION_URL"
API_KEY_ENV: Final = "WORKSECTION_API_KEY"
RATE_ENV: Final = "WORKSECTION_RATE"
SHARED_QUOTA_ENV: Final = "WORKSECTION_SHARED_QUOTA"
OFF: Final = frozenset({"off", "none", "no", "false", "0"})


def required(environ: Mapping[str, str], name: str, hint: str) -> str:
    """The variable's value, stripped; a missing or empty one is a ``ValueError`` that
    names it (and never shows a value)."""
    value = environ.get(name, "").strip()
    if not value:
        state = "is empty" if name in environ else "is not set"
        raise ValueError(f"{name} {state}: {hint}")
    return value


def rate_limit(text: str, name: str = RATE_ENV) -> RateLimit | None:
    """``"off"`` (or ``none``, ``no``, ``false``, ``0``): no client-side quota; else a
    positive number of requests per second."""
    value = text.strip().lower()
    if value in OFF:
        return None
    try:
        rate = float(value)
    except ValueError:
        rate = math.nan
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"{name} must be requests per second (a positive number) or 'off'")
    return RateLimit(rate=rate)


def shared_quota(text: str) -> SharedQuota | None:
    """``"off"`` (or ``none``, ``no``, ``false``, ``0``): no shared quota; else
    ``SharedQuota.from_url(text)``."""
    value = text.strip()
    if value.lower() in OFF:
        return None
    from .shared import SharedQuota  # the redis extra: only when asked

    return SharedQuota.from_url(value)
