"""Progress of an export on stderr: a rich bar in a terminal, plain lines otherwise.

Both show the requests done and planned (the library's plan: listings, then the
``get_comments`` it needs), the records written, the quota's rate, and an ETA from that
rate: the requests left divided by the rate the client's quota allows
(``client.quota.current_rate``), or by the rate measured so far when the client has no
rate limit.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

__all__ = [
    "PLAIN_INTERVAL",
    "PlainProgress",
    "ProgressReporter",
    "RichProgress",
    "Status",
    "format_duration",
    "reporter_for",
]

PLAIN_INTERVAL = 10.0
"""Seconds between two plain progress lines."""

RateSource = Callable[[], float | None]
"""The quota's current rate in requests per second (``None``: no rate limit)."""


def format_duration(seconds: float | None) -> str:
    """``1h 02m``, ``3m 05s``, ``42s``; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02}m"
    if minutes:
        return f"{minutes}m {secs:02}s"
    return f"{secs}s"


class Status:
    """Counters of a running export and what follows from them."""

    def __init__(self, rate: RateSource, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._clock = clock
        self.started = clock()
        self.done = 0
        self.planned = 0
        self.records = 0

    def rate(self) -> float | None:
        """The quota's rate, or the measured one without a rate limit."""
        quota = self._rate()
        if quota is not None:
            return quota
        elapsed = self._clock() - self.started
        return self.done / elapsed if self.done and elapsed > 0 else None

    def eta(self) -> float | None:
        """Seconds until the planned requests are done, at :meth:`rate`."""
        if not self.planned:
            return None  # nothing planned yet
        left = max(0, self.planned - self.done)
        if not left:
            return 0.0
        rate = self.rate()
        return left / rate if rate else None

    def elapsed(self) -> float:
        return self._clock() - self.started

    def rate_text(self) -> str:
        rate = self.rate()
        return "? req/s" if rate is None else f"{rate:.2f} req/s"


class ProgressReporter(Protocol):
    """What the export command tells its progress display."""

    def requests(self, done: int, planned: int) -> None: ...

    def wrote(self, records: int) -> None: ...

    def close(self) -> None: ...


class RichProgress:
    """A rich progress bar: requests done/planned, records, rate, ETA."""

    def __init__(self, console: Console, status: Status, description: str = "export") -> None:
        self.status = status
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.fields[planned]} requests"),
            TextColumn("{task.fields[records]} tasks"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
            console=console,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task: TaskID = self._progress.add_task(
            description, total=None, planned="?", records=0, rate="? req/s", eta="?"
        )
        self._progress.start()

    def _refresh(self) -> None:
        status = self.status
        self._progress.update(
            self._task,
            completed=status.done,
            total=status.planned or None,
            planned=status.planned or "?",  # not "None" before the plan is known
            records=status.records,
            rate=status.rate_text(),
            eta=format_duration(status.eta()),
        )

    def requests(self, done: int, planned: int) -> None:
        self.status.done, self.status.planned = done, planned
        self._refresh()

    def wrote(self, records: int) -> None:
        self.status.records = records
        self._refresh()

    def close(self) -> None:
        self._refresh()
        self._progress.refresh()
        self._progress.stop()


class PlainProgress:
    """Plain lines every ``interval`` seconds (and a last one), for logs and pipes."""

    def __init__(
        self,
        stream: TextIO,
        status: Status,
        *,
        interval: float = PLAIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        description: str = "export",
    ) -> None:
        self.status = status
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._description = description
        self._last: float | None = None

    def line(self) -> str:
        status = self.status
        share = f" ({100 * status.done // status.planned}%)" if status.planned else ""
        return (
            f"worksection: {self._description}: {status.done}/{status.planned or '?'} "
            f"requests{share}, {status.records} tasks written, {status.rate_text()}, "
            f"ETA {format_duration(status.eta())}"
        )

    def _maybe_print(self, force: bool = False) -> None:
        now = self._clock()
        if force or self._last is None or now - self._last >= self._interval:
            self._last = now
            self._stream.write(self.line() + "\n")
            self._stream.flush()

    def requests(self, done: int, planned: int) -> None:
        self.status.done, self.status.planned = done, planned
        self._maybe_print()

    def wrote(self, records: int) -> None:
        self.status.records = records
        self._maybe_print()

    def close(self) -> None:
        self._maybe_print(force=True)


class NoProgress:
    """``--quiet``: nothing shown, counters still kept."""

    def __init__(self, status: Status) -> None:
        self.status = status

    def requests(self, done: int, planned: int) -> None:
        self.status.done, self.status.planned = done, planned

    def wrote(self, records: int) -> None:
        self.status.records = records

    def close(self) -> None:
        pass


def reporter_for(
    status: Status, *, quiet: bool = False, console: Console | None = None
) -> RichProgress | PlainProgress | NoProgress:
    """A rich bar when stderr is a terminal, plain lines when it is not."""
    if quiet:
        return NoProgress(status)
    console = console if console is not None else Console(stderr=True)
    if console.is_terminal:
        return RichProgress(console, status)
    return PlainProgress(sys.stderr, status)
