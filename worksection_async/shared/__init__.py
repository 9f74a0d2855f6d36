"""One quota for many processes and hosts, kept in Redis: ``SharedQuota``.

Needs the ``redis`` extra (``pip install 'worksection-async[redis]'``, which brings
coredis); ``import worksection_async`` never imports it.

::

    from worksection_async import Client, RateLimit
    from worksection_async.shared import SharedQuota

    quota = SharedQuota.from_url("redis://127.0.0.1:6379/0")
    async with Client(url, key, rate_limit=RateLimit(rate=1.0), shared_quota=quota) as client:
        ...

Every process whose client uses a ``SharedQuota`` on the same key shares one token
bucket, one pause gate and one adaptive rate (``_lua.py`` says how); each keeps its own
concurrency cap.
"""

from __future__ import annotations

try:
    import coredis  # noqa: F401
except ImportError as exc:  # pragma: no cover - the extra is installed for the tests
    raise ImportError(
        "worksection_async.shared needs the redis extra: pip install 'worksection-async[redis]'"
    ) from exc

from ._quota import DEFAULT_REDIS_TIMEOUT, OnUnavailable, SharedQuota

__all__ = ["DEFAULT_REDIS_TIMEOUT", "OnUnavailable", "SharedQuota"]
