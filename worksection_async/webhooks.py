"""Webhooks: receive Worksection's deliveries, or parse them yourself.

::

    from worksection_async.webhooks import WebhookReceiver

    async def on_event(event):
        print(event.action, event.object.type, event.object.page)

    app = WebhookReceiver(on_event, basic_auth=("hook", "s3cret"))  # an ASGI app

Register the URL it is served at with ``client.webhooks.add(url, events=[...],
basic_auth=("hook", "s3cret"))``. :func:`parse_webhook` turns a delivery's body into
:class:`~worksection_async.models.Event` models for code that has its own web
framework; :func:`event_key` is what both the receiver and ``client.events.watch()``
use to recognise a repeated event (events carry no id).
"""

from __future__ import annotations

from ._events import (
    ReceiverEvent,
    ReceiverEventHook,
    WebhookDeliveryAccepted,
    WebhookDeliveryRefused,
    WebhookEventHandled,
)
from ._webhook_receiver import (
    DEFAULT_DEDUP_WINDOW,
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_ENQUEUE_TIMEOUT,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_QUEUE,
    Handler,
    WebhookReceiver,
)
from ._webhooks import EventKey, WebhookPayloadError, event_key, parse_webhook

__all__ = [
    "DEFAULT_DEDUP_WINDOW",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_ENQUEUE_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_QUEUE",
    "EventKey",
    "Handler",
    "ReceiverEvent",
    "ReceiverEventHook",
    "WebhookDeliveryAccepted",
    "WebhookDeliveryRefused",
    "WebhookEventHandled",
    "WebhookPayloadError",
    "WebhookReceiver",
    "event_key",
    "parse_webhook",
]
