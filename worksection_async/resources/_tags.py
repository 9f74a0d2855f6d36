"""Tags (statuses and labels) and tag groups: ``client.tags``.

A project's or a task's tags change through its handle: ``update_tags(add=..., remove=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

import attrs

from .._call import Call, ParamValue
from .._pages import Page
from ..models import Tag, TagGroup, structure_list
from . import _render as r
from ._protocol import ClientLike

__all__ = ["TagsNamespace", "update_tags"]

_TYPES = get_args(r.TagType)
_ACCESS = get_args(r.TagAccess)


async def update_tags(
    client: ClientLike,
    action: str,
    page: Page,
    *,
    add: r.TagRefs | None,
    remove: r.TagRefs | None,
) -> None:
    """``update_task_tags`` / ``update_project_tags``: ``plus`` and ``minus`` lists."""
    params: dict[str, ParamValue] = {
        "plus": r.names("add", add),
        "minus": r.names("remove", remove),
    }
    if params["plus"] is None and params["minus"] is None:
        raise ValueError("update_tags() needs tags to add or to remove")
    await client.send(Call.build(action, page, params))


def _group(value: str | int | None, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ValueError("group is required (a tag group's title or id)")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"group must be a tag group's title (str) or id (int), got {value!r}")
    if isinstance(value, int):
        return r.positive_id("group", value)
    return r.title("group", value)


def _titles(value: str | Sequence[str]) -> str:
    rendered = r.names("titles", value)
    if rendered is None:
        raise ValueError("titles: give at least one title")
    return rendered


@attrs.frozen
class TagsNamespace:
    """Tags and tag groups of tasks and projects: ``client.tags``."""

    client: ClientLike = attrs.field(repr=False)

    async def _read(self, action: str, params: dict[str, ParamValue]) -> list[Tag]:
        return structure_list(await self.client.send(Call.build(action, None, params)), Tag)

    async def _read_groups(self, action: str, params: dict[str, ParamValue]) -> list[TagGroup]:
        return structure_list(await self.client.send(Call.build(action, None, params)), TagGroup)

    # -- task tags -------------------------------------------------------------------

    async def task_tags(
        self,
        *,
        group: str | int | None = None,
        type: r.TagType | None = None,
        access: r.TagAccess | None = None,
    ) -> list[Tag]:
        """Task tags, optionally of one group, type or access (``get_task_tags``)."""
        params: dict[str, ParamValue] = {
            "group": _group(group),
            "type": r.choice("type", type, _TYPES),
            "access": r.choice("access", access, _ACCESS),
        }
        return await self._read("get_task_tags", params)

    async def add_task_tags(self, group: str | int, titles: str | Sequence[str]) -> list[Tag]:
        """Create task tags in a group (``add_task_tags``); existing names are kept."""
        params: dict[str, ParamValue] = {
            "group": _group(group, required=True),
            "title": _titles(titles),
        }
        return await self._read("add_task_tags", params)

    async def task_groups(
        self, *, type: r.TagType | None = None, access: r.TagAccess | None = None
    ) -> list[TagGroup]:
        """Task tag groups (``get_task_tag_groups``)."""
        params: dict[str, ParamValue] = {
            "type": r.choice("type", type, _TYPES),
            "access": r.choice("access", access, _ACCESS),
        }
        return await self._read_groups("get_task_tag_groups", params)

    async def add_task_groups(
        self, titles: str | Sequence[str], *, type: r.TagType, access: r.TagAccess
    ) -> list[TagGroup]:
        """Create task tag groups (``add_task_tag_groups``); existing names are kept."""
        params: dict[str, ParamValue] = {
            "title": _titles(titles),
            "type": r.choice("type", type, _TYPES),
            "access": r.choice("access", access, _ACCESS),
        }
        if params["type"] is None or params["access"] is None:
            raise ValueError("add_task_groups() needs type and access")
        return await self._read_groups("add_task_tag_groups", params)

    # -- project tags ----------------------------------------------------------------

    async def project_tags(
        self,
        *,
        group: str | int | None = None,
        type: r.TagType | None = None,
        access: r.TagAccess | None = None,
    ) -> list[Tag]:
        """Project tags, optionally of one group, type or access (``get_project_tags``)."""
        params: dict[str, ParamValue] = {
            "group": _group(group),
            "type": r.choice("type", type, _TYPES),
            "access": r.choice("access", access, _ACCESS),
        }
        return await self._read("get_project_tags", params)

    async def add_project_tags(self, group: str | int, titles: str | Sequence[str]) -> list[Tag]:
        """Create project tags in a group (``add_project_tags``)."""
        params: dict[str, ParamValue] = {
            "group": _group(group, required=True),
            "title": _titles(titles),
        }
        return await self._read("add_project_tags", params)

    async def project_groups(
        self, *, type: r.TagType | None = None, access: r.TagAccess | None = None
    ) -> list[TagGroup]:
        """Project tag groups (``get_project_tag_groups``)."""
        params: dict[str, ParamValue] = {
            "type": r.choice("type", type, _TYPES),
            "access": r.choice("access", access, _ACCESS),
        }
        return await self._read_groups("get_project_tag_groups", params)

    async def add_project_groups(
        self,
        titles: str | Sequence[str],
        *,
        access: r.TagAccess,
        type: r.TagType | None = None,
    ) -> list[TagGroup]:
        """Create project tag groups (``add_project_tag_groups``); ``type`` is optional
        here (the official example sends none)."""
        params: dict[str, ParamValue] = {
            "title": _titles(titles),
            "type": r.choice("type", type, _TYPES),
            "access": r.choice("access", access, _ACCESS),
        }
        if params["access"] is None:
            raise ValueError("add_project_groups() needs access")
        return await self._read_groups("add_project_tag_groups", params)
