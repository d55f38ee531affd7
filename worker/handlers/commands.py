"""invoice-command: the seven actions, each answered by exactly one invoice-command-result.

An action checks every rule before it changes anything: a refused command (RuleViolation)
leaves the invoices as they were and is answered with ok false.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from worker import events
from worker.domain.invoice import OrderRow, build_invoice_content
from worker.domain.lifecycle import (
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
    void_invoice,
)
from worker.domain.money import format_amount
from worker.domain.order import Order
from worker.events import Cause, CommandReply
from worker.messages import (
    CloseInvoice,
    CreateInvoice,
    CustomerDetails,
    DeleteInvoice,
    InvoiceCommandEvent,
    Payment,
    RecordPayment,
    Rejection,
    SendInvoice,
    UpdateInvoice,
    VoidInvoice,
    stable_event_id,
)
from worker.store.inbox import EventKey
from worker.store.outbox import OutboxMessage
from worker.unit_of_work import Outcome, Record, UnitOfWork

log = structlog.get_logger(__name__)

NOTHING_TO_INVOICE = "nothing to invoice"
NOT_SENT = "the invoice was closed but not sent: the customer has no email address or phone"


@dataclass(frozen=True, slots=True)
class Context:
    """What every action needs besides its command."""

    work: UnitOfWork
    event: InvoiceCommandEvent
    cause: Cause


def handle_invoice_command(work: UnitOfWork, record: Record, event: InvoiceCommandEvent) -> Outcome:
    command = event.data
    invoice_id = getattr(command, "invoice_id", None)
    if invoice_id is not None:
        structlog.contextvars.bind_contextvars(invoiceId=invoice_id)
    context = Context(work, event, Cause(event.correlation, event.time))
    try:
        reply = _ACTIONS[command.action](context, command)
    except RuleViolation as violation:
        invoice = _known_invoice(work, invoice_id)
        reply = CommandReply(
            ok=False,
            invoice=invoice,
            errors={violation.field: [violation.message]},
            details=f"{command.action} refused: {violation.message}.",
        )
    outcome = Outcome.APPLIED if reply.ok else Outcome.REJECTED
    _reply(work, record, event.source, event.id, command.action, reply, context.cause)
    log.info("command handled", action=command.action, ok=reply.ok)
    return outcome


def reject_invalid_command(work: UnitOfWork, record: Record, rejection: Rejection) -> Outcome:
    """A command whose data is invalid, but whose id can be answered: ok false, never a
    dead letter."""
    assert rejection.event_id is not None and rejection.source is not None
    reply = CommandReply(ok=False, invoice=None, errors=rejection.errors, details=rejection.details)
    cause = Cause(rejection.correlation_id or rejection.event_id, None)
    _reply(work, record, rejection.source, rejection.event_id, rejection.action, reply, cause)
    return Outcome.REJECTED


def republish_result(work: UnitOfWork, key: EventKey) -> None:
    """A command seen before changes nothing: its stored result is published again."""
    earlier = work.replies.get(key)
    if earlier is not None:  # the same command twice in one batch
        work.emit(lambda: _rendered(earlier.message))
        return
    entry = work.inbox[key]
    if entry.result_value is not None:
        topic = work.settings.topics.command_results
        work.emit(lambda: OutboxMessage(topic, entry.result_key, entry.result_value))


def _rendered(message: OutboxMessage | None) -> OutboxMessage:
    assert message is not None, "a reply is rendered before a later copy of it"
    return message


def _reply(
    work: UnitOfWork,
    record: Record,
    source: str,
    command_id: str,
    action: str | None,
    reply: CommandReply,
    cause: Cause,
) -> None:
    settings, now = work.settings, work.now
    outcome = Outcome.APPLIED if reply.ok else Outcome.REJECTED
    work.reply(
        (source, command_id),
        "invoice-command",
        outcome,
        lambda: events.command_result(
            settings, source, command_id, action, reply, record.key, cause, now
        ),
    )


def _known_invoice(work: UnitOfWork, invoice_id: str | None) -> Invoice | None:
    return None if invoice_id is None else work.invoices.get(invoice_id)


def _invoice(work: UnitOfWork, invoice_id: str) -> Invoice:
    invoice = work.invoices.get(invoice_id)
    if invoice is None:
        raise RuleViolation("invoiceId", f"unknown invoice {invoice_id!r}")
    return invoice


def _order(work: UnitOfWork, order_id: str) -> Order:
    order = work.orders.get(order_id)
    if order is None:
        raise RuleViolation("orderId", f"unknown order {order_id!r}")
    return order


def _create(context: Context, command: CreateInvoice) -> CommandReply:
    work, event = context.work, context.event
    order = _order(work, command.order_id)
    if command.type == InvoiceType.CREDIT_NOTE.value:
        assert command.reference_invoice_id is not None
        reference = _credit_reference(work, order, command.reference_invoice_id)
        rows = _creditable_rows(work, reference, command.row_ids, exclude=None)
    else:
        reference = None
        rows = _invoiceable_rows(order, command.row_ids, draft=None)
    if not rows:
        return CommandReply(ok=True, invoice=None, warnings=(NOTHING_TO_INVOICE,))
    details = order.details
    currency, prices_include_tax = (
        (reference.currency, reference.prices_include_tax)
        if reference is not None
        else (details.currency, details.prices_include_tax)
    )
    invoice = Invoice(
        invoice_id=stable_event_id("invoice", event.source, event.id),
        order_id=order.order_id,
        type=InvoiceType(command.type),
        order_code=details.order_code,
        currency=currency,
        prices_include_tax=prices_include_tax,
        customer=dict(details.customer),
        content=build_invoice_content(rows, currency, prices_include_tax),
        payment_terms_days=work.settings.payment_terms_days,
        reference_invoice_id=None if reference is None else reference.invoice_id,
        note=command.note,
        due_date=command.due_date,
    )
    if command.close:
        _close(context, invoice)
    else:
        settings, cause, now = work.settings, context.cause, work.now
        work.emit(lambda: events.invoice_created(settings, invoice, cause, now))
    work.add_invoice(invoice)
    return CommandReply(ok=True, invoice=invoice)


def _invoiceable_rows(
    order: Order, row_ids: list[str] | None, draft: Invoice | None
) -> list[OrderRow]:
    """The order's rows an invoice may bill: all free ones by default, else the named
    ones, which must be free (or already on `draft`)."""
    own = set() if draft is None else {line.order_row_id for line in draft.content.lines}
    if row_ids is None:
        return order.free_rows()
    for index, row_id in enumerate(row_ids):
        if row_id not in order.rows:
            raise RuleViolation(
                f"rowIds.{index}", f"order {order.order_id!r} has no row {row_id!r}"
            )
        if row_id in order.held_row_ids and row_id not in own:
            raise RuleViolation(f"rowIds.{index}", f"row {row_id!r} is already on an invoice")
    return [order.rows[row_id] for row_id in row_ids]


def _credit_reference(work: UnitOfWork, order: Order, reference_id: str) -> Invoice:
    reference = work.invoices.get(reference_id)
    if (
        reference is None
        or reference.order_id != order.order_id
        or reference.type is not InvoiceType.INVOICE
        or reference.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID)
    ):
        raise RuleViolation(
            "referenceInvoiceId",
            f"must be a closed, non-void invoice of order {order.order_id!r}",
        )
    return reference


def _creditable_rows(
    work: UnitOfWork, reference: Invoice, row_ids: list[str] | None, exclude: Invoice | None
) -> list[OrderRow]:
    """Lines of the reference, whole, each credited at most once (over every live credit
    note but `exclude`): all not yet credited by default, else the named ones."""
    credited = {
        line.order_row_id
        for note in work.invoices_of(reference.order_id)
        if note.reference_invoice_id == reference.invoice_id
        and note.holds_credit
        and note is not exclude
        for line in note.content.lines
    }
    lines = {line.order_row_id: line for line in reference.content.lines}
    if row_ids is None:
        chosen = [row_id for row_id in lines if row_id not in credited]
    else:
        for index, row_id in enumerate(row_ids):
            if row_id not in lines:
                raise RuleViolation(
                    f"rowIds.{index}", f"row {row_id!r} is not on the reference invoice"
                )
            if row_id in credited:
                raise RuleViolation(f"rowIds.{index}", f"row {row_id!r} is already credited")
        chosen = row_ids
    return [
        OrderRow(
            row_id=line.order_row_id,
            position=line.line_no,
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            discount_percent=line.discount_percent,
            tax_rate=line.tax_rate,
        )
        for line in (lines[row_id] for row_id in chosen)
    ]


def _update(context: Context, command: UpdateInvoice) -> CommandReply:
    work = context.work
    invoice = _invoice(work, command.invoice_id)
    check_action(invoice, Action.UPDATE, command.expected_version)
    given = command.model_fields_set
    customer = _merged_customer(invoice.customer, command.customer)
    content = invoice.content
    released: list[str] = []
    if command.row_ids is not None:
        order = work.orders[invoice.order_id]
        if invoice.type is InvoiceType.CREDIT_NOTE:
            assert invoice.reference_invoice_id is not None
            rows = _creditable_rows(
                work, work.invoices[invoice.reference_invoice_id], command.row_ids, exclude=invoice
            )
        else:
            rows = _invoiceable_rows(order, command.row_ids, draft=invoice)
        content = build_invoice_content(rows, invoice.currency, invoice.prices_include_tax)
        kept = {row.row_id for row in rows}
        released = [
            line.order_row_id for line in invoice.content.lines if line.order_row_id not in kept
        ]
    invoice.customer = customer
    invoice.content = content
    if "note" in given:
        invoice.note = command.note
    if "due_date" in given:
        invoice.due_date = command.due_date
    changed(invoice)
    work.change_invoice(invoice, released_rows=released)
    return CommandReply(ok=True, invoice=invoice)


def _merged_customer(
    customer: Mapping[str, Any], changes: CustomerDetails | None
) -> dict[str, Any]:
    """The details the update names replace the invoice's; a detail set to null goes."""
    merged = dict(customer)
    if changes is None:
        return merged
    given = changes.model_dump(mode="json", by_alias=True)
    for name in changes.model_fields_set:
        alias = type(changes).model_fields[name].alias or name
        if alias in given:
            merged[alias] = given[alias]
        else:
            merged.pop(alias, None)
    if "name" not in merged:
        raise RuleViolation("customer.name", "a customer needs a name")
    return merged


