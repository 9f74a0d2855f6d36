"""Webhooks: ``client.webhooks`` (``get_webhooks``, ``add_webhook``, ``delete_webhook``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, get_args

import attrs

from .._call import Call, ParamValue
from ..models import Created, Webhook, structure, structure_list
from . import _render as r
from ._protocol import ClientLike

__all__ = ["WebhooksNamespace"]

_EVENTS: Final = get_args(r.WebhookEvent)
_URL: Final = re.compile(r"https?://[^/\s?#]+\S*", re.IGNORECASE)


@attrs.frozen
class WebhooksNamespace:
    """Webhooks: ``client.webhooks``."""

    client: ClientLike = attrs.field(repr=False)

    async def add(
        self,
        url: str,
        events: Sequence[r.WebhookEvent],
        *,
        projects: Sequence[r.ProjectLike] | None = None,
        basic_auth: tuple[str, str] | None = None,
        http_user: str | None = None,
        http_pass: str | None = None,
    ) -> int:
        """Register a webhook (``add_webhook``); returns its id.

        The URL must answer HTTP 200 with JSON ``{"status": "OK"}`` when Worksection
        checks it, else the API refuses (error 11): a running
        ``worksection_async.webhooks.WebhookReceiver`` does. ``projects`` limits it to
        some projects; ``basic_auth=(user, password)`` (the same pair the receiver
        checks; or ``http_user``/``http_pass``) adds basic auth to the deliveries.
        """
        if basic_auth is not None:
            if http_user is not None or http_pass is not None:
                raise ValueError("give basic_auth or http_user/http_pass, not both")
            if (
                not isinstance(basic_auth, tuple)
                or len(basic_auth) != 2
                or not all(isinstance(part, str) for part in basic_auth)
            ):
                raise TypeError("basic_auth must be a (user, password) tuple of strings")
            http_user, http_pass = basic_auth
            if not http_user.strip() or not http_pass:
                raise ValueError("basic_auth: user and password must not be empty")
        if http_user is not None and ":" in http_user:
            raise ValueError("basic auth: the user must not contain ':'")
        checked_url = r.text("url", url, required=True)
        assert checked_url is not None
        if not _URL.fullmatch(checked_url.strip()):
            raise ValueError(f"url must be an http(s) URL, got {url!r}")
        rendered_events = r.flags("events", events, _EVENTS)
        if rendered_events is None:
            raise ValueError("events: give at least one event name")
        project_ids: str | None = None
        if projects is not None:
            if isinstance(projects, (str, int)):
                raise TypeError("projects must be a list of projects; wrap a single one")
            ids = [str(r.project_page("projects", p).project_id) for p in projects]
            project_ids = ",".join(dict.fromkeys(ids)) or None
        params: dict[str, ParamValue] = {
            "url": checked_url.strip(),
            "events": rendered_events,
            "projects": project_ids,
            "http_user": r.text("http_user", http_user),
            "http_pass": r.text("http_pass", http_pass),
        }
        payload = await self.client.send(Call.build("add_webhook", None, params))
        return structure(payload, Created).id

    async def delete(self, webhook: int | r.HasId) -> None:
        """Delete a webhook (``delete_webhook``)."""
        params = {"id": r.positive_id("webhook", webhook)}
        await self.client.send(Call.build("delete_webhook", None, params))

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(self) -> list[Webhook]:
        """The account's webhooks (``get_webhooks``)."""
        return structure_list(await self.client.send(Call.build("get_webhooks")), Webhook)
