"""``OpenTelemetryHook``: the client's events as OpenTelemetry spans and metrics.

Spans (all in the ``worksection_async`` scope):

* ``worksection {action}`` (kind INTERNAL), one per call, from before its first wait
  for the quota to its end: the action, the page, attempts, seconds waited for the
  quota, whether a request was sent, the API error code; status ERROR on failure;
* ``{method}`` (kind CLIENT), one per HTTP attempt, child of the call: the stable HTTP
  client attributes (``http.request.method``, ``server.address``, ``server.port``,
  ``url.full`` with every ``hash`` masked, ``http.response.status_code``,
  ``error.type``) and ``http.request.resend_count`` on a retry. It is the current span
  while the request is out, so spans of an instrumented httpx nest under it;
* ``worksection get_many`` / ``map`` / ``export``, parent of the calls they make, with
  their items (pages, items; an export's tasks) and the calls they made.

Nothing secret is ever an attribute: no API key, request hash, OAuth token, password,
exception message or request body; errors are recorded by class name.
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from contextvars import ContextVar, Token
from typing import Any, TypeAlias

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._client import Client
from .._events import (
    BulkEnded,
    BulkStarted,
    CallEnded,
    CallStarted,
    ClientClosed,
    ClientCreated,
    PauseStarted,
    QuotaBackendRestored,
    QuotaBackendUnavailable,
    RequestPrepared,
    ResponseReceived,
    RetryScheduled,
    WebhookDeliveryAccepted,
    WebhookDeliveryRefused,
    WebhookEventHandled,
)
from .._version import __version__
from . import _names as n

__all__ = ["OpenTelemetryHook"]

logger = logging.getLogger("worksection_async.otel")

_CANCELLED = frozenset(("CancelledError", "Cancelled", "GeneratorExit"))
"""Class names of a cancellation (asyncio, trio): an outcome, not an error."""

_HELD_RECORDS = 1024
"""Histogram values held for the next collection at most; past it the call that adds
one hands them all to the SDK itself (so a meter nobody collects, the API's no-op one
included, never grows this)."""

_Record: TypeAlias = tuple[metrics.Histogram, float, dict[str, Any], otel_context.Context]


class _Server:
    """A server's span attributes, and its HTTP duration attributes by method, status
    and error type (each dict built once)."""

    __slots__ = ("attributes", "durations")

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.attributes = attributes
        self.durations: dict[tuple[str | None, int | None, str | None], dict[str, Any]] = {}


class _Call:
    """A call in progress: its span, the context its attempts start in (the caller's
    with the call's span), and its current attempt's span."""

    __slots__ = (
        "attempt",
        "attempt_token",
        "context",
        "method",
        "requests",
        "server",
        "span",
        "token",
    )

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.token: Token[_Call | None] | None = None
        self.context: otel_context.Context | None = None
        self.attempt: trace.Span | None = None
        self.attempt_token: object = None
        self.method: str | None = None
        self.server: _Server | None = None
        self.requests = 0


class _Bulk:
    __slots__ = ("calls", "span", "token")

    def __init__(self, span: trace.Span, token: object) -> None:
        self.span = span
        self.token = token
        self.calls = 0


def _outcome(error: str | None) -> str:
    if error is None:
        return "ok"
    return "cancelled" if error in _CANCELLED else "error"


def _server_of(url: str) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of an absolute http(s) URL."""
    scheme, _, rest = url.partition("://")
    authority = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    host, port = authority, 443 if scheme == "https" else 80
    if authority.startswith("["):  # [::1]:8080
        end = authority.find("]")
        host, tail = authority[1:end], authority[end + 1 :]
        if tail.startswith(":") and tail[1:].isdigit():
            port = int(tail[1:])
    elif authority.count(":") == 1:
        name, _, digits = authority.partition(":")
        if digits.isdigit():
            host, port = name, int(digits)
    return {n.SERVER_ADDRESS: host, n.SERVER_PORT: port}


class OpenTelemetryHook:
    """Turns a client's events into OpenTelemetry spans and metrics::

        from worksection_async.otel import OpenTelemetryHook

        client = Client(url, key, on_event=OpenTelemetryHook())

    The one way to turn telemetry on: pass a hook as ``on_event`` (one hook per client;
    a ``WebhookReceiver`` takes one as its ``on_event`` too). It uses the global
    tracer and meter providers, or ``tracer_provider`` / ``meter_provider``. Only
    ``opentelemetry-api`` is imported: install the SDK and an exporter to send
    anything anywhere (without them every span and metric is a no-op).

    Metrics (OpenTelemetry's semantic-convention names where there are some, the rest
    under ``worksection.``):

    * ``http.client.request.duration`` (s): every HTTP attempt;
    * ``worksection.client.call.duration`` (s): calls by ``worksection.action`` and
      ``worksection.outcome`` (``ok``, ``error``, ``cancelled``; ``error.type`` names
      the exception class). Its count is the number of calls (``_count`` in
      Prometheus): no separate counter is recorded, as the HTTP conventions do;
    * ``worksection.quota.wait`` (s): how long each call waited for the quota;
    * ``worksection.quota.exceeded``: error 20 answers (``client.quota.quota_errors``);
      ``worksection.quota.absorbed``: those retried (``client.quota.retries``);
    * ``worksection.quota.pauses`` and ``worksection.quota.pause.time`` (s): pauses
      of every call after an error 20, and how long they lasted together;
    * ``worksection.quota.rate.configured``, ``.current``, ``.plateau`` (requests per
      second; gauges read from ``client.quota`` at each collection);
    * ``worksection.quota.fallbacks`` and ``worksection.quota.restorations``: a shared
      quota falling back to a local one, and coming back;
    * ``worksection.webhook.deliveries`` (``worksection.webhook.outcome``: ``accepted``
      or ``refused``, with the HTTP status) and ``worksection.webhook.events``
      (``handled``, ``failed``, ``duplicate``).

    Histogram values reach the SDK when a reader collects (the collection's gauge
    callbacks hand them over, in the reader's thread), when a client closes, or once
    1024 are held: recording them costs more than the rest of the hook together, and
    that way a call does not wait for it.

    An error in the hook itself is logged (``worksection_async.otel``) and never
    reaches the call.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(n.SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(n.SCOPE, __version__, meter_provider)
        self._call: ContextVar[_Call | None] = ContextVar("worksection_otel_call", default=None)
        self._clients: weakref.WeakSet[Client] = weakref.WeakSet()
        # Gauges are read in the metric reader's thread (a periodic reader has one).
        self._clients_lock = threading.Lock()
        self._bulks: dict[BulkStarted, _Bulk] = {}
        self._servers: dict[str, _Server] = {}
        self._metric_attributes: dict[tuple[Any, ...], dict[str, Any]] = {}
        # A call's duration and wait attributes and its error type, by action and error.
        self._ended_attributes: dict[
            tuple[str, str | None], tuple[dict[str, Any], dict[str, Any], str | None]
        ] = {}
        self._paused_until = -math.inf
        # Histogram values wait here for the next collection (see ``_hand_over``).
        self._held: deque[_Record] = deque()
        buckets = n.BUCKETS_SECONDS
        self._http_duration = meter.create_histogram(
            n.HTTP_DURATION,
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=buckets,
        )
        self._call_duration = meter.create_histogram(
            n.CALL_DURATION,
            unit="s",
            description="Duration of Worksection API calls, quota waits and retries included.",
            explicit_bucket_boundaries_advisory=buckets,
        )
        self._quota_wait = meter.create_histogram(
            n.QUOTA_WAIT_METRIC,
            unit="s",
            description="Seconds a call waited for the client-side quota.",
            explicit_bucket_boundaries_advisory=(0.0, *buckets),
        )
        self._exceeded = meter.create_counter(
            n.QUOTA_EXCEEDED, unit="{answer}", description="Error 20 (quota exceeded) answers."
        )
        self._absorbed = meter.create_counter(
            n.QUOTA_ABSORBED,
            unit="{retry}",
            description="Error 20 answers absorbed: the call was sent again.",
        )
        self._pauses = meter.create_counter(
            n.PAUSES, unit="{pause}", description="Pauses of every call after an error 20."
        )
        self._pause_time = meter.create_counter(
            n.PAUSE_TIME, unit="s", description="Seconds every call was held by a pause."
        )
        self._fallbacks = meter.create_counter(
            n.FALLBACKS,
            unit="{fallback}",
            description="Shared quota unavailable: the client fell back to a local quota.",
        )
        self._restorations = meter.create_counter(
            n.RESTORATIONS,
            unit="{restoration}",
            description="Shared quota available again after a fallback.",
        )
        self._deliveries = meter.create_counter(
            n.WEBHOOK_DELIVERIES,
            unit="{delivery}",
            description="Webhook deliveries accepted or refused by the receiver.",
        )
        self._webhook_events = meter.create_counter(
            n.WEBHOOK_EVENTS,
            unit="{event}",
            description="Webhook events handled, failed in the handler, or dropped as repeats.",
        )
        self._record_context = _takes_context(self._call_duration)
        for name, read, description in (
            (n.RATE_CONFIGURED, _configured, "Requests per second the quota aims at."),
            (n.RATE_CURRENT, _current, "Requests per second the adaptive rate allows now."),
            (n.RATE_PLATEAU, _plateau, "Where error 20 last cut the rate."),
        ):
            meter.create_observable_gauge(
                name,
                callbacks=[self._observer(read)],
                unit="{request}/s",
                description=description,
            )
        self._handlers: dict[type, Callable[[Any], None]] = {
            CallStarted: self._call_started,
            RequestPrepared: self._request_prepared,
            ResponseReceived: self._response_received,
            CallEnded: self._call_ended,
            RetryScheduled: self._retry_scheduled,
            PauseStarted: self._pause_started,
            BulkStarted: self._bulk_started,
            BulkEnded: self._bulk_ended,
            ClientCreated: self._client_created,
            ClientClosed: self._client_closed,
            QuotaBackendUnavailable: self._fallback,
            QuotaBackendRestored: self._restored,
            WebhookDeliveryAccepted: self._delivery_accepted,
            WebhookDeliveryRefused: self._delivery_refused,
            WebhookEventHandled: self._event_handled,
        }

    def __repr__(self) -> str:
        return f"<OpenTelemetryHook clients={len(self._clients)}>"

    def __call__(self, event: object) -> None:
        """Record one event (the client calls this: ``on_event=hook``)."""
        handler = self._handlers.get(type(event))
        if handler is None:
            return
        try:
            handler(event)
        except Exception:
            logger.exception("OpenTelemetryHook failed on %s", type(event).__name__)

    # -- clients and gauges ----------------------------------------------------------

    def _client_created(self, event: ClientCreated) -> None:
        if isinstance(event.client, Client):
            with self._clients_lock:
                self._clients.add(event.client)

    def _client_closed(self, event: ClientClosed) -> None:
        self._hand_over()  # a client's values are in the SDK once it is closed
        if isinstance(event.client, Client):
            with self._clients_lock:
                self._clients.discard(event.client)

    def _observer(
        self, read: Callable[[Client], float | None]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            # A collection calls the gauges' callbacks before it reads the histograms:
            # the values held since the last one reach them just in time.
            try:
                self._hand_over()
            except Exception:  # the gauges are still read
                logger.exception("OpenTelemetryHook failed to record held values")
            found = []
            with self._clients_lock:
                clients = list(self._clients)
            for client in clients:
                value = read(client)
                if value is not None:
                    found.append(Observation(value, self._server(client.account_url).attributes))
            return found

        return observe

    # -- histograms ------------------------------------------------------------------

    def _hand_over(self) -> None:
        """Every held histogram value to the SDK.

        The SDK's ``record`` costs several microseconds each (it cleans, copies and
        hashes the attributes and takes a lock); a call records three. The handlers
        append them to ``_held`` with the context they were recorded in (appends and
        pops are atomic: the reader's thread takes them), and call this once 1024 are
        held; a collection calls it in the reader's thread (exemplars still point at
        the span that was current)."""
        held = self._held
        with_context = self._record_context
        while True:
            try:
                histogram, value, attributes, context = held.popleft()
            except IndexError:
                return
            if with_context:
                histogram.record(value, attributes, context=context)
            else:  # opentelemetry-api before 1.28
                histogram.record(value, attributes)

    # -- calls -----------------------------------------------------------------------

    def _server(self, url: str) -> _Server:
        """The server of a URL, by its scheme and authority (cached)."""
        end = url.find("/", url.find("//") + 2)
        key = url[:end] if end > 0 else url
        found = self._servers.get(key)
        if found is None:
            if len(self._servers) > 64:
                self._servers.clear()
            found = self._servers[key] = _Server(_server_of(url))
        return found

    def _attributes(self, *key: Any) -> dict[str, Any]:
        """One metric attribute dict per combination (built once)."""
        found = self._metric_attributes.get(key)
        if found is None:
            if len(self._metric_attributes) > 4096:
                self._metric_attributes.clear()
            pairs = zip(key[::2], key[1::2], strict=True)
            found = {name: value for name, value in pairs if value is not None}
            self._metric_attributes[key] = found
        return found

    def _call_started(self, event: CallStarted) -> None:
        parent = None
        if event.bulk is not None:
            bulk = self._bulks.get(event.bulk)
            if bulk is not None:
                bulk.calls += 1
                parent = trace.set_span_in_context(bulk.span)
        attributes: dict[str, Any] = {n.ACTION: event.action}
        if event.page is not None:
            attributes[n.PAGE] = event.page.path
        span = self._tracer.start_span(
            f"worksection {event.action}", context=parent, attributes=attributes
        )
        state = _Call(span)
        state.token = self._call.set(state)

    def _request_prepared(self, event: RequestPrepared) -> None:
        # The attempt's span starts here, with every attribute known before sending
        # (one set of attributes is cheaper than two), and ends with the answer.
        state = self._call.get()
        if state is None:
            return
        if state.attempt is not None:  # sent again within the attempt (OAuth2 refresh)
            self._end_attempt(state)
        url, method = event.url, event.method
        server = state.server = self._server(url)
        state.method = method
        attributes: dict[str, Any] = {n.HTTP_METHOD: method, n.URL_FULL: url, **server.attributes}
        if state.requests:
            attributes[n.RESEND_COUNT] = state.requests
        state.requests += 1
        # The caller's context with the call's span: the attempt's parent, and (with
        # the attempt's span instead) the context current while the request is out.
        parent = state.context
        if parent is None:
            parent = state.context = trace.set_span_in_context(state.span)
        span = state.attempt = self._tracer.start_span(
            method, context=parent, kind=SpanKind.CLIENT, attributes=attributes
        )
        state.attempt_token = otel_context.attach(trace.set_span_in_context(span, parent))

    @staticmethod
    def _attempt_ended(
        span: trace.Span, event: ResponseReceived, error_type: str | None
    ) -> dict[str, Any]:
        """The attributes of an attempt that ended otherwise than with a plain answer."""
        ended: dict[str, Any] = {}
        if event.status is not None:
            ended[n.HTTP_STATUS] = event.status
        if event.code is not None:
            ended[n.ERROR_CODE] = event.code
        if error_type is not None:
            ended[n.ERROR_TYPE] = error_type
            span.set_status(Status(StatusCode.ERROR, error_type))
        return ended

    def _end_attempt(self, state: _Call) -> None:
        """End the attempt's span with no answer: sent again within the attempt."""
        span, token = state.attempt, state.attempt_token
        state.attempt = state.attempt_token = None
        assert span is not None
        span.end()
        otel_context.detach(token)  # type: ignore[arg-type]  # set with the span

    def _response_received(self, event: ResponseReceived) -> None:
        error = event.error
        if error is not None and error == "QuotaExceededError":
            self._exceeded.add(1, self._attributes(n.ACTION, event.action))
        state = self._call.get()
        if state is None:
            return
        span = state.attempt
        if span is None:
            return
        status = event.status
        error_type = None
        if error is not None and error not in _CANCELLED:
            error_type = str(status) if status is not None and status >= 400 else error
        if error_type is None and event.code is None and status is not None:
            # The usual answer: one attribute (a third of a mapping's cost).
            span.set_attribute(n.HTTP_STATUS, status)
        else:
            ended = self._attempt_ended(span, event, error_type)
            if ended:
                span.set_attributes(ended)
        span.end()
        otel_context.detach(state.attempt_token)  # type: ignore[arg-type]  # set with the span
        state.attempt = state.attempt_token = None
        server, method = state.server, state.method
        assert server is not None  # set with the attempt
        key = (method, status, error_type)
        attributes = server.durations.get(key)
        if attributes is None:
            if len(server.durations) > 256:
                server.durations.clear()
            address = server.attributes
            attributes = server.durations[key] = self._attributes(
                n.HTTP_METHOD,
                method,
                n.SERVER_ADDRESS,
                address[n.SERVER_ADDRESS],
                n.SERVER_PORT,
                address[n.SERVER_PORT],
                n.HTTP_STATUS,
                status,
                n.ERROR_TYPE,
                error_type,
            )
        held = self._held
        held.append((self._http_duration, event.elapsed, attributes, otel_context.get_current()))
        if len(held) >= _HELD_RECORDS:
            self._hand_over()

    def _call_ended(self, event: CallEnded) -> None:
        state = self._call.get()
        key = (event.action, event.error)
        found = self._ended_attributes.get(key)
        if found is None:
            if len(self._ended_attributes) > 4096:
                self._ended_attributes.clear()
            outcome = _outcome(event.error)
            failed = event.error if outcome == "error" else None
            found = self._ended_attributes[key] = (
                self._attributes(n.ACTION, event.action, n.OUTCOME, outcome, n.ERROR_TYPE, failed),
                self._attributes(n.ACTION, event.action),
                failed,
            )
        attributes, waited, error_type = found
        held, context = self._held, otel_context.get_current()
        held.append((self._call_duration, event.elapsed, attributes, context))
        held.append((self._quota_wait, event.waited, waited, context))
        if len(held) >= _HELD_RECORDS:
            self._hand_over()
        if state is None:
            return
        if state.token is not None:
            self._call.reset(state.token)
        span = state.span
        ended: dict[str, Any] = {
            n.ATTEMPTS: event.attempts,
            n.QUOTA_WAIT: event.waited,
            n.REQUEST_SENT: event.sent,
        }
        if event.code is not None:
            ended[n.ERROR_CODE] = event.code
        if error_type is not None:
            ended[n.ERROR_TYPE] = error_type
            span.set_status(Status(StatusCode.ERROR, error_type))
        span.set_attributes(ended)
        span.end()

    def _retry_scheduled(self, event: RetryScheduled) -> None:
        self._absorbed.add(1, self._attributes(n.ACTION, event.action))
        state = self._call.get()
        if state is not None:
            state.span.add_event(
                "worksection.retry",
                {n.ATTEMPTS: event.attempt, "worksection.retry.wait": event.wait},
            )

    # -- quota -----------------------------------------------------------------------

    def _pause_started(self, event: PauseStarted) -> None:
        self._pauses.add(1)
        # Pauses overlap (a later error 20 extends the pause): count each second once.
        start = max(event.at, self._paused_until)
        if event.until > start:
            self._pause_time.add(event.until - start)
        self._paused_until = max(self._paused_until, event.until)

    def _fallback(self, event: QuotaBackendUnavailable) -> None:
        self._fallbacks.add(1)

    def _restored(self, event: QuotaBackendRestored) -> None:
        self._restorations.add(1)

    # -- bulk operations -------------------------------------------------------------

    def _bulk_started(self, event: BulkStarted) -> None:
        parent = None
        if event.parent is not None and event.parent in self._bulks:
            parent = trace.set_span_in_context(self._bulks[event.parent].span)
        attributes: dict[str, Any] = {n.BULK_KIND: event.kind}
        if event.items is not None:
            attributes[n.BULK_ITEMS] = event.items
        span = self._tracer.start_span(
            f"worksection {event.kind}", context=parent, attributes=attributes
        )
        # get_many and map run in one task: their span is the current one for the
        # code inside (the user's function). An export yields to its caller between
        # requests, so its span is only ever the parent of its calls.
        token = (
            otel_context.attach(trace.set_span_in_context(span)) if event.kind != "export" else None
        )
        self._bulks[event] = _Bulk(span, token)

    def _bulk_ended(self, event: BulkEnded) -> None:
        bulk = self._bulks.pop(event.bulk, None)
        if bulk is None:
            return
        span = bulk.span
        span.set_attribute(n.BULK_CALLS, bulk.calls)
        if event.items is not None:
            span.set_attribute(n.BULK_ITEMS, event.items)
        if event.error is not None and event.error not in _CANCELLED:
            span.set_attribute(n.ERROR_TYPE, event.error)
            span.set_status(Status(StatusCode.ERROR, event.error))
        span.end()
        if bulk.token is not None:
            otel_context.detach(bulk.token)  # type: ignore[arg-type]  # set with the span

    # -- webhooks --------------------------------------------------------------------

    def _delivery_accepted(self, event: WebhookDeliveryAccepted) -> None:
        self._deliveries.add(1, self._attributes(n.WEBHOOK_OUTCOME, "accepted", n.HTTP_STATUS, 200))
        if event.events > event.new:
            self._webhook_events.add(
                event.events - event.new, self._attributes(n.WEBHOOK_OUTCOME, "duplicate")
            )

    def _delivery_refused(self, event: WebhookDeliveryRefused) -> None:
        self._deliveries.add(
            1, self._attributes(n.WEBHOOK_OUTCOME, "refused", n.HTTP_STATUS, event.status)
        )

    def _event_handled(self, event: WebhookEventHandled) -> None:
        outcome = "handled" if event.error is None else "failed"
        self._webhook_events.add(
            1,
            self._attributes(
                n.WEBHOOK_OUTCOME, outcome, "worksection.webhook.action", event.action
            ),
        )


def _takes_context(histogram: metrics.Histogram) -> bool:
    """Whether ``record`` takes a ``context`` (opentelemetry-api 1.28 and later)."""
    try:
        return "context" in inspect.signature(histogram.record).parameters
    except (TypeError, ValueError):
        return False


def _configured(client: Client) -> float | None:
    return client.quota.configured_rate


def _current(client: Client) -> float | None:
    return client.quota.current_rate


def _plateau(client: Client) -> float | None:
    return client.quota.rate_at_last_decrease