def _delete(context: Context, command: DeleteInvoice) -> CommandReply:
    work = context.work
    invoice = _invoice(work, command.invoice_id)
    delete_draft(invoice)
    changed(invoice)
    work.change_invoice(invoice, released_rows=_rows_of(invoice))
    return CommandReply(ok=True, invoice=invoice)


def _close_command(context: Context, command: CloseInvoice) -> CommandReply:
    work = context.work
    invoice = _invoice(work, command.invoice_id)
    check_action(invoice, Action.CLOSE)
    _close(context, invoice)
    changed(invoice)
    work.change_invoice(invoice)
    if not command.send:
        return CommandReply(ok=True, invoice=invoice)
    recipient = _customer_address(invoice, "email") or _customer_address(invoice, "sms")
    if recipient is None:
        return CommandReply(ok=True, invoice=invoice, warnings=(NOT_SENT,))
    _notify(context, invoice, *recipient)
    return CommandReply(ok=True, invoice=invoice)


def _close(context: Context, invoice: Invoice) -> None:
    """Closes a draft (numbered at commit) and announces it; closing a credit note lowers
    what its reference still owes."""
    work, cause, settings, now = (
        context.work,
        context.cause,
        context.work.settings,
        context.work.now,
    )
    reference = None
    if invoice.type is InvoiceType.CREDIT_NOTE:
        assert invoice.reference_invoice_id is not None
        reference = work.invoices[invoice.reference_invoice_id]
        if reference.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
            raise RuleViolation("invoiceId", f"its reference invoice is {reference.status}")
    close_invoice(invoice, closed_at=now, issue_date=now.astimezone(work.timezone).date())
    work.number_on_commit(invoice)
    work.emit(lambda: events.invoice_closed(settings, invoice, cause, now))
    if reference is not None:
        settled = apply_credit(reference, invoice.content.amounts.gross_amount)
        changed(reference)
        work.change_invoice(reference)
        if settled:
            work.emit(lambda: events.invoice_paid(settings, reference, None, cause, now))


