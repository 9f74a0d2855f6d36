"""``RateLimit``: the client-side quota's configuration, checked where it is built.

Every field is validated on construction (finite, positive, within the bounds the law
can compute with), so a ``Client`` never meets a rate it cannot pace: the errors name
the field and the value. How the configuration is used is ``_throttle``'s business.
"""

from __future__ import annotations

import decimal
import math
import numbers
from collections.abc import Callable
from typing import Final

import attrs

__all__ = ["DEFAULT_RATE_LIMIT", "RateLimit"]

_EPSILON: Final = 1e-9
"""Float slack: a token that is 1e-9 short is there (avoids sleeping for rounding)."""


def _finite_positive(value: object, name: str) -> float:
    """A real number > 0 and finite, as a float; anything else is a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, decimal.Decimal)):
        raise TypeError(f"RateLimit.{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (ValueError, OverflowError, decimal.InvalidOperation) as exc:
        shown = (
            f"an integer of {value.bit_length()} bits" if isinstance(value, int) else repr(value)
        )
        raise ValueError(f"RateLimit.{name} must be a finite number > 0, got {shown}") from exc
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"RateLimit.{name} must be a finite number > 0, got {value!r}")
    return number


def _rate(value: object) -> float:
    return _finite_positive(value, "rate")


def _per(value: object) -> float:
    return _finite_positive(value, "per")


def _recovery(value: object) -> float | None:
    return None if value is None else _finite_positive(value, "recovery")


MAX_BURST: Final = 10**9
"""The largest ``RateLimit.burst`` (the buckets hold it as a float)."""


def _burst(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 1 <= value <= MAX_BURST:
        big = type(value) is int and value > MAX_BURST * 1000
        shown = f"an integer of {value.bit_length()} bits" if big else repr(value)
        raise ValueError(f"RateLimit.burst must be an integer from 1 to {MAX_BURST:,}, got {shown}")


def _fraction(
    low: float, high: float, *, closed: bool = False
) -> Callable[[object, attrs.Attribute[float], float], None]:
    """A float in (low, high), or [low, high) with ``closed``."""

    def check(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not (low <= value < high if closed else low < value < high):
            bounds = f"[{low:g}, {high:g})" if closed else f"({low:g}, {high:g})"
            raise ValueError(f"RateLimit.{attribute.name} must be in {bounds}, got {value!r}")

    return check


MIN_RATE: Final = 1e-9
"""The slowest quota a ``RateLimit`` may describe, and the slowest its law may go
(``floor`` of it), in requests per second: one request in 30 years."""

MAX_RATE: Final = 1e9
"""The fastest quota a ``RateLimit`` may describe, in requests per second. Beyond these
bounds the law's intervals and cubes overflow or divide by zero."""

RECOVERY_BOUNDS: Final = (1e-9, 1e12)
"""Seconds ``RateLimit.recovery`` may be (the law divides by it and cubes the ratio)."""

RECOVERY_INTERVALS: Final = 40.0
"""Default ``RateLimit.recovery``: this many intervals of the configured rate (40 s at
one request per second, 2 s at 20/s)."""


@attrs.frozen(kw_only=True)
class RateLimit:
    """The account's quota as the client should respect it: ``rate`` requests per ``per``
    seconds (``rate / per`` between ``1e-9`` and ``1e9`` requests per second), at most
    ``burst`` at once. The rest tunes how the client adapts when the
    account answers error 20 (because another program shares it, or because its real
    quota is lower than configured):

    * ``decrease``: the fraction of its rate a client keeps when an error 20 shows it
      is too fast (0.7: it slows down by 30 %);
    * ``recovery``: seconds after such a cut until the rate is back where it was cut,
      and again until it is back at the configured rate (``None``: 40 intervals of the
      configured rate, 40 s at 1/s). Recovery is measured in time: a client is back at
      full rate within two ``recovery`` periods after a squeeze ends, whatever happened
      before; while it shares the account with other programs it keeps taking turns
      for three ``recovery`` periods after the last collision;
    * ``floor``: the lowest the rate goes, as a fraction of the configured rate;
    * ``margin``: the fraction of the rate kept in reserve (the client aims this much
      below it), so that requests that left late can be caught up without two ever
      leaving closer than the account's interval. On top of it the client learns a
      margin from the jitter it meets: each isolated error 20 widens the interval by
      2 %, and the widening halves every 200 intervals without one
      (``client.quota.learned_margin``).
    """

    rate: float = attrs.field(default=1.0, converter=_rate)
    per: float = attrs.field(default=1.0, converter=_per)
    burst: int = attrs.field(default=1, validator=_burst)
    decrease: float = attrs.field(default=0.7, validator=_fraction(0.0, 1.0))
    recovery: float | None = attrs.field(default=None, converter=_recovery)
    floor: float = attrs.field(default=0.02, validator=_fraction(0.0, 1.0))
    margin: float = attrs.field(default=0.03, validator=_fraction(0.0, 0.5, closed=True))

    def __attrs_post_init__(self) -> None:
        # Each field alone is finite and > 0, but the ratio can still be 0 or infinity
        # (1e-308 per 1e308 s), or so extreme that the law overflows: refuse it here.
        configured = self.rate / self.per
        if not MIN_RATE <= configured <= MAX_RATE:
            raise ValueError(
                f"RateLimit rate / per must be between {MIN_RATE:g} and {MAX_RATE:g} "
                f"requests per second, got {self.rate!r} / {self.per!r} = {configured!r}"
            )
        if not self.floor * configured >= MIN_RATE:
            raise ValueError(
                f"RateLimit.floor x rate / per must be at least {MIN_RATE:g} requests per "
                f"second (the slowest the client may go), got {self.floor!r} x {configured!r}"
            )
        low, high = RECOVERY_BOUNDS
        if not low <= self.recovery_seconds <= high:
            raise ValueError(
                f"RateLimit.recovery must be between {low:g} and {high:g} seconds, got "
                f"{self.recovery_seconds!r}"
                + ("" if self.recovery is not None else f" (40 intervals at {configured!r}/s)")
            )

    @property
    def configured(self) -> float:
        """The account's quota in requests per second (``rate / per``)."""
        return self.rate / self.per

    @property
    def per_second(self) -> float:
        """The rate the client aims at when nothing slows it, in requests per second:
        the configured rate less ``margin``."""
        return self.configured * (1.0 - self.margin)

    @property
    def recovery_seconds(self) -> float:
        """``recovery``, or its default of 40 intervals of the configured rate."""
        if self.recovery is not None:
            return self.recovery
        return RECOVERY_INTERVALS / self.configured


DEFAULT_RATE_LIMIT: Final = RateLimit()
"""One request per second, no burst: the API's documented limit."""
