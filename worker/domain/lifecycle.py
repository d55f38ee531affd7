"""An invoice's life: draft → open (closed, numbered) → paid | void; draft → deleted.

Which action each status allows is one table, ALLOWED_ACTIONS. Paid, void and deleted
are final; "overdue" is derived (open and past its due date), never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from worker.domain.amounts import Totals, totals
from worker.domain.invoice import InvoiceContent
from worker.domain.money import format_amount, minor_units, round_half_up
from worker.domain.numbering import due_date


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    DELETED = "deleted"


class InvoiceType(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit-note"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    CLOSE = "close"
    SEND = "send"
    VOID = "void"
    RECORD_PAYMENT = "record-payment"


LIVE_STATUSES = frozenset({InvoiceStatus.DRAFT, InvoiceStatus.OPEN, InvoiceStatus.PAID})

# The lifecycle: what may be done to an invoice in each status. `create` makes invoices.
ALLOWED_ACTIONS: Mapping[InvoiceStatus, frozenset[Action]] = {
    InvoiceStatus.DRAFT: frozenset({Action.UPDATE, Action.DELETE, Action.CLOSE}),
    InvoiceStatus.OPEN: frozenset({Action.SEND, Action.VOID, Action.RECORD_PAYMENT}),
    InvoiceStatus.PAID: frozenset({Action.SEND}),
    InvoiceStatus.VOID: frozenset(),
    InvoiceStatus.DELETED: frozenset(),
}

# Why an action is refused in a status, where a plainer word than the default helps.
_REFUSALS: Mapping[tuple[Action, InvoiceStatus], str] = {
    (Action.DELETE, InvoiceStatus.OPEN): "published invoices cannot be deleted",
    (Action.DELETE, InvoiceStatus.PAID): "published invoices cannot be deleted",
    (Action.DELETE, InvoiceStatus.VOID): "published invoices cannot be deleted",
    (
        Action.UPDATE,
        InvoiceStatus.OPEN,
    ): "only drafts can be changed; void it or issue a credit note",
    (Action.UPDATE, InvoiceStatus.PAID): "only drafts can be changed; issue a credit note",
    (Action.CLOSE, InvoiceStatus.OPEN): "the invoice is already closed",
    (Action.CLOSE, InvoiceStatus.PAID): "the invoice is already closed",
    (Action.SEND, InvoiceStatus.DRAFT): "a draft cannot be sent; close it first",
    (Action.VOID, InvoiceStatus.DRAFT): "a draft cannot be voided; delete it instead",
    (Action.VOID, InvoiceStatus.PAID): "a paid invoice cannot be voided; issue a credit note",
    (Action.RECORD_PAYMENT, InvoiceStatus.DRAFT): "a draft cannot be paid; close it first",
    (Action.RECORD_PAYMENT, InvoiceStatus.PAID): "the invoice is already paid",
}


def refusal(action: Action, status: InvoiceStatus) -> str | None:
    """Why `action` is not allowed in `status`, or None when it is."""
    if action in ALLOWED_ACTIONS[status]:
        return None
    return _REFUSALS.get((action, status), f"not allowed on an invoice that is {status}")


class RuleViolation(Exception):
    """A command that breaks a rule of the lifecycle: refused, nothing changed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(slots=True)
class Invoice:
    invoice_id: str
    order_id: str
    type: InvoiceType
    order_code: str | None
    currency: str
    prices_include_tax: bool
    customer: Mapping[str, Any]
    content: InvoiceContent
    payment_terms_days: int
    reference_invoice_id: str | None = None
    note: str | None = None
    status: InvoiceStatus = InvoiceStatus.DRAFT
    version: int = 1
    number: str | None = None
    issue_date: date | None = None
    due_date: date | None = None
    closed_at: datetime | None = None
    paid_amount: Decimal = Decimal(0)
    credited_amount: Decimal = Decimal(0)

    @property
    def holds_rows(self) -> bool:
        """Its order rows may not go onto another invoice while this holds."""
        return self.type is InvoiceType.INVOICE and self.status in LIVE_STATUSES

    @property
    def holds_credit(self) -> bool:
        """The lines of its reference it credits may not be credited again while this holds."""
        return self.type is InvoiceType.CREDIT_NOTE and self.status in LIVE_STATUSES

    @property
    def totals(self) -> Totals:
        return totals(self.content.amounts, self.paid_amount, self.credited_amount, self.currency)

    def is_overdue(self, today: date) -> bool:
        return (
            self.status is InvoiceStatus.OPEN
            and self.due_date is not None
            and today > self.due_date
        )


def check_action(invoice: Invoice, action: Action, expected_version: int | None = None) -> None:
    """Raises RuleViolation unless `action` may be done to the invoice as it is now."""
    if expected_version is not None and expected_version != invoice.version:
        raise RuleViolation(
            "expectedVersion",
            f"the invoice is at version {invoice.version}, not {expected_version}",
        )
    reason = refusal(action, invoice.status)
    if reason is not None:
        raise RuleViolation("invoiceId", reason)


def changed(invoice: Invoice) -> None:
    """Every change of an existing invoice raises its version by one."""
    invoice.version += 1


def close_invoice(invoice: Invoice, *, closed_at: datetime, issue_date: date) -> None:
    """Finalizes a draft. Its number comes from its series' counter, as late as possible
    in the closing transaction: the caller sets it afterwards, and sets `closed_at` again
    to the moment the number was taken."""
    check_action(invoice, Action.CLOSE)
    invoice.status = InvoiceStatus.OPEN
    invoice.closed_at = closed_at
    invoice.issue_date = issue_date
    if invoice.due_date is None:
        invoice.due_date = due_date(issue_date, invoice.payment_terms_days)


def delete_draft(invoice: Invoice) -> None:
    """Its rows are free again."""
    check_action(invoice, Action.DELETE)
    invoice.status = InvoiceStatus.DELETED


def void_invoice(invoice: Invoice) -> None:
    """Its rows are free again; it keeps its number."""
    check_action(invoice, Action.VOID)
    if invoice.paid_amount > 0:
        raise RuleViolation("invoiceId", "an invoice with payments cannot be voided")
    if invoice.credited_amount > 0:
        raise RuleViolation("invoiceId", "an invoice with a closed credit note cannot be voided")
    invoice.status = InvoiceStatus.VOID


def record_payment(invoice: Invoice, amount: Decimal) -> bool:
    """Lowers the amount due; True when that settled the invoice (now paid)."""
    check_action(invoice, Action.RECORD_PAYMENT)
    if invoice.type is InvoiceType.CREDIT_NOTE:
        raise RuleViolation("invoiceId", "payments are recorded on invoices, not on credit notes")
    digits = minor_units(invoice.currency)
    if round_half_up(amount, digits) != amount:
        raise RuleViolation("amount", f"at most {digits} fraction digits for {invoice.currency}")
    due = invoice.totals.amount_due
    if amount > due:
        raise RuleViolation(
            "amount", f"exceeds the amount due {format_amount(due, invoice.currency)}"
        )
    invoice.paid_amount += amount
    return _settle_if_nothing_due(invoice)


def apply_credit(invoice: Invoice, amount: Decimal) -> bool:
    """A closed credit note lowers the amount due of its reference (never below zero);
    True when that settled the invoice (now paid)."""
    invoice.credited_amount += amount
    return _settle_if_nothing_due(invoice)


def _settle_if_nothing_due(invoice: Invoice) -> bool:
    if invoice.status is InvoiceStatus.OPEN and invoice.totals.amount_due == 0:
        invoice.status = InvoiceStatus.PAID
        return True
    return False
