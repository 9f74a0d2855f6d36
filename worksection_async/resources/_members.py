"""Members and teams: ``client.members``.

Subscribing a member to a task is ``client.task(t).subscribe(email)``; a project's
members change with ``client.project(p).add_members(...)`` / ``remove_members(...)``.
"""

from __future__ import annotations

from typing import get_args

import attrs

from .._call import Call, ParamValue
from ..models import User, UserGroup, structure_list, structure_one
from . import _render as r
from ._protocol import ClientLike

__all__ = ["MembersNamespace"]

_ROLES = get_args(r.UserRole)


@attrs.frozen
class MembersNamespace:
    """Account members and their teams: ``client.members``."""

    client: ClientLike = attrs.field(repr=False)

    async def me(self) -> User:
        """The member the OAuth2 token belongs to (``me``, OAuth2 only)."""
        return structure_one(await self.client.send(Call.build("me")), User)

    async def add(
        self,
        email: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        title: str | None = None,
        group: str | None = None,
        department: str | None = None,
        role: r.UserRole | None = None,
    ) -> User:
        """Invite a member (``add_user``); ``group`` is the team's name (default: yours)."""
        params: dict[str, ParamValue] = {
            "email": r.email("email", email),
            "first_name": r.text("first_name", first_name),
            "last_name": r.text("last_name", last_name),
            "title": r.text("title", title),
            "group": r.text("group", group),
            "department": r.text("department", department),
            "role": r.choice("role", role, _ROLES),
        }
        return structure_one(await self.client.send(Call.build("add_user", None, params)), User)

    async def groups(self) -> list[UserGroup]:
        """The account's teams (``get_user_groups``)."""
        return structure_list(await self.client.send(Call.build("get_user_groups")), UserGroup)

    async def add_group(self, title: str, *, client: bool = False) -> UserGroup:
        """Create a team unless one has this name (``add_user_group``);
        ``client=True`` makes an external client team."""
        params: dict[str, ParamValue] = {
            "title": r.title("title", title),
            "client": r.true_flag("client", client),
        }
        payload = await self.client.send(Call.build("add_user_group", None, params))
        return structure_one(payload, UserGroup)

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(self) -> list[User]:
        """Every member of the account (``get_users``)."""
        return structure_list(await self.client.send(Call.build("get_users")), User)
