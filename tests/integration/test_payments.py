"""The payment ledger and refunds through the real broker and database (docs/contract.md,
"Payments, the change log, overdue and reminders")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from tests.integration.flows import await_event, closed_invoice, command_event, send_command
from tests.integration.kafka_client import KafkaClient
from worker.handlers.commands import ALREADY_RECORDED
from worker.running import Worker
from worker.settings import Settings
from worker.store.invoices import load_invoices


async def _change(
    kafka: KafkaClient, settings: Settings, event_type: str, invoice_id: str, version: int
) -> dict[str, Any]:
    received = await await_event(
        kafka,
        settings.topics.invoice_events,
        lambda e: (
            e["type"] == event_type
            and e["data"]["invoiceId"] == invoice_id
            and e["data"]["invoice"]["version"] == version
        ),
    )
    data: dict[str, Any] = received.event["data"]
    return data


async def test_a_refund_reopens_a_paid_invoice(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    invoice = await closed_invoice(kafka, settings, "PAY-1")  # 12.10 due
    invoice_id, version = invoice["invoiceId"], invoice["version"]
    pay = command_event(
        "record-payment", invoiceId=invoice_id, paymentId="bank-1", amount="12.10", method="sepa"
    )
    assert (await send_command(kafka, settings, pay))["invoice"]["status"] == "paid"

    refund = command_event(
        "refund-payment", invoiceId=invoice_id, paymentId="bank-1", amount="2.10", reason="late"
    )
    result = await send_command(kafka, settings, refund)

    assert result["ok"]
    assert (result["invoice"]["status"], result["invoice"]["version"]) == ("open", version + 2)
    assert result["invoice"]["totals"]["amountDue"] == "2.10"
    refunded = await _change(kafka, settings, "invoice-payment-refunded", invoice_id, version + 2)
    assert refunded["refund"] == {"paymentId": "bank-1", "amount": "2.10", "reason": "late"}
    assert refunded["invoice"]["status"] == "open"
    assert refunded["invoice"]["paymentStatus"] == "partially-paid"
    assert refunded["invoice"]["payments"] == [
        {
            "paymentId": "bank-1",
            "amount": "12.10",
            "paidAt": "2026-11-23T12:00:00Z",
            "method": "sepa",
            "refundedAmount": "2.10",
        }
    ]
    [stored] = await load_invoices(db, ["PAY-1"])
    assert stored.paid_amount == Decimal("10.00")
    assert stored.payments[0].refunded_amount == Decimal("2.10")


async def test_a_payment_id_told_again_the_same_is_ok_and_changes_nothing(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    invoice_id = (await closed_invoice(kafka, settings, "PAY-2"))["invoiceId"]
    fields = {"invoiceId": invoice_id, "paymentId": "bank-7", "amount": "1.00"}
    first = await send_command(kafka, settings, command_event("record-payment", **fields))

    again = await send_command(kafka, settings, command_event("record-payment", **fields))

    assert again["ok"]
    assert again["warnings"] == [ALREADY_RECORDED]
    assert again["invoice"] == first["invoice"]
    [stored] = await load_invoices(db, ["PAY-2"])
    assert [p.payment_id for p in stored.payments] == ["bank-7"]


async def test_a_payment_id_told_again_otherwise_is_refused_naming_payment_id(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    invoice_id = (await closed_invoice(kafka, settings, "PAY-3"))["invoiceId"]
    fields = {"invoiceId": invoice_id, "paymentId": "bank-8"}
    await send_command(kafka, settings, command_event("record-payment", amount="1.00", **fields))

    other = await send_command(
        kafka, settings, command_event("record-payment", amount="2.00", **fields)
    )

    assert not other["ok"]
    assert list(other["errors"]) == ["paymentId"]
