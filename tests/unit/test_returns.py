"""Returns (docs/contract.md, "order-returned"): returned quantities are credited at once, one
credit note per invoice that billed them, or the whole return is a conflict naming its
fields; a return applied before changes nothing."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import SOURCE, closed_invoice, closed_invoice_of, command, order, returned
from tests.memory_store import MemoryStore, dead_letters, outgoing, records_of, results
from tests.sellers import SELLER
from worker.domain.invoice import Adjustment, AdjustmentKind, OrderRow
from worker.domain.lifecycle import Invoice, InvoiceStatus, InvoiceType
from worker.domain.order import OrderConflict
from worker.domain.returns import already_returned, return_credits
from worker.messages import stable_event_id
from worker.settings import Settings


def invoice_of(event_id: str) -> str:
    return stable_event_id("invoice", SOURCE, event_id)


def credit_notes(store: MemoryStore) -> list[Invoice]:
    return [i for i in store.invoices.values() if i.type is InvoiceType.CREDIT_NOTE]


# The domain, directly.


def test_a_row_on_no_open_or_paid_invoice_is_a_conflict_on_its_row_id() -> None:
    invoice = closed_invoice([("2", "10.00", "19")])  # row r0
    draft = dataclasses.replace(
        closed_invoice([("1", "5.00", "19")]), invoice_id="draft", status=InvoiceStatus.DRAFT
    )
    voided = dataclasses.replace(invoice, invoice_id="void", status=InvoiceStatus.VOID)

    with pytest.raises(OrderConflict) as raised:
        return_credits([voided, draft], [("r0", Decimal(1))], [])

    assert list(raised.value.errors) == ["rows.0.rowId"]


def test_more_than_is_left_of_a_row_is_a_conflict_on_its_quantity() -> None:
    invoice = closed_invoice([("2", "10.00", "19"), ("1", "3.00", "7")])

    with pytest.raises(OrderConflict) as raised:
        return_credits([invoice], [("r1", Decimal(1)), ("r0", Decimal("2.5"))], [])

    assert raised.value.errors == {"rows.1.quantity": ["at most 2 of row 'r0' is left to return"]}


def test_every_field_in_conflict_is_named_a_charge_on_no_invoice_too() -> None:
    invoice = closed_invoice([("2", "10.00", "19")])

    with pytest.raises(OrderConflict) as raised:
        return_credits([invoice], [("r9", Decimal(1)), ("r0", Decimal(3))], ["shipping"])

    assert raised.value.errors == {
        "rows.0.rowId": ["row 'r9' is not on an open or paid invoice"],
        "rows.1.quantity": ["at most 2 of row 'r0' is left to return"],
        "charges.0": ["charge 'shipping' is not on an open or paid invoice"],
    }


def _with_shipping(invoice_id: str, row_id: str) -> Invoice:
    shipping = Adjustment(AdjustmentKind.CHARGE, "shipping", "Shipping", Decimal("4.90"))
    invoice = closed_invoice_of(
        [OrderRow(row_id, 0, None, "Item", Decimal(2), None, Decimal(10), Decimal(0), Decimal(19))],
        adjustments=[shipping],
    )
    return dataclasses.replace(invoice, invoice_id=invoice_id)


def test_a_charge_is_refunded_by_the_invoice_that_holds_it_even_without_its_rows() -> None:
    first = closed_invoice([("2", "10.00", "19")])
    second = _with_shipping("second", "r1")

    credits = return_credits([first, second], [("r0", Decimal(1))], ["shipping"])

    assert [(c.reference.invoice_id, c.lines, c.charges) for c in credits] == [
        ("inv", ((1, Decimal(1)),), ()),
        ("second", (), ("shipping",)),
    ]


def test_a_charge_credited_before_is_a_conflict() -> None:
    invoice = _with_shipping("inv", "r0")
    note = dataclasses.replace(
        invoice,
        invoice_id="cn",
        type=InvoiceType.CREDIT_NOTE,
        reference_invoice_id="inv",
        status=InvoiceStatus.DRAFT,
    )

    with pytest.raises(OrderConflict) as raised:
        return_credits([invoice, note], [("r0", Decimal(1))], ["shipping"])

    assert raised.value.errors == {
        "rows.0.quantity": ["at most 0 of row 'r0' is left to return"],
        "charges.0": ["charge 'shipping' is already credited"],
    }


def test_a_return_credits_the_quantities_of_the_lines_that_billed_the_rows() -> None:
    invoice = closed_invoice([("2", "10.00", "19"), ("1", "3.00", "7"), ("4", "1.00", "7")])

    [credit] = return_credits([invoice], [("r2", Decimal("1.5")), ("r0", Decimal(1))], [])

    assert credit.reference is invoice
    assert credit.lines == ((1, Decimal(1)), (3, Decimal("1.5")))


def test_what_live_credit_notes_take_of_a_row_is_not_left_to_return() -> None:
    invoice = closed_invoice([("2", "10.00", "19")])
    note = dataclasses.replace(
        invoice,
        invoice_id="note",
        type=InvoiceType.CREDIT_NOTE,
        reference_invoice_id=invoice.invoice_id,
        status=InvoiceStatus.DRAFT,
        return_id=None,
    )  # a draft note of the whole line

    with pytest.raises(OrderConflict) as raised:
        return_credits([invoice, note], [("r0", Decimal(1))], [])

    assert raised.value.errors == {"rows.0.quantity": ["at most 0 of row 'r0' is left to return"]}


def test_a_return_id_is_applied_when_a_credit_note_of_the_order_names_it() -> None:
    invoice = closed_invoice([("2", "10.00", "19")])
    note = dataclasses.replace(invoice, invoice_id="note", return_id="RET-1")

    assert already_returned([invoice, note], "RET-1")
    assert not already_returned([invoice, note], "RET-2")


# The handler, through batches.


def _two_invoices() -> MemoryStore:
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [
                order("e-1", "o-1", [("r1", "2", "10.00")]),
                order("e-2", "o-1", [("r2", "3", "4.00")]),
            ]
        )
    )
    return store


def test_a_return_of_rows_of_two_invoices_makes_one_note_each_in_their_numbers_order() -> None:
    store = _two_invoices()

    store.run(records_of([returned("ret-1", "o-1", "RET-1", [("r2", "1"), ("r1", "2")])]))

    closed = [d for d in outgoing(store, "invoice-closed") if d["type"] == "credit-note"]
    assert [(d["invoiceNumber"], d["referenceInvoiceId"], d["returnId"]) for d in closed] == [
        ("CN-2026-000001", invoice_of("e-1"), "RET-1"),
        ("CN-2026-000002", invoice_of("e-2"), "RET-1"),
    ]
    assert [d["totals"]["grossAmount"] for d in closed] == ["21.00", "4.20"]
    credited = store.invoices[invoice_of("e-1")]
    assert credited.status is InvoiceStatus.PAID, "credited in full: nothing due"
    assert [d["invoiceId"] for d in outgoing(store, "invoice-credited")] == [invoice_of("e-2")]


def test_a_return_applied_before_changes_nothing_and_is_not_a_dead_letter() -> None:
    store = _two_invoices()
    store.run(records_of([returned("ret-1", "o-1", "RET-1", [("r2", "1")])]))
    before = list(store.outbox)

    store.run(records_of([returned("ret-2", "o-1", "RET-1", [("r2", "2")])]))

    assert store.outbox == before
    assert store.inbox[(SOURCE, "ret-2")].outcome == "applied"
    assert len(credit_notes(store)) == 1


def test_a_conflict_dead_letters_the_whole_return_and_applies_nothing() -> None:
    store = _two_invoices()

    store.run(
        records_of(
            [returned("ret-1", "o-1", "RET-1", [("r1", "1"), ("r2", "4")], charges=["ship"])]
        )
    )

    assert dead_letters(store) == [
        (
            "conflict",
            {
                "rows.1.quantity": ["at most 3 of row 'r2' is left to return"],
                "charges.0": ["charge 'ship' is not on an open or paid invoice"],
            },
        )
    ]
    assert credit_notes(store) == []


def test_a_return_before_its_invoice_is_a_conflict_and_applied_when_sent_again() -> None:
    store = MemoryStore(Settings())
    early = returned("ret-1", "o-1", "RET-1", [("r1", "1")])
    store.run(records_of([early]))
    store.run(records_of([order("e-1", "o-1", [("r1", "2", "10.00")])]))

    store.run(records_of([early]))

    assert dead_letters(store) == [
        ("conflict", {"rows.0.rowId": ["row 'r1' is not on an open or paid invoice"]})
    ]
    [note] = credit_notes(store)
    assert note.return_id == "RET-1"


def test_a_credit_note_of_a_return_is_announced_with_what_is_owed_back() -> None:
    store = MemoryStore(Settings())
    store.run(records_of([order("e-1", "o-1", [("r1", "2", "10.00")])]))
    store.run(
        records_of(
            [
                command("pay", "record-payment", invoiceId=invoice_of("e-1"), amount="21.00"),
                returned("ret-1", "o-1", "RET-1", [("r1", "1")]),
            ]
        )
    )

    notification = outgoing(store, "notification-requested")[-1]
    assert notification["template"] == "credit-note-issued"
    assert (
        notification["creditAmount"],
        notification["amountDue"],
        notification["refundDue"],
    ) == ("10.50", "0.00", "10.50")


def test_a_send_of_a_credit_note_tells_the_same() -> None:
    store = MemoryStore(Settings())
    store.run(records_of([order("e-1", "o-1", [("r1", "2", "10.00")], delivery="none")]))
    store.run(records_of([returned("ret-1", "o-1", "RET-1", [("r1", "1")])]))
    [note] = credit_notes(store)
    assert outgoing(store, "notification-requested") == [], "delivery none: no notification"

    store.run(records_of([command("send-1", "send", invoiceId=note.invoice_id)]))

    [notification] = outgoing(store, "notification-requested")
    assert (notification["template"], notification["creditAmount"]) == (
        "credit-note-issued",
        "10.50",
    )
    assert (notification["amountDue"], notification["refundDue"]) == ("10.50", "0.00")


def test_a_notification_waiting_for_documents_keeps_what_was_owed_back() -> None:
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([order("e-1", "o-1", [("r1", "2", "10.00")])]))
    store.run(
        records_of(
            [
                command("pay", "record-payment", invoiceId=invoice_of("e-1"), amount="21.00"),
                returned("ret-1", "o-1", "RET-1", [("r1", "2")]),
            ]
        )
    )

    waiting = store.waiting_notifications[-1]
    assert (waiting.amount_due, waiting.refund_due) == (Decimal("0.00"), Decimal("21.00"))


def test_a_return_after_a_credit_note_in_the_same_batch_sees_it() -> None:
    store = MemoryStore(Settings())
    store.run(records_of([order("e-1", "o-1", [("r1", "2", "10.00")])]))
    reference = invoice_of("e-1")

    store.run(
        records_of(
            [
                command(
                    "c-1",
                    "create",
                    orderId="o-1",
                    type="credit-note",
                    referenceInvoiceId=reference,
                    lines=[{"lineNo": 1, "quantity": "1.5"}],
                ),
                returned("ret-1", "o-1", "RET-1", [("r1", "1")]),
            ]
        )
    )

    assert results(store)[0]["ok"] is True
    assert dead_letters(store) == [
        ("conflict", {"rows.0.quantity": ["at most 0.5 of row 'r1' is left to return"]})
    ]


# Returns until everything is credited credit exactly the gross, per tax group.

_CURRENCIES = st.sampled_from(["EUR", "JPY", "BHD"])
_PRICES = st.sampled_from(["0.29", "1", "19.99", "333", "0.125"])
_RATES = st.sampled_from(["0", "7", "19", "21"])
_QUANTITIES = st.sampled_from(["1", "2", "3", "0.5", "1.25"])


def _order_event(
    currency: str, include_tax: bool, rows: list[tuple[str, str, str]]
) -> dict[str, Any]:
    event = order("e-1", "o-1", [])
    event["data"].update(
        currency=currency,
        pricesIncludeTax=include_tax,
        rows=[
            {
                "rowId": f"r{n}",
                "name": "Item",
                "quantity": quantity,
                "unitPrice": price if currency != "JPY" else str(int(Decimal(price) * 100)),
                "taxRate": rate,
            }
            for n, (quantity, price, rate) in enumerate(rows)
        ],
    )
    return event


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    currency=_CURRENCIES,
    include_tax=st.booleans(),
    rows=st.lists(st.tuples(_QUANTITIES, _PRICES, _RATES), min_size=1, max_size=4),
    steps=st.lists(
        st.tuples(st.booleans(), st.integers(0, 3), st.sampled_from(["0.25", "0.5", "1"])),
        max_size=8,
    ),
)
def test_returns_until_everything_is_credited_credit_exactly_the_gross_per_tax_group(
    currency: str,
    include_tax: bool,
    rows: list[tuple[str, str, str]],
    steps: list[tuple[bool, int, str]],
) -> None:
    store = MemoryStore(Settings())
    store.run(records_of([_order_event(currency, include_tax, rows)]))
    reference = store.invoices[invoice_of("e-1")]
    groups = {group.key: group for group in reference.content.amounts.tax_breakdown}

    def left() -> dict[str, Decimal]:
        taken: dict[str, Decimal] = {}
        for note in credit_notes(store):
            for line in note.content.lines:
                taken[line.order_row_id] = taken.get(line.order_row_id, Decimal(0)) + (
                    line.quantity
                )
        return {
            line.order_row_id: line.quantity - taken.get(line.order_row_id, Decimal(0))
            for line in reference.content.lines
        }

    def check_never_more() -> None:
        notes = credit_notes(store)
        for key, group in groups.items():
            credited = [g for note in notes for g in note.content.amounts.tax_breakdown]
            assert sum((g.tax_amount for g in credited if g.key == key), Decimal(0)) <= (
                group.tax_amount
            )
            assert sum((g.taxable_amount for g in credited if g.key == key), Decimal(0)) <= (
                group.taxable_amount
            )
        gross = sum((note.content.amounts.gross_amount for note in notes), Decimal(0))
        assert gross <= reference.content.amounts.gross_amount

    # A return now and then, a credit by quantity by `create` between them.
    for n, (is_return, line, quantity) in enumerate(steps):
        row_id = f"r{line % len(rows)}"
        wanted = min(Decimal(quantity), left()[row_id])
        if wanted <= 0:
            continue
        if is_return:
            event = returned(f"ret-{n}", "o-1", f"RET-{n}", [(row_id, str(wanted))])
        else:
            event = command(
                f"c-{n}",
                "create",
                orderId="o-1",
                type="credit-note",
                referenceInvoiceId=reference.invoice_id,
                close=True,
                lines=[{"lineNo": line % len(rows) + 1, "quantity": str(wanted)}],
            )
        store.run(records_of([event]))
        check_never_more()
    rest = [(row_id, str(quantity)) for row_id, quantity in left().items() if quantity > 0]
    if rest:
        store.run(records_of([returned("ret-last", "o-1", "RET-last", rest)]))

    notes = credit_notes(store)
    assert dead_letters(store) == []
    assert all(note.status is InvoiceStatus.OPEN for note in notes)
    for key, group in groups.items():
        credited = [g for note in notes for g in note.content.amounts.tax_breakdown]
        assert sum((g.tax_amount for g in credited if g.key == key), Decimal(0)) == (
            group.tax_amount
        )
        assert sum((g.taxable_amount for g in credited if g.key == key), Decimal(0)) == (
            group.taxable_amount
        )
    assert store.invoices[reference.invoice_id].credited_amount == (
        reference.content.amounts.gross_amount
    )
