"""The records the worker emits, rendered from the facts decisions return: one place that
maps the domain onto the contract (ids, amounts as strings, keys, topics)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from worker.decisions import Cause, CommandResult, Record
from worker.domain.amounts import Totals
from worker.domain.lifecycle import (
    Invoice,
    InvoiceClosed,
    InvoiceCreated,
    InvoiceCredited,
    InvoiceDeleted,
    InvoiceFact,
    InvoiceOverdue,
    InvoicePaid,
    InvoiceStatus,
    InvoiceUpdated,
    InvoiceVoided,
    NotificationRequested,
    Payment,
    PaymentRecorded,
    PaymentRefunded,
)
from worker.domain.money import format_amount, plain
from worker.messages import (
    BillingAddress,
    Customer,
    ElectronicAddress,
    InvoiceSnapshot,
    InvoiceState,
    Rejection,
    SellerData,
    TotalsData,
    event_bytes,
    stable_event_id,
)
from worker.messages.binding import EVENT_HEADERS
from worker.messages.dead_letter import (
    ERROR,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_TOPIC,
    REASON,
)
from worker.messages.error_report import bounded_report
from worker.messages.outgoing import document_path
from worker.messages.routing import OUTGOING, topic_for
from worker.rows import Headers, OutboxMessage, RenderJob, StoredDocument, WaitingNotification
from worker.settings import Settings
from worker.tracing import TRACEPARENT


def _totals_fields(totals: Totals, currency: str) -> dict[str, str]:
    return {
        "net_amount": format_amount(totals.net_amount, currency),
        "tax_amount": format_amount(totals.tax_amount, currency),
        "gross_amount": format_amount(totals.gross_amount, currency),
        "paid_amount": format_amount(totals.paid_amount, currency),
        "credited_amount": format_amount(totals.credited_amount, currency),
        "amount_due": format_amount(totals.amount_due, currency),
    }


def totals_data(totals: Totals, currency: str) -> TotalsData:
    return TotalsData(**_totals_fields(totals, currency))


def _customer(customer: Mapping[str, Any]) -> Customer:
    """The stored customer as the contract's model, without validating it again: it was
    validated when its message came in, and e-mail validation (in Python) would otherwise
    be the costliest step of making an invoice's events."""
    fields = dict(customer)
    address = fields.get("billingAddress")
    if isinstance(address, Mapping):
        fields["billingAddress"] = BillingAddress.model_construct(**address)
    electronic = fields.get("electronicAddress")
    if isinstance(electronic, Mapping):
        fields["electronicAddress"] = ElectronicAddress.model_construct(**electronic)
    return Customer.model_construct(**fields)


def invoice_fields(invoice: Invoice) -> dict[str, object]:
    currency = invoice.currency
    return {
        "invoice_id": invoice.invoice_id,
        "type": invoice.type.value,
        "reference_invoice_id": invoice.reference_invoice_id,
        "order_id": invoice.order_id,
        "order_code": invoice.order_code,
        "status": invoice.status.value,
        "currency": currency,
        "prices_include_tax": invoice.prices_include_tax,
        "customer": _customer(invoice.customer),
        # Plain dicts: the event's model validates them in one call, in pydantic's core.
        "lines": [
            {
                "line_no": line.line_no,
                "order_row_id": line.order_row_id,
                "sku": line.sku,
                "name": line.name,
                "quantity": plain(line.quantity),
                "unit": line.unit,
                "unit_price": plain(line.unit_price),
                "discount_percent": plain(line.discount_percent),
                "tax_rate": plain(line.tax_rate),
                "net_amount": format_amount(line.net_amount, currency),
                "gross_amount": None
                if line.gross_amount is None
                else format_amount(line.gross_amount, currency),
                "tax_category": None if line.treatment is None else line.treatment.category,
            }
            for line in invoice.content.lines
        ],
        "tax_breakdown": [
            {
                "tax_rate": plain(group.tax_rate),
                "taxable_amount": format_amount(group.taxable_amount, currency),
                "tax_amount": format_amount(group.tax_amount, currency),
                "tax_category": group.treatment.category,
                "tax_exemption_reason": group.treatment.exemption_reason,
                "tax_exemption_reason_code": group.treatment.exemption_reason_code,
            }
            for group in invoice.content.amounts.tax_breakdown
        ],
        "totals": _totals_fields(invoice.totals, currency),
        "note": invoice.note,
        "version": invoice.version,
        **_purchase_fields(invoice),
    }


def _purchase_fields(invoice: Invoice) -> dict[str, Any]:
    """What the buyer stated about the purchase, and the seller, where there are some."""
    purchase = invoice.purchase
    address = purchase.get("deliveryAddress")
    return {
        "buyer_reference": purchase.get("buyerReference"),
        "purchase_order_reference": purchase.get("purchaseOrderReference"),
        "delivery_date": purchase.get("deliveryDate"),
        "delivery_address": None if address is None else BillingAddress.model_construct(**address),
        "seller": None if invoice.seller is None else SellerData.model_validate(invoice.seller),
    }


