"""Span, attribute and metric names: OpenTelemetry's semantic conventions where they
exist (the stable HTTP client ones), the rest under ``worksection.``."""

from __future__ import annotations

from typing import Final

__all__ = [
    "BUCKETS_SECONDS",
    "METRICS",
    "SCOPE",
]

SCOPE: Final = "worksection_async"
"""The instrumentation scope of every span and metric."""

# Semantic conventions (HTTP client, stable since 1.23; error.type).
HTTP_METHOD: Final = "http.request.method"
HTTP_STATUS: Final = "http.response.status_code"
RESEND_COUNT: Final = "http.request.resend_count"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
URL_FULL: Final = "url.full"
ERROR_TYPE: Final = "error.type"

# This library's own.
ACTION: Final = "worksection.action"
PAGE: Final = "worksection.page"
OUTCOME: Final = "worksection.outcome"
ERROR_CODE: Final = "worksection.error.code"
ATTEMPTS: Final = "worksection.attempts"
QUOTA_WAIT: Final = "worksection.quota.wait"
REQUEST_SENT: Final = "worksection.request_sent"
BULK_KIND: Final = "worksection.bulk.kind"
BULK_ITEMS: Final = "worksection.bulk.items"
BULK_CALLS: Final = "worksection.bulk.calls"
WEBHOOK_OUTCOME: Final = "worksection.webhook.outcome"

HTTP_DURATION: Final = "http.client.request.duration"
CALL_DURATION: Final = "worksection.client.call.duration"
QUOTA_WAIT_METRIC: Final = "worksection.quota.wait"
QUOTA_EXCEEDED: Final = "worksection.quota.exceeded"
QUOTA_ABSORBED: Final = "worksection.quota.absorbed"
PAUSES: Final = "worksection.quota.pauses"
PAUSE_TIME: Final = "worksection.quota.pause.time"
RATE_CONFIGURED: Final = "worksection.quota.rate.configured"
RATE_CURRENT: Final = "worksection.quota.rate.current"
RATE_PLATEAU: Final = "worksection.quota.rate.plateau"
FALLBACKS: Final = "worksection.quota.fallbacks"
RESTORATIONS: Final = "worksection.quota.restorations"
WEBHOOK_DELIVERIES: Final = "worksection.webhook.deliveries"
WEBHOOK_EVENTS: Final = "worksection.webhook.events"

METRICS: Final = (
    HTTP_DURATION,
    CALL_DURATION,
    QUOTA_WAIT_METRIC,
    QUOTA_EXCEEDED,
    QUOTA_ABSORBED,
    PAUSES,
    PAUSE_TIME,
    RATE_CONFIGURED,
    RATE_CURRENT,
    RATE_PLATEAU,
    FALLBACKS,
    RESTORATIONS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_EVENTS,
)
"""Every metric the hook records."""

BUCKETS_SECONDS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    30.0,
    60.0,
)
"""Histogram buckets for durations: the HTTP conventions' advice, and 30 s and a
minute, since a call can wait that long for the quota."""
