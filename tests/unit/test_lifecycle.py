"""The invoice lifecycle (docs/contract.md, "Invoices" and "invoice-command"), as pure rules."""

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
    InvoiceClosed,
    InvoicePaid,
    InvoiceStatus,
    InvoiceType,
    InvoiceVoided,
    Payment,
    PaymentRecorded,
    PaymentRefund,
    RuleViolation,
    check_action,
    check_due_date,
    close_draft,
    create_invoice,
    delete_draft,
    number_invoice,
    record_payment,
    refusal,
    update_draft,
    void_invoice,
)
from worker.domain.parties import Customer

CLOSED_AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def draft(
    gross: str = "121.00",
    invoice_type: InvoiceType = InvoiceType.INVOICE,
    due: date | None = None,
    reference: str | None = None,
) -> Invoice:
    row = OrderRow("r1", 0, None, "Item", Decimal(1), None, Decimal(gross), Decimal(0), Decimal(0))
    return Invoice(
        invoice_id="i-1" if invoice_type is InvoiceType.INVOICE else "cn-1",
        order_id="o-1",
        type=invoice_type,
        order_code=None,
        currency="EUR",
        prices_include_tax=False,
        customer=Customer("A"),
        content=build_invoice_content([row], "EUR", prices_include_tax=False),
        payment_terms_days=14,
        reference_invoice_id=reference,
        due_date=due,
    )


def numbered(invoice: Invoice) -> Invoice:
    return number_invoice(invoice, "INV-2026-000001", CLOSED_AT, date(2026, 11, 23))


def open_invoice(gross: str = "121.00") -> Invoice:
    return numbered(close_draft(draft(gross), reference=None, today=date(2026, 11, 23)).invoice)


def payment(amount: str, payment_id: str = "p-1") -> Payment:
    return Payment(payment_id, Decimal(amount), CLOSED_AT)


def pay(invoice: Invoice, amount: str, payment_id: str = "p-1") -> Invoice:
    return record_payment(invoice, payment(amount, payment_id)).invoice


def refund(amount: str, refund_id: str = "r-1", reason: str | None = None) -> PaymentRefund:
    return PaymentRefund(refund_id, Decimal(amount), CLOSED_AT, reason)


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


@pytest.mark.parametrize("status", [S.VOID, S.DELETED])
def test_void_and_deleted_are_final(status: InvoiceStatus) -> None:
    assert ALLOWED_ACTIONS[status] <= {Action.SEND}


def test_a_paid_invoice_only_changes_by_a_refund() -> None:
    assert ALLOWED_ACTIONS[S.PAID] == {Action.SEND, Action.REFUND_PAYMENT}


def test_closing_dates_the_invoice_and_sets_the_due_date_from_the_terms() -> None:
    invoice = open_invoice()
    assert invoice.status is S.OPEN
    assert invoice.issue_date == date(2026, 11, 23)
    assert invoice.due_date == date(2026, 12, 7)
    assert invoice.closed_at == CLOSED_AT


def test_a_closed_invoice_awaits_its_number_until_the_close_commits() -> None:
    closed = close_draft(draft(), reference=None, today=date(2026, 11, 23))
    assert closed.invoice.awaits_number
    assert closed.facts == (InvoiceClosed(closed.invoice),)
    assert not numbered(closed.invoice).awaits_number


def test_a_due_date_given_to_the_draft_is_kept_on_closing() -> None:
    invoice = numbered(
        close_draft(draft(due=date(2027, 1, 31)), reference=None, today=date(2026, 11, 23)).invoice
    )
    assert invoice.due_date == date(2027, 1, 31)


def test_every_change_raises_the_version_by_one_and_leaves_the_old_value_alone() -> None:
    before = draft()
    after = update_draft(
        before,
        1,
        customer=Customer("B"),
        content=before.content,
        note="n",
        due=None,
        today=date(2026, 11, 23),
    ).invoice
    assert (before.version, after.version) == (1, 2)
    assert before.customer == Customer("A")
    assert close_draft(after, reference=None, today=date(2026, 11, 23)).invoice.version == 3


def test_an_invoice_created_closed_is_at_version_1() -> None:
    created = create_invoice(draft(), close=True, reference=None)
    assert (created.invoice.status, created.invoice.version) == (S.OPEN, 1)


def test_a_stale_expected_version_is_refused_on_that_field() -> None:
    invoice = update_draft(
        draft(),
        None,
        customer=Customer("A"),
        content=draft().content,
        note=None,
        due=None,
        today=date(2026, 11, 23),
    ).invoice
    with pytest.raises(RuleViolation) as refused:
        check_action(invoice, Action.UPDATE, expected_version=1)
    assert refused.value.field == "expectedVersion"


