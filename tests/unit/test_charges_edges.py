"""Order-level charges and allowances at their edges (docs/contract.md, "Order-level charges
and allowances"): what a `create` names, kept adjustments across messages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from tests.builders import command, order, returned
from tests.documents.validation import fatal_assertions, schema_errors
from tests.memory_store import MemoryStore, records_of, results
from tests.sellers import SELLER
from tests.unit.test_charges_flow import (
    SHIPPING,
    VOUCHER,
    credit_note_of,
    dead_letters,
    outgoing,
    voucher_and_shipping_invoiced,
    with_adjustments,
)
from worker.documents.cii import cii_xml
from worker.documents.ubl import ubl_xml
from worker.domain.amounts import PricedAdjustment, PricedLine, compute_amounts
from worker.domain.lifecycle import InvoiceType
from worker.settings import Settings


def test_a_credit_note_that_names_only_a_charge_credits_only_that_charge() -> None:
    store, invoice = voucher_and_shipping_invoiced()

    store.run(records_of([credit_note_of(invoice, charges=["ship"])]))

    [result] = results(store)
    assert result["ok"], result
    [note] = [i for i in store.invoices.values() if i.type is InvoiceType.CREDIT_NOTE]
    assert note.content.lines == ()
    assert [a.adjustment_id for a in note.content.adjustments] == ["ship"]
    assert note.totals.gross_amount == Decimal("5.83")  # 4.90 + 19 % (0.93)
    assert store.invoices[invoice.invoice_id].totals.amount_due == (
        invoice.totals.gross_amount - note.totals.gross_amount
    )


def test_an_allowance_kept_from_a_message_in_another_currency_does_not_break_the_order() -> None:
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [
                with_adjustments(
                    order("e-1", "o-1", [("r1", "1", "10.00")]), [{**VOUCHER, "amount": "1.50"}]
                )
            ]
        )
    )
    [invoice_id] = list(store.invoices)
    store.run(records_of([command("c-1", "void", invoiceId=invoice_id, reason="wrong")]))
    in_yen = order("e-2", "o-1", [("r1", "1", "1000")])
    in_yen["data"]["currency"] = "JPY"

    store.run(records_of([in_yen]))

    # Refused as a conflict, or applied with whole yen: never a defect of the worker.
    assert [reason for reason, _ in dead_letters(store)] in ([], ["conflict"])
    for snapshot in outgoing(store, "invoice-closed")[1:]:
        for allowance in snapshot["allowances"]:
            assert "." not in allowance["amount"]


@given(
    st.lists(st.sampled_from(["0.01", "0.02", "0.05", "0.10", "1.00"]), min_size=1, max_size=3),
    st.lists(st.sampled_from(["0.01", "0.02", "0.03", "0.04"]), min_size=1, max_size=8),
    st.sampled_from(["7", "19", "25"]),
)
@example(["0.01"], ["0.03", "0.03", "0.03"], "19")
def test_with_tax_inclusive_prices_no_line_net_is_below_zero(
    prices: list[str], charges: list[str], rate: str
) -> None:
    """BR-27: an item's net price is never negative; a line priced at zero or more keeps a
    net of zero or more whatever charges share its tax group."""
    amounts = compute_amounts(
        [PricedLine(Decimal(1), Decimal(price), Decimal(0), Decimal(rate)) for price in prices],
        "EUR",
        True,
        [PricedAdjustment(True, Decimal(charge), Decimal(rate)) for charge in charges],
    )

    assert all(line.net_amount >= 0 for line in amounts.lines), amounts.lines


def test_a_return_of_shipping_on_an_invoice_without_returned_rows_makes_a_valid_note() -> None:
    """BR-16: every credit note has at least one line, also the one a return makes for the
    invoice that holds its shipping when none of its rows came back: its documents state the
    shipping's part as a line."""
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([_addressed(order("e-1", "o-1", [("r1", "1", "10.00")]))]))
    store.run(
        records_of(
            [
                _addressed(
                    with_adjustments(
                        order("e-2", "o-1", [("r1", "1", "10.00"), ("r2", "1", "5.00")]),
                        charges=[SHIPPING],
                    )
                )
            ]
        )
    )

    store.run(records_of([returned("ret-1", "o-1", "RET-1", [("r1", "1")], charges=["ship"])]))

    notes = [i for i in store.invoices.values() if i.type is InvoiceType.CREDIT_NOTE]
    assert sorted(len(n.content.adjustments) for n in notes) == [0, 1]
    for note in notes:
        assert note.reference_invoice_id is not None
        reference = store.invoices[note.reference_invoice_id].number
        for syntax, document in (
            ("ubl", ubl_xml(note, reference)),
            ("cii", cii_xml(note, reference)),
        ):
            assert schema_errors(document, syntax) is None
            assert fatal_assertions(document, syntax) == []


def _addressed(event: dict[str, Any]) -> dict[str, Any]:
    """The order's customer with the billing country EN 16931 documents need."""
    event["data"]["customer"]["billingAddress"] = {
        "line1": "Markt 1",
        "city": "Utrecht",
        "postalCode": "3511 AA",
        "country": "NL",
    }
    return event
