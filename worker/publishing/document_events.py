"""What the renderer publishes: `invoice-documents-ready`, `invoice-documents-failed` and the
notifications that waited for the documents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from worker.decisions import Cause
from worker.domain.lifecycle import Invoice, InvoiceStatus, NotificationRequested
from worker.domain.money import format_amount
from worker.messages import stable_event_id
from worker.publishing.invoice_events import event_data, invoice_message
from worker.publishing.snapshots import documents_data
from worker.rows import OutboxMessage, RenderJob, StoredDocument, WaitingNotification
from worker.settings import Settings


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
        "documents": documents_data(invoice, documents),
        "unavailable": [{"kind": kind, "reason": reason} for kind, reason in unavailable],
    }
    event_id = stable_event_id(event_type, invoice.invoice_id)
    return invoice_message(settings, event_type, event_id, data, invoice, _job_cause(job), now)


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
    return invoice_message(settings, event_type, event_id, data, invoice, _job_cause(job), now)


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
    what was due (and for a credit note, owed back) when it was requested; with a `failure`,
    the documents failed for good and each carries why instead. An invoice voided before its
    documents were ready is not announced as issued."""
    if invoice.status is InvoiceStatus.VOID:
        return []
    stored = (
        {"documents_unavailable": failure}
        if failure is not None
        else {"documents": documents_data(invoice, documents)}
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
        event_type, data = event_data(fact)
        cause = Cause(
            None,
            None,
            notification.correlation_id,
            notification.event_time,
            traceparent=notification.traceparent,
        )
        told = {
            "amount_due": format_amount(notification.amount_due, invoice.currency),
            "refund_due": None
            if notification.refund_due is None
            else format_amount(notification.refund_due, invoice.currency),
        }
        messages.append(
            invoice_message(
                settings,
                event_type,
                data["notification_id"],
                {**data, **told, **stored},
                invoice,
                cause,
                now,
            )
        )
    return messages
