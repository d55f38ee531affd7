"""An invoice's life: draft → open (closed, numbered) → paid | void; draft → deleted.

Which action each status allows is one table, ALLOWED_ACTIONS. Void and deleted are
final; a refund opens a paid invoice again when something is due after it; "overdue" is
derived (open and past its due date), never stored. Every payment is kept (a ledger), each
with its refunds; the paid amount is what the payments add up to, less what was refunded of
them.

An invoice is a value. Every transition checks its rules first (a refusal raises
RuleViolation and changes nothing), then returns a Change: the invoices' new values, their
`version` raised by one, and the facts to publish, each holding the invoice as it is
right after this change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from worker.domain.amounts import Totals, totals
from worker.domain.customer import address_for
from worker.domain.invoice import InvoiceContent
from worker.domain.money import format_amount, minor_units, round_half_up
from worker.domain.numbering import due_date
from worker.domain.parties import Customer, Purchase, Seller
from worker.domain.rules import RuleViolation


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
    REFUND_PAYMENT = "refund-payment"


LIVE_STATUSES = frozenset({InvoiceStatus.DRAFT, InvoiceStatus.OPEN, InvoiceStatus.PAID})
CLOSED_STATUSES = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.VOID})

# The lifecycle: what may be done to an invoice in each status. `create` makes invoices.
ALLOWED_ACTIONS: Mapping[InvoiceStatus, frozenset[Action]] = {
    InvoiceStatus.DRAFT: frozenset({Action.UPDATE, Action.DELETE, Action.CLOSE}),
    InvoiceStatus.OPEN: frozenset(
        {Action.SEND, Action.VOID, Action.RECORD_PAYMENT, Action.REFUND_PAYMENT}
    ),
    InvoiceStatus.PAID: frozenset({Action.SEND, Action.REFUND_PAYMENT}),
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
    (Action.REFUND_PAYMENT, InvoiceStatus.DRAFT): "a draft has no payments",
}


def refusal(action: Action, status: InvoiceStatus) -> str | None:
    """Why `action` is not allowed in `status`, or None when it is."""
    if action in ALLOWED_ACTIONS[status]:
        return None
    return _REFUSALS.get((action, status), f"not allowed on an invoice that is {status}")


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially-paid"
    PAID = "paid"


@dataclass(frozen=True, slots=True)
class PaymentRefund:
    """Part or all of a payment given back; `refundId` names it within its invoice."""

    refund_id: str
    amount: Decimal
    refunded_at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment of the ledger; `paymentId` names it within its invoice."""

    payment_id: str
    amount: Decimal
    paid_at: datetime
    method: str | None = None
    reference: str | None = None
    refunds: tuple[PaymentRefund, ...] = ()
    """What was given back of it, in the order given."""

    @property
    def refunded_amount(self) -> Decimal:
        return sum((refund.amount for refund in self.refunds), Decimal(0))

    @property
    def kept_amount(self) -> Decimal:
        """What is left of it after its refunds."""
        return self.amount - self.refunded_amount

    def same_as(self, other: Payment) -> bool:
        """The same payment told again: its id and what it says about it."""
        return (self.payment_id, self.amount, self.paid_at, self.method, self.reference) == (
            other.payment_id,
            other.amount,
            other.paid_at,
            other.method,
            other.reference,
        )


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    order_id: str
    type: InvoiceType
    order_code: str | None
    currency: str
    prices_include_tax: bool
    customer: Customer
    content: InvoiceContent
    payment_terms_days: int
    reference_invoice_id: str | None = None
    return_id: str | None = None
    """A credit note's: the order's return it credits (docs/contract.md, "order-returned")."""
    note: str | None = None
    status: InvoiceStatus = InvoiceStatus.DRAFT
    version: int = 1
    number: str | None = None
    issue_date: date | None = None
    due_date: date | None = None
    closed_at: datetime | None = None
    credited_amount: Decimal = Decimal(0)
    purchase: Purchase = field(default_factory=Purchase)
    """What the order's buyer stated about the purchase."""
    seller_id: str | None = None
    """Who issues it (docs/contract.md, "Many sellers in one worker"): "default" is the
    configured seller; None: no seller, no documents."""
    seller: Seller | None = None
    """Its seller as stored when it was made, and again when its number is taken; None: no
    documents."""
    payments: tuple[Payment, ...] = ()
    """Every payment recorded on it, in the order recorded."""

    @property
    def paid_amount(self) -> Decimal:
        return sum((payment.kept_amount for payment in self.payments), Decimal(0))

    @property
    def payment_status(self) -> PaymentStatus:
        if self.status is InvoiceStatus.PAID:
            return PaymentStatus.PAID
        if self.paid_amount > 0:
            return PaymentStatus.PARTIALLY_PAID
        return PaymentStatus.UNPAID

    def payment(self, payment_id: str) -> Payment | None:
        return next((p for p in self.payments if p.payment_id == payment_id), None)

    def refunded(self, refund_id: str) -> bool:
        """Whether a refund of this id was made of any of its payments."""
        return any(
            refund.refund_id == refund_id for payment in self.payments for refund in payment.refunds
        )

    @property
    def holds_rows(self) -> bool:
        """Its order rows may not go onto another invoice while this holds."""
        return self.type is InvoiceType.INVOICE and self.status in LIVE_STATUSES

    @property
    def holds_credit(self) -> bool:
        """What it credits of its reference's lines is not left to credit while this holds."""
        return self.type is InvoiceType.CREDIT_NOTE and self.status in LIVE_STATUSES

    @property
    def awaits_number(self) -> bool:
        """Closed, and its number, closing time and issue date not assigned yet: the
        database assigns them when the closing transaction commits."""
        return self.status in CLOSED_STATUSES and self.number is None

    @property
    def totals(self) -> Totals:
        return totals(self.content.amounts, self.paid_amount, self.credited_amount, self.currency)

    @property
    def row_ids(self) -> tuple[str, ...]:
        return tuple(line.order_row_id for line in self.content.lines)

    def is_overdue(self, today: date) -> bool:
        return (
            self.type is InvoiceType.INVOICE
            and self.status is InvoiceStatus.OPEN
            and self.due_date is not None
            and today > self.due_date
            and self.totals.amount_due > 0
        )


