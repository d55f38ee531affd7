"""invoice-command: the eight actions, each answered by exactly one invoice-command-result.

An action checks every rule before it changes anything: a refused command (RuleViolation)
leaves the invoices as they were and is answered with ok false.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import structlog

from worker.decisions import CommandResult, Decision, Outcome, Record, View, cause_of
from worker.domain.amounts import NegativeBase
from worker.domain.credit_notes import (
    charges_to_credit,
    credit_note_content,
    credit_reference,
    lines_by_quantity,
    live_credit_notes,
    whole_lines,
)
from worker.domain.customer import address_for, merge_customer
from worker.domain.invoice import AdjustmentKey, InvoiceContent, OrderRow, build_invoice_content
from worker.domain.lifecycle import (
    Action,
    Change,
    Invoice,
    InvoiceType,
    Payment,
    PaymentRefund,
    check_action,
    check_currency,
    check_due_date,
    close_draft,
    create_invoice,
    delete_draft,
    record_payment,
    refund_payment,
    send_invoice,
    update_draft,
    void_invoice,
)
from worker.domain.order import Order
from worker.domain.rules import RuleViolation
from worker.handlers.drafts import UnknownSeller, issuing_seller, new_draft
from worker.messages import (
    CloseInvoice,
    CreateInvoice,
    DeleteInvoice,
    InvoiceCommandData,
    InvoiceCommandEvent,
    RecordPayment,
    RefundPayment,
    SendInvoice,
    UpdateInvoice,
    VoidInvoice,
    stable_event_id,
)

log = structlog.get_logger(__name__)

NOTHING_TO_INVOICE = "nothing to invoice"
NOT_SENT = "the invoice was closed but not sent: the customer has no email address or phone"
ALREADY_RECORDED = "the payment was recorded before: nothing changed"
ALREADY_REFUNDED = "the refund was made before: nothing changed"

CommandT = TypeVar("CommandT", bound=InvoiceCommandData)


def command_handler(
    action: Callable[[View, InvoiceCommandEvent, CommandT], tuple[Change, tuple[str, ...]]],
) -> Callable[[View, Record, InvoiceCommandEvent], Decision]:
    """The handler of one action: its change, answered by the command's result (ok false,
    and nothing changed, when it breaks a rule)."""

    def handle(view: View, record: Record, event: InvoiceCommandEvent) -> Decision:
        command: Any = event.data
        invoice_id = command.target_invoice_id
        if invoice_id is not None:
            structlog.contextvars.bind_contextvars(invoice_id=invoice_id)
        try:
            change, warnings = action(view, event, command)
            result = CommandResult(
                command.action, True, change.invoices[0] if change.invoices else None, warnings
            )
        except RuleViolation as violation:
            change = Change(())
            result = CommandResult(
                command.action,
                False,
                None if invoice_id is None else view.invoice(invoice_id),
                errors={violation.field: [violation.message]},
                details=f"{command.action} refused: {violation.message}.",
            )
        log.info("command handled", action=command.action, ok=result.ok)
        return Decision(
            Outcome.APPLIED if result.ok else Outcome.REJECTED,
            cause_of(event, record),
            event.type,
            invoices=change.invoices,
            facts=(*change.facts, result),
        )

    return handle


def _request(event: InvoiceCommandEvent) -> tuple[str, ...]:
    """What tells a command's notification apart from others of the invoice and channel
    (its id is a uuid5 of it): the command's source and id, marked as a command's so that
    no source and id can stand for a reminder's ("reminder", "days", days)."""
    return ("command", event.source, event.id)


def _invoice(view: View, invoice_id: str) -> Invoice:
    invoice = view.invoice(invoice_id)
    if invoice is None:
        raise RuleViolation("invoiceId", f"unknown invoice {invoice_id!r}")
    return invoice


def _today(view: View) -> date:
    """The day the command is decided, in INVOICER_TIMEZONE: a closing now would be issued on
    it."""
    return view.now.astimezone(ZoneInfo(view.settings.timezone)).date()


