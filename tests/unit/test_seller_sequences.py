"""Sellers in sequences (docs/contract.md, "Many sellers in one worker"): a seller changed
in the same batch as a close, credit notes of a registered seller's invoice."""

from __future__ import annotations

from dataclasses import replace

from tests.builders import command, order
from tests.memory_store import MemoryStore, outgoing, records_of, results
from tests.sellers import SELLER
from tests.unit.test_sellers import SELLER_B, seller_order, seller_updated
from worker.settings import Settings


def _draft_of_b(store: MemoryStore) -> str:
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    draft = seller_order("e-1", "merchant-b", [("r1", "1", "10.00")])
    draft["data"]["invoicing"] = {"autoClose": False}
    store.run(records_of([draft]))
    [invoice_id] = list(store.invoices)
    return invoice_id


def test_a_seller_changed_after_a_close_in_the_same_batch_changes_nothing_of_it() -> None:
    together, apart = MemoryStore(Settings(seller=SELLER)), MemoryStore(Settings(seller=SELLER))
    invoice_id = _draft_of_b(together)
    assert _draft_of_b(apart) == invoice_id
    records = [
        command("c-1", "close", invoiceId=invoice_id),
        seller_updated("s-2", **{**SELLER_B, "name": "Koffie & Co", "invoiceNumberPrefix": "KC"}),
    ]

    together.run(records_of(records))
    for record in records:
        apart.run(records_of([record]))

    [closed_apart] = outgoing(apart, "invoice-closed")
    assert (closed_apart["seller"]["name"], closed_apart["invoiceNumber"]) == (
        "Koffiebranderij B.V.",
        "KB-2026-000001",
    )
    assert outgoing(together, "invoice-closed") == [closed_apart]
    assert together.invoices == apart.invoices


def test_a_credit_note_of_a_registered_sellers_invoice_is_in_its_credit_note_series() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **{**SELLER_B, "creditNoteNumberPrefix": "KBC"})]))
    store.run(records_of([seller_order("e-1", "merchant-b", [("r1", "1", "10.00")])]))
    store.run(records_of([order("e-2", "o-1", [("r1", "1", "10.00")])]))
    [b_invoice] = [i for i in store.invoices.values() if i.seller_id == "merchant-b"]
    [d_invoice] = [i for i in store.invoices.values() if i.seller_id == "default"]

    store.run(
        records_of(
            [
                command(
                    "c-1",
                    "create",
                    orderId="o-merchant-b",
                    type="credit-note",
                    referenceInvoiceId=b_invoice.invoice_id,
                    close=True,
                ),
                command(
                    "c-2",
                    "create",
                    orderId="o-1",
                    type="credit-note",
                    referenceInvoiceId=d_invoice.invoice_id,
                    close=True,
                ),
            ]
        )
    )

    notes = [c for c in outgoing(store, "invoice-closed") if c["type"] == "credit-note"]
    assert [(c["sellerId"], c["invoiceNumber"], c["seller"]["name"]) for c in notes] == [
        ("merchant-b", "KBC-2026-000001", "Koffiebranderij B.V."),
        ("default", "CN-2026-000001", SELLER.name),
    ]


def test_a_seller_is_registered_only_from_the_sellers_topic() -> None:
    """Who may write orders or commands may not change a seller's party (its IBAN)."""
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    settings = store.settings
    forged = seller_updated("s-2", **{**SELLER_B, "iban": "DE89 3704 0044 0532 0130 00"})
    for offset, topic in enumerate(
        [settings.topics.orders_completed, settings.topics.invoice_commands]
    ):
        store.run([replace(record, topic=topic, offset=offset) for record in records_of([forged])])

    assert store.sellers["merchant-b"].seller.iban == "NL91ABNA0417164300"


def test_a_create_cannot_name_a_seller_for_an_order_without_one() -> None:
    store = MemoryStore(Settings())  # no configured seller: orders naming none have none
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    store.run(records_of([order("e-1", "o-1", [("r1", "1", "10.00")], autoClose=False)]))
    [draft] = store.invoices.values()
    store.run(records_of([command("c-1", "delete", invoiceId=draft.invoice_id)]))

    store.run(records_of([command("c-2", "create", orderId="o-1", sellerId="merchant-b")]))

    answer = results(store)[-1]
    assert (answer["ok"], answer.get("errors")) == (
        False,
        {"sellerId": ["the order's invoices have no seller"]},
    )
