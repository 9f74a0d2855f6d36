"""The fake's request quota: a token bucket on a clock the test controls.

``RateQuota(rate=1.0, burst=1)`` is the service's documented limit, one request per
second. The bucket starts full (``burst`` tokens) and refills at ``rate`` tokens per
second; a request takes one token or is rejected and changes nothing.

How a rejection looks is the ``QuotaStyle``, because the sources disagree:

* ``"code20"`` (default; the base document): HTTP 200,
  ``{"status": "error", "status_code": 20, "message": "Quota exceeded"}``;
* ``"too_many_requests"`` (the wording of the current documentation, which shows no
  code): HTTP 200, ``{"status": "error", "status_code": 20, "message": "Too many
  requests"}``;
* ``"http429"`` (what community clients wait for): HTTP 429 with ``Retry-After`` (whole
  seconds until the next token, at least 1) and the ``"too_many_requests"`` body.
"""

from __future__ import annotations

import math
import re
from typing import Final, Literal, get_args

import attrs

from .._json import JSONObject
from ._http import FakeResponse, json_response

__all__ = [
    "DEFAULT_QUOTA",
    "DEFAULT_QUOTA_STYLE",
    "QUOTA_STYLES",
    "QuotaStyle",
    "RateQuota",
    "TokenBucket",
    "check_quota_style",
    "parse_quota",
    "quota_answer",
]

QuotaStyle = Literal["code20", "too_many_requests", "http429"]
"""How the fake answers a request over the quota (see the module docstring)."""
QUOTA_STYLES: Final[tuple[QuotaStyle, ...]] = get_args(QuotaStyle)
DEFAULT_QUOTA_STYLE: Final[QuotaStyle] = "code20"
_QUOTA_EXCEEDED: Final[JSONObject] = {
    "status": "error",
    "status_code": 20,
    "message": "Quota exceeded",
}

_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0}
_SPEC = re.compile(
    r"\s*(?P<count>\d+(?:\.\d+)?)\s*/\s*(?P<per>\d+(?:\.\d+)?)?\s*(?P<unit>[a-z]+)\s*"
    r"(?:,\s*burst\s*=\s*(?P<burst>\d+)\s*)?"
)


def _positive_rate(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"rate must be positive requests per second, got {value!r}")


def _positive_burst(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"burst must be an integer >= 1, got {value!r}")


@attrs.frozen
class RateQuota:
    """At most ``rate`` requests per second on average, ``burst`` at once."""

    rate: float = attrs.field(default=1.0, converter=float, validator=_positive_rate)
    burst: int = attrs.field(default=1, validator=_positive_burst)

    @classmethod
    def parse(cls, spec: str) -> RateQuota:
        """``"1/s"``, ``"20/s"``, ``"30/m"``, ``"100/h"``, ``"5/2s"``, ``"10/s,burst=5"``."""
        match = _SPEC.fullmatch(spec.lower())
        if match is None or match["unit"] not in _UNITS:
            raise ValueError(
                f"not a quota: {spec!r} (expected like '1/s', '30/m' or '10/s,burst=5')"
            )
        seconds = _UNITS[match["unit"]] * float(match["per"] or 1)
        burst = int(match["burst"]) if match["burst"] else 1
        return cls(rate=float(match["count"]) / seconds, burst=burst)

    def __str__(self) -> str:
        return f"{self.rate:g}/s,burst={self.burst}"


DEFAULT_QUOTA = RateQuota()
"""One request per second, no burst: the real service's documented limit."""


def parse_quota(quota: str | RateQuota | None) -> RateQuota | None:
    """``None`` (unlimited), a ``RateQuota``, or its text form (see ``RateQuota.parse``)."""
    if quota is None or isinstance(quota, RateQuota):
        return quota
    if isinstance(quota, str):
        return RateQuota.parse(quota)
    raise TypeError(f"quota must be a RateQuota, a string like '1/s' or None, got {quota!r}")


@attrs.define
class TokenBucket:
    """The bucket state; ``take(now)`` spends a token if one is there."""

    quota: RateQuota
    _tokens: float = attrs.field(init=False)
    _last: float | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self._tokens = float(self.quota.burst)

    def _refill(self, now: float) -> None:
        if self._last is not None and now > self._last:
            elapsed = now - self._last
            self._tokens = min(float(self.quota.burst), self._tokens + elapsed * self.quota.rate)
        if self._last is None or now > self._last:
            self._last = now

    def take(self, now: float) -> bool:
        """Spend one token at time ``now``; ``False`` (and nothing spent) if empty."""
        self._refill(now)
        # A hair of tolerance so that 1/s at exactly t, t+1, t+2 ... always passes.
        if self._tokens >= 1.0 - 1e-9:
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False

    def tokens(self, now: float) -> float:
        """Tokens available at ``now`` (for tests and the stats endpoint)."""
        self._refill(now)
        return self._tokens

    def retry_after(self, now: float) -> float:
        """Seconds until the next token is available."""
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self.quota.rate)


def check_quota_style(style: str) -> QuotaStyle:
    """``style`` if it is one of ``QUOTA_STYLES``, else ``ValueError``."""
    for known in QUOTA_STYLES:
        if style == known:
            return known
    raise ValueError(f"quota_style must be one of {', '.join(QUOTA_STYLES)}; got {style!r}")


def quota_answer(style: QuotaStyle, retry_after: float) -> tuple[int, FakeResponse]:
    """The error code to count and the answer to a request over the quota."""
    if style == "code20":
        return 20, json_response(_QUOTA_EXCEEDED)
    body: JSONObject = {"status": "error", "status_code": 20, "message": "Too many requests"}
    if style == "too_many_requests":
        return 20, json_response(body)
    answer = json_response(body, 429)
    seconds = max(1, math.ceil(retry_after - 1e-9))
    return 20, attrs.evolve(answer, headers=(*answer.headers, ("retry-after", str(seconds))))
