"""``python -m worksection_async.testing demo``: the main job, on a fake account.

Populates a ``FakeWorksection`` (20 projects x 100 tasks by default) with the real
service's quota of 1 request/s, then fetches every project and every task (subtasks
included) through ``Client``, concurrently, and says what it took. By default time is
simulated (a ``ManualClock``), so the run shows what the job costs against the real
quota without waiting for it; ``--real-time`` waits for real.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from .._client import Client
from .._clock import Clock
from ..models import Project, Task
from ._clock import ManualClock
from ._server import FakeWorksection

__all__ = ["run_demo"]

T = TypeVar("T")


async def _with_clock(clock: Clock, job: Callable[[], Awaitable[T]]) -> T:
    if isinstance(clock, ManualClock):
        async with clock.autojump():
            return await job()
    return await job()


async def fetch_everything(client: Client) -> tuple[list[Project], list[Task]]:
    """Every project, then every project's tasks with their subtasks, concurrently."""
    projects = await client.projects.list()

    async def tasks_of(project: Project) -> list[Task]:
        return await client.project(project).tasks(extra="subtasks")

    per_project = await client.map(tasks_of, projects)
    return projects, [task for tasks in per_project for task in tasks]


def run_demo(projects: int = 20, tasks_per_project: int = 100, *, real_time: bool = False) -> str:
    """Run the job and return the report (a few lines of text)."""
    clock = None if real_time else ManualClock()
    started_real = time.perf_counter()
    fake = FakeWorksection.populated(
        projects=projects, tasks_per_project=tasks_per_project, quota="1/s", clock=clock
    )
    fake_clock = fake.clock

    async def job() -> tuple[list[Project], list[Task], float]:
        async with Client(
            fake.account_url, fake.api_key, transport=fake.transport, clock=fake_clock
        ) as client:
            start = fake_clock.now()
            found_projects, top_tasks = await fetch_everything(client)
            return found_projects, top_tasks, fake_clock.now() - start

    found_projects, top_tasks, took = anyio.run(_with_clock, fake_clock, job)
    real = time.perf_counter() - started_real
    everything = [task for top in top_tasks for task in top.walk()]
    subtasks = len(everything) - len(top_tasks)
    done = sum(1 for task in everything if task.status == "done")
    requests = fake.stats.requests
    naive = 1 + len(found_projects) + len(everything)
    busiest = sorted(
        found_projects,
        key=lambda p: -sum(1 for t in top_tasks if t.page.project_id == p.id and not t.is_done),
    )[:3]
    clock_note = "real time" if real_time else f"simulated clock; {real:.1f} s of real time"
    return "\n".join(
        [
            f"Fake account: {len(fake.projects)} projects, {len(fake.tasks)} tasks "
            f"and subtasks, quota 1 request/s (error 20 above it).",
            f"Fetched {len(found_projects)} projects and {len(everything)} tasks "
            f"({len(top_tasks)} top-level, {subtasks} subtasks, {done} done) "
            f"with {requests} requests in {took:.1f} s ({clock_note}).",
            f"Error 20s: {fake.stats.rejected_quota}. One get_task per task would take "
            f"{naive} requests: {naive / 60:.0f} minutes at 1 request/s.",
            "Busiest projects: " + ", ".join(f"{p.name} (/project/{p.id}/)" for p in busiest),
        ]
    )
