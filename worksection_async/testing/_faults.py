"""Scriptable faults: latency, 5xx HTML pages, truncated JSON, dropped connections
(before or after the action ran).

A ``FaultRule`` says which fault to inject, for which actions, how many times and with
what probability; ``FaultPlan`` holds the rules of one fake and draws the probabilities
from its own seeded generator, so a run is reproducible::

    fake.faults.add(Fault.http_error(502), action="get_tasks")           # the next one
    fake.faults.add(Fault.latency(2.0), times=None)                        # every request
    fake.faults.add(Fault.drop_connection(), probability=0.1, times=None)  # 10 %, seeded
    fake.faults.add(Fault.drop_after_applying(), action="post_task")       # done, unanswered

What each kind does to a request of the API (``/api/...``):

* ``latency``: the answer waits ``seconds`` on the fake's clock, then is served normally;
* ``http_error``: HTTP 500/502/503/504 with an HTML page; the action is not executed
  and no quota is spent;
* ``truncated_json``: the action is executed (side effects happen) and the JSON answer
  is cut in half, as when a proxy drops the end of a response;
* ``drop_connection``: the connection closes without an answer; the action is not
  executed (httpx raises ``RemoteProtocolError`` through the transport);
* ``drop_after_applying``: the action is executed (side effects happen, the quota is
  spent), then the connection closes without the answer: the ambiguous write a client
  sees as ``TransportError(request_sent=True)``.
"""

from __future__ import annotations

import enum
import random
import threading
from collections import Counter
from collections.abc import Iterable

import attrs

__all__ = ["Fault", "FaultKind", "FaultPlan", "FaultRule"]


class FaultKind(enum.Enum):
    """What a ``Fault`` does: its kind, set by the ``Fault`` class method that built it."""

    LATENCY = "latency"
    HTTP_ERROR = "http_error"
    TRUNCATED_JSON = "truncated_json"
    DROP_CONNECTION = "drop_connection"
    DROP_AFTER_APPLYING = "drop_after_applying"


@attrs.frozen
class Fault:
    """One fault; build it with the class methods."""

    kind: FaultKind
    seconds: float = 0.0
    status: int = 0

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Delay the answer by ``seconds`` on the fake's clock."""
        if seconds < 0:
            raise ValueError(f"latency must be >= 0, got {seconds!r}")
        return cls(FaultKind.LATENCY, seconds=float(seconds))

    @classmethod
    def http_error(cls, status: int = 500) -> Fault:
        """Answer with an HTML error page and this 5xx status (500 and 502 are typical)."""
        if not 500 <= status <= 599:
            raise ValueError(f"an HTTP error fault is a 5xx status, got {status!r}")
        return cls(FaultKind.HTTP_ERROR, status=status)

    @classmethod
    def truncated_json(cls) -> Fault:
        """Execute the action, then cut the JSON answer in half."""
        return cls(FaultKind.TRUNCATED_JSON)

    @classmethod
    def drop_connection(cls) -> Fault:
        """Close the connection without answering (the action is not executed)."""
        return cls(FaultKind.DROP_CONNECTION)

    @classmethod
    def drop_after_applying(cls) -> Fault:
        """Execute the action, then close the connection without the answer."""
        return cls(FaultKind.DROP_AFTER_APPLYING)

    @property
    def applies(self) -> bool:
        """Whether the action still runs before this failure (the fake executes it)."""
        return self.kind is FaultKind.DROP_AFTER_APPLYING


@attrs.define(eq=False)
class FaultRule:
    """A fault, the actions it applies to, how often and how many times."""

    fault: Fault
    actions: frozenset[str] | None = None
    """``None``: every action (also requests with no or an unknown action)."""
    probability: float = 1.0
    remaining: int | None = 1
    """How many more times it fires; ``None``: no limit."""
    fired: int = 0

    def matches(self, action: str) -> bool:
        """Whether this rule applies to a request for ``action`` on ``path``."""
        return (self.remaining is None or self.remaining > 0) and (
            self.actions is None or action in self.actions
        )


@attrs.define(eq=False)
class Decision:
    """What the plan decided for one request."""

    delay: float = 0.0
    failure: Fault | None = None
    truncate: bool = False


class FaultPlan:
    """The fault rules of one fake, drawn from a generator seeded with the fake's seed."""

    def __init__(self, seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()  # rules may be added while a server thread decides
        self._random = random.Random(seed)  # noqa: S311 - reproducible faults, not secrets
        self.injected: Counter[FaultKind] = Counter()
        """How many faults of each kind were injected."""

    def add(
        self,
        fault: Fault,
        *,
        action: str | Iterable[str] | None = None,
        times: int | None = 1,
        probability: float = 1.0,
    ) -> FaultRule:
        """Inject ``fault`` into the next ``times`` matching requests (``None``: forever).

        ``action`` limits the rule to one action name or several; ``probability`` makes
        each matching request fire with that chance (a miss does not use up ``times``).
        """
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be within 0..1, got {probability!r}")
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times!r}")
        actions = (
            None if action is None else frozenset([action] if isinstance(action, str) else action)
        )
        rule = FaultRule(fault, actions, probability, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        """Remove a rule added with ``add``."""
        with self._lock:
            self._rules.remove(rule)

    def clear(self) -> None:
        """Drop every rule (the ``injected`` counts stay)."""
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """The rules, in the order they are tried."""
        return tuple(self._rules)

    def decide(self, action: str) -> Decision:
        """Fire the rules matching ``action``: total latency and at most one failure."""
        with self._lock:
            return self._decide(action)

    def _decide(self, action: str) -> Decision:
        decision = Decision()
        for rule in self._rules:
            if not rule.matches(action):
                continue
            if decision.failure is not None and rule.fault.kind is not FaultKind.LATENCY:
                continue
            if rule.probability < 1.0 and self._random.random() >= rule.probability:
                continue
            kind = rule.fault.kind
            if kind is FaultKind.LATENCY:
                decision.delay += rule.fault.seconds
            elif kind is FaultKind.TRUNCATED_JSON:
                if decision.truncate:
                    continue
                decision.truncate = True
            else:
                decision.failure = rule.fault
            rule.fired += 1
            if rule.remaining is not None:
                rule.remaining -= 1
            self.injected[kind] += 1
        self._rules = [r for r in self._rules if r.remaining is None or r.remaining > 0]
        return decision
