"""Task listings too big for one answer, split until every answer fits.

The API answers at most ``MAX_RECORDS`` (10,000) records, then "Too many tasks (10000
max)", and has no pagination. A listing that gets that answer is split, each step only
when the one before it was too big:

1. **by project**: ``get_all_tasks`` becomes ``get_projects`` and one ``get_tasks`` per
   project (not archived ones unless ``extra=archive``), in ``get_projects``' order;
2. **open, then closed**: a project's ``get_tasks`` becomes ``get_tasks filter=active``
   (its open tasks, subtasks nested as asked) and ``search_tasks status=done`` (its
   closed tasks and subtasks, flat rows);
3. **windows of** ``dateadd``: a part still too big is read with ``search_tasks`` and
   ``filter=dateadd>='A' and dateadd<'B'``, the window halved until each answer fits,
   oldest first; once a window is answered with rows, the next cut falls where its
   density (rows per day) fills about 80% of an answer, and a window that density says
   is too big is cut without asking (so does a window whose older half held too
   little for the whole to have fit).
   Windows are half-open days (``>=`` the first, ``<`` the day after the last), so they
   partition the timeline whether the server compares days or moments; the first window
   is open below and the last open above, so a task older than its project (moved in) or
   dated in the future is never left out.

Every task comes exactly once: the parts partition the project (a closed task's
subtasks are closed, so open tasks and closed ones meet only in an open task's closed
subtasks, which only the closed part lists), rows are re-checked on this side (project and
status: two community clients saw ``search_tasks`` return rows of the other status,
which the other part lists) and a repeat of an id is dropped. **Order**: projects in
listing order; in each, the open tasks (the listing's order, subtasks nested) and then
the closed ones, window after window from the oldest, each answer in the API's order.

A single day that still holds more than 10,000 tasks cannot be split by any documented
filter: that is a :class:`~worksection_async.TooManyRecordsError` whose ``tried``
lists every request of the split that was too big, never a silent cut. So is a split
that would need ``search_tasks`` for an ``extra`` it does not give (``comments``,
``relations``, ``subscribers``; the export reads comments its own way).

Requests: one per answer that fit plus one per answer that was too big: close to
``ceil(N / 10,000)`` for ``N`` tasks spread over time (3 projects of 12,000 tasks: 11
requests, 4 of them refused listings; 25,000 mostly open tasks in one project: 8).
The windows are cut between the project's creation (or, unknown, the oldest closed
task, or five years back) and today, by the client's calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

import attrs

from .._call import Call, ParamValue
from .._exceptions import TooManyRecordsError
from .._json import JSONValue
from .._pages import ProjectPage
from ..models import Project, Task, structure_list
from ._extras import asked, fill_task, read_tasks

__all__ = [
    "MAX_RECORDS",
    "list_tasks",
    "SEARCH_EXTRAS",
    "Send",
    "Splitter",
    "assemble",
    "search_extra_for",
    "window_filter",
]

MAX_RECORDS: Final = 10_000
"""The most records one answer of the API holds."""

SEARCH_EXTRAS: Final = frozenset(("text", "html", "files"))
"""The ``extra`` flags ``search_tasks`` gives (``subtasks`` are rows of their own)."""

_FIRST_DAY: Final = dt.date(1990, 1, 1)
_LAST_DAY: Final = dt.date(2200, 1, 1)
_DEFAULT_SPAN: Final = dt.timedelta(days=5 * 365)
_ONE_DAY: Final = dt.timedelta(days=1)
_TARGET: Final = 0.8
"""A window cut by the density seen so far aims at this share of an answer's limit."""
_CERTAIN: Final = 1.0
"""A window the density says holds more than this share of the limit is cut unasked."""

Send = Callable[[Call], Awaitable[JSONValue]]
"""Sends one call and answers its payload (the caller counts requests there)."""


def _day(value: dt.date) -> str:
    return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"


def window_filter(start: dt.date | None, end: dt.date | None) -> str | None:
    """``dateadd>='start' and dateadd<'end'`` (either side may be open)."""
    parts = []
    if start is not None:
        parts.append(f"dateadd>='{_day(start)}'")
    if end is not None:
        parts.append(f"dateadd<'{_day(end)}'")
    return " and ".join(parts) or None


