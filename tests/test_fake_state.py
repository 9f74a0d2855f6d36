"""Seeding helpers and ``FakeWorksection.populated``: realistic, reproducible, fast."""

from __future__ import annotations

import pytest

from worksection_async.testing import FakeWorksection


def test_populated_builds_a_realistic_account_quickly() -> None:
    """20 projects x 100 tasks, with everything a test needs (how fast it builds is
    benchmarks/bulk_scaling.py's concern: a wall-clock bound here failed under load)."""
    fake = FakeWorksection.populated(projects=20, tasks_per_project=100, seed=1)
    assert len(fake.projects) == 20
    assert all(len(fake.tasks_of(p)) == 100 for p in fake.projects.values())
    tasks = list(fake.tasks.values())
    done = [t for t in tasks if t.is_done]
    assert 0.15 < len(done) / len(tasks) < 0.4
    assert {t.depth for t in tasks} == {0, 1, 2}
    for task in done:
        assert task.date_closed is not None
        assert all(child.is_done for child in fake.children_of(task))
    assert sum(1 for t in tasks if t.tag_ids) > 500
    assert len({t.assignee_id for t in tasks}) > 5
    assert len(fake.comments) > 500 and len(fake.costs) > 100
    assert len(fake.users) == 12 and fake.owner.email == "alice.morgan@example.com"
    assert len(fake.timers) == 2 and len(fake.webhooks) == 1
    rows = fake.call("get_all_tasks")["data"]
    assert isinstance(rows, list) and len(rows) == 2000


def test_populated_is_reproducible() -> None:
    """The same seed gives the same account, ids included; another seed another one."""

    def fingerprint(fake: FakeWorksection) -> list[tuple[int, str, str, int, int]]:
        return [(t.id, t.name, t.status, t.assignee_id, t.priority) for t in fake.tasks.values()]

    first = FakeWorksection.populated(projects=3, tasks_per_project=20, seed=9)
    again = FakeWorksection.populated(projects=3, tasks_per_project=20, seed=9)
    other = FakeWorksection.populated(projects=3, tasks_per_project=20, seed=10)
    assert fingerprint(first) == fingerprint(again)
    assert fingerprint(first) != fingerprint(other)
    assert first.call("get_projects") == again.call("get_projects")
    assert first.seed == 9


def test_ids_are_sequences_and_explicit_ids_move_them() -> None:
    """Helpers assign increasing ids; an explicit id is kept and the sequence jumps past it."""
    fake = FakeWorksection()
    first = fake.add_project("A")
    chosen = fake.add_project("B", id=5000)
    after = fake.add_project("C")
    assert (after.id, chosen.id) == (5001, 5000)
    assert first.id < chosen.id
    task = fake.add_task(first, "T")
    assert fake.add_task(first, "U").id == task.id + 1
    assert fake.owner.role == "owner"
    assert fake.owner is fake.owner
    with pytest.raises(ValueError, match="already exists"):
        fake.add_project("D", id=5000)


def test_seeding_helpers_refuse_impossible_state() -> None:
    """Unknown references, a third level of subtasks and bad values are ValueErrors."""
    fake = FakeWorksection()
    project = fake.add_project("P")
    other = fake.add_project("Q")
    task = fake.add_task(project, "T")
    sub = fake.add_task(project, "S", parent=task)
    subsub = fake.add_task(project, "SS", parent=sub)
    assert subsub.page == f"/project/{project.id}/{task.id}/{subsub.id}/"
    with pytest.raises(ValueError, match="sub-subtask"):
        fake.add_task(project, "too deep", parent=subsub)
    with pytest.raises(ValueError, match="is in project"):
        fake.add_task(other, "elsewhere", parent=task)
    with pytest.raises(ValueError, match="no project"):
        fake.add_task(999, "nowhere")
    with pytest.raises(ValueError, match="no member"):
        fake.add_task(project, "x", assignee="ghost@example.com")
    with pytest.raises(ValueError, match="priority"):
        fake.add_task(project, "x", priority=11)
    with pytest.raises(ValueError, match="no task tag"):
        fake.add_task(project, "x", tags=["missing"])
    with pytest.raises(ValueError, match="email"):
        fake.add_user("nobody")
    with pytest.raises(ValueError, match="reserved"):
        fake.add_user("a@b.co", id=2)
    with pytest.raises(ValueError, match="role"):
        fake.add_user("a@b.co", role="emperor")
    fake.add_timer(task)
    with pytest.raises(ValueError, match="running timer"):
        fake.add_timer(sub)


def test_read_access_for_assertions() -> None:
    """Tests read records by id and through the small query helpers."""
    fake = FakeWorksection()
    dev = fake.add_user("dev@example.com", "Dan", "Dev")
    project = fake.add_project("P", members=[dev])
    task = fake.add_task(project, "T", assignee=dev, subscribers=["dev@example.com"])
    comment = fake.add_comment(task, "hello", author=dev)
    file = fake.add_file("a.txt", b"abc", comment=comment)
    cost = fake.add_cost(task, minutes=30, money=10, author=dev)
    assert fake.tasks[task.id].assignee_id == dev.id
    assert fake.comments_of(task.id) == [comment]
    assert fake.files_of_task(task, with_comments=True) == [file]
    assert fake.files_of_task(task) == []
    assert fake.costs_of(task) == [cost]
    assert fake.user_by_email("DEV@example.com") is dev
    assert fake.projects[project.id].member_ids == [fake.owner.id, dev.id]
    assert repr(fake).startswith("FakeWorksection(account_url='https://fake.worksection.com'")
