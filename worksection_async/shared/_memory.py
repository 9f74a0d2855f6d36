"""``memory://NAME``: the shared quota of the clients of one process, with no I/O.

Every ``SharedQuota.from_url("memory://NAME")`` of a process with the same ``NAME``
decides on one set of states (one per key), each decision under one lock (the clients
may run on several event loops, in several threads). The decision is
``_decision.decide``, the law every store runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import attrs

from ._decision import QuotaState, Request, decide
from ._quota import _Reply, _Unavailable

__all__ = ["MemoryStore"]

logger = logging.getLogger("worksection_async.shared")


@attrs.define
class _Space:
    lock: threading.Lock = attrs.Factory(threading.Lock)
    states: dict[str, QuotaState] = attrs.Factory(dict)


_SPACES: dict[str, _Space] = {}
_SPACES_LOCK = threading.Lock()


class MemoryStore:
    """The states of ``memory://NAME`` in this process."""

    def __init__(self, name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        with _SPACES_LOCK:
            self._space = _SPACES.setdefault(name, _Space())
        self._clock = clock

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, key: str, request: Request) -> _Reply:
        space = self._space
        with space.lock:
            state = space.states.get(key)
            if state is None:
                state = space.states[key] = QuotaState.fresh()
            try:
                return decide(state, request, self._clock())
            except Exception as exc:  # a bug must not become the caller's error
                logger.exception("shared quota: a decision in memory failed")
                space.states.pop(key, None)  # the state may be half-changed: start again
                raise _Unavailable(f"{type(exc).__name__} in a decision") from None

    def peek(self, key: str) -> QuotaState | None:
        """The state of ``key`` (tests)."""
        with self._space.lock:
            return self._space.states.get(key)
