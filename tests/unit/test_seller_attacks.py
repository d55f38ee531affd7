"""Attacks on many sellers in one worker: shared number prefixes, event ids taken by orders
or commands, the sellers topic set to another, a credit note closed with its invoice."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.builders import command, seller_updated
from tests.memory_store import MemoryStore, dead_letters, outgoing, records_of
from tests.sellers import SELLER
from tests.unit.test_sellers import SELLER_B, seller_order
from worker.settings import Settings
from worker.startup import invalid_settings


def _numbers_of(store: MemoryStore, seller_id: str) -> list[str]:
    return [
        invoice.number
        for invoice in store.invoices.values()
        if invoice.seller_id == seller_id and invoice.number is not None
    ]


def _credit_all(store: MemoryStore, command_id: str, order_id: str, invoice_id: str) -> None:
    store.run(
        records_of(
            [
                command(
                    command_id,
                    "create",
                    orderId=order_id,
                    type="credit-note",
                    referenceInvoiceId=invoice_id,
                    close=True,
                )
            ]
        )
    )


def test_a_sellers_invoice_and_credit_note_never_share_a_number_with_equal_prefixes() -> None:
    """A seller whose credit notes have its invoices' prefix: its two series would give
    the same number twice (INV-2026-000001 an invoice and a credit note), which the
    database refuses (one number per seller), so the credit note could never be closed."""
    store = MemoryStore(Settings(seller=SELLER))
    same: dict[str, Any] = {**SELLER_B, "invoiceNumberPrefix": "KB", "creditNoteNumberPrefix": "KB"}
    store.run(records_of([seller_updated("s-1", **same)]))
    store.run(records_of([seller_order("e-1", "merchant-b", [("r1", "1", "10.00")])]))

    letters = dead_letters(store)
    if letters:  # refused: on the prefix, and nothing of it registered
        assert letters[0][0] == "validation"
        assert list(letters[0][1]) == ["creditNoteNumberPrefix"]
        assert "merchant-b" not in store.sellers
        return
    [invoice] = [i for i in store.invoices.values() if i.seller_id == "merchant-b"]
    _credit_all(store, "c-1", "o-merchant-b", invoice.invoice_id)
    numbers = _numbers_of(store, "merchant-b")
    assert len(numbers) == len(set(numbers)), numbers


def test_a_changed_prefix_never_repeats_a_number_of_the_sellers_other_series() -> None:
    """Prefixes swapped (the invoices' becomes the credit notes' and back): each series
    continues, so the numbers it gives must not be those the other series already gave."""
    store = MemoryStore(Settings(seller=SELLER))
    first = {**SELLER_B, "invoiceNumberPrefix": "KB", "creditNoteNumberPrefix": "KN"}
    store.run(records_of([seller_updated("s-1", **first)]))
    store.run(
        records_of([seller_order("e-1", "merchant-b", [("r1", "1", "10.00"), ("r2", "1", "5.00")])])
    )
    [invoice] = [i for i in store.invoices.values() if i.seller_id == "merchant-b"]
    for n, line_no in enumerate((1, 2)):  # KN-2026-000001, KN-2026-000002
        store.run(
            records_of(
                [
                    command(
                        f"c-{n}",
                        "create",
                        orderId="o-merchant-b",
                        type="credit-note",
                        referenceInvoiceId=invoice.invoice_id,
                        lines=[{"lineNo": line_no, "quantity": "1"}],
                        close=True,
                    )
                ]
            )
        )
    swapped = {**SELLER_B, "invoiceNumberPrefix": "KN", "creditNoteNumberPrefix": "KB"}
    store.run(records_of([seller_updated("s-2", **swapped)]))
    store.run(records_of([seller_order("e-2", "merchant-b", [("r3", "1", "10.00")])]))

    numbers = _numbers_of(store, "merchant-b")
    assert len(numbers) == len(set(numbers)), numbers
    letters = dead_letters(store)
    if letters:  # the swap refused, as the prefix both series had; the order invoiced
        [(reason, errors)] = letters
        assert reason == "validation"
        assert set(errors) <= {"invoiceNumberPrefix", "creditNoteNumberPrefix"}, errors
        assert "their series would repeat numbers" in next(iter(errors.values()))[0]
        assert len(numbers) == 4, numbers


def test_a_command_cannot_keep_a_seller_from_being_changed_by_taking_its_event_id() -> None:
    """Who may write commands may not change a seller: a command that borrows the
    (source, id) of the seller's next seller-updated must not make that event a duplicate
    (the seller would keep the IBAN it is changing away from)."""
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    squatter = command("s-2", "send", source="/merchants", invoiceId="x")
    store.run(records_of([squatter]))

    moved = seller_updated("s-2", **{**SELLER_B, "iban": "DE89 3704 0044 0532 0130 00"})
    store.run(records_of([moved]))

    assert store.sellers["merchant-b"].seller.iban == "DE89370400440532013000"


def test_an_order_cannot_keep_a_seller_from_being_changed_by_taking_its_event_id() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    squatter = seller_order("s-2", "merchant-b", [("r1", "1", "1.00")])
    squatter["source"] = "/merchants"
    store.run(records_of([squatter]))

    moved = seller_updated("s-2", **{**SELLER_B, "iban": "DE89 3704 0044 0532 0130 00"})
    store.run(records_of([moved]))

    assert store.sellers["merchant-b"].seller.iban == "DE89370400440532013000"


def test_a_sellers_event_does_not_make_an_order_with_its_event_id_a_duplicate() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    clash = seller_order("s-1", "merchant-b", [("r1", "1", "1.00")])
    clash["source"] = "/merchants"
    store.run(records_of([clash]))

    assert [i.seller_id for i in store.invoices.values()] == ["merchant-b"]


def test_a_seller_event_told_again_leaves_the_last_one_standing() -> None:
    first = seller_updated("s-1", **SELLER_B)
    second = seller_updated("s-2", **{**SELLER_B, "name": "Koffie & Co B.V."})
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([first, second]))
    store.run(records_of([first, second]))  # redelivered from an uncommitted offset

    assert store.sellers["merchant-b"].seller.name == "Koffie & Co B.V."


def test_a_sellers_event_seen_before_is_still_a_duplicate() -> None:
    """A replica that applies again an older event of the seller (its batch of it after a
    rebalance) changes nothing: the newer one stands."""
    first = seller_updated("s-1", **SELLER_B)
    second = seller_updated("s-2", **{**SELLER_B, "name": "Koffie & Co B.V."})
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([first, second]))
    store.run(records_of([first]))

    assert store.sellers["merchant-b"].seller.name == "Koffie & Co B.V."


@pytest.mark.parametrize(
    "other", ["orders.completed", "orders.returned", "invoices.commands", "invoices.events"]
)
def test_the_sellers_topic_cannot_be_another_topic_of_the_worker(other: str) -> None:
    """Were it the orders' or the commands' topic, whoever writes orders could change a
    seller's IBAN; the worker refuses to start, naming the variable."""
    with pytest.raises(ValidationError) as raised:
        Settings(topics={"sellers": other})

    message = str(invalid_settings(raised.value))
    assert f"INVOICER_TOPIC_SELLERS='{other}' is not valid" in message, message


