"""Sellers registered by events (docs/contract.md, "Many sellers in one worker"): checked as
the configured seller is, the last one standing; a record without a value removes nothing."""

from __future__ import annotations

from typing import Any

from tests.memory_store import MemoryStore, dead_letters, records_of
from worker.decisions import Record
from worker.settings import Settings

SELLER_B = {
    "sellerId": "merchant-b",
    "name": "Koffiebranderij B.V.",
    "vatId": "NL987654321B01",
    "address": {"line1": "Kade 3", "city": "Amsterdam", "postalCode": "1011 AB", "country": "NL"},
    "iban": "NL91 ABNA 0417 1643 00",
    "language": "nl",
    "paymentTermsDays": 30,
    "invoiceNumberPrefix": "KB",
}


def seller_updated(event_id: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "/merchants",
        "type": "seller-updated",
        "data": data,
    }


def test_a_registered_seller_is_stored_with_its_defaults() -> None:
    store = MemoryStore(Settings())

    store.run(records_of([seller_updated("s-1", **SELLER_B)]))

    registered = store.sellers["merchant-b"]
    assert registered.seller.name == "Koffiebranderij B.V."
    assert registered.seller.iban == "NL91ABNA0417164300"
    assert (registered.language, registered.payment_terms_days) == ("nl", 30)
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
