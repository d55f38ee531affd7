"""The change log (docs/contract.md): every change of an invoice raises exactly one fact, and
its event carries the whole invoice after the change under an id of its own."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from tests.builders import closed_invoice
from tests.memory_store import NOW
from tests.unit.test_lifecycle import draft, open_invoice, pay, refund
from worker.decisions import Cause
from worker.domain.credit_notes import credit_note_content, whole_lines
from worker.domain.lifecycle import (
    Invoice,
    InvoiceClosed,
    InvoiceCredited,
    InvoiceDeleted,
    InvoiceFact,
    InvoicePaid,
    InvoiceType,
    InvoiceUpdated,
    close_draft,
    delete_draft,
    refund_payment,
    send_invoice,
    update_draft,
)
from worker.domain.parties import Customer
from worker.publishing.invoice_events import invoice_event
from worker.settings import Settings

CAUSE = Cause("/tests", "c-1", "c-1", None)


def event_of(fact: InvoiceFact) -> dict[str, object]:
    message = invoice_event(Settings(), fact, CAUSE, NOW)
    assert message.value is not None
    event: dict[str, object] = json.loads(message.value)
    return event


def test_a_draft_update_is_announced_with_the_draft_after_it() -> None:
    change = update_draft(
        draft(),
        None,
        customer=Customer("B"),
        content=draft().content,
        note="n",
        due=None,
        today=date(2026, 11, 23),
    )

    assert change.facts == (InvoiceUpdated(change.invoice),)
    event = event_of(change.facts[0])
    assert event["type"] == "invoice-updated"
    assert event["data"]["invoice"]["note"] == "n"  # type: ignore[index]
    assert event["data"]["invoice"]["invoiceNumber"] is None  # type: ignore[index]


def test_a_deleted_draft_is_announced() -> None:
    change = delete_draft(draft())

    assert change.facts == (InvoiceDeleted(change.invoice),)
    assert event_of(change.facts[0])["type"] == "invoice-deleted"


def credit_note(reference: Invoice, row_ids: list[str]) -> Invoice:
    return Invoice(
        invoice_id="cn-0",
        order_id=reference.order_id,
        type=InvoiceType.CREDIT_NOTE,
        order_code=None,
        currency=reference.currency,
        prices_include_tax=False,
        customer=reference.customer,
        content=credit_note_content(reference, [], whole_lines(reference, [], row_ids)),
        payment_terms_days=14,
        reference_invoice_id=reference.invoice_id,
    )


def test_a_credit_note_that_leaves_something_due_credits_its_reference() -> None:
    invoice = closed_invoice([("1", "10.00", "21"), ("1", "5.00", "21")])

    change = close_draft(credit_note(invoice, ["r0"]), invoice, date(2026, 11, 23))

    note, credited = change.invoices
    assert change.facts == (InvoiceClosed(note), InvoiceCredited(credited, "cn-0"))
    assert credited.totals.amount_due == Decimal("6.05")
    assert credited.version == invoice.version + 1
    event = event_of(change.facts[1])
    assert event["type"] == "invoice-credited"
    assert event["data"]["creditNoteId"] == "cn-0"  # type: ignore[index]


def test_a_credit_note_that_settles_its_reference_makes_it_paid() -> None:
    invoice = closed_invoice([("1", "10.00", "21"), ("1", "5.00", "21")])

    change = close_draft(credit_note(invoice, ["r0", "r1"]), invoice, date(2026, 11, 23))

    note, credited = change.invoices
    assert change.facts == (InvoiceClosed(note), InvoicePaid(credited, None))


def test_a_send_changes_nothing_and_raises_no_change() -> None:
    invoice = open_invoice()

    change = send_invoice(invoice, "email", "a@example.com", ("/tests", "s-1"))

    assert change.invoices == (invoice,)
    assert [type(fact).__name__ for fact in change.facts] == ["NotificationRequested"]


def test_each_change_has_an_event_id_of_its_own() -> None:
    """Paid, reopened by a refund and paid again: two invoice-paid events, two ids."""
    paid = pay(open_invoice("100.00"), "100.00", "p-1")
    reopened = refund_payment(paid, "p-1", refund("1.00")).invoice
    paid_again = pay(reopened, "1.00", "p-2")

    first = event_of(InvoicePaid(paid, paid.payments[0]))
    second = event_of(InvoicePaid(paid_again, paid_again.payments[1]))

    assert first["id"] != second["id"]
    assert event_of(InvoicePaid(paid, paid.payments[0]))["id"] == first["id"]
