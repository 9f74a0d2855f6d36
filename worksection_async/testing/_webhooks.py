"""``WebhookDelivery``: the fake POSTs its events to registered webhooks, as Worksection does.

Worksection sends each change as a JSON array of events to every active webhook that
subscribed to it (``post_task``, ``update_task``, ``close_task``, ``post_comment``...,
optionally only for some projects), with basic auth when the hook has
``http_user``/``http_pass``; the receiver must answer HTTP 200 with JSON
``{"status":"OK"}`` within 5 s, and after 10 failures the hook is disabled
(as the API documentation says). ``add_webhook`` checks the URL answers that way
before it accepts it.

The fake never touches the network unless told where deliveries may go::

    fake.webhook_delivery.route("https://bot.example.com/hook", receiver)  # ASGI, in-process
    fake.webhook_delivery.allow_http("http://127.0.0.1:8000/")             # real HTTP

A hook whose URL matches neither is left alone: not checked, not delivered to (so
tests that only register hooks see no traffic). Deliveries happen before the API
request that made the change is answered, one hook after the other, so a test sees
them in order as soon as its call returns; events recorded by ``fake.call(...)`` go
with the next request, or with ``await fake.webhook_delivery.flush()`` (and
``fake.call("add_webhook", ...)`` checks no URL: it does no I/O). The 5 s
timeout runs on the fake's clock. Failures are cumulative per hook (the service's
documentation counts failures, not consecutive ones); the tenth pauses the hook
(``status`` "paused"), which then gets nothing more.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final, TypeAlias

import anyio
import attrs
import httpx

from .._json import JSONValue
from ._actions import ApiError
from ._base import FakeBase
from ._http import FakeResponse, json_response
from ._records import Event, Webhook
from ._render import render_event

__all__ = [
    "DEFAULT_DELIVERY_TIMEOUT",
    "DEFAULT_MAX_FAILURES",
    "ASGIApp",
    "Delivery",
    "WebhookDelivery",
]

logger = logging.getLogger("worksection_async.testing")

DEFAULT_DELIVERY_TIMEOUT: Final = 5.0
"""Seconds a receiver has to answer a delivery (on the fake's clock)."""
DEFAULT_MAX_FAILURES: Final = 10
"""Failed deliveries after which a hook is paused."""
MAX_LOG: Final = 10_000
"""Deliveries kept in ``WebhookDelivery.log`` (the oldest are dropped)."""

ASGIApp: TypeAlias = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]

_CHECK_REFUSED: Final = "Url should respond 200 HTTP_CODE and JSON {status:OK}"


@attrs.frozen(kw_only=True)
class Delivery:
    """One POST to a webhook: the URL check of ``add_webhook`` (``events == 0``) or events.

    ``status`` is the HTTP status (``None`` when there was no answer); ``ok`` says
    whether it was 200 with ``{"status":"OK"}``; ``error`` why not.
    """

    hook_id: int
    url: str
    events: int
    check: bool = False
    status: int | None = None
    ok: bool = False
    error: str | None = None


@attrs.define(eq=False)
class _Target:
    prefix: str
    app: ASGIApp | None
    """``None``: over HTTP."""


def _answered_ok(response: httpx.Response) -> tuple[bool, str | None]:
    if response.status_code != 200:
        return False, f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return False, "the answer is not JSON"
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str) or status.upper() != "OK":
        return False, 'the answer is not {"status":"OK"}'
    return True, None


