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

Where accepted events wait is an :class:`EventStore`. Without one (the default) they
are in memory: a crash, an OOM kill or ``kill -9`` loses the events accepted and not
yet handled, and Worksection will not send them again. With one::

    store = EventStore.from_url("sqlite:///events.db")
    app = WebhookReceiver(on_event, store=store)

a delivery is answered 200 only after its events are committed, and a restart handles
what a crash left. The same store keeps named cursors for
``client.events.watch(store=store, name="bot")``.
"""

from __future__ import annotations

import contextlib

from ._event_store import Accepted, EventStore, EventStoreError, StoredEvent, WatchCursor
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
    DEFAULT_LEASE,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_QUEUE,
    Handler,
    WebhookReceiver,
)
from ._webhooks import EventKey, WebhookPayloadError, event_key, parse_webhook

with contextlib.suppress(ImportError):  # coredis (the redis extra): Redis stores too
    from . import _event_store_redis as _event_store_redis

__all__ = [
    "Accepted",
    "DEFAULT_DEDUP_WINDOW",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_ENQUEUE_TIMEOUT",
    "DEFAULT_LEASE",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_QUEUE",
    "EventKey",
    "EventStore",
    "EventStoreError",
    "Handler",
    "ReceiverEvent",
    "ReceiverEventHook",
    "StoredEvent",
    "WatchCursor",
    "WebhookDeliveryAccepted",
    "WebhookDeliveryRefused",
    "WebhookEventHandled",
    "WebhookPayloadError",
    "WebhookReceiver",
    "event_key",
    "parse_webhook",
]
