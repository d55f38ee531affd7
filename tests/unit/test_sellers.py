"""Sellers registered by events (docs/contract.md, "Many sellers in one worker"): checked as
the configured seller is, the last one standing; a record without a value removes nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from tests.builders import command, order, seller_updated
from tests.memory_store import MemoryStore, dead_letters, outgoing, records_of, results
from tests.sellers import SELLER
from worker.decisions import Record
from worker.domain.lifecycle import NotificationRequested
from worker.messages import NotificationRequestedData
from worker.publishing.invoice_events import event_data
from worker.settings import Settings

SELLER_B = {
    "seller_id": "merchant-b",
    "iban": "NL91 ABNA 0417 1643 00",
    "language": "nl",
    "paymentTermsDays": 30,
    "invoiceNumberPrefix": "KB",
}


def test_a_registered_seller_is_stored_with_its_defaults() -> None:
    store = MemoryStore(Settings())

    store.run(records_of([seller_updated("s-1", **SELLER_B)]))

    registered = store.sellers["merchant-b"]
    assert registered.seller.name == "Koffiebranderij B.V."
    assert registered.seller.iban == "NL91ABNA0417164300"
    assert (registered.seller.language, registered.payment_terms_days) == ("nl", 30)
    assert (registered.invoice_number_prefix, registered.credit_note_number_prefix) == (
        "KB",
        "CN",
    )


def test_the_last_one_stands_in_one_batch_or_two() -> None:
    events = [
        seller_updated("s-1", **SELLER_B),
        seller_updated("s-2", **{**SELLER_B, "name": "Koffie & Co B.V."}),
    ]
    together, apart = MemoryStore(Settings()), MemoryStore(Settings())

    together.run(records_of(events))
    for event in events:
        apart.run(records_of([event]))

    assert together.sellers == apart.sellers
    assert together.sellers["merchant-b"].seller.name == "Koffie & Co B.V."


def test_a_seller_is_checked_as_the_configured_seller_is() -> None:
    store = MemoryStore(Settings())
    wrong = {
        **SELLER_B,
        "vatId": "987654321",
        "iban": "NL00ABNA0417164300",
        "address": {"line1": "Kade 3", "city": "Amsterdam", "country": "NL"},
    }

    store.run(records_of([seller_updated("s-1", **wrong)]))

    [(reason, errors)] = dead_letters(store)
    assert reason == "validation"
    assert set(errors) == {"vatId", "iban", "address.postalCode"}
    assert not store.sellers


def test_the_configured_sellers_id_cannot_be_registered() -> None:
    store = MemoryStore(Settings())

    store.run(records_of([seller_updated("s-1", **{**SELLER_B, "sellerId": "default"})]))

    assert [(reason, list(errors)) for reason, errors in dead_letters(store)] == [
        ("validation", ["sellerId"])
    ]


def test_a_record_without_a_value_removes_no_seller() -> None:
    store = MemoryStore(Settings())
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    tombstone = Record("sellers", 0, 1, b"merchant-b", None)

    store.run([tombstone])

    assert "merchant-b" in store.sellers
    assert dead_letters(store) == []


# Orders of a registered seller.


def seller_order(
    event_id: str, seller_id: str | None, rows: list[tuple[str, str, str]]
) -> dict[str, Any]:
    event = order(event_id, "o-1" if seller_id is None else f"o-{seller_id}", rows)
    if seller_id is not None:
        event["data"]["sellerId"] = seller_id
    return event


def closed_invoices(store: MemoryStore) -> list[dict[str, Any]]:
    return outgoing(store, "invoice-closed")


def test_each_seller_numbers_its_invoices_in_its_own_series_with_its_own_defaults() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))

    store.run(
        records_of(
            [
                seller_order("e-1", "merchant-b", [("r1", "1", "10.00")]),
                seller_order("e-2", None, [("r1", "1", "10.00")]),
                seller_order("e-3", "merchant-b", [("r2", "1", "5.00")]),
            ]
        )
    )

    closed = closed_invoices(store)
    assert [(c["sellerId"], c["invoiceNumber"]) for c in closed] == [
        ("merchant-b", "KB-2026-000001"),
        ("default", "INV-2026-000001"),
        ("merchant-b", "KB-2026-000002"),
    ]
    assert closed[0]["seller"]["name"] == "Koffiebranderij B.V."
    assert closed[1]["seller"]["name"] == SELLER.name
    # the seller's payment terms where the order states none: 30 days, not the default 14
    assert (closed[0]["dueDate"], closed[1]["dueDate"]) == ("2026-12-23", "2026-12-07")


def test_a_notification_tells_whom_it_comes_from_as_its_invoice_states_its_seller() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B, email="facturen@anker.example")]))
    store.run(
        records_of(
            [
                seller_order("e-1", "merchant-b", [("r1", "1", "10.00")]),
                seller_order("e-2", None, [("r1", "1", "10.00")]),
            ]
        )
    )
    by_seller = {invoice.seller_id: invoice for invoice in store.invoices.values()}

    def notification(seller_id: str | None) -> NotificationRequestedData:
        fact = NotificationRequested(by_seller[seller_id], "email", "a@example.com", "auto", ())
        event_type, data = event_data(fact)
        assert event_type == "notification-requested"
        return NotificationRequestedData.model_validate(data)

    merchant, configured = notification("merchant-b"), notification("default")
    assert (merchant.seller_id, merchant.seller_name, merchant.seller_email) == (
        "merchant-b",
        "Koffiebranderij B.V.",
        "facturen@anker.example",
    )
    assert (configured.seller_id, configured.seller_name, configured.seller_email) == (
        "default",
        SELLER.name,
        None,
    )


def test_a_notification_of_an_invoice_without_a_seller_names_none() -> None:
    store = MemoryStore(Settings())
    store.run(records_of([seller_order("e-1", None, [("r1", "1", "10.00")])]))
    [notified] = outgoing(store, "notification-requested")
    assert not {"sellerId", "sellerName", "sellerEmail"} & set(notified)


def test_a_create_takes_the_payment_terms_its_order_stated_before_the_sellers() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    stated = seller_order("e-1", "merchant-b", [("r1", "1", "10.00")])
    stated["data"]["invoicing"] = {"paymentTermsDays": 7, "autoClose": False}
    silent = seller_order("e-2", "merchant-b", [("r1", "1", "10.00"), ("r2", "1", "5.00")])
    silent["data"]["invoicing"] = {"autoClose": False}
    silent["data"]["orderId"] = "o-silent"
    store.run(records_of([stated, silent]))
    for invoice_id in list(store.invoices):
        store.run(records_of([command(f"d-{invoice_id}", "delete", invoiceId=invoice_id)]))

    store.run(
        records_of(
            [
                command("c-1", "create", orderId="o-merchant-b", close=True),
                command("c-2", "create", orderId="o-silent", close=True),
            ]
        )
    )

    terms = {c["orderId"]: (c["dueDate"], c["sellerId"]) for c in closed_invoices(store)}
    # the order's 7 days, not the seller's 30; an order stating none: the seller's
    assert terms == {
        "o-merchant-b": ("2026-11-30", "merchant-b"),
        "o-silent": ("2026-12-23", "merchant-b"),
    }


def test_an_order_of_an_unknown_seller_is_invoiced_once_replayed_after_its_registration() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    early = seller_order("e-1", "merchant-b", [("r1", "1", "10.00")])

    store.run(records_of([early]))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    store.run(records_of([early]))

    assert dead_letters(store) == [
        ("unknown-seller", {"sellerId": ["unknown seller 'merchant-b'"]})
    ]
    assert [c["invoiceNumber"] for c in closed_invoices(store)] == ["KB-2026-000001"]


def test_an_invoice_takes_its_seller_as_stored_when_its_number_is_taken() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    draft = seller_order("e-1", "merchant-b", [("r1", "1", "10.00")])
    draft["data"]["invoicing"] = {"autoClose": False}
    store.run(records_of([draft]))
    [invoice_id] = list(store.invoices)

    store.run(
        records_of(
            [
                seller_updated(
                    "s-2", **{**SELLER_B, "name": "Koffie & Co", "invoiceNumberPrefix": "KC"}
                ),
                command("c-1", "close", invoiceId=invoice_id),
            ]
        )
    )

    [closed] = closed_invoices(store)
    assert (closed["seller"]["name"], closed["invoiceNumber"]) == ("Koffie & Co", "KC-2026-000001")


def test_an_orders_seller_cannot_change_once_its_rows_are_invoiced() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    store.run(records_of([seller_order("e-1", "merchant-b", [("r1", "1", "10.00")])]))

    moved = seller_order("e-2", "merchant-b", [("r2", "1", "10.00")])
    del moved["data"]["sellerId"]  # absent: the configured seller
    store.run(records_of([moved]))

    assert dead_letters(store) == [
        ("conflict", {"sellerId": ["cannot change once rows of the order are invoiced"]})
    ]


def test_a_create_names_a_known_seller_and_the_orders_own() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    draft = seller_order("e-1", "merchant-b", [("r1", "1", "10.00")])
    draft["data"]["invoicing"] = {"autoClose": False}
    store.run(records_of([draft, order("e-2", "o-2", [("r1", "1", "1.00")], autoClose=False)]))

    store.run(
        records_of(
            [
                command("c-1", "create", orderId="o-merchant-b", sellerId="nobody"),
                command("c-2", "create", orderId="o-merchant-b", sellerId="default"),
                command("c-3", "create", orderId="o-merchant-b", sellerId="merchant-b"),
            ]
        )
    )

    answers = [(r["ok"], r.get("errors")) for r in results(store)]
    assert answers == [
        (False, {"sellerId": ["unknown seller 'nobody'"]}),
        (False, {"sellerId": ["the order's invoices are issued by 'merchant-b'"]}),
        (True, None),
    ]


def test_a_seller_changed_later_in_the_batch_leaves_an_invoice_closed_before_as_it_was() -> None:
    """As if each record were a batch of its own: the invoice takes the seller as it was
    when the invoice closed, not as the batch leaves it."""
    changed = seller_updated("s-2", "merchant-b", name="Koffie & Co", invoiceNumberPrefix="KC")
    closing = seller_order("e-1", "merchant-b", [("r1", "1", "10.00")])
    together, apart = MemoryStore(Settings()), MemoryStore(Settings())
    for store in (together, apart):
        store.run(records_of([seller_updated("s-1", **SELLER_B)]))

    together.run(records_of([closing, changed]))
    apart.run(records_of([closing]))
    apart.run(records_of([changed]))

    # the events' data (their envelopes carry trace ids that other tests' tracers may draw)
    assert closed_invoices(together) == closed_invoices(apart)
    [closed] = closed_invoices(together)
    assert (closed["invoiceNumber"], closed["seller"]["name"]) == (
        "KB-2026-000001",
        "Koffiebranderij B.V.",
    )
    assert together.invoices == apart.invoices


def test_a_seller_record_keyed_otherwise_than_by_its_id_is_refused() -> None:
    """The sellers topic is compacted by key: a record under another key could make the
    broker drop a seller's last event."""
    store = MemoryStore(Settings())
    [record] = records_of([seller_updated("s-1", **SELLER_B)])

    store.run([replace(record, key=b"merchant-x")])

    assert dead_letters(store) == [
        (
            "validation",
            {"sellerId": ["must be the record's key (the sellers topic is compacted by it)"]},
        )
    ]
    assert not store.sellers


def test_a_configured_prefix_cannot_name_a_registered_sellers_series() -> None:
    with pytest.raises(ValidationError):
        Settings(invoice_number_prefix="merchant-b/invoice")
