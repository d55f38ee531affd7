"""The invoice lifecycle (CONTRACT.md, "Invoices" and "invoice-command"), as pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tests.lifecycle_table import LIFECYCLE, S
from worker.domain.invoice import OrderRow, build_invoice_content
from worker.domain.lifecycle import (
    ALLOWED_ACTIONS,
    Action,
    Invoice,
    InvoiceStatus,
    InvoiceType,
    RuleViolation,
    apply_credit,
    changed,
    check_action,
    close_invoice,
    delete_draft,
    record_payment,
    refusal,
    void_invoice,
)


def draft(gross: str = "121.00", invoice_type: InvoiceType = InvoiceType.INVOICE) -> Invoice:
    row = OrderRow("r1", 0, None, "Item", Decimal(1), None, Decimal(gross), Decimal(0), Decimal(0))
    return Invoice(
        invoice_id="i-1",
        order_id="o-1",
        type=invoice_type,
        order_code=None,
        currency="EUR",
        prices_include_tax=False,
        customer={"name": "A"},
        content=build_invoice_content([row], "EUR", prices_include_tax=False),
        payment_terms_days=14,
    )


def open_invoice(gross: str = "121.00") -> Invoice:
    invoice = draft(gross)
    close_invoice(
        invoice, closed_at=datetime(2026, 11, 23, tzinfo=UTC), issue_date=date(2026, 11, 23)
    )
    return invoice


def test_every_status_and_action_pair_is_in_the_table() -> None:
    actions_on_invoices = set(Action) - {Action.CREATE}
    assert set(LIFECYCLE) == {
        (status, action) for status in InvoiceStatus for action in actions_on_invoices
    }


@pytest.mark.parametrize(
    ("pair", "expected"),
    LIFECYCLE.items(),
    ids=lambda v: "-".join(v) if isinstance(v, tuple) else None,
)
def test_the_lifecycle_allows_or_refuses_each_action(
    pair: tuple[InvoiceStatus, Action], expected: str | None
) -> None:
    status, action = pair
    assert refusal(action, status) == expected
    assert (action in ALLOWED_ACTIONS[status]) is (expected is None)


@pytest.mark.parametrize("status", [S.PAID, S.VOID, S.DELETED])
def test_paid_void_and_deleted_are_final(status: InvoiceStatus) -> None:
    assert ALLOWED_ACTIONS[status] <= {Action.SEND}


def test_closing_dates_the_invoice_and_sets_the_due_date_from_the_terms() -> None:
    invoice = open_invoice()
    assert (invoice.status, invoice.issue_date, invoice.due_date) == (
        S.OPEN,
        date(2026, 11, 23),
        date(2026, 12, 7),
    )


def test_a_due_date_given_to_the_draft_is_kept_on_closing() -> None:
    invoice = draft()
    invoice.due_date = date(2027, 1, 31)
    close_invoice(
        invoice, closed_at=datetime(2026, 11, 23, tzinfo=UTC), issue_date=date(2026, 11, 23)
    )
    assert invoice.due_date == date(2027, 1, 31)


def test_a_stale_expected_version_is_refused_on_that_field() -> None:
    invoice = draft()
    changed(invoice)
    with pytest.raises(RuleViolation) as refused:
        check_action(invoice, Action.UPDATE, expected_version=1)
    assert refused.value.field == "expectedVersion"


def test_partial_payments_lower_the_amount_due_down_to_paid() -> None:
    invoice = open_invoice("100.00")
    assert record_payment(invoice, Decimal("40")) is False
    assert invoice.totals.amount_due == Decimal("60.00")
    assert record_payment(invoice, Decimal("60.00")) is True
    assert (invoice.status, invoice.totals.amount_due) == (S.PAID, Decimal("0.00"))


def test_a_payment_above_the_amount_due_is_refused() -> None:
    invoice = open_invoice("100.00")
    with pytest.raises(RuleViolation) as refused:
        record_payment(invoice, Decimal("100.01"))
    assert (refused.value.field, invoice.paid_amount) == ("amount", Decimal(0))


def test_a_payment_with_more_digits_than_the_currency_is_refused() -> None:
    with pytest.raises(RuleViolation) as refused:
        record_payment(open_invoice(), Decimal("1.005"))
    assert refused.value.field == "amount"


def test_an_invoice_with_payments_cannot_be_voided() -> None:
    invoice = open_invoice()
    record_payment(invoice, Decimal("1"))
    with pytest.raises(RuleViolation):
        void_invoice(invoice)
    assert invoice.status is S.OPEN


def test_an_invoice_with_a_closed_credit_note_cannot_be_voided() -> None:
    invoice = open_invoice()
    apply_credit(invoice, Decimal("10.00"))
    with pytest.raises(RuleViolation):
        void_invoice(invoice)


def test_credit_lowers_the_amount_due_never_below_zero_and_settles_the_invoice() -> None:
    invoice = open_invoice("100.00")
    record_payment(invoice, Decimal("30.00"))
    assert apply_credit(invoice, Decimal("80.00")) is True
    assert (invoice.status, invoice.totals.amount_due) == (S.PAID, Decimal("0.00"))


def test_void_and_delete_release_the_rows() -> None:
    opened, drafted = open_invoice(), draft()
    void_invoice(opened)
    delete_draft(drafted)
    assert not opened.holds_rows
    assert not drafted.holds_rows


def test_a_credit_note_never_holds_order_rows() -> None:
    assert not draft(invoice_type=InvoiceType.CREDIT_NOTE).holds_rows


def test_overdue_is_derived_from_an_open_invoice_past_its_due_date() -> None:
    invoice = open_invoice()
    assert not invoice.is_overdue(date(2026, 12, 7))
    assert invoice.is_overdue(date(2026, 12, 8))
    record_payment(invoice, invoice.totals.amount_due)
    assert not invoice.is_overdue(date(2026, 12, 8))
