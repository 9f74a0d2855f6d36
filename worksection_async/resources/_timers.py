"""Timers: ``client.timers``.

``list``/``stop`` are the admin's view of everyone's running timers; ``mine``,
``start``, ``stop_mine`` and ``delete_mine`` act on the caller's own timer and need an
OAuth2 client (``signer=BearerToken(...)``).
"""

from __future__ import annotations

import attrs

from .._call import Call
from .._pages import Page
from ..models import MyTimer, Timer, structure_list, structure_one
from . import _render as r
from ._protocol import ClientLike

__all__ = ["TimersNamespace", "start_my_timer"]


async def start_my_timer(client: ClientLike, page: Page) -> None:
    """``start_my_timer`` on a task (OAuth2 only)."""
    await client.send(Call.build("start_my_timer", page))


@attrs.frozen
class TimersNamespace:
    """Running timers: ``client.timers``."""

    client: ClientLike = attrs.field(repr=False)

    async def stop(self, timer: int | r.HasId) -> None:
        """Stop someone's running timer and save its time as a cost (``stop_timer``, admin)."""
        params = {"timer": r.positive_id("timer", timer)}
        await self.client.send(Call.build("stop_timer", None, params))

    async def mine(self) -> MyTimer | None:
        """The caller's running timer, or ``None`` (``get_my_timer``, OAuth2 only)."""
        payload = await self.client.send(Call.build("get_my_timer"))
        if payload is None or payload == [] or payload == {}:
            return None
        return structure_one(payload, MyTimer)

    async def start(self, task: r.TaskLike) -> None:
        """Start the caller's timer on a task (``start_my_timer``, OAuth2 only)."""
        await start_my_timer(self.client, r.task_page("task", task))

    async def stop_mine(self, comment: str | None = None) -> None:
        """Stop the caller's timer and save its time as a cost (``stop_my_timer``)."""
        params = {"comment": r.text("comment", comment)}
        await self.client.send(Call.build("stop_my_timer", None, params))

    async def delete_mine(self) -> None:
        """Discard the caller's running timer without saving (``delete_my_timer``)."""
        await self.client.send(Call.build("delete_my_timer"))

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(self) -> list[Timer]:
        """Every running timer of the account (``get_timers``, admin only)."""
        return structure_list(await self.client.send(Call.build("get_timers")), Timer)
