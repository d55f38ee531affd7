"""With a seller configured, a close enqueues a render job in its own transaction and the
automatic notification waits on it (docs/contract.md, "Documents"); without one, v1 stands.
The order's v2 fields reach the documents, which pass the EN 16931 schematron."""

from __future__ import annotations

import json

from tests.examples import example
from tests.memory_store import MemoryStore, records_of
from tests.sellers import SELLER
from worker.documents.render import render_documents
from worker.documents.validation import fatal_assertions
from worker.settings import Settings


def closing(settings: Settings) -> MemoryStore:
    store = MemoryStore(settings)
    store.run(records_of([example("order-completed-intra-community.json")]))
    return store


def types_of(store: MemoryStore) -> list[str]:
    return [json.loads(m.value)["type"] for m in store.outbox if m.value]


def test_with_a_seller_the_close_enqueues_a_job_holding_the_automatic_notification() -> None:
    store = closing(Settings(seller=SELLER))

    assert types_of(store) == ["invoice-closed"]
    [job] = store.render_jobs
    assert job.invoice_id in store.invoices
    assert job.notification is not None
    assert (job.notification.channel, job.notification.recipient) == (
        "email",
        "rechnung@mueller-backwaren.example",
    )


def test_without_a_seller_nothing_is_rendered_and_the_notification_goes_at_once() -> None:
    store = closing(Settings())

    assert types_of(store) == ["invoice-closed", "notification-requested"]
    assert store.render_jobs == []
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
