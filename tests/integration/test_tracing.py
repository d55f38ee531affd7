"""Tracing through the real worker: a span per batch, a span per record linked to it and
going on with the record's trace, the database's statements as spans of the batch (asyncpg
instrumented), and the trace carried to the events the record causes; the record's span
says where it was read by OpenTelemetry's messaging conventions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

from tests.integration.flows import await_event, order_event, publish_order, row
from tests.integration.kafka_client import KafkaClient
from tests.spans import recorded_spans
from worker.running import Worker
from worker.settings import Settings

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
PROCESSING = (
    "messaging.system",
    "messaging.operation.name",
    "messaging.operation.type",
    "messaging.consumer.group.name",
)


@pytest.fixture
def instrumented() -> Iterator[None]:
    recorded_spans().clear()
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    yield
    AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]


async def test_a_record_is_traced_from_its_traceparent_to_the_events_it_causes(
    instrumented: None, worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    event = {**order_event("TRACED-1", [row("1")]), "traceparent": TRACEPARENT}
    await publish_order(kafka, settings, event)
    closed = await await_event(
        kafka, settings.topics.invoices_closed, lambda e: e["data"]["orderId"] == "TRACED-1"
    )

    spans = recorded_spans().get_finished_spans()
    [record] = [
        s
        for s in spans
        if s.name == "invoicer process" and format(s.context.trace_id, "032x") == TRACE_ID
    ]
    batches = {s.context.span_id: s for s in spans if s.name == "invoicer process batch"}
    [link] = record.links
    batch = batches[link.context.span_id]
    statements = [
        s for s in spans if s.parent is not None and s.parent.span_id == batch.context.span_id
    ]
    assert statements, "no database statement traced inside the batch"
    assert closed.event["traceparent"].split("-")[1:3] == [
        TRACE_ID,
        format(record.context.span_id, "016x"),
    ]
    assert closed.headers["traceparent"] == closed.event["traceparent"].encode()
    attributes = dict(record.attributes or {})
    assert {name: attributes[name] for name in PROCESSING} == {
        "messaging.system": "kafka",
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.consumer.group.name": settings.group_id,
    }
    assert attributes["messaging.destination.name"] == settings.topics.orders_completed
    assert attributes["messaging.message.id"] == event["id"]
    [where] = [
        (received.partition, received.offset)
        for received in await kafka.read(settings.topics.orders_completed, 1)
        if received.event["id"] == event["id"]
    ]
    assert (
        attributes["messaging.destination.partition.id"],
        attributes["messaging.kafka.offset"],
    ) == (
        str(where[0]),
        where[1],
    )
    assert {name: dict(batch.attributes or {})[name] for name in PROCESSING} == {
        name: attributes[name] for name in PROCESSING
    }
