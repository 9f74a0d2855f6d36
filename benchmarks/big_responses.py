"""How much structuring a 10,000-task ``get_all_tasks`` answer costs over ``json.loads``.

Builds a realistic body from the official Postman example of ``get_all_tasks`` (with
``extra=text,files,comments,relations,subtasks``): the example's three tasks are
cycled with fresh ids, dates, assignees and projects, so about a third of the tasks
carry files, five comments, relations and two levels of subtasks. Then, in one run,
prints the time of ``json.loads`` alone, of ``json.loads`` + structuring into
``list[Task]``, their ratio (target: at most 3.3x since issue #25 removed the hooks
generated with ``exec``, which gave 2.3-2.5x; before issue #14: 3.3-4.0x), the same
with ``astructure_list`` (the time-sliced structuring ``get_many`` and ``tasks.list``
use, run under ``anyio.run``), and the peak and retained memory (tracemalloc; target:
models retained no more than before, 24.8 MiB).

A second ratio times both sides followed by ``gc.collect()``: structuring pauses the
cyclic GC (see ``worksection_async.models._converter._gc_paused``), and this shows
the figure with every collection the pause defers, and ``json.loads``' own deferred
collections, paid inside the timed region.

Then the failure path: how long a hostile answer takes to become a ``StructureError``
(a ``child`` chain 16 and 150 levels deep with one bad value at the bottom, and about
1 MB of tasks with bad values at every depth). Locating errors is linear in the size
of the answer: each figure should be a few milliseconds (the first one took 36 s and
649 MiB before the error-locating pass stopped redoing failed subtrees).

Run: ``.venv/bin/python benchmarks/big_responses.py [--tasks N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import gc
import json
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from worksection_async.models import (
    StructureError,
    Task,
    astructure_list,
    clear_intern_tables,
    structure,
    structure_list,
)

_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = (
    _ROOT / "tests" / "fixtures" / "postman-examples.json",
    _ROOT.parent / "shared" / "reference" / "postman-examples.json",
)


def _template_tasks() -> list[dict[str, Any]]:
    path = next((p for p in EXAMPLES if p.exists()), None)
    if path is None:
        raise SystemExit(f"postman-examples.json not found in {[str(p) for p in EXAMPLES]}")
    requests = json.loads(path.read_text(encoding="utf-8"))
    (request,) = (r for r in requests if r["name"] == "get_all_tasks")
    body = request["examples"][0]["body"]
    if isinstance(body, str):
        body = json.loads(body)
    return list(body["data"])


class _Generator:
    """Rewrites template tasks with varied ids, dates, users and projects."""

    def __init__(self, seed: int = 2021) -> None:
        self.rng = random.Random(seed)
        self.next_id = 400_000
        first = ["Henry", "Frank", "Kate", "Bill", "Anna", "Olga", "Ivan", "Mila", "Paul", "Rosa"]
        last = ["Gardner", "Harper", "Greenway", "Jones", "Shaw", "Novak", "Ortiz", "Kim"]
        self.users = [
            {"id": str(3000 + i), "email": f"{f.lower()}.{ln.lower()}@ws.com", "name": f"{f} {ln}"}
            for i, (f, ln) in enumerate((f, ln) for f in first for ln in last)
        ][:60]
        self.users.append({"id": "2", "email": "ANY", "name": "Anyone"})
        self.users.append({"id": "1", "email": "NOONE", "name": "Executive isn't assigned"})
        self.projects = [
            {"id": str(8000 + i), "name": f"Project {i}", "page": f"/project/{8000 + i}/"}
            for i in range(120)
        ]

    def _id(self) -> str:
        self.next_id += self.rng.randint(1, 9)
        return str(self.next_id)

    def _user(self) -> dict[str, str]:
        return dict(self.rng.choice(self.users))

    def _moment(self) -> dt.datetime:
        start = dt.datetime(2019, 1, 1)
        return start + dt.timedelta(minutes=self.rng.randrange(0, 5 * 365 * 24 * 60))

    def task(self, template: dict[str, Any], project: dict[str, str], parent_page: str) -> Any:
        task = copy.deepcopy(template)
        task_id = self._id()
        task["id"] = task_id
        task["page"] = f"{parent_page}{task_id}/"
        task["name"] = f"{template['name']} #{task_id}"
        task["priority"] = str(self.rng.randint(0, 10))
        task["status"] = self.rng.choice(["active", "active", "active", "done"])
        task["user_from"] = self._user()
        task["user_to"] = self._user()
        task["project"] = dict(project)
        added = self._moment()
        task["date_added"] = added.strftime("%Y-%m-%d %H:%M")
        if "date_start" in task:
            task["date_start"] = (added + dt.timedelta(days=2)).strftime("%Y-%m-%d")
            task["date_end"] = (added + dt.timedelta(days=20)).strftime("%Y-%m-%d")
        if task["status"] == "done":
            task["date_closed"] = (added + dt.timedelta(days=9)).strftime("%Y-%m-%d %H:%M")
        if "max_time" in task:
            task["max_time"] = self.rng.choice([352, "12.5", 40])
            task["max_money"] = self.rng.choice([5280, "1500.00", 99.5])
        for file in task.get("files", []):
            file["id"] = self._id()
            file["page"] = f"/download/{file['id']}/"
            file["size"] = str(self.rng.randint(1_000, 9_000_000))
        for comment in task.get("comments", []):
            comment["id"] = self._id()
            comment["page"] = f"{task['page']}#com{comment['id']}"
            comment["user_from"] = self._user()
            comment["date_added"] = (added + dt.timedelta(hours=self.rng.randint(1, 300))).strftime(
                "%Y-%m-%d %H:%M"
            )
        for side in task.get("relations", {}).values():
            for relation in side:
                other = relation["task"]
                other["id"] = self._id()
                other["page"] = f"{project['page']}{other['id']}/"
        top_page = task["page"] if parent_page.count("/") == 3 else parent_page
        task["child"] = [self.task(child, project, top_page) for child in task.get("child", [])]
        if not task["child"]:
            del task["child"]
        return task

    def body(self, count: int) -> dict[str, Any]:
        templates = _template_tasks()
        data = []
        for i in range(count):
            project = self.rng.choice(self.projects)
            data.append(self.task(templates[i % len(templates)], project, project["page"]))
        return {"status": "ok", "data": data}


def _best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, float, float]:
    """Best wall time, its median, and best CPU time of this process, over ``repeat`` runs.

    Each run starts with empty intern tables: every run pays for a cold first answer.
    """
    wall, cpu = [], []
    for _ in range(repeat):
        clear_intern_tables()
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        del result
    return min(wall), statistics.median(wall), min(cpu)


def _peak(fn: Callable[[], object]) -> tuple[int, int]:
    """Peak and retained bytes allocated while running ``fn`` (result kept alive)."""
    clear_intern_tables()
    gc.collect()
    tracemalloc.start()
    result = fn()
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak, retained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    text = json.dumps(_Generator().body(args.tasks), ensure_ascii=False)
    raw = text.encode()

    def loads() -> Any:
        return json.loads(raw)

    def loads_and_structure() -> list[Task]:
        return structure_list(json.loads(raw)["data"], Task)

    def loads_and_astructure() -> list[Task]:
        return anyio.run(astructure_list, json.loads(raw)["data"], Task)

    def loads_collected() -> Any:
        result = loads()
        gc.collect()
        return result

    def both_collected() -> list[Task]:
        result = loads_and_structure()
        gc.collect()
        return result

    # correctness and a warm-up: the hooks are built on first use
    tasks = loads_and_structure()
    assert len(tasks) == args.tasks
    total = sum(1 for task in tasks for _ in task.walk())
    refs = len({id(t.user_to) for t in tasks})
    del tasks

    t_loads, median_loads, cpu_loads = _best_of(args.repeat, loads)
    t_both, median_both, cpu_both = _best_of(args.repeat, loads_and_structure)
    t_sliced, median_sliced, cpu_sliced = _best_of(args.repeat, loads_and_astructure)
    t_loads_gc, _, cpu_loads_gc = _best_of(args.repeat, loads_collected)
    t_both_gc, _, cpu_both_gc = _best_of(args.repeat, both_collected)
    peak_loads, kept_loads = _peak(loads)
    peak_both, kept_both = _peak(loads_and_structure)

    mib = 1024 * 1024
    print(f"body: {len(raw) / mib:.1f} MiB, {args.tasks} tasks ({total} with subtasks)")
    print(f"distinct user_to objects across {args.tasks} tasks: {refs} (interned)")
    print(f"best of {args.repeat} runs      wall (median)          CPU")
    print(
        f"json.loads             {t_loads * 1000:7.1f} ms ({median_loads * 1000:7.1f} ms)"
        f"  {cpu_loads * 1000:7.1f} ms"
    )
    print(
        f"json.loads + structure {t_both * 1000:7.1f} ms ({median_both * 1000:7.1f} ms)"
        f"  {cpu_both * 1000:7.1f} ms"
    )
    print(
        f"ratio                  {t_both / t_loads:.2f}x"
        f" ({median_both / median_loads:.2f}x)      {cpu_both / cpu_loads:.2f}x"
        "   (target <= 3.3x)"
    )
    print(
        f"json.loads + astructure {t_sliced * 1000:6.1f} ms ({median_sliced * 1000:7.1f} ms)"
        f"  {cpu_sliced * 1000:7.1f} ms   ratio {t_sliced / t_loads:.2f}x (sliced, anyio.run)"
    )
    print(
        f"with gc.collect() in both: {t_loads_gc * 1000:.1f} ms vs {t_both_gc * 1000:.1f} ms,"
        f" ratio {t_both_gc / t_loads_gc:.2f}x wall, {cpu_both_gc / cpu_loads_gc:.2f}x CPU"
    )
    print(f"peak memory json.loads             {peak_loads / mib:7.1f} MiB")
    print(f"peak memory json.loads + structure {peak_both / mib:7.1f} MiB")
    print(
        f"retained: decoded JSON {kept_loads / mib:.1f} MiB,"
        f" models (JSON released) {kept_both / mib:.1f} MiB (before: 24.8 MiB)"
    )


def _bad_task(task_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(task_id),
        "name": f"Task {task_id}",
        "page": f"/project/1/{task_id}/",
        "status": "active",
        "priority": "1",
        **fields,
    }


def _bad_chain(depth: int, first_id: int) -> dict[str, Any]:
    node = _bad_task(first_id + depth, priority="high")
    for level in range(depth - 1, -1, -1):
        node = _bad_task(first_id + level, child=[node])
    return node


def _hostile_megabyte() -> list[dict[str, Any]]:
    rng = random.Random(9)
    tasks: list[dict[str, Any]] = []
    next_id, size = 10_000, 0
    while size < 1_000_000:
        kind = rng.randrange(3)
        if kind == 0:
            task = _bad_chain(16, next_id)
            next_id += 17
        elif kind == 1:
            children = [_bad_task(next_id + 1 + i, priority="x") for i in range(30)]
            task = _bad_task(next_id, child=children, max_money="lots")
            next_id += 31
        else:
            task = _bad_task(next_id, user_to=[1, 2, 3], date_added="never")
            next_id += 1
        size += len(json.dumps(task))
        tasks.append(task)
    return tasks


def hostile(repeat: int) -> None:
    """Time from a hostile decoded answer to its StructureError."""
    cases: list[tuple[str, object, object]] = [
        ("child chain 16 deep, bad leaf", _bad_chain(16, 1), Task),
        ("child chain 150 deep, bad leaf", _bad_chain(150, 1), Task),
        ("1 MB of bad tasks", _hostile_megabyte(), list[Task]),
    ]
    print(f"failing on hostile answers (best of {repeat})")
    for name, answer, cls in cases:

        def fail(answer: object = answer, cls: object = cls) -> object:
            try:
                structure(answer, cls)  # type: ignore[arg-type]
            except StructureError as exc:
                return exc
            raise AssertionError("a hostile answer was accepted")

        best, _, _ = _best_of(repeat, fail)
        peak, _ = _peak(fail)
        size = len(json.dumps(answer)) / 1024
        print(f"  {name:32} {size:7.0f} KiB  {best * 1000:7.1f} ms  peak {peak / 2**20:5.1f} MiB")


if __name__ == "__main__":
    main()
    hostile(repeat=3)