def event_headers(cause: Cause) -> Headers:
    """The CloudEvents binding's content type, and the W3C trace context of the cause."""
    if cause.traceparent is None:
        return EVENT_HEADERS
    return (*EVENT_HEADERS, (TRACEPARENT, cause.traceparent.encode()))


def _message(
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
    event_type, data = _event_data(fact)
    if isinstance(fact, NotificationRequested):
        event_id = data["notification_id"]
    elif isinstance(fact, InvoiceOverdue):
        event_id = stable_event_id(event_type, invoice.invoice_id)
    else:
        event_id = stable_event_id(event_type, invoice.invoice_id, str(invoice.version))
    return _message(settings, event_type, event_id, data, invoice, cause, now)


def invoice_state(invoice: Invoice, fields: Mapping[str, object] | None = None) -> InvoiceState:
    """The whole invoice, as every change-log event carries it; `fields` are its
    `invoice_fields` when the caller made them already."""
    return InvoiceState(
        **(invoice_fields(invoice) if fields is None else fields),
        invoice_number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        closed_at=invoice.closed_at,
        payments=[_payment_fields(payment, invoice.currency) for payment in invoice.payments],
        payment_status=invoice.payment_status.value,
    )


def _payment_fields(payment: Payment, currency: str) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "amount": format_amount(payment.amount, currency),
        "paid_at": payment.paid_at,
        "method": payment.method,
        "reference": payment.reference,
        "refunded_amount": format_amount(payment.refunded_amount, currency),
    }


