"""The events of facts about an invoice, and the outbox message every invoice event goes out
as: what the batch, the dunning scan and the renderer publish about an invoice."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from worker.decisions import Cause
from worker.domain.lifecycle import (
    Invoice,
    InvoiceClosed,
    InvoiceCreated,
    InvoiceCredited,
    InvoiceDeleted,
    InvoiceFact,
    InvoiceOverdue,
    InvoicePaid,
    InvoiceType,
    InvoiceUpdated,
    InvoiceVoided,
    NotificationRequested,
    PaymentRecorded,
    PaymentRefunded,
)
from worker.domain.money import format_amount
from worker.messages import InvoiceState, event_bytes, stable_event_id
from worker.messages.binding import EVENT_HEADERS
from worker.messages.routing import OUTGOING, topic_for
from worker.publishing.snapshots import (
    invoice_fields,
    invoice_state,
    payment_fields,
    refund_fields,
    summary_fields,
)
from worker.rows import Headers, OutboxMessage
from worker.settings import Settings
from worker.tracing import TRACEPARENT


def event_headers(cause: Cause) -> Headers:
    """The CloudEvents binding's content type, and the W3C trace context of the cause."""
    if cause.traceparent is None:
        return EVENT_HEADERS
    return (*EVENT_HEADERS, (TRACEPARENT, cause.traceparent.encode()))


def invoice_message(
    settings: Settings,
    event_type: str,
    event_id: str,
    data: Mapping[str, Any],
    invoice: Invoice,
    cause: Cause,
    now: datetime,
) -> OutboxMessage:
    return OutboxMessage(
        topic=topic_for(settings.topics, event_type),
        key=invoice.order_id.encode(),
        value=event_bytes(
            event_type=event_type,
            source=settings.event_source,
            event_id=event_id,
            data=OUTGOING[event_type].model(**data),
            correlation_id=cause.correlation_id,
            subject=invoice.invoice_id,
            time=now,
            traceparent=cause.traceparent,
        ),
        headers=event_headers(cause),
        event_time=cause.time,
    )


def invoice_event(
    settings: Settings, fact: InvoiceFact, cause: Cause, now: datetime
) -> OutboxMessage:
    """The event of a fact about an invoice, from the invoice as the fact saw it. A change's
    event id is its invoice's id and version: one change, one id."""
    invoice = fact.invoice
    event_type, data = event_data(fact)
    if isinstance(fact, NotificationRequested):
        event_id = data["notification_id"]
    elif isinstance(fact, InvoiceOverdue):
        event_id = overdue_event_id(invoice.invoice_id)
    else:
        event_id = stable_event_id(event_type, invoice.invoice_id, str(invoice.version))
    return invoice_message(settings, event_type, event_id, data, invoice, cause, now)


def overdue_event_id(invoice_id: str) -> str:
    """An invoice is announced overdue once: its event's id is the invoice's."""
    return stable_event_id("invoice-overdue", invoice_id)


def event_data(fact: InvoiceFact) -> tuple[str, dict[str, Any]]:
    invoice = fact.invoice
    if isinstance(fact, NotificationRequested):
        return "notification-requested", _notification_fields(fact)
    made = invoice_fields(invoice)
    state = invoice_state(invoice, made)
    # The event's own fields take the state's values, validated once, as they are.
    fields = {name: getattr(state, name) for name in made}
    match fact:
        case InvoiceCreated():
            return "invoice-created", {**fields, "invoice": state}
        case InvoiceClosed():
            assert invoice.number is not None and invoice.issue_date is not None
            return "invoice-closed", {
                **fields,
                "invoice_number": invoice.number,
                "issue_date": invoice.issue_date,
                "due_date": invoice.due_date,
                "closed_at": invoice.closed_at,
                "invoice": state,
            }
        case InvoiceVoided(reason=reason):
            return "invoice-voided", {
                **summary_fields(invoice),
                "reason": reason,
                "invoice": state,
            }
        case InvoicePaid(payment=payment):
            return "invoice-paid", {
                **summary_fields(invoice),
                "payment": None
                if payment is None
                else {
                    "amount": format_amount(payment.amount, invoice.currency),
                    "paid_at": payment.paid_at,
                    "method": payment.method,
                    "reference": payment.reference,
                },
                "invoice": state,
            }
        case InvoiceUpdated():
            return "invoice-updated", _change_fields(invoice, state)
        case InvoiceDeleted():
            return "invoice-deleted", _change_fields(invoice, state)
        case PaymentRecorded(payment=payment):
            return "invoice-payment-recorded", {
                **_change_fields(invoice, state),
                "payment": payment_fields(payment, invoice.currency),
            }
        case PaymentRefunded(payment_id=payment_id, refund=refund):
            return "invoice-payment-refunded", {
                **_change_fields(invoice, state),
                "refund": {"payment_id": payment_id, **refund_fields(refund, invoice.currency)},
            }
        case InvoiceCredited(credit_note_id=credit_note_id):
            return "invoice-credited", {
                **_change_fields(invoice, state),
                "credit_note_id": credit_note_id,
            }
        case InvoiceOverdue(days_overdue=days):
            assert invoice.number is not None and invoice.due_date is not None
            return "invoice-overdue", {
                "invoice_id": invoice.invoice_id,
                "invoice_number": invoice.number,
                "order_id": invoice.order_id,
                "due_date": invoice.due_date,
                "days_overdue": days,
                "invoice": state,
            }


def _template(fact: NotificationRequested) -> str:
    if fact.reminder_level is not None:
        return "payment-reminder"
    if fact.invoice.type is InvoiceType.CREDIT_NOTE:
        return "credit-note-issued"
    return "invoice-issued"


def _notification_fields(fact: NotificationRequested) -> dict[str, Any]:
    """A credit note's tells its gross (`creditAmount`), and what is due and owed back on
    the invoice it credits. Each tells the invoice's seller, whom the message is from."""
    invoice = fact.invoice
    seller = invoice.seller
    currency = invoice.currency
    credit_note = invoice.type is InvoiceType.CREDIT_NOTE
    assert invoice.number is not None and invoice.due_date is not None
    return {
        "notification_id": stable_event_id(
            "notification", invoice.invoice_id, fact.channel, *fact.request
        ),
        "channel": fact.channel,
        "recipient": fact.recipient,
        "template": _template(fact),
        "invoice_id": invoice.invoice_id,
        "invoice_number": invoice.number,
        "order_id": invoice.order_id,
        "customer_name": invoice.customer.name,
        "amount_due": format_amount(fact.amount_due, currency),
        "credit_amount": format_amount(invoice.totals.gross_amount, currency)
        if credit_note
        else None,
        "refund_due": None if fact.refund_due is None else format_amount(fact.refund_due, currency),
        "currency": currency,
        "due_date": invoice.due_date,
        "reason": fact.reason,
        "reminder_level": fact.reminder_level,
        "seller_id": invoice.seller_id,
        "seller_name": None if seller is None else seller.name,
        "seller_email": None if seller is None else seller.email,
    }


def _change_fields(invoice: Invoice, state: InvoiceState) -> dict[str, Any]:
    return {
        "invoice_id": invoice.invoice_id,
        "order_id": invoice.order_id,
        "status": invoice.status.value,
        "version": invoice.version,
        "invoice": state,
    }
