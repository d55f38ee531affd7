"""OpenTelemetry tracing: a span per batch and one per record, whose trace goes on from the
record's `traceparent` (the CloudEvents distributed-tracing extension, or a W3C
`traceparent` header) to every event the record causes. Both carry OpenTelemetry's
messaging semantic conventions (a Kafka consumer's `process` operation: its group, and for
a record its topic, partition, offset and the CloudEvents `id`); the resource names the
service and its version.

Spans are exported only when the standard OTEL_* variables ask for it (an OTLP endpoint,
or OTEL_TRACES_EXPORTER=otlp; docs/operations.md, "Tracing", lists them); otherwise
nothing is recorded, but an incoming `traceparent` is still carried to the events it
causes. asyncpg is instrumented by its OpenTelemetry package. aiokafka's is not used: the
relay publishes outbox rows after the record's span has ended, and that package's send
span would replace the record's `traceparent` with one of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import context, trace
from opentelemetry.semconv._incubating.attributes import messaging_attributes as messaging
from opentelemetry.semconv.attributes import service_attributes as service
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from worker.decisions import Record
from worker.version import package_version

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

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
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=service_resource())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    return True


def service_resource() -> Resource:
    """The service the spans are of: OTEL_SERVICE_NAME (else `invoicer`), the package's
    version, and OTEL_RESOURCE_ATTRIBUTES."""
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({service.SERVICE_VERSION: package_version()})
    if str(resource.attributes.get(service.SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({service.SERVICE_NAME: "invoicer"}))
    return resource


def _processing(group: str) -> dict[str, AttributeValue]:
    """What a Kafka consumer's span of processing carries, for a batch as for a record."""
    return {
        messaging.MESSAGING_SYSTEM: messaging.MessagingSystemValues.KAFKA.value,
        messaging.MESSAGING_OPERATION_NAME: "process",
        messaging.MESSAGING_OPERATION_TYPE: messaging.MessagingOperationTypeValues.PROCESS.value,
        messaging.MESSAGING_CONSUMER_GROUP_NAME: group,
    }


def _tracer() -> trace.Tracer:
    # Looked up on each use: a tracer provider set later (tests, configure_tracing) applies.
    return trace.get_tracer("invoicer")


@contextmanager
def batch_span(records: int, group: str) -> Iterator[Span]:
    with _tracer().start_as_current_span(
        "invoicer process batch",
        kind=SpanKind.CONSUMER,
        attributes={**_processing(group), messaging.MESSAGING_BATCH_MESSAGE_COUNT: records},
    ) as span:
        yield span


@contextmanager
def record_span(
    traceparent: str | None, record: Record, group: str, message_id: str | None
) -> Iterator[str | None]:
    """A span for one record, continuing the trace of its `traceparent` and linked to the
    batch's span; yields the `traceparent` of what the record causes. `message_id` is the
    event's CloudEvents `id`, when the record has a readable one."""
    batch = trace.get_current_span().get_span_context()
    parent = _PROPAGATOR.extract({TRACEPARENT: traceparent} if traceparent else {})
    links = [Link(batch)] if batch.is_valid else []
    attributes = {
        **_processing(group),
        messaging.MESSAGING_DESTINATION_NAME: record.topic,
        messaging.MESSAGING_DESTINATION_PARTITION_ID: str(record.partition),
        messaging.MESSAGING_KAFKA_OFFSET: record.offset,
    }
    if message_id is not None:
        attributes[messaging.MESSAGING_MESSAGE_ID] = message_id
    with _tracer().start_as_current_span(
        "invoicer process",
        context=parent,
        kind=SpanKind.CONSUMER,
        links=links,
        attributes=attributes,
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
