"""An invoice as the read API serves it, made from the stored invoice."""

from __future__ import annotations

from datetime import date

from worker.domain.amounts import Totals
from worker.events import invoice_fields
from worker.messages.outgoing import Document, InvoiceResource, Payment, PaymentStatus
from worker.store.reads import StoredInvoice


def invoice_resource(stored: StoredInvoice, today: date) -> InvoiceResource:
    invoice = stored.invoice
    totals = invoice.totals
    return InvoiceResource.model_validate(
        {
            **invoice_fields(invoice),
            "invoice_number": invoice.number,
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "closed_at": invoice.closed_at,
            "payments": payments(stored),
            "payment_status": payment_status(totals),
            "overdue": invoice.is_overdue(today) and totals.amount_due > 0,
            "documents": [
                Document(
                    kind=document.kind,
                    media_type=document.media_type,
                    sha256=document.sha256,
                    size=document.size,
                    path=document_path(invoice.invoice_id, document.kind),
                )
                for document in stored.documents
            ],
        }
    )


def payments(stored: StoredInvoice) -> list[Payment]:
    """The payments recorded on the invoice. The worker keeps only their sum (paidAmount)
    for now: none are listed until it keeps each payment."""
    return []


def payment_status(totals: Totals) -> PaymentStatus:
    if totals.amount_due == 0:
        return "paid"
    if totals.paid_amount > 0 or totals.credited_amount > 0:
        return "partially-paid"
    return "unpaid"


def document_path(invoice_id: str, kind: str) -> str:
    return f"/v1/invoices/{invoice_id}/{kind}"