# The facts a change raises: each holds the invoice right after that change.
@dataclass(frozen=True, slots=True)
class InvoiceCreated:
    invoice: Invoice


@dataclass(frozen=True, slots=True)
class InvoiceClosed:
    invoice: Invoice


@dataclass(frozen=True, slots=True)
class InvoiceVoided:
    invoice: Invoice
    reason: str


@dataclass(frozen=True, slots=True)
class InvoicePaid:
    invoice: Invoice
    payment: Payment | None
    """The payment that settled it; None when credit notes did."""


@dataclass(frozen=True, slots=True)
class InvoiceUpdated:
    invoice: Invoice


@dataclass(frozen=True, slots=True)
class InvoiceDeleted:
    invoice: Invoice


@dataclass(frozen=True, slots=True)
class PaymentRecorded:
    """A payment that leaves something due."""

    invoice: Invoice
    payment: Payment


@dataclass(frozen=True, slots=True)
class PaymentRefunded:
    invoice: Invoice
    payment_id: str
    refund: PaymentRefund


@dataclass(frozen=True, slots=True)
class InvoiceCredited:
    """A credit note closed against it that leaves something due."""

    invoice: Invoice
    credit_note_id: str


@dataclass(frozen=True, slots=True)
class NotificationRequested:
    invoice: Invoice
    channel: str
    recipient: str
    reason: str
    """"auto" when closing sends it, "command" for a `send` or a `close` with `send`."""
    request: tuple[str, ...]
    """What tells requests for the same invoice and channel apart: the invoice id for the
    automatic one, ("command", source, id) for a command, ("reminder", "days", days) for a
    reminder (a reminder is once per invoice and days past due)."""
    reminder_level: int | None = None
    """A payment reminder's level (1, 2, …); None when the invoice itself is sent."""
    credited: Invoice | None = None
    """A credit note's: the invoice it credits, as it is when the note is sent."""

    @property
    def amount_due(self) -> Decimal:
        """What it tells is due: of the invoice, or of the one a credit note credits."""
        return (self.credited or self.invoice).totals.amount_due

    @property
    def refund_due(self) -> Decimal | None:
        """What a credit note's notification tells is owed back to the customer."""
        return None if self.credited is None else self.credited.totals.refund_due


@dataclass(frozen=True, slots=True)
class InvoiceOverdue:
    """Found past its due date with something still due (not a change of the invoice)."""

    invoice: Invoice
    days_overdue: int


ChangeFact = (
    InvoiceCreated
    | InvoiceUpdated
    | InvoiceDeleted
    | InvoiceClosed
    | PaymentRecorded
    | PaymentRefunded
    | InvoiceCredited
    | InvoiceVoided
    | InvoicePaid
)
"""The change log: exactly one of these for every change of an invoice."""
InvoiceFact = ChangeFact | NotificationRequested | InvoiceOverdue


