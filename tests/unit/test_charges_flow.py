"""Order-level charges and allowances through the handlers (docs/contract.md, "Order-level
charges and allowances"): recorded by id, on the next invoice, conflicts when an invoiced one
would change, credited by returns and `create`."""

from __future__ import annotations

from typing import Any

from tests.builders import command, order, returned
from tests.memory_store import MemoryStore, dead_letters, outgoing, records_of, results
from worker.domain.lifecycle import Invoice, InvoiceType
from worker.settings import Settings


def with_adjustments(
    event: dict[str, Any],
    allowances: list[dict[str, Any]] | None = None,
    charges: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    if allowances is not None:
        event["data"]["allowances"] = allowances
    if charges is not None:
        event["data"]["charges"] = charges
    return event


VOUCHER = {"allowanceId": "v1", "reason": "Voucher 10 %", "amount": "3.00", "reasonCode": "95"}
SHIPPING = {
    "chargeId": "ship",
    "reason": "Shipping",
    "amount": "4.90",
    "taxRate": "19",
    "reasonCode": "FC",
}


def test_an_order_with_a_voucher_and_shipping_is_invoiced_with_both() -> None:
    store = MemoryStore(Settings())

    store.run(
        records_of(
            [
                with_adjustments(
                    order("e-1", "o-1", [("r1", "2", "10.00"), ("r2", "1", "10.00")]),
                    [VOUCHER],
                    [SHIPPING],
                )
            ]
        )
    )

    [closed] = outgoing(store, "invoice-closed")
    expected = {
        "lineNetAmount": "30.00",
        "allowanceAmount": "3.00",
        "chargeAmount": "4.90",
        "netAmount": "31.90",
        # 5 %: 27.00 → 1.35; 19 %: 4.90 → 0.93
        "taxAmount": "2.28",
        "grossAmount": "34.18",
    }
    assert {name: closed["totals"][name] for name in expected} == expected
    assert closed["allowances"] == [
        {
            "allowanceId": "v1",
            "reason": "Voucher 10 %",
            "amount": "3.00",
            "reasonCode": "95",
            "parts": [{"taxCategory": "S", "taxRate": "5", "amount": "3.00", "netAmount": "3.00"}],
        }
    ]
    assert closed["charges"][0]["parts"] == [
        {"taxCategory": "S", "taxRate": "19", "amount": "4.90", "netAmount": "4.90"}
    ]
    assert [g["taxRate"] for g in closed["taxBreakdown"]] == ["5", "19"]


def test_a_charge_alone_waits_for_rows_and_goes_onto_the_next_invoice_only() -> None:
    store = MemoryStore(Settings())
    store.run(records_of([order("e-1", "o-1", [("r1", "1", "10.00")])]))
    store.run(
        records_of(
            [with_adjustments(order("e-2", "o-1", [("r1", "1", "10.00")]), charges=[SHIPPING])]
        )
    )
    assert len(outgoing(store, "invoice-closed")) == 1  # nothing new to invoice

    store.run(
        records_of(
            [
                with_adjustments(order("e-3", "o-1", [("r2", "1", "5.00")]), charges=[SHIPPING]),
                order("e-4", "o-1", [("r3", "1", "5.00")]),
            ]
        )
    )

    closed = outgoing(store, "invoice-closed")
    assert [c.get("charges") for c in closed] == [[], [closed[1]["charges"][0]], []]
    assert closed[1]["charges"][0]["chargeId"] == "ship"


def test_changing_an_invoiced_charge_is_a_conflict_and_an_unvoiced_one_may_change() -> None:
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [with_adjustments(order("e-1", "o-1", [("r1", "1", "10.00")]), charges=[SHIPPING])]
        )
    )

    store.run(
        records_of(
            [
                with_adjustments(
                    order("e-2", "o-1", [("r1", "1", "10.00")]),
                    charges=[{**SHIPPING, "amount": "5.90"}],
                )
            ]
        )
    )

    assert dead_letters(store) == [
        ("conflict", {"charges.0.amount": ["charge 'ship' is already invoiced and cannot change"]})
    ]


def test_allowances_beyond_the_lines_are_a_conflict_and_nothing_is_applied() -> None:
    store = MemoryStore(Settings())

    store.run(
        records_of(
            [
                with_adjustments(
                    order("e-1", "o-1", [("r1", "1", "10.00")]),
                    [{**VOUCHER, "amount": "10.01", "taxRate": "5"}],
                )
            ]
        )
    )

    assert [reason for reason, _ in dead_letters(store)] == ["conflict"]
    assert list(dead_letters(store)[0][1]) == ["allowances"]
    assert "o-1" not in store.orders and not store.invoices


def test_a_voided_invoice_frees_its_charges_for_the_next_one() -> None:
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [with_adjustments(order("e-1", "o-1", [("r1", "1", "10.00")]), charges=[SHIPPING])]
        )
    )
    [invoice_id] = list(store.invoices)

    store.run(records_of([command("c-1", "void", invoiceId=invoice_id, reason="wrong")]))
    store.run(records_of([command("c-2", "create", orderId="o-1", close=True)]))

    closed = outgoing(store, "invoice-closed")
    assert [c["totals"]["chargeAmount"] for c in closed] == ["4.90", "4.90"]


def test_a_return_refunds_shipping_and_credits_the_voucher_in_proportion() -> None:
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [
                with_adjustments(
                    order("e-1", "o-1", [("r1", "2", "10.00"), ("r2", "1", "10.00")]),
                    [VOUCHER],
                    [SHIPPING],
                )
            ]
        )
    )

    store.run(records_of([returned("ret-1", "o-1", "RET-1", [("r1", "1")], charges=["ship"])]))

    notes = [c for c in outgoing(store, "invoice-closed") if c["type"] == "credit-note"]
    [note] = notes
    # one of 30.00 of lines in the 5 % group: the voucher's 3.00 × 10/30 = 1.00
    assert note["allowances"][0]["amount"] == "1.00"
    assert note["charges"][0]["amount"] == "4.90"
    assert note["totals"]["netAmount"] == "13.90"  # 10.00 − 1.00 + 4.90


def test_a_create_that_names_nothing_credits_everything_left_charges_too() -> None:
    store, invoice = voucher_and_shipping_invoiced()

    store.run(records_of([credit_note_of(invoice)]))

    [result] = results(store)
    assert result["ok"], result
    notes = [i for i in store.invoices.values() if i.type is InvoiceType.CREDIT_NOTE]
    assert [n.totals.gross_amount for n in notes] == [invoice.totals.gross_amount]
    assert store.invoices[invoice.invoice_id].totals.amount_due == 0


def voucher_and_shipping_invoiced() -> tuple[MemoryStore, Invoice]:
    """A store holding an order of two rows at 10.00 with the voucher and the shipping,
    invoiced and closed."""
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [with_adjustments(order("e-1", "o-1", [("r1", "2", "10.00")]), [VOUCHER], [SHIPPING])]
        )
    )
    [invoice] = store.invoices.values()
    return store, invoice


def credit_note_of(invoice: Invoice, **fields: Any) -> dict[str, Any]:
    """A `create` closing a credit note of the invoice, naming `fields`."""
    return command(
        "c-1",
        "create",
        orderId=invoice.order_id,
        type="credit-note",
        referenceInvoiceId=invoice.invoice_id,
        close=True,
        **fields,
    )
