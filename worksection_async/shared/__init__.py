"""One quota for many clients, processes and hosts: ``SharedQuota``.

Pick the store by where the clients run::

    from worksection_async import Client, RateLimit
    from worksection_async.shared import SharedQuota

    quota = SharedQuota.from_url("sqlite:////var/cache/myapp/quota.db")  # one host
    # SharedQuota.from_url("memory://bots")               # the clients of one process
    # SharedQuota.from_url("redis://127.0.0.1:6379/0")    # several hosts (redis extra)
    async with Client(url, key, rate_limit=RateLimit(rate=1.0), shared_quota=quota) as client:
        ...

Every client whose ``SharedQuota`` uses the same store and key shares one token bucket,
one pause gate and one adaptive rate (one law, ``_decision.py`` and its Lua twin
``_lua.py``); each keeps its own concurrency cap. ``sqlite://`` and ``memory://`` need
nothing beyond the standard library; Redis needs the ``redis`` extra
(``pip install 'worksection-async[redis]'``, which brings coredis), imported only when
a Redis quota is made. ``import worksection_async`` never imports this package.
"""

from __future__ import annotations

from . import _embedded as _embedded  # adds sqlite:// and memory:// to from_url
from ._quota import DEFAULT_REDIS_TIMEOUT, OnUnavailable, SharedQuota

__all__ = ["DEFAULT_REDIS_TIMEOUT", "OnUnavailable", "SharedQuota"]