def _customer_address(invoice: Invoice, channel: str) -> tuple[str, str] | None:
    address = invoice.customer.get("email" if channel == "email" else "phone")
    return (channel, str(address)) if address else None


def _notify(context: Context, invoice: Invoice, channel: str, recipient: str) -> None:
    settings, cause, now, command_id = (
        context.work.settings,
        context.cause,
        context.work.now,
        context.event.id,
    )
    context.work.emit(
        lambda: events.notification_requested(
            settings, invoice, channel, recipient, "command", command_id, cause, now
        )
    )


def _send(context: Context, command: SendInvoice) -> CommandReply:
    invoice = _invoice(context.work, command.invoice_id)
    check_action(invoice, Action.SEND)
    if command.recipient is not None:
        recipient: tuple[str, str] | None = (command.channel, command.recipient)
    else:
        recipient = _customer_address(invoice, command.channel)
    if recipient is None:
        raise RuleViolation(
            "recipient",
            f"the command names none and the customer has no {command.channel} address",
        )
    _notify(context, invoice, *recipient)
    return CommandReply(ok=True, invoice=invoice)


def _void(context: Context, command: VoidInvoice) -> CommandReply:
    work = context.work
    invoice = _invoice(work, command.invoice_id)
    if invoice.type is InvoiceType.CREDIT_NOTE:
        raise RuleViolation("invoiceId", "a credit note cannot be voided")
    void_invoice(invoice)
    changed(invoice)
    work.change_invoice(invoice, released_rows=_rows_of(invoice))
    settings, cause, now, reason = work.settings, context.cause, work.now, command.reason
    work.emit(lambda: events.invoice_voided(settings, invoice, reason, cause, now))
    return CommandReply(ok=True, invoice=invoice)


def _record_payment(context: Context, command: RecordPayment) -> CommandReply:
    work = context.work
    invoice = _invoice(work, command.invoice_id)
    settled = record_payment(invoice, command.amount)
    changed(invoice)
    work.change_invoice(invoice)
    if settled:
        payment = Payment(
            amount=format_amount(command.amount, invoice.currency),
            paid_at=command.paid_at or work.now,
            method=command.method,
            reference=command.reference,
        )
        settings, cause, now = work.settings, context.cause, work.now
        work.emit(lambda: events.invoice_paid(settings, invoice, payment, cause, now))
    return CommandReply(ok=True, invoice=invoice)


def _rows_of(invoice: Invoice) -> list[str]:
    return [line.order_row_id for line in invoice.content.lines]


_ACTIONS: Mapping[str, Callable[[Context, Any], CommandReply]] = {
    Action.CREATE.value: _create,
    Action.UPDATE.value: _update,
    Action.DELETE.value: _delete,
    Action.CLOSE.value: _close_command,
    Action.SEND.value: _send,
    Action.VOID.value: _void,
    Action.RECORD_PAYMENT.value: _record_payment,
}