def _event_data(fact: InvoiceFact) -> tuple[str, dict[str, Any]]:
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
                **_summary_fields(invoice),
                "reason": reason,
                "invoice": state,
            }
        case InvoicePaid(payment=payment):
            return "invoice-paid", {
                **_summary_fields(invoice),
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
                "payment": _payment_fields(payment, invoice.currency),
            }
        case PaymentRefunded(payment_id=payment_id, amount=amount, reason=reason):
            return "invoice-payment-refunded", {
                **_change_fields(invoice, state),
                "refund": {
                    "payment_id": payment_id,
                    "amount": format_amount(amount, invoice.currency),
                    "reason": reason,
                },
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


def _notification_fields(fact: NotificationRequested) -> dict[str, Any]:
    invoice = fact.invoice
    assert invoice.number is not None and invoice.due_date is not None
    return {
        "notification_id": stable_event_id(
            "notification", invoice.invoice_id, fact.channel, *fact.request
        ),
        "channel": fact.channel,
        "recipient": fact.recipient,
        "template": "invoice-issued" if fact.reminder_level is None else "payment-reminder",
        "invoice_id": invoice.invoice_id,
        "invoice_number": invoice.number,
        "order_id": invoice.order_id,
        "customer_name": str(invoice.customer["name"]),
        "amount_due": format_amount(invoice.totals.amount_due, invoice.currency),
        "currency": invoice.currency,
        "due_date": invoice.due_date,
        "reason": fact.reason,
        "reminder_level": fact.reminder_level,
    }


def _change_fields(invoice: Invoice, state: InvoiceState) -> dict[str, Any]:
    return {
        "invoice_id": invoice.invoice_id,
        "order_id": invoice.order_id,
        "status": invoice.status.value,
        "version": invoice.version,
        "invoice": state,
    }


def documents_ready(
    settings: Settings,
    invoice: Invoice,
    documents: Sequence[StoredDocument],
    unavailable: Sequence[tuple[str, str]],
    job: RenderJob,
    now: datetime,
) -> OutboxMessage:
    """`invoice-documents-ready`: the documents just stored, and those that cannot be made."""
    assert invoice.number is not None
    event_type = "invoice-documents-ready"
    data = {
        "invoice_id": invoice.invoice_id,
        "invoice_number": invoice.number,
        "order_id": invoice.order_id,
        "documents": _documents_data(invoice, documents),
        "unavailable": [{"kind": kind, "reason": reason} for kind, reason in unavailable],
    }
    event_id = stable_event_id(event_type, invoice.invoice_id)
    return _message(settings, event_type, event_id, data, invoice, _job_cause(job), now)


def documents_failed(
    settings: Settings, invoice: Invoice, reason: str, job: RenderJob, now: datetime
) -> OutboxMessage:
    """`invoice-documents-failed`: the job's last attempt of its round failed. Once per
    round: a round after a request to render again that fails too is announced again."""
    assert invoice.number is not None
    event_type = "invoice-documents-failed"
    data = {
        "invoice_id": invoice.invoice_id,
        "invoice_number": invoice.number,
        "order_id": invoice.order_id,
        "reason": reason,
        "attempts": job.attempts,
    }
    event_id = stable_event_id(event_type, invoice.invoice_id, str(job.retried))
    return _message(settings, event_type, event_id, data, invoice, _job_cause(job), now)


def _job_cause(job: RenderJob) -> Cause:
    """The documents' events go on in the close's correlation and trace."""
    return Cause(None, None, job.correlation_id, job.event_time, traceparent=job.traceparent)


def notifications_with_documents(
    settings: Settings,
    invoice: Invoice,
    documents: Sequence[StoredDocument],
    waiting: Sequence[WaitingNotification],
    now: datetime,
    failure: str | None = None,
) -> list[OutboxMessage]:
    """The notifications that waited for the invoice's documents, carrying them, each telling
    what was due when it was requested; with a `failure`, the documents failed for good and
    each carries why instead. An invoice voided before its documents were ready is not
    announced as issued."""
    if invoice.status is InvoiceStatus.VOID:
        return []
    stored = (
        {"documents_unavailable": failure}
        if failure is not None
        else {"documents": _documents_data(invoice, documents)}
    )
    messages = []
    for notification in waiting:
        fact = NotificationRequested(
            invoice,
            notification.channel,
            notification.recipient,
            notification.reason,
            notification.request,
        )
        event_type, data = _event_data(fact)
        cause = Cause(
            None,
            None,
            notification.correlation_id,
            notification.event_time,
            traceparent=notification.traceparent,
        )
        amount_due = format_amount(notification.amount_due, invoice.currency)
        messages.append(
            _message(
                settings,
                event_type,
                data["notification_id"],
                {**data, "amount_due": amount_due, **stored},
                invoice,
                cause,
                now,
            )
        )
    return messages


def _documents_data(invoice: Invoice, documents: Sequence[StoredDocument]) -> list[dict[str, Any]]:
    return [
        {
            "kind": document.kind,
            "media_type": document.media_type,
            "sha256": document.sha256,
            "size": document.size,
            "path": document_path(invoice.invoice_id, document.kind),
        }
        for document in documents
    ]


def _summary_fields(invoice: Invoice) -> dict[str, Any]:
    assert invoice.number is not None
    return {
        "invoice_id": invoice.invoice_id,
        "invoice_number": invoice.number,
        "order_id": invoice.order_id,
        "status": invoice.status.value,
        "totals": totals_data(invoice.totals, invoice.currency),
    }


def invoice_snapshot(invoice: Invoice) -> InvoiceSnapshot:
    return InvoiceSnapshot(
        invoice_id=invoice.invoice_id,
        status=invoice.status.value,
        version=invoice.version,
        invoice_number=invoice.number,
        totals=totals_data(invoice.totals, invoice.currency),
    )


def command_result(
    settings: Settings, result: CommandResult, cause: Cause, now: datetime
) -> OutboxMessage:
    """Keyed by the invoice's order id, else by the command record's key."""
    assert cause.source is not None and cause.event_id is not None
    invoice = result.invoice
    event_type = "invoice-command-result"
    return OutboxMessage(
        topic=topic_for(settings.topics, event_type),
        key=invoice.order_id.encode() if invoice is not None else cause.record_key,
        value=event_bytes(
            event_type=event_type,
            source=settings.event_source,
            event_id=stable_event_id(event_type, cause.source, cause.event_id),
            data=OUTGOING[event_type].model(
                command_id=cause.event_id,
                action=result.action,
                ok=result.ok,
                invoice=None if invoice is None else invoice_snapshot(invoice),
                warnings=result.warnings,
                **_bounded_errors(result),
            ),
            correlation_id=cause.correlation_id,
            subject=None if invoice is None else invoice.invoice_id,
            time=now,
            traceparent=cause.traceparent,
        ),
        headers=event_headers(cause),
        event_time=cause.time,
    )


def _bounded_errors(result: CommandResult) -> dict[str, Any]:
    """A failed command's errors and details as every report bounds them."""
    if result.errors is None:
        return {"errors": None, "details": result.details}
    errors, details = bounded_report(result.errors, result.details or "")
    return {"errors": errors, "details": details}


def dead_letter(settings: Settings, record: Record, rejection: Rejection) -> OutboxMessage:
    """The record unchanged, with why it was rejected and where it came from. A header name
    that was not UTF-8 on the broker (Kafka's names are strings) cannot be sent as it was:
    its bytes that are not UTF-8 become U+FFFD, as Kafka's own Java client reads them."""
    return OutboxMessage(
        topic=settings.topics.dead_letter,
        key=record.key,
        value=record.value,
        headers=(
            *((_sendable(name), value) for name, value in record.headers),
            (REASON, rejection.reason.value.encode()),
            (ERROR, rejection.header_value()),
            (ORIGINAL_TOPIC, record.topic.encode()),
            (ORIGINAL_PARTITION, str(record.partition).encode()),
            (ORIGINAL_OFFSET, str(record.offset).encode()),
        ),
    )


def _sendable(header_name: str) -> str:
    return _SURROGATE.sub("\ufffd", header_name)


_SURROGATE = re.compile("[\ud800-\udfff]")
