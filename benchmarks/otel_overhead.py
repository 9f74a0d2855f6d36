"""What ``OpenTelemetryHook`` adds to a call, next to the same client without it.

Both clients send ``get_task`` to ``httpx.MockTransport`` (no I/O: the client's own work
shows most), with the quota on (a rate far above what the loop reaches, so it never
waits) and the default retry policy. The instrumented one has everything the hook does:
a span per call and per attempt, the HTTP client attributes with ``url.full`` masked,
every metric, with the SDK installed: a ``TracerProvider`` with a ``BatchSpanProcessor``
and an ``InMemorySpanExporter`` (cleared between rounds), a ``MeterProvider`` with an
``InMemoryMetricReader`` (collected at the end of each round, gauges included).

Rounds alternate the two sides (so drift hits both alike). Every call is timed on its
own; the figure is the median call, in wall time. The mean is printed too: it carries
the batch processor's exports, which run in a thread now and then. Target: the median
call at most 0.1 ms (100 us) slower with the hook.

    python benchmarks/otel_overhead.py [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import anyio
import httpx
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from worksection_async import Client, RateLimit, TaskPage
from worksection_async.otel import OpenTelemetryHook

BODY = json.dumps(
    {
        "status": "ok",
        "data": {
            "id": "331894",
            "name": "Development",
            "page": "/project/8562/331894/",
            "status": "active",
            "priority": "7",
            "text": "Business logic programming",
            "date_added": "2021-01-07 10:01",
        },
    }
).encode()
ACCOUNT = "https://acme.worksection.com"
KEY = "bench-key"
PAGE = TaskPage(8562, 331894)
TARGET_US = 100.0


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})


class Telemetry:
    """The SDK as a service would set it up, exporting to memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(BatchSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.hook = OpenTelemetryHook(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def end_round(self) -> int:
        """Flush and clear the spans, collect the metrics; the spans of the round."""
        self.tracer_provider.force_flush()
        spans = len(self.exporter.get_finished_spans())
        self.exporter.clear()
        self.reader.get_metrics_data()
        return spans

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


async def run(calls: int, telemetry: Telemetry | None) -> tuple[list[float], float]:
    """Seconds of each of ``calls`` calls, and this process's CPU seconds for them all
    (the batch processor's thread included)."""
    async with Client(
        ACCOUNT,
        KEY,
        transport=httpx.MockTransport(handler),
        rate_limit=RateLimit(rate=1_000_000),
        on_event=telemetry.hook if telemetry is not None else None,
    ) as client:
        await client.call("get_task", page=PAGE)  # warm up outside the timing
        times = []
        cpu = time.process_time()
        for _ in range(calls):
            started = time.perf_counter()
            await client.call("get_task", page=PAGE)
            times.append(time.perf_counter() - started)
        if telemetry is not None:
            telemetry.tracer_provider.force_flush()  # the export's CPU counts too
        return times, time.process_time() - cpu


async def main(calls: int, rounds: int) -> None:
    telemetry = Telemetry()
    plain: list[float] = []
    traced: list[float] = []
    cpu = {"plain": 0.0, "traced": 0.0}
    spans = 0
    await run(200, None)  # warm up both paths
    await run(200, telemetry)
    telemetry.end_round()
    for _ in range(rounds):
        times, seconds = await run(calls, None)
        plain += times
        cpu["plain"] += seconds
        times, seconds = await run(calls, telemetry)
        traced += times
        cpu["traced"] += seconds
        spans += telemetry.end_round()
    telemetry.shutdown()
    median_plain, median_traced = statistics.median(plain), statistics.median(traced)
    mean_plain, mean_traced = statistics.fmean(plain), statistics.fmean(traced)
    added = (median_traced - median_plain) * 1e6
    print(
        f"otel overhead: {rounds} rounds x {calls} calls on MockTransport, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"  spans exported: {spans} ({spans / (rounds * calls):.1f} per call)")
    print("  us per call             median      mean")
    print(f"  without the hook     {median_plain * 1e6:9.1f} {mean_plain * 1e6:9.1f}")
    print(f"  with OpenTelemetry   {median_traced * 1e6:9.1f} {mean_traced * 1e6:9.1f}")
    print(
        f"  added: {added:.1f} us per call (median; target <= {TARGET_US:.0f} us), "
        f"ratio {median_traced / median_plain:.2f} "
        f"(mean: +{(mean_traced - mean_plain) * 1e6:.1f} us, "
        f"ratio {mean_traced / mean_plain:.2f})"
    )
    cpu_plain, cpu_traced = (cpu[side] / (rounds * calls) * 1e6 for side in ("plain", "traced"))
    print(
        f"  CPU per call: {cpu_plain:.1f} us without, {cpu_traced:.1f} us with "
        f"(+{cpu_traced - cpu_plain:.1f} us, ratio {cpu_traced / cpu_plain:.2f})"
    )
    print(f"  {'OK' if added <= TARGET_US else 'OVER TARGET'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    anyio.run(main, arguments.calls, arguments.rounds)