class WebhookDelivery:
    """Where a ``FakeWorksection`` sends its webhooks: ``fake.webhook_delivery``."""

    def __init__(
        self,
        fake: FakeBase,
        *,
        timeout: float = DEFAULT_DELIVERY_TIMEOUT,
        max_failures: int = DEFAULT_MAX_FAILURES,
    ) -> None:
        self._fake = fake
        self.timeout = timeout
        self.max_failures = max_failures
        self._targets: list[_Target] = []
        self._cursor = len(fake.events)
        self._born: dict[int, int] = {}
        self.failures: Counter[int] = Counter()
        """Failed deliveries per hook id (checks not counted)."""
        self.log: list[Delivery] = []
        """Every delivery and check, oldest first (at most ``MAX_LOG``)."""

    def __repr__(self) -> str:
        targets = ", ".join(
            f"{t.prefix!r}->{'http' if t.app is None else 'asgi'}" for t in self._targets
        )
        return f"WebhookDelivery([{targets}], delivered={len(self.log)})"

    # -- configuration -----------------------------------------------------------------

    def route(self, url: str, app: ASGIApp) -> None:
        """Deliver to hooks whose URL starts with ``url`` by calling ``app`` in-process."""
        self._add(_Target(url, app))

    def allow_http(self, url: str) -> None:
        """Deliver over HTTP to hooks whose URL starts with ``url`` (e.g. a loopback server)."""
        self._add(_Target(url, None))

    def _add(self, target: _Target) -> None:
        if not isinstance(target.prefix, str) or not target.prefix.startswith(
            ("http://", "https://")
        ):
            raise ValueError(f"url must start with http:// or https://, got {target.prefix!r}")
        self._targets = [t for t in self._targets if t.prefix != target.prefix]
        self._targets.append(target)
        self._targets.sort(key=lambda t: len(t.prefix), reverse=True)  # longest prefix wins

    def target(self, url: str) -> ASGIApp | str | None:
        """The app deliveries to ``url`` go to, ``"http"``, or ``None`` (not delivered)."""
        for target in self._targets:
            if url.startswith(target.prefix):
                return target.app if target.app is not None else "http"
        return None

    # -- the fake's hooks ----------------------------------------------------------------

    async def after_request(self, action: str, response: FakeResponse) -> FakeResponse:
        """Check a hook ``add_webhook`` just created, then deliver the pending events."""
        if not self._targets:
            return response
        if action == "add_webhook" and response.status == 200:
            response = await self._check_new_hook(response)
        await self.flush()
        return response

    async def _check_new_hook(self, response: FakeResponse) -> FakeResponse:
        try:
            answer = json.loads(response.body)
            hook_id = int(answer["id"]) if answer.get("status") == "ok" else None
        except (ValueError, TypeError, KeyError, AttributeError):
            return response
        hook = self._fake.webhooks.get(hook_id) if hook_id is not None else None
        if hook is None or self.target(hook.url) is None:
            return response
        delivery = await self._post(hook, [], check=True)
        fake = self._fake
        with fake._lock:
            if delivery.ok:
                self._born[hook.id] = len(fake.events)
                return response
            fake.webhooks.pop(hook.id, None)
            fake.stats.errors[11] += 1
        logger.info("add_webhook refused %s: %s", hook.url, delivery.error)
        return json_response(ApiError(11, _CHECK_REFUSED, hook.url).envelope())

    async def flush(self) -> int:
        """Deliver the events recorded since the last delivery; returns deliveries made."""
        fake = self._fake
        with fake._lock:
            start, end = self._cursor, len(fake.events)
            self._cursor = end
            if start == end or not self._targets:
                return 0
            batches: list[tuple[Webhook, list[JSONValue]]] = []
            for hook in sorted(fake.webhooks.values(), key=lambda h: h.id):
                if hook.status != "active" or self.target(hook.url) is None:
                    continue
                first = max(start, self._born.get(hook.id, start))
                payload: list[JSONValue] = [
                    render_event(fake, event)
                    for event in fake.events[first:end]
                    if _subscribed(hook, event)
                ]
                if payload:
                    batches.append((hook, payload))
        for hook, payload in batches:
            delivery = await self._post(hook, payload)
            if not delivery.ok:
                self._failed(hook)
        return len(batches)

    def _failed(self, hook: Webhook) -> None:
        with self._fake._lock:
            self.failures[hook.id] += 1
            if self.failures[hook.id] >= self.max_failures and hook.status == "active":
                hook.status = "paused"
                logger.warning(
                    "webhook %d (%s) paused after %d failed deliveries",
                    hook.id,
                    hook.url,
                    self.failures[hook.id],
                )

    async def _post(
        self, hook: Webhook, payload: list[JSONValue], *, check: bool = False
    ) -> Delivery:
        target = self.target(hook.url)
        transport = httpx.ASGITransport(app=target) if callable(target) else None
        auth = httpx.BasicAuth(hook.http_user, hook.http_pass) if hook.http_user else None
        body = json.dumps(payload, ensure_ascii=False).encode()
        status: int | None = None
        ok = False
        error: str | None = f"no answer within {self.timeout:g}s"
        async with httpx.AsyncClient(transport=transport, timeout=self.timeout, auth=auth) as http:

            async def post() -> None:
                nonlocal status, ok, error
                try:
                    response = await http.post(
                        hook.url,
                        content=body,
                        headers={"content-type": "application/json; charset=utf-8"},
                    )
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    return
                except Exception as exc:  # an in-process app that raised
                    error = f"the receiver raised {type(exc).__name__}"
                    return
                status = response.status_code
                ok, error = _answered_ok(response)

            async with anyio.create_task_group() as tg:

                async def expire() -> None:
                    await self._fake.clock.sleep(self.timeout)
                    tg.cancel_scope.cancel()

                tg.start_soon(expire)
                await post()
                tg.cancel_scope.cancel()
        delivery = Delivery(
            hook_id=hook.id,
            url=hook.url,
            events=len(payload),
            check=check,
            status=status,
            ok=ok,
            error=error,
        )
        self.log.append(delivery)
        if len(self.log) > MAX_LOG:
            del self.log[: len(self.log) - MAX_LOG]
        if not ok:
            logger.info("webhook %d delivery to %s failed: %s", hook.id, hook.url, error)
        return delivery


def _subscribed(hook: Webhook, event: Event) -> bool:
    if f"{event.action}_{event.object_type}" not in hook.events:
        return False
    return not hook.project_ids or event.project_id in hook.project_ids