def test_partial_payments_lower_the_amount_due_down_to_paid() -> None:
    invoice = open_invoice("100.00")
    partly = record_payment(invoice, payment("40", "p-1"))
    assert partly.facts == (PaymentRecorded(partly.invoice, payment("40", "p-1")),)
    assert partly.invoice.totals.amount_due == Decimal("60.00")
    settled = record_payment(partly.invoice, payment("60.00", "p-2"))
    assert settled.invoice.status is S.PAID
    assert settled.invoice.totals.amount_due == Decimal("0.00")
    assert settled.facts == (InvoicePaid(settled.invoice, payment("60.00", "p-2")),)


def test_a_payment_above_the_amount_due_is_refused() -> None:
    with pytest.raises(RuleViolation) as refused:
        pay(open_invoice("100.00"), "100.01")
    assert refused.value.field == "amount"


def test_a_payment_with_more_digits_than_the_currency_is_refused() -> None:
    with pytest.raises(RuleViolation) as refused:
        pay(open_invoice(), "1.005")
    assert refused.value.field == "amount"


def test_an_invoice_with_payments_cannot_be_voided() -> None:
    with pytest.raises(RuleViolation):
        void_invoice(pay(open_invoice(), "1"), "wrong customer")


def test_a_credit_note_cannot_be_voided() -> None:
    note = numbered(
        close_draft(
            draft(invoice_type=InvoiceType.CREDIT_NOTE, reference="i-1"),
            open_invoice(),
            date(2026, 11, 23),
        ).invoice
    )
    with pytest.raises(RuleViolation) as refused:
        void_invoice(note, "wrong")
    assert refused.value.message == "a credit note cannot be voided"


def test_closing_a_credit_note_credits_its_reference_and_may_settle_it() -> None:
    reference = pay(open_invoice("100.00"), "30.00")
    note = draft("70.00", InvoiceType.CREDIT_NOTE, reference=reference.invoice_id)
    closed = close_draft(note, reference, date(2026, 11, 23))
    note_after, reference_after = closed.invoices
    assert reference_after.credited_amount == Decimal("70.00")
    assert reference_after.version == reference.version + 1
    assert (reference_after.status, reference_after.totals.amount_due) == (S.PAID, Decimal("0.00"))
    assert closed.facts == (InvoiceClosed(note_after), InvoicePaid(reference_after, None))


def test_an_invoice_with_a_closed_credit_note_cannot_be_voided() -> None:
    reference = open_invoice()
    note = draft("10.00", InvoiceType.CREDIT_NOTE, reference=reference.invoice_id)
    credited = close_draft(note, reference, date(2026, 11, 23)).invoices[1]
    with pytest.raises(RuleViolation):
        void_invoice(credited, "wrong")


def test_void_and_delete_release_the_rows() -> None:
    voided = void_invoice(open_invoice(), "wrong")
    deleted = delete_draft(draft()).invoice
    assert voided.facts == (InvoiceVoided(voided.invoice, "wrong"),)
    assert not voided.invoice.holds_rows
    assert not deleted.holds_rows


def test_a_credit_note_never_holds_order_rows() -> None:
    assert not draft(invoice_type=InvoiceType.CREDIT_NOTE).holds_rows


def test_overdue_is_derived_from_an_open_invoice_past_its_due_date() -> None:
    invoice = open_invoice()
    assert not invoice.is_overdue(date(2026, 12, 7))
    assert invoice.is_overdue(date(2026, 12, 8))
    assert not pay(invoice, "121.00").is_overdue(date(2026, 12, 8))


def test_a_due_date_before_the_day_it_is_set_is_refused_on_due_date() -> None:
    before = draft()

    with pytest.raises(RuleViolation) as refused:
        update_draft(
            before,
            None,
            customer=before.customer,
            content=before.content,
            note=None,
            due=date(2001, 1, 1),
            today=date(2026, 11, 23),
        )

    assert refused.value.field == "dueDate"
    with pytest.raises(RuleViolation) as refused:
        check_due_date(date(2026, 11, 22), date(2026, 11, 23))
    assert refused.value.field == "dueDate"
    check_due_date(date(2026, 11, 23), date(2026, 11, 23))


def test_a_close_that_would_be_issued_after_the_due_date_is_refused_on_due_date() -> None:
    with pytest.raises(RuleViolation) as refused:
        close_draft(draft(due=date(2026, 11, 30)), reference=None, today=date(2026, 12, 1))

    assert refused.value.field == "dueDate"
    closed = close_draft(draft(due=date(2026, 11, 30)), reference=None, today=date(2026, 11, 30))
    assert closed.invoice.status is S.OPEN
