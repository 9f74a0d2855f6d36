"""A realistic, reproducible account for demos, tests and benchmarks.

``populate(fake, projects=20, tasks_per_project=100, seed=1)`` adds, from one seeded
generator and fixed dates (so the same seed gives the same account, ids included):

* 12 members in three teams and a client team (the owner with every contact field),
  5 contacts in two folders;
* task tag groups "Basic workflow" (statuses) and "General labels", project tag groups
  "Project status" and "Common labels"; a custom field for tasks and one for projects,
  with values;
* ``projects`` projects (every seventh one pending, none archived, so ``get_all_tasks``
  returns exactly ``projects * tasks_per_project`` rows) with a manager and members;
* ``tasks_per_project`` top-level tasks per project with assignees, priorities, dates
  (some with ``time_start``/``time_end``), tags, about a quarter closed; about a fifth
  have subtasks, some of those sub-subtasks (subtasks are extra rows, not counted in
  ``tasks_per_project``); some tasks depend on others (``extra=relations``);
* comments on about a third of the tasks (some with files), cost rows on some, files
  in task descriptions and in projects' Files sections, two running timers, a webhook;
* in the first project, whatever the dice said: two relations, a sub-subtask, a comment
  with a file, a cost on a closed task, times of day; and a recent activity log there
  (``get_events``), dated just before the account was populated.

Every key of every answer in the official Postman examples of the read actions appears
somewhere in a populated account (``tests/test_fake_populate.py`` checks it).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random

from ._base import FakeBase
from ._records import Event, Member, Project, Tag, Task
from ._render import fmt_day, user_ref

__all__ = ["populate"]

BASE = dt.datetime(2024, 1, 8, 9, 0)
"""Every populated date is relative to this moment, so accounts are reproducible."""

_PEOPLE = (
    ("Alice", "Morgan", "CEO", "owner", "Development", "Management"),
    ("Bob", "Fischer", "Backend developer", "account admin", "Development", "Backend"),
    ("Carla", "Mendes", "Frontend developer", "user", "Development", "Frontend"),
    ("Dmytro", "Kovalenko", "QA engineer", "user", "Development", "QA"),
    ("Emma", "Larsen", "Designer", "user", "Design", "UX"),
    ("Farid", "Haddad", "Illustrator", "user", "Design", "Brand"),
    ("Grace", "Okafor", "Marketing lead", "team admin", "Marketing", "Growth"),
    ("Hiro", "Tanaka", "Content writer", "user", "Marketing", "Content"),
    ("Irene", "Novak", "Project manager", "user", "Development", "Delivery"),
    ("Jonas", "Berg", "DevOps engineer", "user", "Development", "Platform"),
    ("Kate", "Greenway", "Account manager", "user", "Marketing", "Sales"),
    ("Liam", "Walsh", "Client PM", "guest", "Acme Corp", ""),
)
_CONTACTS = (
    ("Brian Dragonfly", "brian.dragonfly@example.org", "Clients", "manager"),
    ("Steve Powerhold", "", "Contractors", ""),
    ("Mike Shaw", "mike.shaw@example.org", None, ""),
    ("Nina Petrova", "nina.petrova@example.org", "Clients", "procurement"),
    ("Oscar Reyes", "oscar.reyes@example.org", "Contractors", "translator"),
)
_PROJECT_ADJ = (
    "Mobile",
    "Web",
    "Internal",
    "Customer",
    "Q3",
    "Brand",
    "Data",
    "Partner",
    "Payment",
    "Support",
)
_PROJECT_NOUN = (
    "app redesign",
    "platform migration",
    "onboarding",
    "analytics",
    "launch",
    "portal",
    "integration",
    "website",
    "campaign",
    "billing",
)
_VERBS = (
    "Design",
    "Implement",
    "Review",
    "Test",
    "Document",
    "Refactor",
    "Deploy",
    "Plan",
    "Fix",
    "Prepare",
)
_OBJECTS = (
    "login page",
    "payment flow",
    "API client",
    "search filters",
    "email templates",
    "dashboard",
    "user settings",
    "release notes",
    "database schema",
    "mobile layout",
    "invoice export",
    "notification service",
    "landing page",
    "access rights",
    "report builder",
)
_COMMENTS = (
    "Done, please review.",
    "I have a question about the requirements.",
    "Moved the deadline by two days.",
    "Attached the latest version.",
    "Looks good to me.",
    "Blocked until the API is ready.",
    "Can we discuss this tomorrow?",
    "Fixed the issues from the review.",
)


_OWNER_CONTACTS = {
    "phone2": "+1 555 0102",
    "phone3": "+1 555 0103",
    "phone4": "+1 555 0104",
    "address": "12 Harbour Street, Portland, ME 04101",
    "address2": "Suite 400, 1 Market Square, Portland, ME 04101",
}
_TIMES = (("09:00", "18:00"), ("08:30", "12:00"), ("14:00", "17:30"))


def _day(offset_days: int) -> dt.date:
    return (BASE + dt.timedelta(days=offset_days)).date()


def populate(
    fake: FakeBase, *, projects: int = 20, tasks_per_project: int = 100, seed: int = 1
) -> None:
    """Fill ``fake`` with a realistic account (see the module docstring)."""
    if projects < 0 or tasks_per_project < 0:
        raise ValueError("projects and tasks_per_project must be >= 0")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    # Details added later draw from their own generator, so the rest stays as it was.
    details = random.Random(f"{seed}:details")  # noqa: S311
    domain = "example.com"
    for title in ("Development", "Design", "Marketing"):
        fake.add_team(title)
    fake.add_team("Acme Corp", client=True)
    members: list[Member] = []
    for first_name, last_name, title, role, team_title, department in _PEOPLE:
        members.append(
            fake.add_user(
                f"{first_name.lower()}.{last_name.lower()}@{domain}",
                first_name,
                last_name,
                team=team_title,
                title=title,
                department=department,
                role=role,
                rate=rng.choice((0, 15, 20, 25, 30, 40)),
                phone=f"+1 555 01{rng.randrange(10, 99)}",
                date_added=BASE - dt.timedelta(days=400 - len(members)),
            )
        )
    staff = [m for m in members if m.role != "guest"]
    contacts = [
        fake.add_contact(name, email, folder=folder, title=title, phone="+1 555 0100")
        for name, email, folder, title in _CONTACTS
    ]
    for person in (members[0], contacts[0]):  # the owner and a client: every contact field
        for key, value in _OWNER_CONTACTS.items():
            setattr(person, key, value)
    for title in ("Internal", "Clients"):
        fake.add_project_folder(title)

    workflow = fake.add_tag_group("Basic workflow", scope="task", type="status")
    statuses = [
        fake.add_tag(workflow, t) for t in ("To-do", "In progress", "Need approval", "Done")
    ]
    labels_group = fake.add_tag_group("General labels", scope="task", type="label")
    labels = [
        fake.add_tag(labels_group, t)
        for t in ("bug", "feature", "design", "docs", "urgent", "backend", "frontend")
    ]
    project_status = fake.add_tag_group("Project status", scope="project", type="status")
    for title in ("Backlog", "In progress", "Paused", "Completed"):
        fake.add_tag(project_status, title)
    common = fake.add_tag_group("Common labels", scope="project", type="label")
    project_labels = [fake.add_tag(common, t) for t in ("inner", "wiki", "paid", "contract")]
    points = fake.add_custom_field("task", "Story points", type="number")
    budget = fake.add_custom_field("project", "Budget code", type="text")

    open_tasks: list[Task] = []
    for index in range(projects):
        project = _project(fake, rng, index, staff, members, project_labels)
        project.custom_fields[budget.id] = f"BC-{index + 1:03d}"
        added = project.date_added
        team = [fake.users[i] for i in project.member_ids]
        for number in range(tasks_per_project):
            added += dt.timedelta(minutes=rng.randrange(20, 180))
            task = _task(fake, rng, project, team, added, statuses + labels, number)
            if rng.random() < 0.3:
                task.custom_fields[points.id] = str(rng.choice((1, 2, 3, 5, 8)))
            _details(fake, details, task)
            if not task.is_done:
                open_tasks.append(task)
            if rng.random() < 0.2:
                for _ in range(rng.randint(1, 3)):
                    sub = _task(fake, rng, project, team, added, labels, number, parent=task)
                    if rng.random() < 0.25:
                        for _ in range(rng.randint(1, 2)):
                            _task(fake, rng, project, team, added, labels, number, parent=sub)
            if rng.random() < 0.35:
                moment = added
                for _ in range(rng.randint(1, 3)):
                    moment += dt.timedelta(hours=rng.randint(1, 30))
                    comment = fake.add_comment(
                        task, rng.choice(_COMMENTS), author=rng.choice(team), date_added=moment
                    )
                    if details.random() < 0.1:
                        fake.add_file(
                            f"Screenshot {comment.id}.png",
                            b"\x89PNG fake screenshot",
                            comment=comment,
                            author=comment.author_id,
                            date_added=moment,
                        )
            if rng.random() < 0.15:
                worker = rng.choice(team)
                minutes = rng.randrange(15, 480, 15)
                fake.add_cost(
                    task,
                    minutes=minutes,
                    money=round(minutes / 60 * worker.rate, 2),
                    comment=rng.choice(("", "Development", "Meeting", "Review")),
                    date=(added + dt.timedelta(days=rng.randint(0, 10))).date(),
                    is_timer=rng.random() < 0.5,
                    author=worker,
                )
        if index == 0 or rng.random() < 0.5:
            first = fake.tasks_of(project)[0] if tasks_per_project else None
            fake.add_file(
                f"Specification {index + 1}.pdf",
                f"%PDF-1.4 specification of {project.name}\n".encode(),
                project=project if first is None else None,
                task=first,
                author=rng.choice(team),
                date_added=project.date_added,
            )
        if index == 0 or details.random() < 0.5:
            fake.add_file(
                f"Brief {index + 1}.docx",
                f"Brief of {project.name}\n".encode(),
                project=project,
                author=project.manager_id,
                date_added=project.date_added + dt.timedelta(days=1),
            )
        _relate(fake, details, project)
    busy: set[int] = set()
    assigned = [t for t in open_tasks if t.assignee_id in fake.users]
    for task in rng.sample(assigned, k=len(assigned)):
        if task.assignee_id not in busy:
            busy.add(task.assignee_id)
            fake.add_timer(task, task.assignee_id, running_for=rng.randrange(60, 7200))
            if len(busy) == 2:
                break
    for member in staff:  # a small account may have fewer assignees: anyone may time
        if len(busy) == 2 or not open_tasks:
            break
        if member.id not in busy:
            busy.add(member.id)
            task = open_tasks[len(busy) % len(open_tasks)]
            fake.add_timer(task, member, running_for=600 * len(busy))
    if projects:
        _showcase(fake, min(fake.projects))
        fake.add_webhook(
            "https://hooks.example.com/worksection",
            ("post_task", "post_comment", "close_task"),
            projects=[min(fake.projects)],
        )


def _project(
    fake: FakeBase,
    rng: random.Random,
    index: int,
    staff: list[Member],
    members: list[Member],
    project_labels: list[Tag],
) -> Project:
    added = BASE - dt.timedelta(days=300 - index * 3, hours=rng.randrange(0, 8))
    start = added.date() + dt.timedelta(days=rng.randrange(0, 14))
    manager = rng.choice(staff)
    team = rng.sample(staff, k=min(len(staff), rng.randint(3, 6)))
    if index % 4 == 3:
        team.append(members[-1])
    name = f"{rng.choice(_PROJECT_ADJ)} {rng.choice(_PROJECT_NOUN)}"
    if any(p.name == name for p in fake.projects.values()):
        name = f"{name} {index + 1}"
    return fake.add_project(
        name,
        status="pending" if index % 7 == 6 else "active",
        company=rng.choice(("Development", "Design", "Marketing", "Internal", "Clients")),
        author=members[0],
        manager=manager,
        text=f"Goals and scope of {name.lower()}.",
        date_added=added,
        date_start=start,
        date_end=start + dt.timedelta(days=rng.randrange(30, 240)),
        options={"allow_close": 1, "allow_give": 1, "require_term": rng.randint(0, 1)},
        max_time=rng.choice((None, 200, 500, 1200)),
        max_money=rng.choice((None, 5000, 20000)),
        tags=[t.id for t in rng.sample(project_labels, k=rng.randint(0, 2))],
        members=team,
    )


def _task(
    fake: FakeBase,
    rng: random.Random,
    project: Project,
    team: list[Member],
    added: dt.datetime,
    tags: list[Tag],
    number: int,
    parent: Task | None = None,
) -> Task:
    roll = rng.random()
    assignee: Member | str | None
    if roll < 0.07:
        assignee = None
    elif roll < 0.12:
        assignee = "ANY"
    else:
        assignee = rng.choice(team)
    done = parent.is_done if parent is not None and parent.is_done else rng.random() < 0.25
    start = added.date() + dt.timedelta(days=rng.randrange(0, 10))
    has_dates = rng.random() < 0.7
    name = f"{rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
    if parent is not None:
        name = f"{name} (part {len(fake.children_of(parent)) + 1})"
    chosen = rng.sample(tags, k=rng.choice((0, 0, 1, 1, 2)))
    status_tags = [t for t in chosen if fake.tag_groups[t.group_id].type == "status"]
    kept = [t for t in chosen if t not in status_tags[1:]]
    return fake.add_task(
        project,
        name,
        parent=parent,
        status="done" if done else "active",
        priority=rng.choice((0, 1, 1, 1, 2, 3, 5, 7, 10)),
        author=rng.choice(team),
        assignee=assignee,
        text=rng.choice(("", "", f"Details for step {number + 1}.", "See the attached spec.")),
        date_added=added,
        date_start=start if has_dates else None,
        date_end=start + dt.timedelta(days=rng.randrange(1, 30)) if has_dates else None,
        date_closed=added + dt.timedelta(days=rng.randrange(1, 20)) if done else None,
        max_time=rng.choice((None, None, 8, 16, 40)),
        tags=[t.id for t in kept],
        subscribers=rng.sample(team, k=min(len(team), rng.randint(0, 2))),
    )


def _details(fake: FakeBase, details: random.Random, task: Task) -> None:
    """Times of day on some dated tasks, a budget on some."""
    if task.date_start is not None and details.random() < 0.25:
        task.time_start, task.time_end = details.choice(_TIMES)
    if task.max_time is not None and details.random() < 0.3:
        task.max_money = task.max_time * details.choice((40, 55, 70))


def _relate(fake: FakeBase, details: random.Random, project: Project) -> None:
    """Some tasks of a project wait for the one before them."""
    top = fake.tasks_of(project)
    for before, after in itertools.pairwise(top):
        if details.random() < 0.1:
            kind = "finish-to-start" if details.random() < 0.8 else "start-to-start"
            fake.add_relation(before, after, kind)


def _showcase(fake: FakeBase, project_id: int) -> None:
    """Make sure the first project shows every kind of field, and a recent event log."""
    project = fake.projects[project_id]
    top = fake.tasks_of(project)
    if not top:
        return
    first = top[0]
    if first.date_start is None:
        first.date_start = first.date_added.date()
        first.date_end = first.date_start + dt.timedelta(days=5)
    if not first.time_start:
        first.time_start, first.time_end = _TIMES[0]
    if first.max_money is None:
        first.max_time, first.max_money = 16, 880
    team = [fake.users[i] for i in project.member_ids]
    status = "done" if first.is_done else "active"
    if not any(t.depth == 2 for t in fake.tasks_of(project, subtasks=True)):
        sub = fake.add_task(
            project, "Plan the work (part 1)", parent=first, status=status, author=team[0]
        )
        fake.add_task(
            project,
            "Plan the work (part 1.1)",
            parent=sub,
            status=status,
            author=team[0],
            assignee=team[-1],
            subscribers=[team[-1]],
        )
    if len(top) >= 3 and not (top[1].relations_from or top[2].relations_from):
        fake.add_relation(top[0], top[1], "finish-to-start")
        fake.add_relation(top[1], top[2], "start-to-start")
    moment = first.date_added + dt.timedelta(hours=2)
    comment = fake.add_comment(
        first, "The mock-ups are attached.", author=team[0], date_added=moment
    )
    fake.add_file(
        "Mock-up.png", b"\x89PNG mock-up", comment=comment, author=team[0], date_added=moment
    )
    done = next((t for t in fake.tasks_of(project, subtasks=True) if t.is_done), None)
    if done is not None and not fake.costs_of(done):
        fake.add_cost(done, minutes=90, money=45.0, comment="Review", author=team[0])
    _recent_events(fake, project, first, comment.id, team)


def _recent_events(
    fake: FakeBase, project: Project, task: Task, comment_id: int, team: list[Member]
) -> None:
    """A task posted, changed and commented on in the last hours (``get_events``)."""
    now = fake.wall_now()
    author, other = team[0], team[-1]
    end = task.date_end or now.date()
    fake.events.extend(
        [
            Event(
                "post",
                "task",
                task.id,
                task.page,
                now - dt.timedelta(hours=3),
                author.id,
                project_id=project.id,
                new={"title": task.name, "user_to": user_ref(fake, task.assignee_id)},
            ),
            Event(
                "update",
                "task",
                task.id,
                task.page,
                now - dt.timedelta(hours=2),
                author.id,
                project_id=project.id,
                new={
                    "priority": str(task.priority),
                    "date_end": fmt_day(end),
                    "time_end": task.time_end,
                    "user_to": user_ref(fake, task.assignee_id),
                },
                old={
                    "priority": "1",
                    "date_end": fmt_day(end - dt.timedelta(days=2)),
                    "time_end": "",
                    "user_to": user_ref(fake, other.id),
                },
            ),
            Event(
                "post",
                "comment",
                comment_id,
                task.page,
                now - dt.timedelta(hours=1),
                author.id,
                project_id=project.id,
                new={"text": fake.comments[comment_id].text},
            ),
        ]
    )
