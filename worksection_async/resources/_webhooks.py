"""Webhooks: ``client.webhooks`` (``get_webhooks``, ``add_webhook``, ``delete_webhook``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Literal, get_args

import attrs

from .._call import Call, ParamValue
from ..models import Created, Webhook, structure, structure_list
from . import _render as r
from ._protocol import ClientLike

__all__ = ["EnsuredWebhook", "WebhooksNamespace"]

_EVENTS: Final = get_args(r.WebhookEvent)
_URL: Final = re.compile(r"https?://[^/\s?#]+\S*", re.IGNORECASE)


@attrs.frozen(kw_only=True)
class EnsuredWebhook:
    """What :meth:`WebhooksNamespace.ensure` found and did.

    ``action`` is ``"kept"`` (an active hook with these events and projects was
    there), ``"created"`` (none had this URL) or ``"recreated"`` (deleted and added
    again: it was paused, or its events or projects differed; the API has no enable
    action). ``id`` is the hook's id now; ``found`` the hooks that had the URL before
    (extra ones are deleted); ``reason`` says why, in words.
    """

    action: Literal["kept", "created", "recreated"]
    id: int
    found: tuple[Webhook, ...]
    reason: str


def _differences(
    hook: Webhook, events: tuple[str, ...], projects: tuple[int, ...] | None
) -> list[str]:
    reasons = []
    if (hook.status or "active").lower() != "active":
        reasons.append(f"it was {hook.status}")
    if set(hook.events) != set(events):
        reasons.append(f"its events were {','.join(hook.events) or 'none'}")
    if (set(hook.projects) if hook.projects else None) != (set(projects) if projects else None):
        shown = ",".join(map(str, hook.projects)) if hook.projects else "all"
        reasons.append(f"its projects were {shown}")
    return reasons


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

    async def ensure(
        self,
        url: str,
        events: Sequence[r.WebhookEvent],
        *,
        projects: Sequence[r.ProjectLike] | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> EnsuredWebhook:
        """Make sure an active hook sends ``events`` (of ``projects``, or all) to ``url``.

        Finds the hooks with this URL (``get_webhooks``); keeps one that is active with
        the same events and projects; otherwise deletes them and adds one (the API has
        no enable action, so a paused hook is re-created). Returns what it found and
        did. Worksection does not show a hook's basic auth: a changed password is not
        seen here (delete the hook, or change the URL). The URL must answer when
        Worksection checks it (see :meth:`add`): start the receiver first.
        """
        checked_url = r.text("url", url, required=True)
        assert checked_url is not None
        checked_url = checked_url.strip()
        wanted_events = tuple(dict.fromkeys(events)) if not isinstance(events, str) else ()
        rendered = r.flags("events", events, _EVENTS)
        if rendered is None:
            raise ValueError("events: give at least one event name")
        wanted_projects: tuple[int, ...] | None = None
        if projects is not None:
            if isinstance(projects, (str, int)):
                raise TypeError("projects must be a list of projects; wrap a single one")
            ids = [r.project_page("projects", p).project_id for p in projects]
            wanted_projects = tuple(dict.fromkeys(ids)) or None
        if not _URL.fullmatch(checked_url):
            raise ValueError(f"url must be an http(s) URL, got {url!r}")
        found = tuple(hook for hook in await self.list() if hook.url.strip() == checked_url)
        if found:
            reasons = _differences(found[0], wanted_events, wanted_projects)
            if not reasons and len(found) == 1:
                return EnsuredWebhook(
                    action="kept", id=found[0].id, found=found, reason="as wanted"
                )
            if not reasons:
                reasons = [f"{len(found)} hooks had this URL"]
            for hook in found:
                await self.delete(hook.id)
        new_id = await self.add(
            checked_url,
            list(wanted_events),
            projects=list(wanted_projects) if wanted_projects else None,
            basic_auth=basic_auth,
        )
        if not found:
            return EnsuredWebhook(action="created", id=new_id, found=(), reason="no hook had it")
        return EnsuredWebhook(action="recreated", id=new_id, found=found, reason="; ".join(reasons))

    async def delete(self, webhook: int | r.HasId) -> None:
        """Delete a webhook (``delete_webhook``)."""
        params = {"id": r.positive_id("webhook", webhook)}
        await self.client.send(Call.build("delete_webhook", None, params))

    # ``list`` last: below it, the name would shadow the builtin in annotations.
    async def list(self) -> list[Webhook]:
        """The account's webhooks (``get_webhooks``)."""
        return structure_list(await self.client.send(Call.build("get_webhooks")), Webhook)
