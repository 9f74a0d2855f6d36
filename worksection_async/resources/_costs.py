"""Costs: ``client.costs`` (``get_costs``, ``get_costs_total``, ``update_costs``,
``delete_costs``). Recording a cost is ``client.task(t).add_cost(...)``.
"""

from __future__ import annotations

import datetime as dt

import attrs

from .._call import Call, ParamValue
from .._filters import Filter
from .._json import JSONValue
from .._pages import Page
from ..models import CostReport, CostTotals, astructure
from . import _render as r
from ._protocol import ClientLike

__all__ = ["CostsNamespace", "get_costs"]

_BREAKDOWN_EXTRA = {
    "projects": "projects",
    "tasks": "projects,tasks",
    "top_level_tasks": "projects,tasks_top_level",
}


def _filters(
    start: dt.date | None,
    end: dt.date | None,
    timer: bool | None,
    filter: Filter | str | None,
) -> dict[str, ParamValue]:
    return {
        "datestart": r.day("start", start),
        "dateend": r.day("end", end),
        "is_timer": r.boolean("timer", timer),
        "filter": r.filter_text("filter", filter),
    }


async def get_costs(
    client: ClientLike,
    page: Page | None,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    timer: bool | None = None,
    filter: Filter | str | None = None,
) -> CostReport:
    """``get_costs`` of the account, a project or a task (``page``)."""
    params = _filters(start, end, timer, filter)
    payload: JSONValue = await client.send(Call.build("get_costs", page, params))
    if payload is None:  # a bare {"status": "ok"}: no rows
        payload = {}
    elif not isinstance(payload, dict):  # an answer with ``data`` only, no ``total``
        payload = {"data": payload}
    return await astructure(payload, CostReport)


@attrs.frozen
class CostsNamespace:
    """Account-wide cost actions: ``client.costs``."""

    client: ClientLike = attrs.field(repr=False)

    async def total(
        self,
        *,
        project: r.ProjectLike | None = None,
        task: r.TaskLike | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        timer: bool | None = None,
        filter: Filter | str | None = None,
        breakdown: r.CostBreakdown | None = None,
    ) -> CostTotals:
        """Summed time and money (``get_costs_total``).

        ``breakdown="projects"`` adds per-project (and per-month) totals, ``"tasks"``
        or ``"top_level_tasks"`` per-task totals inside them. ``filter`` takes
        ``project = 1``, ``project in (1, 2)`` combined with ``and``/``or``.
        """
        page = r.scope(project, task)
        params = _filters(start, end, timer, filter)
        chosen = r.choice("breakdown", breakdown, tuple(_BREAKDOWN_EXTRA))
        params["extra"] = _BREAKDOWN_EXTRA[chosen] if chosen is not None else None
        payload = await self.client.send(Call.build("get_costs_total", page, params))
        return await astructure(payload, CostTotals)

    async def update(
        self,
        cost: int | r.HasId,
        *,
        time: r.CostTime | None = None,
        money: r.Money | None = None,
        from_rate: bool = False,
        comment: str | None = None,
        date: dt.date | None = None,
    ) -> None:
        """Change a cost row (``update_costs``); its author cannot change."""
        params: dict[str, ParamValue] = {
            "id_costs": r.positive_id("cost", cost),
            "time": r.cost_time("time", time),
            "money": r.decimal("money", money),
            "is_rate": r.true_flag("from_rate", from_rate),
            "comment": r.text("comment", comment),
            "date": r.day("date", date),
        }
        if all(params[key] is None for key in ("time", "money", "is_rate", "comment", "date")):
            raise ValueError("update() needs at least one of time, money, from_rate, comment, date")
        if from_rate and params["money"] is not None:
            raise ValueError("update(): from_rate computes the money; do not pass money too")
        await self.client.send(Call.build("update_costs", None, params))

    async def delete(self, cost: int | r.HasId) -> None:
        """Delete a cost row (``delete_costs``)."""
        params = {"id_costs": r.positive_id("cost", cost)}
        await self.client.send(Call.build("delete_costs", None, params))

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(
        self,
        *,
        project: r.ProjectLike | None = None,
        task: r.TaskLike | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        timer: bool | None = None,
        filter: Filter | str | None = None,
    ) -> CostReport:
        """Cost rows and their total (``get_costs``), for the account or one
        ``project`` / ``task`` (with its subtasks).

        ``start``/``end`` are inclusive days; ``timer=True`` keeps timer rows,
        ``False`` manual ones; ``filter`` is a :data:`~worksection_async.CostFilter`
        expression or its text.
        """
        page = r.scope(project, task)
        return await get_costs(self.client, page, start=start, end=end, timer=timer, filter=filter)