@dataclass(frozen=True, slots=True)
class Change:
    invoices: tuple[Invoice, ...]
    """The new value of every invoice the change touched."""
    facts: tuple[InvoiceFact, ...] = ()

    @property
    def invoice(self) -> Invoice:
        """The invoice the change is about."""
        return self.invoices[0]

    @property
    def credited(self) -> Invoice | None:
        """When the change closed a credit note: its reference invoice after it."""
        reference = self.invoice.reference_invoice_id
        return next((i for i in self.invoices if i.invoice_id == reference), None)

    def then(self, other: Change) -> Change:
        """This change followed by `other`, which started from this one's invoices."""
        latest = {invoice.invoice_id: invoice for invoice in other.invoices}
        invoices = tuple(latest.pop(invoice.invoice_id, invoice) for invoice in self.invoices)
        return Change((*invoices, *latest.values()), self.facts + other.facts)


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


def _changed(invoice: Invoice, **changes: Any) -> Invoice:
    """Every change of an existing invoice raises its version by one."""
    return replace(invoice, version=invoice.version + 1, **changes)


def create_invoice(draft: Invoice, *, close: bool, reference: Invoice | None) -> Change:
    """A new invoice (version 1): a draft, announced, or closed at once."""
    if not close:
        return Change((draft,), (InvoiceCreated(draft),))
    return _close(draft, replace(draft, status=InvoiceStatus.OPEN), reference)


def check_due_date(due: date | None, today: date) -> None:
    """A due date set on a draft may not be before the day it is set."""
    if due is not None and due < today:
        raise RuleViolation("dueDate", f"{due} is before today, {today}")


def close_draft(invoice: Invoice, reference: Invoice | None, today: date) -> Change:
    """Finalizes a draft; `reference` is a credit note's reference invoice. Its issue date
    is the day it closes (`today`), which may not be after the due date it was given."""
    check_action(invoice, Action.CLOSE)
    if invoice.due_date is not None and invoice.due_date < today:
        raise RuleViolation(
            "dueDate", f"the draft's due date {invoice.due_date} is before its issue date, {today}"
        )
    return _close(invoice, _changed(invoice, status=InvoiceStatus.OPEN), reference)


def _close(draft: Invoice, closed: Invoice, reference: Invoice | None) -> Change:
    """Its number, closing time and issue date come when the close commits (number_invoice);
    closing a credit note lowers what its reference still owes."""
    if draft.type is InvoiceType.INVOICE:
        return Change((closed,), (InvoiceClosed(closed),))
    assert reference is not None and reference.invoice_id == draft.reference_invoice_id
    if reference.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
        raise RuleViolation("invoiceId", f"its reference invoice is {reference.status}")
    credited = _changed(
        reference, credited_amount=reference.credited_amount + closed.totals.gross_amount
    )
    credited = _settled(reference, credited)
    if credited.status is not reference.status:
        return Change((closed, credited), (InvoiceClosed(closed), InvoicePaid(credited, None)))
    return Change(
        (closed, credited), (InvoiceClosed(closed), InvoiceCredited(credited, closed.invoice_id))
    )


def number_invoice(invoice: Invoice, number: str, closed_at: datetime, issue_date: date) -> Invoice:
    """What the closing transaction assigns: the number, the moment it was taken, the issue
    date (that moment's date) and, unless the draft had one, the due date from the terms."""
    assert invoice.awaits_number
    return replace(
        invoice,
        number=number,
        closed_at=closed_at,
        issue_date=issue_date,
        due_date=invoice.due_date or due_date(issue_date, invoice.payment_terms_days),
    )


def update_draft(
    invoice: Invoice,
    expected_version: int | None,
    *,
    customer: Customer,
    content: InvoiceContent,
    note: str | None,
    due: date | None,
    today: date,
) -> Change:
    """`due` is checked only when it changes: a draft keeps a due date it was given."""
    check_action(invoice, Action.UPDATE, expected_version)
    if due != invoice.due_date:
        check_due_date(due, today)
    updated = _changed(invoice, customer=customer, content=content, note=note, due_date=due)
    return Change((updated,), (InvoiceUpdated(updated),))


def delete_draft(invoice: Invoice) -> Change:
    """Its rows are free again."""
    check_action(invoice, Action.DELETE)
    deleted = _changed(invoice, status=InvoiceStatus.DELETED)
    return Change((deleted,), (InvoiceDeleted(deleted),))