def _describe(call: Call) -> str:
    params = " ".join(f"{key}={value}" for key, value in call.params)
    where = f" {call.page.path}" if call.page is not None else ""
    return f"{call.action}{where}{' ' + params if params else ''}"


def _project_id(task: Task) -> int:
    return task.page.project_id


@attrs.define
class Splitter:
    """One listing's split: the requests it made that were too big (``tried``), and the
    calendar the ``dateadd`` windows are cut on (``today``, and ``since`` per project)."""

    send: Send
    map: Callable[[Callable[[Any], Awaitable[Any]], Iterable[Any]], Awaitable[list[Any]]]
    today: dt.date = attrs.field(factory=dt.date.today)
    tried: list[str] = attrs.Factory(list)

    async def attempt(self, call: Call) -> JSONValue | None:
        """The answer to ``call``, or ``None`` if it was too big (noted in ``tried``)."""
        try:
            return await self.send(call)
        except TooManyRecordsError:
            self.tried.append(f"{_describe(call)}: too many")
            return None

    def give_up(self, error: TooManyRecordsError, reason: str) -> TooManyRecordsError:
        """``error`` with every request tried and why the split stops."""
        return error.having_tried(tuple(self.tried), reason)

    async def account(
        self, params: dict[str, ParamValue], *, archive: bool, search_extra: str | None
    ) -> list[Task]:
        """``get_all_tasks`` with ``params``, split if too big (tops, in answer order)."""
        extras = asked(params.get("extra"))
        payload = await self.attempt(Call.build("get_all_tasks", None, params))
        if payload is not None:
            return await read_tasks(payload, extras)
        answer = await self.send(Call.build("get_projects"))
        projects = [p for p in structure_list(answer, Project) if archive or p.status != "archive"]
        per_project = dict(params)
        per_project["extra"] = ",".join(sorted(extras - {"archive"})) or None
        return await self.projects(
            [(p.page, p.date_added.date() if p.date_added else None) for p in projects],
            per_project,
            search_extra=search_extra,
        )

    async def projects(
        self,
        projects: Iterable[tuple[ProjectPage, dt.date | None]],
        params: dict[str, ParamValue],
        *,
        search_extra: str | None,
    ) -> list[Task]:
        """:meth:`project` over ``(page, since)`` pairs, concurrently, in their order."""

        async def one(item: tuple[ProjectPage, dt.date | None]) -> list[Task]:
            page, since = item
            return await self.project(page, params, search_extra=search_extra, since=since)

        per_project: list[list[Task]] = await self.map(one, list(projects))
        return [task for tasks in per_project for task in tasks]

    async def project(
        self,
        page: ProjectPage,
        params: dict[str, ParamValue],
        *,
        search_extra: str | None,
        since: dt.date | None = None,
        listing: JSONValue | None = None,
    ) -> list[Task]:
        """``get_tasks`` of ``page`` with ``params``, split if too big.

        Open tasks come as the listing gives them (tops, subtasks nested when asked);
        closed ones, and the parts read in windows, as flat rows (subtasks with
        ``parent``). ``search_extra``: the ``extra`` of the ``search_tasks`` parts
        (``None``: the listing's extras cannot be read that way, so a split that needs
        ``search_tasks`` raises ``TooManyRecordsError``). ``listing``: the answer to
        ``get_tasks`` if the caller already has it.
        """
        extras = asked(params.get("extra"))
        active_only = params.get("filter") == "active"
        if listing is None:
            listing = await self.attempt(Call.build("get_tasks", page, params))
        if listing is not None:
            return await read_tasks(listing, extras)
        open_part: JSONValue | None = None
        closed: list[Task] = []
        if not active_only:  # otherwise the open part was just refused
            open_params = {**params, "filter": "active"}
            open_part = await self.attempt(Call.build("get_tasks", page, open_params))
        if open_part is not None:
            opened = await read_tasks(open_part, extras)
        else:
            if not active_only:
                # closed ones first: when ``since`` is unknown, the oldest of them is
                # where the open ones' windows start (fewer empty windows)
                closed = await self._windows(page, "done", search_extra, since, whole=True)
                if since is None:
                    since = min((t.date_added.date() for t in closed if t.date_added), default=None)
            # the same set as the listing refused: straight to windows
            opened = await self._windows(page, "active", search_extra, since, whole=False)
            return opened + closed
        if not active_only:
            closed = await self._windows(page, "done", search_extra, since, whole=True)
        return opened + closed

    async def _windows(
        self,
        page: ProjectPage,
        status: str,
        search_extra: str | None,
        since: dt.date | None,
        *,
        whole: bool,
    ) -> list[Task]:
        """The ``status`` tasks of ``page`` through ``search_tasks``, in ``dateadd``
        windows bisected until each fits (``whole``: try without a window first; else
        the whole is known to be too big)."""
        if search_extra is None:
            raise TooManyRecordsError(
                None, "Too many tasks (10000 max)", action="get_tasks", page=page
            ).having_tried(
                tuple(self.tried),
                "the rest can only be read with search_tasks, which gives no comments, "
                "relations or subscribers: ask for fewer extras",
            )
        low = since if since is not None else self.today - _DEFAULT_SPAN
        high = max(self.today + dt.timedelta(days=1), low + dt.timedelta(days=2))
        extras = asked(search_extra)
        found: list[Task] = []

        seen = [0, 0]  # rows and days of the latest window answered with rows

        async def read(start: dt.date | None, end: dt.date | None, more_than: int) -> int:
            """Read ``[start, end)`` into ``found``; ``more_than``: its count is known to
            be above that (-1: unknown). Answers how many rows the server gave.

            Once a window is answered with rows, its density (rows per day) says where
            to cut the next, so that the older part holds about ``_TARGET`` rows, and a window it
            says holds far more than an answer may is cut without asking."""
            first, last = _bounds(start, end, low, high)
            span = max(1, (last - first).days)
            density = seen[0] / seen[1] if seen[1] and seen[0] else None
            fill = max(1, int(_TARGET * MAX_RECORDS / density)) if density else None
            halves = _halves(start, end, low, high, fill)
            expected = density * span if density else 0.0
            too_big = more_than >= MAX_RECORDS or expected > _CERTAIN * MAX_RECORDS
            if not too_big or not halves:  # a day is split only if refused
                params: dict[str, ParamValue] = {
                    "status": status,
                    "filter": window_filter(start, end),
                    "extra": search_extra or None,
                }
                call = Call.build("search_tasks", page, params)
                try:
                    payload = await self.send(call)
                except TooManyRecordsError as exc:
                    self.tried.append(f"{_describe(call)}: too many")
                    if not halves:
                        day = start if start is not None else (end or low) - _ONE_DAY
                        raise self.give_up(
                            exc,
                            f"the {status} tasks of {page.path} added on {_day(day)} alone "
                            f"are more than {MAX_RECORDS:,}: no dateadd window can split "
                            "one day",
                        ) from None
                else:
                    rows = await read_tasks(payload, frozenset())
                    found.extend(fill_task(row, extras) for row in rows if keep(row))
                    if rows:  # the density where the tasks are: the latest such window
                        seen[:] = [len(rows), span]
                    return len(rows)
            (left_start, cut), (_, right_end) = halves
            # the older half first; if it held little, the newer one is known too big
            left = await read(left_start, cut, -1)
            right = await read(cut, right_end, max(more_than, MAX_RECORDS) - left)
            return left + right

        def keep(row: Task) -> bool:
            # not by window: if the server read dateadd in another time zone than it
            # renders date_added, that could drop a row no other window gives; a row
            # two windows give is dropped once as a repeat
            return row.status == status and _project_id(row) == page.project_id

        if whole:
            await read(None, None, -1)
        else:
            await read(None, None, MAX_RECORDS)
        return found