def _order(view: View, order_id: str) -> Order:
    order = view.order(order_id)
    if order is None:
        raise RuleViolation("orderId", f"unknown order {order_id!r}")
    return order


def _reference(view: View, invoice: Invoice) -> Invoice | None:
    """A credit note's reference invoice; None for an invoice."""
    if invoice.reference_invoice_id is None:
        return None
    return view.invoice(invoice.reference_invoice_id)


def create(
    view: View, event: InvoiceCommandEvent, command: CreateInvoice
) -> tuple[Change, tuple[str, ...]]:
    order = _order(view, command.order_id)
    seller_id = _named_seller(view, order, command.seller_id)
    check_due_date(command.due_date, _today(view))
    if command.type == InvoiceType.CREDIT_NOTE.value:
        assert command.reference_invoice_id is not None
        reference = credit_reference(view.invoice(command.reference_invoice_id), order.order_id)
        notes = live_credit_notes(reference, view.invoices_of(order.order_id))
        if command.lines is not None:
            quantities = [(line.line_no, line.quantity) for line in command.lines]
            credits = lines_by_quantity(reference, notes, quantities)
        elif command.row_ids is None and command.charges:
            credits = []  # charges only: no lines
        else:
            credits = whole_lines(reference, notes, command.row_ids)
        # Named nothing: a note of everything left, its charges too.
        everything = command.row_ids is None and command.lines is None
        charge_ids = charges_to_credit(
            reference,
            notes,
            command.charges if command.charges is not None or everything else [],
        )
        if not credits and not charge_ids:
            return Change(()), (NOTHING_TO_INVOICE,)
        content = credit_note_content(reference, notes, credits, charge_ids)
    else:
        reference = None
        rows = order.rows_to_invoice(command.row_ids)
        if not rows:
            return Change(()), (NOTHING_TO_INVOICE,)
        content = _invoice_content(order, rows)
    draft = new_draft(
        view,
        stable_event_id("invoice", event.source, event.id),
        order,
        content,
        reference,
        note=command.note,
        due=command.due_date,
        seller_id=seller_id,
    )
    return create_invoice(draft, close=command.close, reference=reference), ()


def _named_seller(view: View, order: Order, stated: str | None) -> str | None:
    """The seller a `create` names: a known one, and the order's where it has one."""
    if stated is None:
        return None
    try:
        issuing_seller(view, stated)
    except UnknownSeller as unknown:
        raise RuleViolation("sellerId", str(unknown)) from None
    # An order that names none is the configured seller's, else has none.
    own = order.details.seller_id or issuing_seller(view, None)
    if own != stated:
        issued = "have no seller" if own is None else f"are issued by {own!r}"
        raise RuleViolation("sellerId", f"the order's invoices {issued}")
    return stated


def _invoice_content(
    order: Order, rows: list[OrderRow], own: Iterable[AdjustmentKey] = ()
) -> InvoiceContent:
    """An invoice of these rows with the order's free charges and allowances (and those of
    the draft being changed, `own`)."""
    details = order.details
    try:
        return build_invoice_content(
            rows, details.currency, details.prices_include_tax, order.free_adjustments(own)
        )
    except NegativeBase as negative:
        raise RuleViolation("allowances", str(negative)) from None


