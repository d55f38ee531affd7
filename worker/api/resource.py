"""An invoice as the read API serves it, made from the stored invoice."""

from __future__ import annotations

from datetime import date

from worker.messages.outgoing import Document, InvoiceResource
from worker.publishing.snapshots import documents_data, invoice_state
from worker.store.reads import StoredInvoice


def invoice_resource(stored: StoredInvoice, today: date) -> InvoiceResource:
    """The whole invoice as its change log last announced it, with its overdue flag and
    its documents."""
    invoice = stored.invoice
    return InvoiceResource(
        **dict(invoice_state(invoice)),
        overdue=invoice.is_overdue(today),
        documents=[Document(**data) for data in documents_data(invoice, stored.documents)],
    )
