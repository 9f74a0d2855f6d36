"""Events: ``client.events`` (``get_events``); a project's: ``client.project(p).events()``."""

from __future__ import annotations

import attrs

from .._call import Call
from .._pages import ProjectPage
from ..models import Event, structure_list
from . import _render as r
from ._protocol import ClientLike

__all__ = ["EventsNamespace", "get_events"]


async def get_events(
    client: ClientLike, period: r.Period, project: ProjectPage | None
) -> list[Event]:
    """``get_events`` over the last ``period``, of the account or one project."""
    params = {"period": r.period(period)}
    return structure_list(await client.send(Call.build("get_events", project, params)), Event)


@attrs.frozen
class EventsNamespace:
    """What happened lately: ``client.events``. Webhooks avoid polling this."""

    client: ClientLike = attrs.field(repr=False)

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(self, period: r.Period, *, project: r.ProjectLike | None = None) -> list[Event]:
        """Events of the last ``period`` (``get_events``): ``"30m"`` (1-360 minutes),
        ``"12h"`` (1-72 hours), ``"7d"`` (1-30 days) or a ``timedelta``; optionally
        of one ``project``.
        """
        page = r.project_page("project", project) if project is not None else None
        return await get_events(self.client, period, page)
