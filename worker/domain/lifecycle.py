"""An invoice's life: draft → open (closed, numbered) → paid | void; draft → deleted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from worker.domain.amounts import Totals, totals
from worker.domain.invoice import InvoiceContent
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


LIVE_STATUSES = frozenset({InvoiceStatus.DRAFT, InvoiceStatus.OPEN, InvoiceStatus.PAID})


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
    def totals(self) -> Totals:
        return totals(self.content.amounts, self.paid_amount, self.credited_amount, self.currency)


def close_invoice(invoice: Invoice, *, closed_at: datetime, issue_date: date) -> None:
    """Finalizes a draft. Its number comes from its series' counter, as late as possible
    in the closing transaction, so it is set by the caller afterwards."""
    if invoice.status is not InvoiceStatus.DRAFT:
        raise ValueError(f"only a draft can be closed, not an invoice that is {invoice.status}")
    invoice.status = InvoiceStatus.OPEN
    invoice.closed_at = closed_at
    invoice.issue_date = issue_date
    if invoice.due_date is None:
        invoice.due_date = due_date(issue_date, invoice.payment_terms_days)
