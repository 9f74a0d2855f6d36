"""Projects and folders: ``client.projects``.

The handle on one project, ``ProjectHandle`` (``client.project(x)``), is in ``_handles``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import get_args

import attrs

from .._call import Call, ParamValue
from ..models import (
    CustomField,
    Project,
    ProjectGroup,
    astructure_list,
    structure_list,
    structure_one,
)
from . import _render as r
from ._files import AttachItem, attachments
from ._protocol import ClientLike

__all__ = ["ProjectsNamespace"]

_PROJECT_EXTRA = get_args(r.ProjectExtra)
_PROJECT_FILTERS = get_args(r.ProjectFilter)


@attrs.frozen
class ProjectsNamespace:
    """Account-wide project actions: ``client.projects``."""

    client: ClientLike = attrs.field(repr=False)

    async def create(
        self,
        title: str,
        *,
        author: str | None = None,
        manager: str | None = None,
        assignee: r.Assignee | None = None,
        members: r.Emails | None = None,
        text: str | None = None,
        folder: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        max_time: r.Hours | None = None,
        max_money: r.Money | None = None,
        tags: r.TagRefs | None = None,
        options: r.ProjectOptionsArg | None = None,
        extra: r.ProjectExtra | Iterable[r.ProjectExtra] | None = None,
        attach: Sequence[AttachItem] | None = None,
    ) -> Project:
        """Create a project (``post_project``).

        ``author`` (``email_user_from``), ``manager`` (``email_manager``), ``assignee``
        (default assignee of new tasks: an email, ``"ANY"`` or ``"NOONE"``),
        ``members`` (emails), ``folder`` (``company``, a folder's name), ``options``
        (project flags; ``extra="options"`` returns them), ``attach`` (files sent as
        ``attach[n]``).
        """
        params: dict[str, ParamValue] = {
            "title": r.title("title", title),
            "email_user_from": r.optional_email("author", author),
            "email_manager": r.optional_email("manager", manager),
            "email_user_to": r.assignee("assignee", assignee),
            "members": r.emails("members", members),
            "text": r.text("text", text),
            "company": r.text("folder", folder),
            "datestart": r.day("start", start),
            "dateend": r.day("end", end),
            "max_time": r.decimal("max_time", max_time),
            "max_money": r.decimal("max_money", max_money),
            "tags": r.names("tags", tags),
            "extra": r.flags("extra", extra, _PROJECT_EXTRA),
            **r.options(options),
        }
        async with attachments("attach", attach, "attach[{n}]") as parts:
            payload = await self.client.send(Call.build("post_project", None, params, parts))
        return structure_one(payload, Project)

    async def groups(self) -> list[ProjectGroup]:
        """Project folders and team folders (``get_project_groups``)."""
        payload = await self.client.send(Call.build("get_project_groups"))
        return structure_list(payload, ProjectGroup)

    async def add_group(self, title: str) -> ProjectGroup:
        """Create a project folder unless one has this name (``add_project_group``)."""
        params = {"title": r.title("title", title)}
        payload = await self.client.send(Call.build("add_project_group", None, params))
        return structure_one(payload, ProjectGroup)

    async def custom_fields(self) -> list[CustomField]:
        """The account's project custom field definitions (``get_project_custom_fields``)."""
        payload = await self.client.send(Call.build("get_project_custom_fields"))
        return structure_list(payload, CustomField)

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(
        self,
        *,
        filter: r.ProjectFilter | None = None,
        extra: r.ProjectExtra | Iterable[r.ProjectExtra] | None = None,
    ) -> list[Project]:
        """The account's projects (``get_projects``): ``filter`` ``"active"``,
        ``"pending"`` (sleeping) or ``"archive"``; ``extra`` as :meth:`ProjectHandle.get`.
        """
        params: dict[str, ParamValue] = {
            "filter": r.choice("filter", filter, _PROJECT_FILTERS),
            "extra": r.flags("extra", extra, _PROJECT_EXTRA),
        }
        payload = await self.client.send(Call.build("get_projects", None, params))
        return await astructure_list(payload, Project)
