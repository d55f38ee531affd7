"""OpenTelemetry tracing: a span per batch and one per record, whose trace goes on from the
record's `traceparent` (the CloudEvents distributed-tracing extension, or a W3C
`traceparent` header) to every event the record causes.

Spans are exported only when the standard OTEL_* variables ask for it (an OTLP endpoint,
or OTEL_TRACES_EXPORTER=otlp); otherwise nothing is recorded, but an incoming
`traceparent` is still carried to the events it causes. asyncpg is instrumented by its
OpenTelemetry package. aiokafka's is not used: the relay publishes outbox rows after the
record's span has ended, and that package's send span would replace the record's
`traceparent` with one of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, trace
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
_PROPAGATOR = TraceContextTextMapPropagator()
_EXPORT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# The standard variables an operator sets (docs/operations.md, "Tracing"); the SDK and
# its OTLP exporter read them.
OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    *_EXPORT_VARIABLES,
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
)


def configure_tracing(environment: Mapping[str, str] = os.environ) -> bool:
    """Exports spans over OTLP when the environment configures it; True when it does."""
    if environment.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter_named = environment.get("OTEL_TRACES_EXPORTER", "").lower() == "otlp"
    if not exporter_named and not any(environment.get(name) for name in _EXPORT_VARIABLES):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "invoicer"}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    return True


def _tracer() -> trace.Tracer:
    # Looked up on each use: a tracer provider set later (tests, configure_tracing) applies.
    return trace.get_tracer("invoicer")


@contextmanager
def batch_span(records: int) -> Iterator[Span]:
    with _tracer().start_as_current_span(
        "invoicer process batch",
        kind=SpanKind.CONSUMER,
        attributes={"messaging.batch.message_count": records},
    ) as span:
        yield span


@contextmanager
def record_span(traceparent: str | None, topic: str, offset: int) -> Iterator[str | None]:
    """A span for one record, continuing the trace of its `traceparent` and linked to the
    batch's span; yields the `traceparent` of what the record causes."""
    batch = trace.get_current_span().get_span_context()
    parent = _PROPAGATOR.extract({TRACEPARENT: traceparent} if traceparent else {})
    links = [Link(batch)] if batch.is_valid else []
    with _tracer().start_as_current_span(
        "invoicer process",
        context=parent,
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.kafka.offset": offset,
        },
    ):
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context.get_current())
        yield carrier.get(TRACEPARENT)


def current_ids() -> dict[str, str]:
    """trace_id and span_id of the current span, for log lines; empty outside one."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {
        "trace_id": format(span_context.trace_id, "032x"),
        "span_id": format(span_context.span_id, "016x"),
    }
