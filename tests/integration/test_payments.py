"""The payment ledger and refunds through the real broker and database (docs/contract.md,
"Payments, the change log, overdue and reminders")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from tests.integration.flows import (
    await_event,
    command_event,
    order_event,
    order_invoiced,
    publish_order,
    row,
    send_command,
)
from tests.integration.kafka_client import KafkaClient
from worker.handlers.commands import ALREADY_RECORDED, ALREADY_REFUNDED
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
    invoice = await order_invoiced(kafka, settings, "PAY-1")  # 12.10 due
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
    assert refunded["refund"] == {
        "paymentId": "bank-1",
        "refundId": refund["id"],
        "amount": "2.10",
        "refundedAt": "2026-11-23T12:00:00Z",
        "reason": "late",
    }
    assert refunded["invoice"]["status"] == "open"
    assert refunded["invoice"]["paymentStatus"] == "partially-paid"
    assert refunded["invoice"]["payments"] == [
        {
            "paymentId": "bank-1",
            "amount": "12.10",
            "paidAt": "2026-11-23T12:00:00Z",
            "method": "sepa",
            "refundedAmount": "2.10",
            "refunds": [
                {
                    "refundId": refund["id"],
                    "amount": "2.10",
                    "refundedAt": "2026-11-23T12:00:00Z",
                    "reason": "late",
                }
            ],
        }
    ]
    [stored] = await load_invoices(db, ["PAY-1"])
    assert stored.paid_amount == Decimal("10.00")
    assert stored.payments[0].refunded_amount == Decimal("2.10")


async def test_a_payment_id_told_again_the_same_is_ok_and_changes_nothing(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    invoice_id = (await order_invoiced(kafka, settings, "PAY-2"))["invoiceId"]
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
    invoice_id = (await order_invoiced(kafka, settings, "PAY-3"))["invoiceId"]
    fields = {"invoiceId": invoice_id, "paymentId": "bank-8"}
    await send_command(kafka, settings, command_event("record-payment", amount="1.00", **fields))

    other = await send_command(
        kafka, settings, command_event("record-payment", amount="2.00", **fields)
    )

    assert not other["ok"]
    assert list(other["errors"]) == ["paymentId"]


async def test_the_same_refund_sent_under_two_command_ids_is_given_back_once(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    """Paid 100.00, refund 40.00 as cmd-r1 and again as cmd-r2 with the same refundId: 60.00
    stays paid."""
    await publish_order(kafka, settings, order_event("PAY-4", [row("1", "1", "100.00", "0")]))
    invoice = (
        await await_event(
            kafka, settings.topics.invoices_closed, lambda e: e["data"]["orderId"] == "PAY-4"
        )
    ).event["data"]
    fields = {"invoiceId": invoice["invoiceId"], "paymentId": "bank-1"}
    await send_command(kafka, settings, command_event("record-payment", amount="100.00", **fields))
    refund = {**fields, "refundId": "refund-77", "amount": "40.00"}

    first = await send_command(
        kafka, settings, {**command_event("refund-payment", **refund), "id": "cmd-r1"}
    )
    again = await send_command(
        kafka, settings, {**command_event("refund-payment", **refund), "id": "cmd-r2"}
    )

    assert (first["ok"], again["ok"]) == (True, True)
    assert again["warnings"] == [ALREADY_REFUNDED]
    assert again["invoice"] == first["invoice"]
    assert again["invoice"]["totals"]["paidAmount"] == "60.00"
    [stored] = await load_invoices(db, ["PAY-4"])
    assert stored.paid_amount == Decimal("60.00")
    assert [r.refund_id for r in stored.payments[0].refunds] == ["refund-77"]


async def test_a_credit_note_after_payment_in_full_shows_the_refund_due(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    """Paid 24.20 (two rows of 12.10), then one row credited: 12.10 is owed back, on the
    credit's event and every snapshot after it, until a refund gives it back; the invoice
    stays paid."""
    invoice = await order_invoiced(kafka, settings, "PAY-5", row("1"), row("2"))
    invoice_id = invoice["invoiceId"]
    fields = {"invoiceId": invoice_id, "paymentId": "bank-1"}
    paid = await send_command(
        kafka, settings, command_event("record-payment", amount="24.20", **fields)
    )
    assert paid["invoice"]["totals"]["refundDue"] == "0.00"

    credit = command_event(
        "create",
        orderId="PAY-5",
        type="credit-note",
        referenceInvoiceId=invoice_id,
        rowIds=["1"],
        close=True,
    )
    assert (await send_command(kafka, settings, credit))["ok"]
    credited = await _change(
        kafka, settings, "invoice-credited", invoice_id, paid["invoice"]["version"] + 1
    )

    totals = credited["invoice"]["totals"]
    assert (totals["creditedAmount"], totals["amountDue"], totals["refundDue"]) == (
        "12.10",
        "0.00",
        "12.10",
    )
    assert credited["invoice"]["status"] == "paid"
    refunded = await send_command(
        kafka, settings, command_event("refund-payment", amount="12.10", **fields)
    )
    assert refunded["invoice"]["status"] == "paid"
    assert refunded["invoice"]["totals"]["refundDue"] == "0.00"
    assert refunded["invoice"]["totals"]["amountDue"] == "0.00"


async def test_a_payment_or_refund_in_another_currency_is_refused_naming_currency(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    await publish_order(
        kafka, settings, order_event("PAY-6", [row("1", "1", "1000", "0")], currency="JPY")
    )
    invoice_id = (
        await await_event(
            kafka, settings.topics.invoices_closed, lambda e: e["data"]["orderId"] == "PAY-6"
        )
    ).event["data"]["invoiceId"]
    fields = {"invoiceId": invoice_id, "paymentId": "bank-1", "amount": "500"}

    in_euro = await send_command(
        kafka, settings, command_event("record-payment", currency="EUR", **fields)
    )
    in_yen = await send_command(
        kafka, settings, command_event("record-payment", currency="JPY", **fields)
    )
    refund_in_euro = await send_command(
        kafka, settings, command_event("refund-payment", currency="EUR", **fields)
    )

    assert (in_euro["ok"], list(in_euro["errors"])) == (False, ["currency"])
    assert (in_yen["ok"], in_yen["invoice"]["totals"]["paidAmount"]) == (True, "500")
    assert (refund_in_euro["ok"], list(refund_in_euro["errors"])) == (False, ["currency"])
    [stored] = await load_invoices(db, ["PAY-6"])
    assert stored.paid_amount == Decimal("500")
