"""A voucher and shipping through the real broker and database, with documents on: the
invoice and a return's credit note carry them, and their documents pass EN 16931's rules
(docs/contract.md, "Order-level charges and allowances")."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import asyncpg
import pytest
from facturx import get_facturx_xml_from_pdf

from tests.documents.validation import fatal_assertions, schema_errors
from tests.integration.flows import await_event, order_returned, publish_order
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import running_worker
from tests.sellers import SELLER
from worker.settings import Settings
from worker.store import documents

pytestmark = pytest.mark.integration


def voucher_order() -> dict[str, Any]:
    """The demo's: 27.90 off coffee at 7 % and a machine at 19 %, shipping 4.90 at 19 %."""
    sample = resources.files("worker.demo").joinpath("order-completed-voucher.json")
    event: dict[str, Any] = json.loads(sample.read_text("utf-8"))
    return event


async def _ready(kafka: KafkaClient, settings: Settings, invoice_id: str) -> None:
    await await_event(
        kafka,
        settings.topics.invoice_events,
        lambda e: e["type"] == "invoice-documents-ready" and e["data"]["invoiceId"] == invoice_id,
    )


async def _valid_documents(db: asyncpg.Connection, invoice_id: str) -> None:
    ubl = await documents.document_content(db, invoice_id, "ubl")
    pdf = await documents.document_content(db, invoice_id, "pdf")
    assert ubl is not None and pdf is not None
    _, cii = get_facturx_xml_from_pdf(pdf, check_xsd=False)
    assert schema_errors(ubl, "ubl") is None and schema_errors(cii, "cii") is None
    assert fatal_assertions(ubl, "ubl") == []
    assert fatal_assertions(cii, "cii") == []
    assert b"<cbc:AllowanceTotalAmount" in ubl and b"<ram:ChargeTotalAmount" in cii


async def test_a_voucher_and_shipping_are_invoiced_refunded_and_documented(
    settings: Settings, kafka: KafkaClient, db: asyncpg.Connection
) -> None:
    selling = settings.model_copy(update={"seller": SELLER})
    order = voucher_order()
    async with running_worker(selling):
        await publish_order(kafka, selling, order)
        invoice = (
            await await_event(
                kafka, selling.topics.invoices_closed, lambda e: e["data"]["orderId"] == "DE-77002"
            )
        ).event["data"]
        await _ready(kafka, selling, invoice["invoiceId"])
        # the machine goes back, and the shipping is refunded with it
        returned = order_returned(
            "DE-77002", [("20", "1")], return_id="RET-1", charges=["shipping"]
        )
        await kafka.publish(selling.topics.orders_returned, returned, key="DE-77002")
        note = (
            await await_event(
                kafka,
                selling.topics.invoices_closed,
                lambda e: e["data"].get("returnId") == "RET-1",
            )
        ).event["data"]
        await _ready(kafka, selling, note["invoiceId"])

    assert invoice["totals"]["grossAmount"] == "255.98"
    assert [a["parts"] for a in invoice["allowances"]] == [
        [
            {"taxCategory": "S", "taxRate": "7", "amount": "3.00", "netAmount": "2.80"},
            {"taxCategory": "S", "taxRate": "19", "amount": "24.90", "netAmount": "20.92"},
        ]
    ]
    # The 19 % group credited in full: its lines, its shipping and what is left of its
    # voucher part, 249.00 + 4.90 − 24.90.
    assert note["charges"][0]["amount"] == "4.90"
    assert note["allowances"][0]["amount"] == "24.90"
    assert note["totals"]["grossAmount"] == "229.00"
    await _valid_documents(db, invoice["invoiceId"])
    await _valid_documents(db, note["invoiceId"])
