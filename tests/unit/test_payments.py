"""The payment ledger and refunds (docs/contract.md, "Payments, the change log, overdue and
reminders"), as pure rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.unit.test_lifecycle import CLOSED_AT, open_invoice, pay, payment, refund
from worker.domain.lifecycle import (
    InvoicePaid,
    InvoiceStatus,
    PaymentRecorded,
    PaymentRefunded,
    PaymentStatus,
    RuleViolation,
    check_currency,
    record_payment,
    refund_payment,
)


def test_every_payment_is_kept_with_its_details() -> None:
    invoice = open_invoice("100.00")
    first = payment("40.00", "bank-1")
    second = payment("10.00", "bank-2")

    after = record_payment(record_payment(invoice, first).invoice, second).invoice

    assert after.payments == (first, second)
    assert after.paid_amount == Decimal("50.00")


def test_a_payment_that_leaves_something_due_is_recorded_as_such() -> None:
    change = record_payment(open_invoice("100.00"), payment("40.00"))

    assert change.facts == (PaymentRecorded(change.invoice, payment("40.00")),)
    assert change.invoice.payment_status is PaymentStatus.PARTIALLY_PAID


def test_the_payment_that_settles_the_invoice_makes_it_paid() -> None:
    change = record_payment(open_invoice("100.00"), payment("100.00"))

    assert change.facts == (InvoicePaid(change.invoice, payment("100.00")),)
    assert change.invoice.payment_status is PaymentStatus.PAID


def test_an_open_invoice_without_payments_is_unpaid() -> None:
    assert open_invoice().payment_status is PaymentStatus.UNPAID


def test_a_payment_id_told_again_the_same_changes_nothing() -> None:
    once = pay(open_invoice("100.00"), "40.00", "bank-1")

    again = record_payment(once, payment("40.00", "bank-1"))

    assert again.invoices == (once,)
    assert again.facts == ()


def test_a_settling_payment_told_again_the_same_changes_nothing() -> None:
    paid = pay(open_invoice("100.00"), "100.00", "bank-1")

    assert record_payment(paid, payment("100.00", "bank-1")).invoices == (paid,)


@pytest.mark.parametrize(
    "other",
    [
        {"amount": Decimal("41.00")},
        {"paid_at": datetime(2026, 12, 1, tzinfo=UTC)},
        {"method": "card"},
        {"reference": "INV-2026-000001"},
    ],
    ids=["amount", "paidAt", "method", "reference"],
)
def test_a_payment_id_told_again_otherwise_is_refused_on_payment_id(
    other: dict[str, Any],
) -> None:
    once = pay(open_invoice("100.00"), "40.00", "bank-1")

    with pytest.raises(RuleViolation) as refused:
        record_payment(once, replace(payment("40.00", "bank-1"), **other))

    assert refused.value.field == "paymentId"


def test_a_refund_lowers_the_paid_amount_and_keeps_the_payment() -> None:
    invoice = pay(open_invoice("100.00"), "40.00", "bank-1")

    change = refund_payment(invoice, "bank-1", refund("15.00", "r-1", "returned goods"))

    refunded = change.invoice
    assert refunded.paid_amount == Decimal("25.00")
    assert refunded.totals.amount_due == Decimal("75.00")
    assert refunded.payments[0].refunded_amount == Decimal("15.00")
    assert refunded.version == invoice.version + 1
    assert refunded.payments[0].refunds == (refund("15.00", "r-1", "returned goods"),)
    assert change.facts == (
        PaymentRefunded(refunded, "bank-1", refund("15.00", "r-1", "returned goods")),
    )


def test_a_refund_reopens_a_paid_invoice() -> None:
    paid = pay(open_invoice("100.00"), "100.00", "bank-1")
    assert paid.status is InvoiceStatus.PAID

    reopened = refund_payment(paid, "bank-1", refund("0.01")).invoice

    assert reopened.status is InvoiceStatus.OPEN
    assert reopened.payment_status is PaymentStatus.PARTIALLY_PAID
    assert reopened.totals.amount_due == Decimal("0.01")


def test_a_reopened_invoice_can_be_paid_again() -> None:
    paid = pay(open_invoice("100.00"), "100.00", "bank-1")
    reopened = refund_payment(paid, "bank-1", refund("100.00")).invoice
    assert reopened.payment_status is PaymentStatus.UNPAID

    settled = record_payment(reopened, payment("100.00", "bank-2"))

    assert settled.invoice.status is InvoiceStatus.PAID


def test_a_refund_of_more_than_is_left_of_the_payment_is_refused() -> None:
    invoice = pay(pay(open_invoice("100.00"), "40.00", "bank-1"), "30.00", "bank-2")
    partly = refund_payment(invoice, "bank-1", refund("30.00")).invoice

    with pytest.raises(RuleViolation) as refused:
        refund_payment(partly, "bank-1", refund("10.01", "r-2"))

    assert refused.value.field == "amount"


def test_a_refund_of_an_unknown_payment_is_refused_on_payment_id() -> None:
    with pytest.raises(RuleViolation) as refused:
        refund_payment(pay(open_invoice(), "1.00", "bank-1"), "bank-9", refund("1"))

    assert refused.value.field == "paymentId"


def test_a_refund_with_more_digits_than_the_currency_is_refused() -> None:
    with pytest.raises(RuleViolation) as refused:
        refund_payment(pay(open_invoice(), "1.00", "bank-1"), "bank-1", refund("0.005"))

    assert refused.value.field == "amount"


def test_payments_are_kept_in_the_order_recorded() -> None:
    invoice = open_invoice("100.00")
    for n in range(3):
        invoice = pay(invoice, "1.00", f"p-{n}")

    assert [p.payment_id for p in invoice.payments] == ["p-0", "p-1", "p-2"]
    assert all(p.paid_at == CLOSED_AT for p in invoice.payments)


def test_a_refund_id_seen_before_on_the_invoice_changes_nothing() -> None:
    """The same refund sent twice under two command ids is given back once."""
    paid = pay(open_invoice("100.00"), "100.00", "bank-1")
    once = refund_payment(paid, "bank-1", refund("40.00", "refund-1")).invoice

    again = refund_payment(once, "bank-1", refund("40.00", "refund-1"))

    assert again.invoices == (once,)
    assert again.facts == ()
    assert once.paid_amount == Decimal("60.00")


def test_a_refund_id_names_one_refund_of_the_invoice_whichever_payment() -> None:
    invoice = pay(pay(open_invoice("100.00"), "40.00", "bank-1"), "30.00", "bank-2")
    once = refund_payment(invoice, "bank-1", refund("10.00", "refund-1")).invoice

    assert refund_payment(once, "bank-2", refund("5.00", "refund-1")).invoices == (once,)


def test_each_payment_lists_its_refunds_in_the_order_given() -> None:
    invoice = pay(open_invoice("100.00"), "100.00", "bank-1")
    for n in range(3):
        invoice = refund_payment(invoice, "bank-1", refund("1.00", f"r-{n}")).invoice

    assert [r.refund_id for r in invoice.payments[0].refunds] == ["r-0", "r-1", "r-2"]
    assert invoice.payments[0].refunded_amount == Decimal("3.00")


def test_a_refund_of_what_was_paid_beyond_the_gross_leaves_a_paid_invoice_paid() -> None:
    """Paid 100.00, then credited 30.00: 30.00 is owed back; refunding it owes nothing more
    and leaves nothing due, so the invoice stays paid."""
    paid = replace(pay(open_invoice("100.00"), "100.00", "bank-1"), credited_amount=Decimal(30))
    assert paid.totals.refund_due == Decimal("30.00")

    after = refund_payment(paid, "bank-1", refund("30.00")).invoice

    assert after.status is InvoiceStatus.PAID
    assert (after.totals.refund_due, after.totals.amount_due) == (Decimal(0), Decimal(0))


def test_a_refund_of_more_than_is_owed_back_opens_a_paid_invoice_again() -> None:
    paid = replace(pay(open_invoice("100.00"), "100.00", "bank-1"), credited_amount=Decimal(30))

    after = refund_payment(paid, "bank-1", refund("30.01")).invoice

    assert after.status is InvoiceStatus.OPEN
    assert after.totals.amount_due == Decimal("0.01")


def test_a_payment_or_refund_in_another_currency_is_refused_on_currency() -> None:
    invoice = replace(open_invoice("100"), currency="JPY")

    with pytest.raises(RuleViolation) as refused:
        check_currency(invoice, "EUR")

    assert refused.value.field == "currency"
    check_currency(invoice, "JPY")
    check_currency(invoice, None)