def void_invoice(invoice: Invoice, reason: str) -> Change:
    """Its rows are free again; it keeps its number."""
    if invoice.type is InvoiceType.CREDIT_NOTE:
        raise RuleViolation("invoiceId", "a credit note cannot be voided")
    check_action(invoice, Action.VOID)
    if invoice.paid_amount > 0:
        raise RuleViolation("invoiceId", "an invoice with payments cannot be voided")
    if invoice.credited_amount > 0:
        raise RuleViolation("invoiceId", "an invoice with a closed credit note cannot be voided")
    voided = _changed(invoice, status=InvoiceStatus.VOID)
    return Change((voided,), (InvoiceVoided(voided, reason),))


def send_invoice(
    invoice: Invoice,
    channel: str,
    recipient: str | None,
    request: tuple[str, ...],
    credited: Invoice | None = None,
) -> Change:
    """Asks for the invoice to be sent (the invoice does not change); without a recipient,
    to the customer's address for the channel. `credited`: a credit note's reference."""
    check_action(invoice, Action.SEND)
    address = recipient or address_for(invoice.customer, channel)
    if address is None:
        raise RuleViolation(
            "recipient", f"the command names none and the customer has no {channel} address"
        )
    return Change(
        (invoice,),
        (NotificationRequested(invoice, channel, address, "command", request, credited=credited),),
    )


def record_payment(invoice: Invoice, payment: Payment) -> Change:
    """Adds the payment to the ledger, lowering the amount due; the payment that brings it
    to zero makes the invoice paid. A payment already recorded under its id, told again
    the same, changes nothing; told otherwise, it is refused."""
    recorded = invoice.payment(payment.payment_id)
    if recorded is not None:
        if recorded.same_as(payment):
            return Change((invoice,))
        raise RuleViolation(
            "paymentId",
            f"payment {payment.payment_id!r} is already recorded with another amount,"
            " date, method or reference",
        )
    check_action(invoice, Action.RECORD_PAYMENT)
    if invoice.type is InvoiceType.CREDIT_NOTE:
        raise RuleViolation("invoiceId", "payments are recorded on invoices, not on credit notes")
    _check_digits(invoice, payment.amount)
    due = invoice.totals.amount_due
    if payment.amount > due:
        raise RuleViolation(
            "amount", f"exceeds the amount due {format_amount(due, invoice.currency)}"
        )
    paid = _settled(invoice, _changed(invoice, payments=(*invoice.payments, payment)))
    if paid.status is InvoiceStatus.PAID:
        return Change((paid,), (InvoicePaid(paid, payment),))
    return Change((paid,), (PaymentRecorded(paid, payment),))


def refund_payment(invoice: Invoice, payment_id: str, refund: PaymentRefund) -> Change:
    """Gives back part or all of what is left of one payment: the paid amount drops (so does
    the refund due), and a paid invoice that has something due after it is open again. A
    refund whose id was seen before on the invoice changes nothing."""
    if invoice.refunded(refund.refund_id):
        return Change((invoice,))
    check_action(invoice, Action.REFUND_PAYMENT)
    payment = invoice.payment(payment_id)
    if payment is None:
        raise RuleViolation("paymentId", f"no payment {payment_id!r} on this invoice")
    _check_digits(invoice, refund.amount)
    if refund.amount > payment.kept_amount:
        left = format_amount(payment.kept_amount, invoice.currency)
        raise RuleViolation("amount", f"exceeds what is left of the payment, {left}")
    refunded = replace(payment, refunds=(*payment.refunds, refund))
    payments = tuple(refunded if p is payment else p for p in invoice.payments)
    after = _changed(invoice, payments=payments)
    if after.status is InvoiceStatus.PAID and after.totals.amount_due > 0:
        after = replace(after, status=InvoiceStatus.OPEN)
    return Change((after,), (PaymentRefunded(after, payment_id, refund),))


def check_currency(invoice: Invoice, currency: str | None) -> None:
    """A payment or refund that names its currency names the invoice's."""
    if currency is not None and currency != invoice.currency:
        raise RuleViolation("currency", f"the invoice is in {invoice.currency}, not {currency}")


def _check_digits(invoice: Invoice, amount: Decimal) -> None:
    digits = minor_units(invoice.currency)
    if round_half_up(amount, digits) != amount:
        raise RuleViolation("amount", f"at most {digits} fraction digits for {invoice.currency}")


def _settled(before: Invoice, after: Invoice) -> Invoice:
    """An open invoice with nothing left due is paid."""
    if before.status is InvoiceStatus.OPEN and after.totals.amount_due == 0:
        return replace(after, status=InvoiceStatus.PAID)
    return after