def test_a_prefix_moved_to_the_other_type_in_two_steps_is_refused_too() -> None:
    """KB for invoices and KN for credit notes; then credit notes KX; then invoices KN: the
    invoices' series would give numbers the credit notes' gave under KN."""
    store = MemoryStore(Settings(seller=SELLER))
    for n, (invoices, notes) in enumerate([("KB", "KN"), ("KB", "KX"), ("KN", "KX")]):
        store.run(
            records_of(
                [
                    seller_updated(
                        f"s-{n}",
                        **{
                            **SELLER_B,
                            "invoiceNumberPrefix": invoices,
                            "creditNoteNumberPrefix": notes,
                        },
                    )
                ]
            )
        )

    [(reason, errors)] = dead_letters(store)
    assert (reason, list(errors)) == ("validation", ["invoiceNumberPrefix"])
    registered = store.sellers["merchant-b"]
    assert (registered.invoice_number_prefix, registered.credit_note_number_prefix) == ("KB", "KX")


def test_a_prefix_given_up_may_come_back_to_its_own_type() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    for n, prefix in enumerate(["KB", "KC", "KB"]):
        store.run(
            records_of([seller_updated(f"s-{n}", **{**SELLER_B, "invoiceNumberPrefix": prefix})])
        )

    assert dead_letters(store) == []
    assert store.sellers["merchant-b"].invoice_number_prefix == "KB"


