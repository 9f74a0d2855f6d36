"""``Account``: the in-memory state of a fake Worksection account, and its seeding helpers.

Ids are assigned like the real service: one increasing sequence per table (members and
contacts share one, teams and folders share one, task and project tags share one), sent
back as strings. A helper given an explicit ``id=`` uses it and moves the sequence past it.

The seeding helpers (``add_project``, ``add_task``, ...) write state directly: they check
what a test could get wrong (unknown references, nesting deeper than two levels below a
task) with ``ValueError``, they record no events and count no requests. Everything a
request changes goes through ``_actions``.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

from .._json import JSONValue
from ._records import (
    ANYONE_ID,
    NO_MANAGER_ID,
    NOBODY_ID,
    ROLE_LABELS,
    Comment,
    Contact,
    ContactFolder,
    Cost,
    CustomField,
    Event,
    File,
    Member,
    Project,
    ProjectFolder,
    RoleStyle,
    Tag,
    TagGroup,
    TagScope,
    Task,
    Team,
    Timer,
    Webhook,
)
from ._values import (
    CONTACT_PRESETS,
    DEFAULT_AVATAR,
    MAX_DEPTH,
    DateLike,
    DateTimeLike,
    MemberRef,
    ProjectRef,
    TaskRef,
    _to_date,
    _to_datetime,
    clip_text,
    is_email,
)

__all__ = ["Account"]

_FIRST_IDS = {
    "user": 3000,
    "group": 2000,
    "project": 1000,
    "task": 100_000,
    "comment": 10_000,
    "file": 20_000,
    "cost": 3000,
    "timer": 500,
    "webhook": 100,
    "tag_group": 100,
    "tag": 70_000,
    "custom_field": 1,
}


class Account:
    """An in-memory Worksection account: members, projects, tasks and everything else.

    The record dictionaries (``users``, ``projects``, ``tasks``, ``comments``, ...) are
    keyed by id and meant to be read by tests; change state with the ``add_*`` helpers
    or through the API.
    """

    def __init__(
        self,
        *,
        account_url: str,
        wall_clock: Callable[[], float],
    ) -> None:
        self.account_url = account_url.rstrip("/")
        self._wall = wall_clock
        self.users: dict[int, Member] = {}
        self.contacts: dict[int, Contact] = {}
        self.teams: dict[int, Team] = {}
        self.contact_folders: dict[int, ContactFolder] = {}
        self.project_folders: dict[int, ProjectFolder] = {}
        self.projects: dict[int, Project] = {}
        self.tasks: dict[int, Task] = {}
        self.comments: dict[int, Comment] = {}
        self.files: dict[int, File] = {}
        self.costs: dict[int, Cost] = {}
        self.timers: dict[int, Timer] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.tag_groups: dict[int, TagGroup] = {}
        self.tags: dict[int, Tag] = {}
        self.custom_fields: dict[int, CustomField] = {}
        self.events: list[Event] = []
        self.role_style: RoleStyle = "docs"
        """How answers spell roles: ``"docs"`` (``owner``) or ``"postman"`` (``Owner``)."""
        self.schedules: dict[int, dict[dt.date, str]] = {}
        """Non-working days per member id: ``{day: "vacation" | "sick-leave" | "workday"}``."""
        self._next: dict[str, int] = dict(_FIRST_IDS)
        self._by_email: dict[str, int] = {}
        self._top_tasks: dict[int, list[int]] = {}
        self._children: dict[int, list[int]] = {}
        self._task_comments: dict[int, list[int]] = {}
        self._task_costs: dict[int, list[int]] = {}

    # ── time and ids ─────────────────────────────────────────────────────────

    def link(self, path: str) -> str:
        """An absolute URL on the account for a path (``/images/...``); URLs stay as given.

        Links are made when an answer is rendered, so a fake served at another address
        (``serve``, ``serve_in_thread``) links to the address it serves.
        """
        return f"{self.account_url}{path}" if path.startswith("/") else path

    def wall_time(self) -> float:
        """The wall clock's time (Unix seconds)."""
        return self._wall()

    def wall_now(self) -> dt.datetime:
        """The account's current time (naive, from the wall clock, to the second)."""
        return dt.datetime.fromtimestamp(int(self._wall()), tz=dt.timezone.utc).replace(tzinfo=None)

    def _new_id(self, kind: str, wanted: int | None, taken: Mapping[int, object]) -> int:
        if wanted is None:
            new = self._next[kind]
            while new in taken:
                new += 1
        else:
            if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted <= 0:
                raise ValueError(f"ids are positive integers, got {wanted!r}")
            if wanted in taken:
                raise ValueError(f"a {kind} with id {wanted} already exists")
            new = wanted
        self._next[kind] = max(self._next[kind], new + 1)
        return new

    def _user_id(self, wanted: int | None) -> int:
        taken: dict[int, object] = {**self.users, **self.contacts}
        if wanted is not None and wanted in (NO_MANAGER_ID, NOBODY_ID, ANYONE_ID):
            raise ValueError(f"user ids 0, 1 and 2 are reserved (NOONE, ANY), got {wanted}")
        return self._new_id("user", wanted, taken)

    def _group_id(self, wanted: int | None) -> int:
        taken: dict[int, object] = {**self.teams, **self.contact_folders, **self.project_folders}
        return self._new_id("group", wanted, taken)

    # ── members, teams, contacts ─────────────────────────────────────────────

    @property
    def owner(self) -> Member:
        """The account owner (created on first use if no member has the ``owner`` role).

        Requests signed with the admin API key act as the owner.
        """
        for member in self.users.values():
            if member.role == "owner":
                return member
        host = urlsplit(self.account_url).hostname or ""
        if "." not in host or not any(c.isalpha() for c in host):  # an IP or localhost
            host = "fake.worksection.com"
        return self.add_user(
            f"owner@{host}",
            "Account",
            "Owner",
            role="owner",
        )

    def default_team(self) -> Team:
        """The owner's team, or the first team (a team "Company" is created if none)."""
        for member in self.users.values():
            if member.role == "owner" and member.team_id in self.teams:
                return self.teams[member.team_id]
        for team in self.teams.values():
            if not team.client:
                return team
        return self.add_team("Company")

    def add_team(self, title: str, *, client: bool = False, id: int | None = None) -> Team:
        """Add a team of members (``client=True``: an external client team)."""
        team = Team(self._group_id(id), title, client)
        self.teams[team.id] = team
        return team

    def team_named(self, title: str) -> Team | None:
        wanted = title.strip().lower()
        return next((t for t in self.teams.values() if t.title.lower() == wanted), None)

    def add_user(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        *,
        id: int | None = None,
        team: Team | str | int | None = None,
        title: str = "",
        department: str = "",
        role: str = "user",
        rate: float = 0,
        avatar: str | None = None,
        phone: str = "",
        phone2: str = "",
        phone3: str = "",
        phone4: str = "",
        address: str = "",
        address2: str = "",
        date_added: DateTimeLike = None,
    ) -> Member:
        """Add a member. ``team`` is a team, its title (created if new) or its id."""
        if not is_email(email):
            raise ValueError(f"not an email address: {email!r}")
        if email.lower() in self._by_email:
            raise ValueError(f"a member with email {email!r} already exists")
        role_key = role.strip().lower()
        if role_key not in ROLE_LABELS:
            raise ValueError(f"unknown role {role!r}; one of {sorted(ROLE_LABELS)}")
        if not first_name and not last_name:
            local = email.split("@", 1)[0]
            first_name, _, last_name = local.replace("_", ".").partition(".")
        member_team = self._resolve_team(team)
        member = Member(
            id=self._user_id(id),
            email=email,
            first_name=first_name,
            last_name=last_name,
            team_id=member_team.id,
            title=title,
            department=department,
            role=role_key,
            rate=rate,
            avatar=avatar or DEFAULT_AVATAR,
            date_added=_to_datetime(date_added, "date_added") or self.wall_now(),
            phone=phone,
            phone2=phone2,
            phone3=phone3,
            phone4=phone4,
            address=address,
            address2=address2,
        )
        self.users[member.id] = member
        self._by_email[email.lower()] = member.id
        return member

    def _resolve_team(self, team: Team | str | int | None) -> Team:
        if team is None:
            return self.default_team()
        if isinstance(team, Team):
            return team
        if isinstance(team, int):
            if team not in self.teams:
                raise ValueError(f"no team with id {team}")
            return self.teams[team]
        return self.team_named(team) or self.add_team(team)

    def user_by_email(self, email: str) -> Member | None:
        """The member with this email (case-insensitive), or ``None``."""
        found = self._by_email.get(email.strip().lower())
        return self.users[found] if found is not None else None

    def member(self, ref: MemberRef) -> Member:
        """Resolve a member given as a record, an id or an email (``ValueError`` if unknown)."""
        if isinstance(ref, Member):
            return ref
        if isinstance(ref, int) and not isinstance(ref, bool):
            if ref in self.users:
                return self.users[ref]
            raise ValueError(f"no member with id {ref}")
        if isinstance(ref, str):
            found = self.user_by_email(ref)
            if found is not None:
                return found
            raise ValueError(f"no member with email {ref!r}")
        raise TypeError(f"expected a Member, an id or an email, got {ref!r}")

    def add_contact_folder(self, title: str, *, id: int | None = None) -> ContactFolder:
        """Add a contact folder."""
        folder = ContactFolder(self._group_id(id), title)
        self.contact_folders[folder.id] = folder
        return folder

    def contact_folder_named(self, title: str) -> ContactFolder | None:
        wanted = title.strip().lower()
        return next((f for f in self.contact_folders.values() if f.title.lower() == wanted), None)

    def add_contact(
        self,
        name: str,
        email: str = "",
        *,
        id: int | None = None,
        folder: ContactFolder | str | None = None,
        title: str = "",
        phone: str = "",
        phone2: str = "",
        phone3: str = "",
        phone4: str = "",
        address: str = "",
        address2: str = "",
    ) -> Contact:
        """Add a contact; ``folder`` is a folder or its title (created if new)."""
        if email and not is_email(email):
            raise ValueError(f"not an email address: {email!r}")
        first, _, last = name.strip().partition(" ")
        folder_id: int | None
        if folder is None:
            folder_id = None
        elif isinstance(folder, ContactFolder):
            folder_id = folder.id
        else:
            found = self.contact_folder_named(folder)
            folder_id = (found or self.add_contact_folder(folder)).id
        contact = Contact(
            id=self._user_id(id),
            first_name=first,
            last_name=last,
            email=email,
            folder_id=folder_id,
            title=title,
            phone=phone,
            phone2=phone2,
            phone3=phone3,
            phone4=phone4,
            address=address,
            address2=address2,
            date_added=self.wall_now(),
        )
        self.contacts[contact.id] = contact
        return contact

    def contact_folder_title(self, contact: Contact) -> str:
        if contact.folder_id is None:
            return CONTACT_PRESETS[2]
        if contact.folder_id in self.contact_folders:
            return self.contact_folders[contact.folder_id].title
        return CONTACT_PRESETS.get(contact.folder_id, CONTACT_PRESETS[2])

    # ── projects ─────────────────────────────────────────────────────────────

    def add_project_folder(self, title: str, *, id: int | None = None) -> ProjectFolder:
        """Add a project folder."""
        folder = ProjectFolder(self._group_id(id), title)
        self.project_folders[folder.id] = folder
        return folder

    def project_group_named(self, title: str) -> ProjectFolder | Team | None:
        """A project folder or a team with this title (projects live in either)."""
        wanted = title.strip().lower()
        for folder in self.project_folders.values():
            if folder.title.lower() == wanted:
                return folder
        return self.team_named(title)

    def add_project(
        self,
        name: str,
        *,
        id: int | None = None,
        status: str = "active",
        company: str | None = None,
        author: MemberRef | None = None,
        manager: MemberRef | None = None,
        default_assignee: MemberRef | None = None,
        text: str = "",
        date_added: DateTimeLike = None,
        date_start: DateLike = None,
        date_end: DateLike = None,
        date_closed: DateTimeLike = None,
        options: Mapping[str, int] | None = None,
        max_time: float | None = None,
        max_money: float | None = None,
        tags: Iterable[int | str] = (),
        members: Iterable[MemberRef] = (),
        custom_fields: Mapping[int, str] | None = None,
    ) -> Project:
        """Add a project. ``status`` is ``active``, ``pending`` or ``archive``.

        ``company`` is the folder (or team) title, created as a folder if new; the
        author and the manager are members of the project.
        """
        if status not in ("active", "pending", "archive"):
            raise ValueError(f"project status is active, pending or archive, got {status!r}")
        author_m = self.member(author) if author is not None else self.owner
        folder = company if company is not None else self.default_team().title
        if folder and self.project_group_named(folder) is None:
            self.add_project_folder(folder)
        project = Project(
            id=self._new_id("project", id, self.projects),
            name=clip_text(name),
            author_id=author_m.id,
            date_added=_to_datetime(date_added, "date_added") or self.wall_now(),
            company=folder,
            status=status,
            manager_id=self.member(manager).id if manager is not None else NO_MANAGER_ID,
            default_assignee_id=(
                self.member(default_assignee).id if default_assignee is not None else NOBODY_ID
            ),
            text=clip_text(text),
            date_start=_to_date(date_start, "date_start"),
            date_end=_to_date(date_end, "date_end"),
            date_closed=_to_datetime(date_closed, "date_closed"),
            options=dict(options or {}),
            max_time=max_time,
            max_money=max_money,
            tag_ids=[self._tag(ref, "project").id for ref in tags],
            custom_fields=dict(custom_fields or {}),
        )
        if status == "archive" and project.date_closed is None:
            project.date_closed = self.wall_now()
        for ref in (author_m.id, project.manager_id, *members):
            if ref == NO_MANAGER_ID:
                continue
            member_id = self.member(ref).id
            if member_id not in project.member_ids:
                project.member_ids.append(member_id)
        self.projects[project.id] = project
        self._top_tasks[project.id] = []
        return project

    def project(self, ref: ProjectRef) -> Project:
        """Resolve a project given as a record or an id (``ValueError`` if unknown)."""
        if isinstance(ref, Project):
            return ref
        if ref in self.projects:
            return self.projects[ref]
        raise ValueError(f"no project with id {ref!r}")

    # ── tasks ────────────────────────────────────────────────────────────────

    def add_task(
        self,
        project: ProjectRef,
        name: str,
        *,
        parent: TaskRef | None = None,
        id: int | None = None,
        status: str = "active",
        priority: int = 1,
        author: MemberRef | None = None,
        assignee: MemberRef | None = None,
        text: str = "",
        date_added: DateTimeLike = None,
        date_start: DateLike = None,
        date_end: DateLike = None,
        time_start: str = "",
        time_end: str = "",
        date_closed: DateTimeLike = None,
        max_time: float | None = None,
        max_money: float | None = None,
        tags: Iterable[int | str] = (),
        subscribers: Iterable[MemberRef] = (),
        custom_fields: Mapping[int, str] | None = None,
    ) -> Task:
        """Add a task, or a subtask of ``parent`` (two levels below a task at most).

        ``assignee`` is a member, ``"ANY"`` (anyone) or ``None`` (not assigned); a done
        task gets ``date_closed`` (now unless given). Tags are task tags (ids or titles).
        """
        owner_project = self.project(project)
        parent_task = self.task(parent) if parent is not None else None
        if parent_task is not None:
            if parent_task.project_id != owner_project.id:
                raise ValueError(
                    f"parent task {parent_task.id} is in project {parent_task.project_id}, "
                    f"not {owner_project.id}"
                )
            if parent_task.depth >= MAX_DEPTH:
                raise ValueError(
                    f"task {parent_task.id} is a sub-subtask: nothing can be nested below it"
                )
        if status not in ("active", "done"):
            raise ValueError(f"task status is active or done, got {status!r}")
        if not 0 <= priority <= 10:
            raise ValueError(f"priority is 0..10, got {priority!r}")
        task_id = self._new_id("task", id, self.tasks)
        task = Task(
            id=task_id,
            project_id=owner_project.id,
            name=clip_text(name),
            author_id=(self.member(author) if author is not None else self.owner).id,
            date_added=_to_datetime(date_added, "date_added") or self.wall_now(),
            parent_id=parent_task.id if parent_task is not None else None,
            top_id=parent_task.top_id if parent_task is not None else task_id,
            depth=parent_task.depth + 1 if parent_task is not None else 0,
            status=status,
            priority=priority,
            assignee_id=self._assignee_id(assignee),
            text=clip_text(text),
            date_start=_to_date(date_start, "date_start"),
            date_end=_to_date(date_end, "date_end"),
            time_start=time_start,
            time_end=time_end,
            date_closed=_to_datetime(date_closed, "date_closed"),
            max_time=max_time,
            max_money=max_money,
            tag_ids=[self._tag(ref, "task").id for ref in tags],
            subscriber_ids=[self.member(ref).id for ref in subscribers],
            custom_fields=dict(custom_fields or {}),
        )
        if task.is_done and task.date_closed is None:
            task.date_closed = self.wall_now()
        self._insert_task(task)
        return task

    def _assignee_id(self, ref: MemberRef | None) -> int:
        if ref is None:
            return NOBODY_ID
        if isinstance(ref, str) and ref.upper() in ("ANY", "NOONE"):
            return ANYONE_ID if ref.upper() == "ANY" else NOBODY_ID
        return self.member(ref).id

    def _insert_task(self, task: Task) -> None:
        self.tasks[task.id] = task
        siblings = (
            self._top_tasks.setdefault(task.project_id, [])
            if task.parent_id is None
            else self._children.setdefault(task.parent_id, [])
        )
        bisect.insort(siblings, task.id)

    def task(self, ref: TaskRef) -> Task:
        """Resolve a task given as a record or an id (``ValueError`` if unknown)."""
        if isinstance(ref, Task):
            return ref
        if ref in self.tasks:
            return self.tasks[ref]
        raise ValueError(f"no task with id {ref!r}")

    def children_of(self, task: TaskRef) -> list[Task]:
        """The direct subtasks of a task, oldest first."""
        return [self.tasks[i] for i in self._children.get(self.task(task).id, ())]

    def tasks_of(self, project: ProjectRef, *, subtasks: bool = False) -> list[Task]:
        """The top-level tasks of a project (and, with ``subtasks=True``, all below them)."""
        top = [self.tasks[i] for i in self._top_tasks.get(self.project(project).id, ())]
        if not subtasks:
            return top
        return [t for task in top for t in self.walk(task)]

    def walk(self, task: Task) -> Iterator[Task]:
        """A task followed by all its descendants, depth first."""
        yield task
        for child_id in self._children.get(task.id, ()):
            yield from self.walk(self.tasks[child_id])

    def ancestors(self, task: Task) -> list[Task]:
        """Parent, grandparent, ... of a task."""
        found: list[Task] = []
        current = task
        while current.parent_id is not None:
            current = self.tasks[current.parent_id]
            found.append(current)
        return found

    def add_relation(
        self, predecessor: TaskRef, successor: TaskRef, type: str = "finish-to-start"
    ) -> None:
        """Link two tasks: ``successor`` depends on ``predecessor``."""
        if type not in ("finish-to-start", "start-to-start"):
            raise ValueError(f"relation type is finish-to-start or start-to-start, got {type!r}")
        before, after = self.task(predecessor), self.task(successor)
        before.relations_to.append((type, after.id))
        after.relations_from.append((type, before.id))

    # ── comments, files ──────────────────────────────────────────────────────

    def add_comment(
        self,
        task: TaskRef,
        text: str,
        *,
        id: int | None = None,
        author: MemberRef | None = None,
        date_added: DateTimeLike = None,
    ) -> Comment:
        """Add a comment to a task (attach files with ``add_file(..., comment=...)``)."""
        owner_task = self.task(task)
        comment = Comment(
            id=self._new_id("comment", id, self.comments),
            task_id=owner_task.id,
            text=clip_text(text),
            author_id=(self.member(author) if author is not None else self.owner).id,
            date_added=_to_datetime(date_added, "date_added") or self.wall_now(),
        )
        self.comments[comment.id] = comment
        bisect.insort(self._task_comments.setdefault(owner_task.id, []), comment.id)
        return comment

    def has_comments(self, task_id: int) -> bool:
        return bool(self._task_comments.get(task_id))

    def comments_of(self, task: TaskRef) -> list[Comment]:
        """The comments of a task, oldest first."""
        return [self.comments[i] for i in self._task_comments.get(self.task(task).id, ())]

    def add_file(
        self,
        name: str,
        content: bytes = b"",
        *,
        project: ProjectRef | None = None,
        task: TaskRef | None = None,
        comment: Comment | int | None = None,
        id: int | None = None,
        author: MemberRef | None = None,
        date_added: DateTimeLike = None,
    ) -> File:
        """Add a file to a project, a task (its description) or a comment.

        With none of the three, the file is an upload not attached yet (``upload_files``).
        """
        comment_rec: Comment | None = None
        if comment is not None:
            comment_rec = comment if isinstance(comment, Comment) else self.comments.get(comment)
            if comment_rec is None:
                raise ValueError(f"no comment with id {comment!r}")
        task_rec: Task | None = None
        if comment_rec is not None:
            task_rec = self.task(comment_rec.task_id)
        elif task is not None:
            task_rec = self.task(task)
        project_id = (
            task_rec.project_id
            if task_rec is not None
            else (self.project(project).id if project is not None else None)
        )
        file = File(
            id=self._new_id("file", id, self.files),
            name=name,
            content=bytes(content),
            author_id=(self.member(author) if author is not None else self.owner).id,
            date_added=_to_datetime(date_added, "date_added") or self.wall_now(),
            project_id=project_id,
            task_id=task_rec.id if task_rec is not None else None,
            comment_id=comment_rec.id if comment_rec is not None else None,
        )
        self.files[file.id] = file
        if comment_rec is not None:
            comment_rec.file_ids.append(file.id)
        return file

    def files_of_task(self, task: TaskRef, *, with_comments: bool = False) -> list[File]:
        """Files of a task's description (and of its comments, with ``with_comments``)."""
        task_id = self.task(task).id
        return [
            f
            for f in self.files.values()
            if f.task_id == task_id and (with_comments or f.comment_id is None)
        ]

    # ── tags ─────────────────────────────────────────────────────────────────

    def add_tag_group(
        self,
        title: str,
        *,
        scope: TagScope = "task",
        type: str = "label",
        access: str = "public",
        id: int | None = None,
    ) -> TagGroup:
        """Add a tag group of task tags (``scope="task"``) or project tags.

        ``type`` is ``status`` (one tag of the group at a time) or ``label``;
        ``access`` is ``public`` or ``private``.
        """
        if scope not in ("task", "project"):
            raise ValueError(f"scope is task or project, got {scope!r}")
        group = TagGroup(self._new_id("tag_group", id, self.tag_groups), scope, title, type, access)
        self.tag_groups[group.id] = group
        return group

    def add_tag(self, group: TagGroup | int | str, title: str, *, id: int | None = None) -> Tag:
        """Add a tag to a group (given as a record, an id or a title)."""
        group_rec = self._tag_group(group)
        tag = Tag(self._new_id("tag", id, self.tags), group_rec.id, title)
        self.tags[tag.id] = tag
        return tag

    def _tag_group(self, ref: TagGroup | int | str, scope: TagScope | None = None) -> TagGroup:
        if isinstance(ref, TagGroup):
            return ref
        if isinstance(ref, int) and ref in self.tag_groups:
            return self.tag_groups[ref]
        if isinstance(ref, str):
            for group in self.tag_groups.values():
                if group.title == ref and (scope is None or group.scope == scope):
                    return group
        raise ValueError(f"no tag group {ref!r}")

    def find_tag(self, ref: int | str, scope: TagScope) -> Tag | None:
        """A tag of this scope by id or exact title, or ``None``."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
            tag = self.tags.get(int(ref))
            if tag is not None and self.tag_groups[tag.group_id].scope == scope:
                return tag
        if isinstance(ref, str):
            for tag in self.tags.values():
                if tag.title == ref.strip() and self.tag_groups[tag.group_id].scope == scope:
                    return tag
        return None

    def _tag(self, ref: int | str, scope: TagScope) -> Tag:
        tag = self.find_tag(ref, scope)
        if tag is None:
            raise ValueError(f"no {scope} tag {ref!r}")
        return tag

    # ── costs, timers ────────────────────────────────────────────────────────

    def add_cost(
        self,
        task: TaskRef,
        *,
        minutes: int = 0,
        money: float = 0.0,
        comment: str = "",
        date: DateLike = None,
        is_timer: bool = False,
        author: MemberRef | None = None,
        id: int | None = None,
    ) -> Cost:
        """Add a time and money row to a task."""
        owner_task = self.task(task)
        now = self.wall_now()
        cost = Cost(
            id=self._new_id("cost", id, self.costs),
            task_id=owner_task.id,
            author_id=(self.member(author) if author is not None else self.owner).id,
            minutes=minutes,
            money=money,
            date=_to_date(date, "date") or now.date(),
            date_added=now,
            comment=clip_text(comment),
            is_timer=is_timer,
        )
        self.costs[cost.id] = cost
        bisect.insort(self._task_costs.setdefault(owner_task.id, []), cost.id)
        return cost

    def costs_of(self, task: TaskRef) -> list[Cost]:
        """The cost rows of a task."""
        return [self.costs[i] for i in self._task_costs.get(self.task(task).id, ())]

    def remove_cost(self, cost: Cost) -> None:
        del self.costs[cost.id]
        self._task_costs[cost.task_id].remove(cost.id)

    def add_timer(
        self,
        task: TaskRef,
        user: MemberRef | None = None,
        *,
        running_for: float = 0.0,
        id: int | None = None,
    ) -> Timer:
        """Start a member's timer on a task, ``running_for`` seconds ago (one per member)."""
        member = self.member(user) if user is not None else self.owner
        if self.timer_of(member) is not None:
            raise ValueError(f"{member.email} already has a running timer")
        timer = Timer(
            id=self._new_id("timer", id, self.timers),
            user_id=member.id,
            task_id=self.task(task).id,
            started=self._wall() - running_for,
        )
        self.timers[timer.id] = timer
        return timer

    def timer_of(self, user: MemberRef) -> Timer | None:
        """The member's running timer, or ``None``."""
        member_id = self.member(user).id
        return next((t for t in self.timers.values() if t.user_id == member_id), None)

    # ── webhooks, custom fields, schedules, events ───────────────────────────

    def add_webhook(
        self,
        url: str,
        events: Iterable[str],
        *,
        projects: Iterable[ProjectRef] = (),
        status: str = "active",
        http_user: str = "",
        http_pass: str = "",
        id: int | None = None,
    ) -> Webhook:
        """Register a webhook (``status`` ``active`` or ``paused``)."""
        hook = Webhook(
            id=self._new_id("webhook", id, self.webhooks),
            url=url,
            events=list(events),
            project_ids=[p.id if isinstance(p, Project) else p for p in projects],
            status=status,
            http_user=http_user,
            http_pass=http_pass,
        )
        self.webhooks[hook.id] = hook
        return hook

    def add_custom_field(
        self,
        scope: TagScope,
        name: str,
        *,
        type: str = "text",
        descr: str = "",
        options: Iterable[str] = (),
        id: int | None = None,
    ) -> CustomField:
        """Define a custom field for tasks or projects."""
        field = CustomField(
            self._new_id("custom_field", id, self.custom_fields),
            scope,
            name,
            type,
            descr,
            list(options),
        )
        self.custom_fields[field.id] = field
        return field

    def set_day_off(self, user: MemberRef, day: DateLike, kind: str = "vacation") -> None:
        """Mark a member's day as ``vacation``, ``sick-leave`` or ``workday``."""
        if kind not in ("vacation", "sick-leave", "workday"):
            raise ValueError(f"kind is vacation, sick-leave or workday, got {kind!r}")
        parsed = _to_date(day, "day")
        if parsed is None:
            raise ValueError("day is required")
        self.schedules.setdefault(self.member(user).id, {})[parsed] = kind

    def record_event(
        self,
        action: str,
        object_type: str,
        object_id: int,
        page: str,
        user_id: int,
        *,
        project_id: int | None = None,
        new: dict[str, JSONValue] | None = None,
        old: dict[str, JSONValue] | None = None,
    ) -> Event:
        """Append an entry to the event log, dated now."""
        event = Event(
            action=action,
            object_type=object_type,
            object_id=object_id,
            page=page,
            date_added=self.wall_now(),
            user_id=user_id,
            project_id=project_id,
            new=new,
            old=old,
        )
        self.events.append(event)
        return event