def _bounds(
    start: dt.date | None, end: dt.date | None, low: dt.date, high: dt.date
) -> tuple[dt.date, dt.date]:
    """The days ``[start, end)`` stands for: an open side is ``low`` or ``high`` (the
    expected timeline), or further out when the window lies beyond them."""
    first = start if start is not None else low
    last = end if end is not None else high
    reach = max(high - low, dt.timedelta(days=2))
    if start is None and last - first < dt.timedelta(days=2):
        first = max(_FIRST_DAY, last - reach)  # older than expected: look further back
    if end is None and last - first < dt.timedelta(days=2):
        last = min(_LAST_DAY, first + reach)
    return first, last


def _halves(
    start: dt.date | None,
    end: dt.date | None,
    low: dt.date,
    high: dt.date,
    days: int | None = None,
) -> list[tuple[dt.date | None, dt.date | None]]:
    """``[start, end)`` cut in two, older part first: at its middle day, or after
    ``days`` when that is sooner (the span the density seen so far fills to
    ``_TARGET``); ``[]`` for a single day. Only a bounded window of one day is a
    single day (see ``_bounds``)."""
    first, last = _bounds(start, end, low, high)
    if (last - first).days <= 1:
        return []
    middle = (last - first).days // 2
    cut = first + dt.timedelta(days=min(middle, days) if days else middle)
    return [(start, cut), (cut, end)]


