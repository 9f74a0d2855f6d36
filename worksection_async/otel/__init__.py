"""OpenTelemetry traces and metrics for ``worksection_async`` (the ``otel`` extra).

::

    from worksection_async import Client
    from worksection_async.otel import OpenTelemetryHook

    async with Client(url, api_key, on_event=OpenTelemetryHook()) as client:
        ...

Telemetry is turned on one way: an ``OpenTelemetryHook`` passed as the client's
``on_event`` (and, for webhook deliveries, as a ``WebhookReceiver``'s ``on_event``).
It needs only ``opentelemetry-api``; bring the SDK and an exporter (OTLP, Prometheus)
and configure the global providers, or pass ``tracer_provider`` / ``meter_provider``.
See :class:`OpenTelemetryHook` for every span, attribute and metric.

No other part of the library imports OpenTelemetry.
"""

from __future__ import annotations

try:
    import opentelemetry.metrics
    import opentelemetry.trace  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "worksection_async.otel needs opentelemetry-api: pip install 'worksection-async[otel]'"
    ) from exc

from ._hook import OpenTelemetryHook
from ._names import METRICS, SCOPE

__all__ = ["METRICS", "OpenTelemetryHook", "SCOPE"]
