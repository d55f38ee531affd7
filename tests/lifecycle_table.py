"""The invoice lifecycle as the contract states it: the expectation both the domain's
unit tests and the commands' integration tests check against."""

from __future__ import annotations

from worker.domain.lifecycle import Action, InvoiceStatus

S, A = InvoiceStatus, Action

# Every (status, action) pair on an existing invoice: None = allowed, else the refusal.
LIFECYCLE = {
    (S.DRAFT, A.UPDATE): None,
    (S.DRAFT, A.DELETE): None,
    (S.DRAFT, A.CLOSE): None,
    (S.DRAFT, A.SEND): "a draft cannot be sent; close it first",
    (S.DRAFT, A.VOID): "a draft cannot be voided; delete it instead",
    (S.DRAFT, A.RECORD_PAYMENT): "a draft cannot be paid; close it first",
    (S.DRAFT, A.REFUND_PAYMENT): "a draft has no payments",
    (S.OPEN, A.UPDATE): "only drafts can be changed; void it or issue a credit note",
    (S.OPEN, A.DELETE): "published invoices cannot be deleted",
    (S.OPEN, A.CLOSE): "the invoice is already closed",
    (S.OPEN, A.SEND): None,
    (S.OPEN, A.VOID): None,
    (S.OPEN, A.RECORD_PAYMENT): None,
    (S.OPEN, A.REFUND_PAYMENT): None,
    (S.PAID, A.UPDATE): "only drafts can be changed; issue a credit note",
    (S.PAID, A.DELETE): "published invoices cannot be deleted",
    (S.PAID, A.CLOSE): "the invoice is already closed",
    (S.PAID, A.SEND): None,
    (S.PAID, A.VOID): "a paid invoice cannot be voided; issue a credit note",
    (S.PAID, A.RECORD_PAYMENT): "the invoice is already paid",
    (S.PAID, A.REFUND_PAYMENT): None,
    (S.VOID, A.UPDATE): "not allowed on an invoice that is void",
    (S.VOID, A.DELETE): "published invoices cannot be deleted",
    (S.VOID, A.CLOSE): "not allowed on an invoice that is void",
    (S.VOID, A.SEND): "not allowed on an invoice that is void",
    (S.VOID, A.VOID): "not allowed on an invoice that is void",
    (S.VOID, A.RECORD_PAYMENT): "not allowed on an invoice that is void",
    (S.VOID, A.REFUND_PAYMENT): "not allowed on an invoice that is void",
    (S.DELETED, A.UPDATE): "not allowed on an invoice that is deleted",
    (S.DELETED, A.DELETE): "not allowed on an invoice that is deleted",
    (S.DELETED, A.CLOSE): "not allowed on an invoice that is deleted",
    (S.DELETED, A.SEND): "not allowed on an invoice that is deleted",
    (S.DELETED, A.VOID): "not allowed on an invoice that is deleted",
    (S.DELETED, A.RECORD_PAYMENT): "not allowed on an invoice that is deleted",
    (S.DELETED, A.REFUND_PAYMENT): "not allowed on an invoice that is deleted",
}
