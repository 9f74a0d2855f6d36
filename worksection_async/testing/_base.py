"""``FakeBase``: the fake as the modules it builds see it, below ``_server``.

``FakeWorksection`` (``_server``) builds its transport, ASGI app and webhook delivery
(``_transport``, ``_asgi``, ``_webhooks``) and seeds itself with ``_populate``. Those
modules are typed against ``FakeBase``, not ``FakeWorksection``, so none of them
imports ``_server`` and the imports run one way.
"""

from __future__ import annotations

import threading
from collections import Counter

import attrs

from .._clock import Clock
from .._json import JSONObject, JSONValue
from ._http import FakeRequest, FakeResponse
from ._state import Account

__all__ = ["FakeBase", "FakeStats"]


@attrs.define
class FakeStats:
    """Request counters (reset with ``reset()``).

    ``served`` counts requests that reached an action (answered ``ok`` or with an API
    error); ``rejected_quota`` the answers over the quota (error 20, or HTTP 429 with
    ``quota_style="http429"``), ``rejected_auth`` the error-2 and
    HTTP 401 answers, ``faults`` the injected failures (5xx, dropped connections).
    """

    requests: int = 0
    served: int = 0
    rejected_quota: int = 0
    rejected_auth: int = 0
    faults: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    by_action: Counter[str] = attrs.Factory(Counter)
    """Served requests per action."""
    rejected_by_action: Counter[str] = attrs.Factory(Counter)
    """Error-20 answers per action."""
    errors: Counter[int] = attrs.Factory(Counter)
    """API error envelopes per ``status_code`` (2 and 20 included)."""

    def reset(self) -> None:
        """Zero every counter (requests still in flight stay counted as such)."""
        self.requests = self.served = self.rejected_quota = self.rejected_auth = 0
        self.faults = 0
        self.max_in_flight = self.in_flight
        self.by_action.clear()
        self.rejected_by_action.clear()
        self.errors.clear()

    def as_dict(self) -> JSONObject:
        """The counters as JSON-ready data (what ``/_fake/stats`` serves)."""
        return {
            "requests": self.requests,
            "served": self.served,
            "rejected_quota": self.rejected_quota,
            "rejected_auth": self.rejected_auth,
            "faults": self.faults,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "by_action": dict[str, JSONValue](sorted(self.by_action.items())),
            "rejected_by_action": dict[str, JSONValue](sorted(self.rejected_by_action.items())),
            "errors": {str(k): v for k, v in sorted(self.errors.items())},
        }


class FakeBase(Account):
    """What ``FakeWorksection`` is to its transport, ASGI app, webhook delivery and
    ``populate``: the account, its clock, counters and lock, and ``handle``."""

    clock: Clock
    """The clock of the quota, the faults' latency and the webhooks' timeout."""
    stats: FakeStats
    _lock: threading.Lock

    async def handle(self, request: FakeRequest) -> FakeResponse:
        """Answer one HTTP request (``FakeWorksection.handle``)."""
        raise NotImplementedError