def test_a_credit_note_of_an_invoice_closed_in_its_batch_keeps_the_invoices_seller() -> None:
    """A draft made while the seller was one way, the seller changed, then the draft closed
    (taking the seller as stored then) and a credit note of it made in the same batch: the
    note keeps its invoice's seller, the one the invoice closed with, as in two batches."""
    together, apart = MemoryStore(Settings(seller=SELLER)), MemoryStore(Settings(seller=SELLER))
    for store in (together, apart):
        store.run(records_of([seller_updated("s-1", **SELLER_B)]))
        draft = seller_order("e-1", "merchant-b", [("r1", "1", "10.00")])
        draft["data"]["invoicing"] = {"autoClose": False}
        store.run(records_of([draft]))
        store.run(records_of([seller_updated("s-2", **{**SELLER_B, "name": "Koffie & Co B.V."})]))
    [invoice_id] = list(together.invoices)
    close = command("c-1", "close", invoiceId=invoice_id)
    credit = command(
        "c-2",
        "create",
        orderId="o-merchant-b",
        type="credit-note",
        referenceInvoiceId=invoice_id,
        close=True,
    )

    together.run(records_of([close, credit]))
    apart.run(records_of([close]))
    apart.run(records_of([credit]))

    for store in (together, apart):
        closed = outgoing(store, "invoice-closed")
        assert [(c["type"], c["seller"]["name"]) for c in closed] == [
            ("invoice", "Koffie & Co B.V."),
            ("credit-note", "Koffie & Co B.V."),
        ]
    assert together.invoices == apart.invoices


def test_a_sellers_event_refused_after_an_order_took_its_id_is_still_a_dead_letter() -> None:
    """Its outcome is kept apart from the order's (the same (source, id) applied): a
    refused seller's event goes to the dead letters, and the order stays applied."""
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    squatter = seller_order("s-2", "merchant-b", [("r1", "1", "1.00")])
    squatter["source"] = "/merchants"
    store.run(records_of([squatter]))
    refused = seller_updated("s-2", **{**SELLER_B, "vatId": "987654321"})

    store.run(records_of([refused]))
    store.run(records_of([squatter]))  # still a duplicate

    assert [reason for reason, _ in dead_letters(store)] == ["validation"]
    assert len(store.invoices) == 1


def test_what_a_seller_keeps_of_its_prefixes_is_bounded() -> None:
    """The prefixes a seller had are loaded with it in every batch: a seller-updated that
    would make them more than MAX_PREFIXES is refused, the seller left as it was."""
    from worker.handlers.sellers import MAX_PREFIXES

    store = MemoryStore(Settings(seller=SELLER))
    events = [
        seller_updated(f"s-{n}", **{**SELLER_B, "invoiceNumberPrefix": f"K{n}"})
        for n in range(MAX_PREFIXES + 1)
    ]
    store.run(records_of(events))

    [(reason, errors)] = dead_letters(store)
    assert (reason, list(errors)) == ("validation", ["invoiceNumberPrefix"])
    registered = store.sellers["merchant-b"]
    assert registered.invoice_number_prefix == f"K{MAX_PREFIXES - 1}"
    assert len(registered.prefixes_of()[0]) == MAX_PREFIXES


def test_a_seller_stored_with_one_prefix_for_both_types_may_still_change() -> None:
    """Stored so before such sellers were refused: its IBAN may still change (and its
    credit notes move to a prefix of their own)."""
    from worker.domain.sellers import RegisteredSeller

    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([seller_updated("s-1", **SELLER_B)]))
    legacy = store.sellers["merchant-b"]
    store.sellers["merchant-b"] = RegisteredSeller(
        legacy.seller_id, legacy.seller, invoice_number_prefix="KB", credit_note_number_prefix="KB"
    )
    changed = {
        **SELLER_B,
        "iban": "DE89 3704 0044 0532 0130 00",
        "invoiceNumberPrefix": "KB",
        "creditNoteNumberPrefix": "KBC",
    }
    store.run(records_of([seller_updated("s-2", **changed)]))

    assert dead_letters(store) == []
    assert store.sellers["merchant-b"].seller.iban == "DE89370400440532013000"


@pytest.mark.parametrize("prefix", ["K B", "KB\u202e", "\u200bKB", "KB\t", "\u2066KB"])
def test_a_prefix_that_would_show_another_number_is_refused(prefix: str) -> None:
    store = MemoryStore(Settings(seller=SELLER))

    store.run(records_of([seller_updated("s-1", **{**SELLER_B, "invoiceNumberPrefix": prefix})]))

    [(reason, errors)] = dead_letters(store)
    assert reason == "validation" and list(errors) == ["invoiceNumberPrefix"]
    assert "merchant-b" not in store.sellers
