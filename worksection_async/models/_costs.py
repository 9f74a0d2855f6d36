"""Costs (time and money), cost totals and timers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

import attrs

from .._json import JSONValue
from .._pages import ProjectPage, SubtaskPage, TaskPage
from ._base import extra_field, key, mapping_field
from ._refs import UserRef
from ._tasks import Task

__all__ = [
    "Cost",
    "CostReport",
    "CostTotal",
    "CostTotals",
    "MyTimer",
    "ProjectCostTotal",
    "TaskCostTotal",
    "Timer",
]


@attrs.frozen(kw_only=True)
class CostTotal:
    """Time and money summed: ``time`` from "H:MM" (hours may exceed 24), ``money``."""

    time: dt.timedelta
    money: Decimal
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class Cost:
    """A cost row (``get_costs``): time and/or money spent on a task on a ``date``.

    ``is_timer`` marks a row recorded by a timer rather than entered by hand.
    """

    id: int
    comment: str
    time: dt.timedelta
    money: Decimal
    date: dt.date
    is_timer: bool
    user_from: UserRef
    task: Task
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class CostReport:
    """The whole ``get_costs`` answer: the rows (JSON ``data``) and their ``total``."""

    costs: tuple[Cost, ...] = key("data", ())
    total: CostTotal | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class TaskCostTotal:
    """One task's totals inside :class:`ProjectCostTotal` (``extra=projects,tasks``)."""

    id: int
    time: dt.timedelta
    money: Decimal
    name: str | None = None
    page: TaskPage | SubtaskPage | None = None
    status: str | None = None
    priority: int | None = None
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class ProjectCostTotal:
    """One project's totals (``get_costs_total`` with ``extra=projects``).

    ``monthly`` maps "YYYY-MM" to that month's totals; ``tasks`` (with ``extra=tasks``
    or ``tasks_top_level``) maps task ids to theirs.
    """

    id: int
    time: dt.timedelta
    money: Decimal
    name: str | None = None
    page: ProjectPage | None = None
    monthly: Mapping[str, CostTotal] | None = mapping_field(None)
    tasks: Mapping[int, TaskCostTotal] | None = mapping_field(None)
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class CostTotals:
    """The whole ``get_costs_total`` answer: the ``total`` and, with ``extra=projects``,
    the per-project breakdown keyed by project id.
    """

    total: CostTotal
    projects: Mapping[int, ProjectCostTotal] | None = mapping_field(None)
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class Timer:
    """A running timer (``get_timers``, admin): ``time`` elapsed (sent as "HH:MM:SS")."""

    id: int
    time: dt.timedelta
    date_started: dt.datetime
    user_from: UserRef
    task: Task
    extra: Mapping[str, JSONValue] = extra_field()


@attrs.frozen(kw_only=True)
class MyTimer:
    """The caller's running timer (``get_my_timer``, OAuth): ``time`` sent as seconds."""

    time: dt.timedelta
    date_started: dt.datetime
    task: Task
    extra: Mapping[str, JSONValue] = extra_field()
