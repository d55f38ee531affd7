"""With a seller configured, a close enqueues a render job in its own transaction, and the
invoice's notifications (the automatic one, a `send`'s, a `close` with `send`'s) wait for
its documents (docs/contract.md, "Documents"); reminders and invoices without a seller are
sent at once, as in v1. The order's v2 fields reach the documents, which pass the EN 16931
schematron."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from tests.builders import command
from tests.documents.validation import fatal_assertions
from tests.examples import example
from tests.memory_store import NOW, MemoryStore, records_of
from tests.sellers import SELLER
from worker.documents.render import render_documents
from worker.publishing import document_events as published
from worker.rows import StoredDocument
from worker.settings import Settings


def closing(settings: Settings) -> MemoryStore:
    store = MemoryStore(settings)
    store.run(records_of([example("order-completed-intra-community.json")]))
    return store


def types_of(store: MemoryStore) -> list[str]:
    return [json.loads(m.value)["type"] for m in store.outbox if m.value]


def test_with_a_seller_the_close_enqueues_a_job_and_the_notification_waits_for_it() -> None:
    store = closing(Settings(seller=SELLER))

    assert types_of(store) == ["invoice-closed"]
    [job] = store.render_jobs
    assert job.invoice_id in store.invoices
    [waiting] = store.waiting_notifications
    assert (waiting.invoice_id, waiting.reason, waiting.request) == (
        job.invoice_id,
        "auto",
        (job.invoice_id,),
    )
    assert (waiting.channel, waiting.recipient) == ("email", "rechnung@mueller-backwaren.example")


def test_a_send_command_waits_for_the_documents_too() -> None:
    store = closing(Settings(seller=SELLER))
    [invoice_id] = store.invoices

    store.run(
        records_of(
            [
                command(
                    "send-1", "send", invoiceId=invoice_id, channel="sms", recipient="+4915112345"
                )
            ]
        )
    )

    assert types_of(store) == ["invoice-closed", "invoice-command-result"]
    auto, sent = store.waiting_notifications
    assert auto.reason == "auto"
    assert (sent.reason, sent.channel, sent.recipient) == ("command", "sms", "+4915112345")
    assert sent.request == ("command", "/backoffice", "send-1")


def test_a_close_with_send_waits_for_the_documents_of_the_invoice_it_closes() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    order = example("order-completed-intra-community.json")
    order["data"]["invoicing"] = {**order["data"].get("invoicing", {}), "autoClose": False}
    store.run(records_of([order]))
    [invoice_id] = store.invoices

    store.run(records_of([command("close-1", "close", invoiceId=invoice_id, send=True)]))

    assert types_of(store) == ["invoice-created", "invoice-closed", "invoice-command-result"]
    [job] = store.render_jobs
    [waiting] = store.waiting_notifications
    assert (waiting.invoice_id, waiting.reason) == (job.invoice_id, "command")


def test_without_a_seller_nothing_is_rendered_and_the_notification_goes_at_once() -> None:
    store = closing(Settings())

    assert types_of(store) == ["invoice-closed", "notification-requested"]
    assert store.render_jobs == []
    assert store.waiting_notifications == []
    assert all(invoice.seller is None for invoice in store.invoices.values())


def test_the_orders_fields_reach_its_documents() -> None:
    store = closing(Settings(seller=SELLER))
    [invoice] = store.invoices.values()

    ubl = render_documents(invoice, None, "en").documents[1].content

    assert fatal_assertions(ubl, "ubl") == []
    for element in (
        b"<cbc:BuyerReference>04011000-12345-03</cbc:BuyerReference>",
        b"<cac:OrderReference>\n    <cbc:ID>PO-88121</cbc:ID>",
        b"<cbc:ActualDeliveryDate>2026-11-28</cbc:ActualDeliveryDate>",
        b'<cbc:EndpointID schemeID="9930">DE123456789</cbc:EndpointID>',
        b"<cbc:CompanyID>DE123456789</cbc:CompanyID>",
        b"<cbc:TaxExemptionReasonCode>VATEX-EU-IC</cbc:TaxExemptionReasonCode>",
        b'<cbc:TaxableAmount currencyID="EUR">784.60</cbc:TaxableAmount>',
    ):
        assert element in ubl


def ready_after(store: MemoryStore, *commands: dict[str, object]) -> list[dict[str, Any]]:
    """The events the renderer writes once `commands` were applied after the close."""
    [job] = store.render_jobs
    store.run(records_of(list(commands)))
    invoice = store.invoices[job.invoice_id]
    pdf = StoredDocument("pdf", "application/pdf", "0" * 64, 1)
    messages = [
        published.documents_ready(store.settings, invoice, [pdf], [], job, NOW),
        *published.notifications_with_documents(
            store.settings, invoice, [pdf], store.waiting_notifications, NOW
        ),
    ]
    return [json.loads(message.value or b"") for message in messages]


def test_the_waiting_notification_tells_what_was_due_when_the_invoice_closed() -> None:
    store = closing(Settings(seller=SELLER))
    [invoice_id] = store.invoices

    ready, notification = ready_after(
        store, command("record-payment-1", "record-payment", invoiceId=invoice_id, amount="10.00")
    )

    assert ready["type"] == "invoice-documents-ready"
    assert notification["data"]["amountDue"] == "784.60"
    assert notification["data"]["documents"] == ready["data"]["documents"]


def test_an_invoice_voided_before_its_documents_are_ready_is_not_announced() -> None:
    store = closing(Settings(seller=SELLER))
    [invoice_id] = store.invoices

    events_written = ready_after(
        store, command("void-1", "void", invoiceId=invoice_id, reason="ordered twice")
    )

    assert [event["type"] for event in events_written] == ["invoice-documents-ready"]


def test_failed_documents_are_announced_once_a_round_and_the_notification_says_why() -> None:
    store = closing(Settings(seller=SELLER))
    [job] = store.render_jobs
    invoice = store.invoices[job.invoice_id]
    reason = "rendering took longer than 300 s"

    [notification] = [
        json.loads(message.value or b"")
        for message in published.notifications_with_documents(
            store.settings, invoice, [], store.waiting_notifications, NOW, reason
        )
    ]
    rounds = [
        json.loads(
            published.documents_failed(
                store.settings, invoice, reason, replace(job, attempts=5, retried=retried), NOW
            ).value
            or b""
        )
        for retried in (0, 0, 1)
    ]

    assert notification["data"]["documentsUnavailable"] == reason
    assert "documents" not in notification["data"]
    assert [event["data"]["attempts"] for event in rounds] == [5, 5, 5]
    assert rounds[0]["data"]["reason"] == reason
    assert rounds[0]["id"] == rounds[1]["id"] != rounds[2]["id"]
