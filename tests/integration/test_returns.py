"""order-returned through the real broker and database (docs/contract.md, "order-returned")."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from tests.integration.flows import await_event, order_invoiced, order_returned, row
from tests.integration.kafka_client import KafkaClient
from worker.running import Worker
from worker.settings import Settings


def return_event(order_id: str, return_id: str, *rows: tuple[str, str]) -> dict[str, Any]:
    return order_returned(order_id, list(rows), return_id=return_id)


async def credit_note_of(kafka: KafkaClient, settings: Settings, return_id: str) -> dict[str, Any]:
    closed = await await_event(
        kafka, settings.topics.invoices_closed, lambda e: e["data"].get("returnId") == return_id
    )
    data: dict[str, Any] = closed.event["data"]
    return data


async def test_a_return_on_either_topic_is_credited_by_a_closed_credit_note_and_announced(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    invoice = await order_invoiced(kafka, settings, "R-1", row("a", quantity="3"), row("b"))

    # One after the other: two topics reach the worker in an order of the broker's.
    await kafka.publish(
        settings.topics.orders_returned, return_event("R-1", "RET-1", ("a", "1")), key="R-1"
    )
    first = await credit_note_of(kafka, settings, "RET-1")
    await kafka.publish(
        settings.topics.orders_completed, return_event("R-1", "RET-2", ("b", "1")), key="R-1"
    )
    second = await credit_note_of(kafka, settings, "RET-2")
    assert (first["type"], first["referenceInvoiceId"]) == ("credit-note", invoice["invoiceId"])
    assert [(line["orderRowId"], line["quantity"]) for line in first["lines"]] == [("a", "1")]
    assert (first["totals"]["grossAmount"], second["totals"]["grossAmount"]) == ("12.10", "12.10")
    notification = await await_event(
        kafka,
        settings.topics.notifications_requested,
        lambda e: e["data"]["invoiceId"] == second["invoiceId"],
    )
    assert notification.event["data"]["template"] == "credit-note-issued"
    assert (
        notification.event["data"]["creditAmount"],
        notification.event["data"]["amountDue"],
        notification.event["data"]["refundDue"],
    ) == ("12.10", "24.20", "0.00")
    stored = await db.fetch(
        "SELECT return_id FROM invoices WHERE order_id = 'R-1' AND type = 'credit-note'"
        " ORDER BY invoice_number"
    )
    assert [record["return_id"] for record in stored] == ["RET-1", "RET-2"]


async def test_a_return_of_more_than_was_billed_is_a_conflict_dead_letter(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    await order_invoiced(kafka, settings, "R-2", row("a", quantity="2"))
    too_much = return_event("R-2", "RET-1", ("a", "3"), ("z", "1"))

    await kafka.publish(settings.topics.orders_returned, too_much, key="R-2")

    dead = await await_event(
        kafka, settings.topics.dead_letter, lambda e: e.get("id") == too_much["id"]
    )
    assert dead.headers["x-dead-letter-reason"] == b"conflict"
    assert dead.headers["x-original-topic"] == settings.topics.orders_returned.encode()
    assert json.loads(dead.headers["x-dead-letter-error"])["errors"] == {
        "rows.0.quantity": ["at most 2 of row 'a' is left to return"],
        "rows.1.rowId": ["row 'z' is not on an open or paid invoice"],
    }
    assert await db.fetchval("SELECT count(*) FROM invoices WHERE order_id = 'R-2'") == 1, (
        "nothing of it applied"
    )
