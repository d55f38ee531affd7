"""The CloudEvents Kafka binding, checked with the official SDK's conversion functions:
events written in binary and structured mode are applied, and every record the worker
emits reads back as a structured CloudEvent."""

from __future__ import annotations

import json
from typing import Any

from cloudevents.core.bindings.kafka import (
    KafkaMessage,
    from_kafka,
    from_structured,
    to_binary,
    to_structured,
)
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.examples import example
from tests.integration.flows import await_event
from tests.integration.kafka_client import KafkaClient
from worker.running import Worker
from worker.settings import Settings

OUTPUTS = ("invoices_closed", "notifications_requested", "invoice_events", "command_results")


def sdk_event(event: dict[str, Any]) -> CloudEvent:
    attributes = {name: value for name, value in event.items() if name not in ("data", "time")}
    return CloudEvent(attributes, event["data"])


async def publish(kafka: KafkaClient, topic: str, message: KafkaMessage, key: str) -> None:
    await kafka.publish(topic, message.value, key=key, headers=list(message.headers.items()))


async def test_events_in_either_mode_are_applied_and_every_emitted_record_is_structured(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    binary_order = example("order-completed-vat.json")
    draft = {**example("order-completed.json"), "id": "binding-draft"}
    draft["data"] = {**draft["data"], "orderId": "BINDING-1", "invoicing": {"autoClose": False}}
    await publish(
        kafka,
        settings.topics.orders_completed,
        to_binary(sdk_event(binary_order), JSONFormat()),
        binary_order["data"]["orderId"],
    )
    await publish(
        kafka,
        settings.topics.orders_completed,
        to_structured(sdk_event(draft), JSONFormat()),
        "BINDING-1",
    )
    created = await await_event(
        kafka, settings.topics.invoice_events, lambda e: e["data"]["orderId"] == "BINDING-1"
    )
    close = {
        "specversion": "1.0",
        "id": "binding-close",
        "source": "/backoffice",
        "type": "invoice-command",
        "datacontenttype": "application/json; charset=utf-8",
        "data": {"action": "close", "invoiceId": created.event["data"]["invoiceId"]},
    }
    await publish(
        kafka,
        settings.topics.invoice_commands,
        to_binary(sdk_event(close), JSONFormat()),
        "BINDING-1",
    )

    closed = [
        m.event["data"]["orderId"] for m in await kafka.read(settings.topics.invoices_closed, 2)
    ]
    assert sorted(closed) == ["BINDING-1", binary_order["data"]["orderId"]]
    [result] = [
        m.event["data"]
        for m in await kafka.read(settings.topics.command_results, 1)
        if m.event["data"]["commandId"] == "binding-close"
    ]
    assert result["ok"] is True
    emitted = [
        m for kind in OUTPUTS for m in await kafka.read_quiet(getattr(settings.topics, kind), 1)
    ]
    assert len(emitted) == 5  # two closed, a notification, a draft created, a result
    for record in emitted:
        message = KafkaMessage(record.headers, record.key, record.value or b"")
        read = from_structured(message, JSONFormat())
        assert from_kafka(message, JSONFormat()).get_id() == read.get_id()
        assert read.get_id() == json.loads(record.value or b"")["id"]
        assert read.get_type() == json.loads(record.value or b"")["type"]
        assert record.headers["content-type"].startswith(b"application/cloudevents+json")
