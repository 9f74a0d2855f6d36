"""Costs (time and money spent on tasks) and timers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from ..._json import JSONObject, JSONValue
from .._records import Cost, Task, Timer
from .._render import (
    fmt_datetime,
    fmt_minutes,
    fmt_money,
    render_cost,
    render_task,
    task_brief,
    user_ref,
)
from .._values import clip_text
from ._args import (
    _compiled,
    as_id,
    author,
    day_param,
    extras,
    flag_param,
    number_param,
    optional_project,
    optional_task,
    parse_minutes,
    required,
    task_arg,
)
from ._core import ApiError, Ctx, Reply, ok

_COST_FIELDS = {
    "id": "int",
    "task": "int",
    "project": "int",
    "comment": "str",
    "dateadd": "date",
    "date": "date",
}


def _selected_costs(ctx: Ctx) -> list[Cost]:
    acc = ctx.account
    project = optional_project(ctx)
    task = optional_task(ctx)
    start, end = day_param(ctx, "datestart"), day_param(ctx, "dateend")
    timer = flag_param(ctx, "is_timer")
    predicate = _compiled(ctx, _COST_FIELDS)
    if task is not None:
        task_ids = {t.id for t in acc.walk(task)}
    selected: list[Cost] = []
    for cost in sorted(acc.costs.values(), key=lambda c: c.id):
        owner = acc.tasks[cost.task_id]
        if project is not None and owner.project_id != project.id:
            continue
        if task is not None and cost.task_id not in task_ids:
            continue
        if isinstance(start, dt.date) and cost.date < start:
            continue
        if isinstance(end, dt.date) and cost.date > end:
            continue
        if timer is not None and cost.is_timer != timer:
            continue
        if predicate is not None and not predicate(_cost_row(cost, owner)):
            continue
        selected.append(cost)
    return selected


def _cost_row(cost: Cost, task: Task) -> Callable[[str], int | str | dt.date | None]:
    def row(field: str) -> int | str | dt.date | None:
        if field in ("id", "task"):
            return task.id
        if field == "project":
            return task.project_id
        if field == "comment":
            return cost.comment
        return cost.date

    return row


def _total(costs: Iterable[Cost]) -> JSONObject:
    rows = list(costs)
    return {
        "time": fmt_minutes(sum(c.minutes for c in rows)),
        "money": fmt_money(sum(c.money for c in rows)),
    }


def get_costs(ctx: Ctx) -> Reply:
    costs = _selected_costs(ctx)
    return ok([render_cost(ctx.account, c) for c in costs], total=_total(costs))


def get_costs_total(ctx: Ctx) -> Reply:
    acc = ctx.account
    costs = _selected_costs(ctx)
    reply = ok(total=_total(costs))
    ext = extras(ctx)
    if "projects" not in ext:
        return reply
    by_project: dict[int, list[Cost]] = {}
    for cost in costs:
        by_project.setdefault(acc.tasks[cost.task_id].project_id, []).append(cost)
    projects: JSONObject = {}
    for project_id, rows in sorted(by_project.items()):
        project = acc.projects[project_id]
        monthly: dict[str, list[Cost]] = {}
        for cost in rows:
            monthly.setdefault(cost.date.strftime("%Y-%m"), []).append(cost)
        entry: JSONObject = {
            "id": str(project.id),
            "name": project.name,
            "page": project.page,
            **_total(rows),
            "monthly": {month: _total(items) for month, items in sorted(monthly.items())},
        }
        if ("tasks" in ext or "tasks_top_level" in ext) and optional_task(ctx) is None:
            by_task: dict[int, list[Cost]] = {}
            for cost in rows:
                owner = acc.tasks[cost.task_id]
                key = owner.top_id if "tasks_top_level" in ext else owner.id
                by_task.setdefault(key, []).append(cost)
            entry["tasks"] = {
                str(task_id): {**task_brief(acc.tasks[task_id]), **_total(items)}
                for task_id, items in sorted(by_task.items())
            }
        projects[str(project.id)] = entry
    reply["projects"] = projects
    return reply


def _cost_values(ctx: Ctx, *, creating: bool) -> tuple[int | None, float | None]:
    time_text = ctx.params.filled("time")
    money_text = ctx.params.filled("money")
    is_rate = flag_param(ctx, "is_rate") or False
    if creating and time_text is None and money_text is None and not is_rate:
        raise ApiError(10, "Field is required", "time or money")
    minutes = None
    if time_text is not None:
        minutes = parse_minutes(time_text)
        if minutes is None:
            raise ApiError(10, "Field is required", "time")
    money = number_param(ctx, "money")
    return minutes, money if isinstance(money, float) else None


def add_costs(ctx: Ctx) -> Reply:
    acc = ctx.account
    task = task_arg(ctx)
    minutes, money = _cost_values(ctx, creating=True)
    user_from = author(ctx)
    day = day_param(ctx, "date")
    if ctx.params.filled("is_rate") == "1":
        money = (minutes or 0) / 60 * user_from.rate
    cost = acc.add_cost(
        task,
        minutes=minutes or 0,
        money=round(money or 0.0, 2),
        comment=ctx.params.text("comment") or "",
        date=day if isinstance(day, dt.date) else None,
        author=user_from,
    )
    return ok(id=cost.id)


def _cost_arg(ctx: Ctx) -> Cost:
    text = ctx.params.filled("id_costs") or ctx.params.filled("id")
    if text is None:
        raise ApiError(10, "Field is required", "id_costs")
    cost = ctx.account.costs.get(as_id(text) or 0)
    if cost is None:
        raise ApiError(10, "Costs not found", "id_costs")
    return cost


def update_costs(ctx: Ctx) -> Reply:
    cost = _cost_arg(ctx)
    minutes, money = _cost_values(ctx, creating=False)
    day = day_param(ctx, "date")
    comment = ctx.params.text("comment")
    if minutes is not None:
        cost.minutes = minutes
    if ctx.params.filled("is_rate") == "1":
        money = cost.minutes / 60 * ctx.account.users[cost.author_id].rate
    if money is not None:
        cost.money = round(money, 2)
    if isinstance(day, dt.date):
        cost.date = day
    if comment is not None:
        cost.comment = clip_text(comment)
    return ok()


def delete_costs(ctx: Ctx) -> Reply:
    ctx.account.remove_cost(_cost_arg(ctx))
    return ok()


def _elapsed(ctx: Ctx, started: float) -> int:
    return max(0, int(ctx.account.wall_time() - started))


def _started_at(started: float) -> str:
    moment = dt.datetime.fromtimestamp(int(started), tz=dt.timezone.utc).replace(tzinfo=None)
    return fmt_datetime(moment)


def _save_timer(ctx: Ctx, timer: Timer, comment: str) -> None:
    acc = ctx.account
    minutes = max(1, round(_elapsed(ctx, timer.started) / 60))
    user = acc.users.get(timer.user_id)
    acc.add_cost(
        timer.task_id,
        minutes=minutes,
        money=round(minutes / 60 * (user.rate if user else 0), 2),
        comment=comment,
        is_timer=True,
        author=timer.user_id if user else None,
    )
    del acc.timers[timer.id]


def get_timers(ctx: Ctx) -> Reply:
    acc = ctx.account
    data: list[JSONValue] = []
    for timer in sorted(acc.timers.values(), key=lambda t: -t.id):
        seconds = _elapsed(ctx, timer.started)
        data.append(
            {
                "id": str(timer.id),
                "time": f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}",
                "date_started": _started_at(timer.started),
                "user_from": user_ref(acc, timer.user_id),
                "task": render_task(acc, acc.tasks[timer.task_id]),
            }
        )
    return ok(data)


def stop_timer(ctx: Ctx) -> Reply:
    text = required(ctx, "timer")
    timer = ctx.account.timers.get(as_id(text) or 0)
    if timer is None:
        raise ApiError(7, "Timer not found")
    _save_timer(ctx, timer, "")
    return ok()


def get_my_timer(ctx: Ctx) -> Reply:
    acc = ctx.account
    timer = acc.timer_of(ctx.user)
    if timer is None:
        return ok([])
    return ok(
        ctx.one(
            {
                "time": _elapsed(ctx, timer.started),
                "date_started": _started_at(timer.started),
                "task": render_task(acc, acc.tasks[timer.task_id]),
            }
        )
    )


def start_my_timer(ctx: Ctx) -> Reply:
    task = task_arg(ctx)
    if ctx.account.timer_of(ctx.user) is not None:
        raise ApiError(6, "Timer is already started")
    ctx.account.add_timer(task, ctx.user)
    return ok()


def stop_my_timer(ctx: Ctx) -> Reply:
    timer = ctx.account.timer_of(ctx.user)
    if timer is None:
        raise ApiError(7, "Timer is not started")
    _save_timer(ctx, timer, ctx.params.text("comment") or "")
    return ok()


def delete_my_timer(ctx: Ctx) -> Reply:
    timer = ctx.account.timer_of(ctx.user)
    if timer is None:
        raise ApiError(7, "Timer is not started")
    del ctx.account.timers[timer.id]
    return ok()