def assemble(parts: Iterable[Task], *, subtasks: bool) -> list[Task]:
    """Top-level tasks from the parts of a split: trees (``child``) and flat rows (with
    ``parent``) merged, each task once; with ``subtasks`` every task's ``child`` holds
    its subtasks (by id, as the API orders them), else subtasks are left out. A row
    whose parent is not among the parts is kept at the top (never dropped)."""
    nodes: dict[int, Task] = {}
    parent_of: dict[int, int | None] = {}
    stack: list[tuple[Task, int | None]] = [(task, None) for task in reversed(list(parts))]
    order: list[int] = []
    while stack:
        task, above = stack.pop()
        if task.id in nodes:
            continue
        nodes[task.id] = attrs.evolve(task, child=None)
        parent_of[task.id] = task.parent.id if task.parent is not None else above
        order.append(task.id)
        stack.extend((sub, task.id) for sub in reversed(task.child or ()))
    children: dict[int, list[int]] = {}
    tops: list[int] = []
    for task_id in order:
        parent = parent_of[task_id]
        if parent is None or parent not in nodes:
            tops.append(task_id)
        else:
            children.setdefault(parent, []).append(task_id)
    if not subtasks:
        return [nodes[task_id] for task_id in tops if parent_of[task_id] is None]
    built: dict[int, Task] = {}
    seen: set[int] = set()

    def build(root: int) -> None:
        # iterative post-order: a hostile answer may nest deep or loop
        stack = [(root, False)]
        while stack:
            task_id, ready = stack.pop()
            if ready:
                below = tuple(built[c] for c in sorted(children.get(task_id, ())) if c in built)
                built[task_id] = attrs.evolve(nodes[task_id], child=below)
            elif task_id not in seen:
                seen.add(task_id)
                stack.append((task_id, True))
                stack.extend((c, False) for c in children.get(task_id, ()))

    for task_id in tops:
        build(task_id)
    for task_id in order:  # in a loop of parents, reachable from no top: kept at the top
        if task_id not in seen:
            tops.append(task_id)
            build(task_id)
    return [built[task_id] for task_id in tops]


def search_extra_for(extras: frozenset[str]) -> str | None:
    """The ``extra`` of a split's ``search_tasks`` parts for a listing's ``extras``:
    ``None`` if one of them cannot be read that way (``comments``, ``relations``...)."""
    if extras - SEARCH_EXTRAS - {"subtasks", "archive"}:
        return None
    return ",".join(sorted(extras & SEARCH_EXTRAS))


async def list_tasks(
    send: Send,
    map: Callable[[Callable[[Any], Awaitable[Any]], Iterable[Any]], Awaitable[list[Any]]],
    page: ProjectPage | None,
    params: dict[str, ParamValue],
) -> list[Task]:
    """``get_tasks`` of ``page`` (``get_all_tasks`` for ``None``) with ``params``, as
    the API lists them (tops, subtasks in ``child`` when asked), split if too big."""
    extras = asked(params.get("extra"))
    splitter = Splitter(send, map)
    search_extra = search_extra_for(extras)
    if page is None:
        parts = await splitter.account(
            params, archive="archive" in extras, search_extra=search_extra
        )
    else:
        parts = await splitter.project(page, params, search_extra=search_extra)
    if not splitter.tried:
        return parts  # one answer: as it came
    return assemble(parts, subtasks="subtasks" in extras)
