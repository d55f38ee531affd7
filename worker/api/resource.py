"""An invoice as the read API serves it, made from the stored invoice."""

from __future__ import annotations

from datetime import date

from worker.messages.outgoing import Document, InvoiceResource, document_path
from worker.publishing.snapshots import invoice_state
from worker.store.reads import StoredInvoice


def invoice_resource(stored: StoredInvoice, today: date) -> InvoiceResource:
    """The whole invoice as its change log last announced it, with its overdue flag and
    its documents."""
    invoice = stored.invoice
    return InvoiceResource(
        **dict(invoice_state(invoice)),
        overdue=invoice.is_overdue(today) and invoice.totals.amount_due > 0,
        documents=[
            Document(
                kind=document.kind,
                media_type=document.media_type,
                sha256=document.sha256,
                size=document.size,
                path=document_path(invoice.invoice_id, document.kind),
            )
            for document in stored.documents
        ],
    )
