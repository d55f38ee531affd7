"""Building events and waiting for what the worker emits, for the integration tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from tests.integration.kafka_client import READ_TIMEOUT_SECONDS, KafkaClient, Received
from worker.settings import Settings


def order_event(
    order_id: str,
    rows: list[dict[str, Any]],
    *,
    event_id: str | None = None,
    source: str = "/tests",
    **data: Any,
) -> dict[str, Any]:
    """A valid order-completed event; `data` adds to or replaces fields of its data."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()) if event_id is None else event_id,
        "source": source,
        "type": "order-completed",
        "time": "2026-11-23T10:00:00Z",
        "datacontenttype": "application/json",
        "data": {
            "orderId": order_id,
            "currency": "EUR",
            "customer": {"name": "Test Customer", "email": "test@example.com"},
            "rows": rows,
            **data,
        },
    }


def order_returned(
    order_id: str,
    rows: list[tuple[str, str]],
    *,
    return_id: str,
    event_id: str | None = None,
    source: str = "/tests",
    **data: Any,
) -> dict[str, Any]:
    """An order-returned event: (rowId, quantity) of each row given back; `data` adds to
    its data (charges, reason)."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()) if event_id is None else event_id,
        "source": source,
        "type": "order-returned",
        "time": "2026-11-24T10:00:00Z",
        "datacontenttype": "application/json",
        "data": {
            "orderId": order_id,
            "returnId": return_id,
            "rows": [{"rowId": row_id, "quantity": quantity} for row_id, quantity in rows],
            **data,
        },
    }


def row(
    row_id: str, quantity: str = "1", unit_price: str = "10.00", tax_rate: str = "21"
) -> dict[str, Any]:
    return {
        "rowId": row_id,
        "name": f"Item {row_id}",
        "quantity": quantity,
        "unitPrice": unit_price,
        "taxRate": tax_rate,
    }


def command_event(action: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/backoffice",
        "type": "invoice-command",
        "time": "2026-11-23T12:00:00Z",
        "datacontenttype": "application/json",
        "data": {"action": action, **data},
    }


async def publish_order(kafka: KafkaClient, settings: Settings, event: dict[str, Any]) -> None:
    await kafka.publish(settings.topics.orders_completed, event, key=event["data"]["orderId"])


async def await_event(
    kafka: KafkaClient, topic: str, matches: Callable[[dict[str, Any]], bool]
) -> Received:
    """The first record on the topic whose event matches, waiting for it if need be."""
    async with asyncio.timeout(READ_TIMEOUT_SECONDS):
        wanted = 1
        while True:
            seen = await kafka.read(topic, wanted)
            for message in seen:
                if message.value is not None and matches(message.event):
                    return message
            wanted = len(seen) + 1


async def send_command(
    kafka: KafkaClient, settings: Settings, event: dict[str, Any], key: str | None = None
) -> dict[str, Any]:
    """Publishes a command and returns the data of its result."""
    await kafka.publish(settings.topics.invoice_commands, event, key=key)
    result = await await_event(
        kafka, settings.topics.command_results, lambda e: e["data"]["commandId"] == event["id"]
    )
    data: dict[str, Any] = result.event["data"]
    return data


async def draft_invoice(
    kafka: KafkaClient, settings: Settings, order_id: str, *rows: dict[str, Any]
) -> dict[str, Any]:
    """An order whose invoice is left open as a draft; returns the invoice-created data."""
    await publish_order(
        kafka,
        settings,
        order_event(order_id, list(rows) or [row("1")], invoicing={"autoClose": False}),
    )
    created = await await_event(
        kafka,
        settings.topics.invoice_events,
        lambda e: e["type"] == "invoice-created" and e["data"]["orderId"] == order_id,
    )
    data: dict[str, Any] = created.event["data"]
    return data


async def order_invoiced(
    kafka: KafkaClient, settings: Settings, order_id: str, *rows: dict[str, Any]
) -> dict[str, Any]:
    """An order invoiced and closed at once; returns the invoice-closed data."""
    await publish_order(kafka, settings, order_event(order_id, list(rows) or [row("1")]))
    closed = await await_event(
        kafka, settings.topics.invoices_closed, lambda e: e["data"]["orderId"] == order_id
    )
    data: dict[str, Any] = closed.event["data"]
    return data
