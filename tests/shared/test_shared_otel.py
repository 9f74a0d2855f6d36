"""The OpenTelemetry hook on a shared quota: fallbacks and restorations are counted,
the Redis password is in no span or metric."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import worksection_async as ws
from worksection_async import Client, RateLimit
from worksection_async.otel import OpenTelemetryHook
from worksection_async.shared import SharedQuota
from worksection_async.testing import FakeWorksection

from ._redis import RedisServer

pytestmark = pytest.mark.anyio


def metric_total(reader: InMemoryMetricReader, name: str) -> float:
    data = reader.get_metrics_data()
    assert data is not None
    return sum(
        point.value
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    )


async def test_fallback_and_restoration_are_counted(
    make_redis_server: Callable[..., RedisServer], key: str
) -> None:
    """redis-server stops, then starts again: one fallback and one restoration, as
    the events say; the shared gauge figures come from client.quota; no password."""
    secret = "s3cret-otel-redis-pass"
    server = make_redis_server(password=secret)
    fake = FakeWorksection(quota=None)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    hook = OpenTelemetryHook(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    events: list[Any] = []

    def tee(event: Any) -> None:
        events.append(event)
        hook(event)

    async with Client(
        fake.account_url,
        fake.api_key,
        transport=fake.transport,
        rate_limit=RateLimit(rate=50),
        shared_quota=SharedQuota.from_url(server.url, key=key),
        on_event=tee,
    ) as client:
        for _ in range(3):
            await client.call("get_projects")
        server.stop()
        for _ in range(3):
            await client.call("get_projects")
        assert metric_total(reader, "worksection.quota.rate.configured") == pytest.approx(
            client.quota.configured_rate
        )
        server.start()
        await anyio.sleep(1.1)  # the next probe of Redis
        for _ in range(3):
            await client.call("get_projects")
        assert client.quota.shared
    unavailable = [e for e in events if isinstance(e, ws.QuotaBackendUnavailable)]
    restored = [e for e in events if isinstance(e, ws.QuotaBackendRestored)]
    assert len(unavailable) == len(restored) == 1
    assert metric_total(reader, "worksection.quota.fallbacks") == 1
    assert metric_total(reader, "worksection.quota.restorations") == 1
    exported = [span.to_json() for span in spans.get_finished_spans()]
    data = reader.get_metrics_data()
    assert data is not None
    exported.append(data.to_json())
    assert len(exported) > 9
    assert all(secret not in text for text in exported)