def update(
    view: View, event: InvoiceCommandEvent, command: UpdateInvoice
) -> tuple[Change, tuple[str, ...]]:
    invoice = _invoice(view, command.invoice_id)
    # The status and a stale expectedVersion come first: they are what a client most needs
    # to hear of, whatever else the command says.
    check_action(invoice, Action.UPDATE, command.expected_version)
    given = command.model_fields_set
    content = invoice.content
    if command.row_ids is not None:
        reference = _reference(view, invoice)
        if reference is not None:
            notes = [
                note
                for note in live_credit_notes(reference, view.invoices_of(invoice.order_id))
                if note.invoice_id != invoice.invoice_id
            ]
            credits = whole_lines(reference, notes, command.row_ids)
            charge_ids = [a.adjustment_id for a in invoice.content.adjustments if a.is_charge]
            content = credit_note_content(reference, notes, credits, charge_ids)
        else:
            order = view.order(invoice.order_id)
            assert order is not None
            rows = order.rows_to_invoice(command.row_ids, own=invoice.row_ids)
            content = _invoice_content(order, rows, own=invoice.content.adjustment_keys)
    customer = invoice.customer
    if command.customer is not None:
        customer = merge_customer(customer, command.customer.changes())
    change = update_draft(
        invoice,
        command.expected_version,
        customer=customer,
        content=content,
        note=command.note if "note" in given else invoice.note,
        due=command.due_date if "due_date" in given else invoice.due_date,
        today=_today(view),
    )
    return change, ()


def delete(
    view: View, event: InvoiceCommandEvent, command: DeleteInvoice
) -> tuple[Change, tuple[str, ...]]:
    return delete_draft(_invoice(view, command.invoice_id)), ()


def close(
    view: View, event: InvoiceCommandEvent, command: CloseInvoice
) -> tuple[Change, tuple[str, ...]]:
    invoice = _invoice(view, command.invoice_id)
    change = close_draft(invoice, _reference(view, invoice), _today(view))
    if not command.send:
        return change, ()
    closed = change.invoice
    for channel in ("email", "sms"):
        address = address_for(closed.customer, channel)
        if address is not None:
            sent = send_invoice(closed, channel, address, _request(event), change.credited)
            return change.then(sent), ()
    return change, (NOT_SENT,)


def send(
    view: View, event: InvoiceCommandEvent, command: SendInvoice
) -> tuple[Change, tuple[str, ...]]:
    invoice = _invoice(view, command.invoice_id)
    sent = send_invoice(
        invoice, command.channel, command.recipient, _request(event), _reference(view, invoice)
    )
    return sent, ()


def void(
    view: View, event: InvoiceCommandEvent, command: VoidInvoice
) -> tuple[Change, tuple[str, ...]]:
    return void_invoice(_invoice(view, command.invoice_id), command.reason), ()


def pay(
    view: View, event: InvoiceCommandEvent, command: RecordPayment
) -> tuple[Change, tuple[str, ...]]:
    """The payment's id is the command's `paymentId`, else the command id. Its time is the
    command's `paidAt`, else (the payment told again) when it was recorded, else when the
    command was sent: what the commands say, never when they happened to be processed."""
    invoice = _invoice(view, command.invoice_id)
    check_currency(invoice, command.currency)
    payment_id = command.payment_id or event.id
    recorded = invoice.payment(payment_id)
    payment = Payment(
        payment_id=payment_id,
        amount=command.amount,
        # in UTC, as the database gives it back: the same invoice whatever the batching
        paid_at=(
            command.paid_at
            or (recorded.paid_at if recorded is not None else event.time or view.now)
        ).astimezone(UTC),
        method=command.method,
        reference=command.reference,
    )
    change = record_payment(invoice, payment)
    return change, (() if change.facts else (ALREADY_RECORDED,))


def refund(
    view: View, event: InvoiceCommandEvent, command: RefundPayment
) -> tuple[Change, tuple[str, ...]]:
    """The refund's id is the command's `refundId`, else the command id; its time is when the
    command was sent (else when it is decided), as a payment's."""
    invoice = _invoice(view, command.invoice_id)
    check_currency(invoice, command.currency)
    made = PaymentRefund(
        refund_id=command.refund_id or event.id,
        amount=command.amount,
        refunded_at=(event.time or view.now).astimezone(UTC),
        reason=command.reason,
    )
    change = refund_payment(invoice, command.payment_id, made)
    return change, (() if change.facts else (ALREADY_REFUNDED,))
