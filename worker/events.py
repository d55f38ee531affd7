"""The events the worker emits, made from the domain's invoices: one place that maps the
domain onto the contract (ids, amounts as strings, keys, topics)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from worker.domain.amounts import Totals
from worker.domain.lifecycle import Invoice
from worker.domain.money import format_amount, plain
from worker.messages import (
    BillingAddress,
    Customer,
    InvoiceClosed,
    InvoiceCommandResult,
    InvoiceCreated,
    InvoicePaid,
    InvoiceSnapshot,
    InvoiceVoided,
    NotificationRequested,
    Payment,
    event_bytes,
    stable_event_id,
)
from worker.messages import Totals as TotalsData
from worker.settings import Settings
from worker.store.outbox import OutboxMessage


@dataclass(frozen=True, slots=True)
class Cause:
    """The event being processed: what every event it causes carries along."""

    correlation_id: str
    time: datetime | None
    """When the causing event happened, for end-to-end latency."""


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
    return Customer.model_construct(**fields)


def _invoice_fields(invoice: Invoice) -> dict[str, object]:
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
            }
            for line in invoice.content.lines
        ],
        "tax_breakdown": [
            {
                "tax_rate": plain(group.tax_rate),
                "taxable_amount": format_amount(group.taxable_amount, currency),
                "tax_amount": format_amount(group.tax_amount, currency),
            }
            for group in invoice.content.amounts.tax_breakdown
        ],
        "totals": _totals_fields(invoice.totals, currency),
        "note": invoice.note,
        "version": invoice.version,
    }


def _message(
    settings: Settings,
    topic: str,
    event_type: str,
    event_id: str,
    data: BaseModel,
    invoice: Invoice,
    cause: Cause,
    now: datetime,
) -> OutboxMessage:
    return OutboxMessage(
        topic=topic,
        key=invoice.order_id.encode(),
        value=event_bytes(
            event_type=event_type,
            source=settings.event_source,
            event_id=event_id,
            data=data,
            correlation_id=cause.correlation_id,
            subject=invoice.invoice_id,
            time=now,
        ),
        event_time=cause.time,
    )


def invoice_created(
    settings: Settings, invoice: Invoice, cause: Cause, now: datetime
) -> OutboxMessage:
    return _message(
        settings,
        settings.topics.invoice_events,
        "invoice-created",
        stable_event_id("invoice-created", invoice.invoice_id),
        InvoiceCreated(**_invoice_fields(invoice)),
        invoice,
        cause,
        now,
    )


def invoice_closed(
    settings: Settings, invoice: Invoice, cause: Cause, now: datetime
) -> OutboxMessage:
    assert invoice.number is not None and invoice.issue_date is not None
    assert invoice.due_date is not None and invoice.closed_at is not None
    return _message(
        settings,
        settings.topics.invoices_closed,
        "invoice-closed",
        stable_event_id("invoice-closed", invoice.invoice_id),
        InvoiceClosed(
            **_invoice_fields(invoice),
            invoice_number=invoice.number,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            closed_at=invoice.closed_at,
        ),
        invoice,
        cause,
        now,
    )


def notification_requested(
    settings: Settings,
    invoice: Invoice,
    channel: str,
    recipient: str,
    reason: str,
    request_id: str,
    cause: Cause,
    now: datetime,
) -> OutboxMessage:
    """`request_id` tells requests for the same invoice and channel apart (the command id
    for a `send`, the invoice id for the automatic one)."""
    assert invoice.number is not None and invoice.due_date is not None
    notification_id = stable_event_id("notification", invoice.invoice_id, channel, request_id)
    return _message(
        settings,
        settings.topics.notifications_requested,
        "notification-requested",
        notification_id,
        NotificationRequested(
            notification_id=notification_id,
            channel=channel,
            recipient=recipient,
            invoice_id=invoice.invoice_id,
            invoice_number=invoice.number,
            order_id=invoice.order_id,
            customer_name=str(invoice.customer["name"]),
            amount_due=format_amount(invoice.totals.amount_due, invoice.currency),
            currency=invoice.currency,
            due_date=invoice.due_date,
            reason=reason,
        ),
        invoice,
        cause,
        now,
    )


def invoice_voided(
    settings: Settings, invoice: Invoice, reason: str, cause: Cause, now: datetime
) -> OutboxMessage:
    assert invoice.number is not None
    return _message(
        settings,
        settings.topics.invoice_events,
        "invoice-voided",
        stable_event_id("invoice-voided", invoice.invoice_id),
        InvoiceVoided(
            invoice_id=invoice.invoice_id,
            invoice_number=invoice.number,
            order_id=invoice.order_id,
            status=invoice.status.value,
            totals=totals_data(invoice.totals, invoice.currency),
            reason=reason,
        ),
        invoice,
        cause,
        now,
    )


def invoice_paid(
    settings: Settings, invoice: Invoice, payment: Payment | None, cause: Cause, now: datetime
) -> OutboxMessage:
    """`payment` is the one that settled it; None when credit notes did."""
    assert invoice.number is not None
    return _message(
        settings,
        settings.topics.invoice_events,
        "invoice-paid",
        stable_event_id("invoice-paid", invoice.invoice_id),
        InvoicePaid(
            invoice_id=invoice.invoice_id,
            invoice_number=invoice.number,
            order_id=invoice.order_id,
            status=invoice.status.value,
            totals=totals_data(invoice.totals, invoice.currency),
            payment=payment,
        ),
        invoice,
        cause,
        now,
    )


def invoice_snapshot(invoice: Invoice) -> InvoiceSnapshot:
    return InvoiceSnapshot(
        invoice_id=invoice.invoice_id,
        status=invoice.status.value,
        version=invoice.version,
        invoice_number=invoice.number,
        totals=totals_data(invoice.totals, invoice.currency),
    )


@dataclass(frozen=True, slots=True)
class CommandReply:
    """What a command's result says, before it is rendered at commit."""

    ok: bool
    invoice: Invoice | None
    warnings: tuple[str, ...] = ()
    errors: dict[str, list[str]] | None = None
    details: str | None = None


def command_result(
    settings: Settings,
    command_source: str,
    command_id: str,
    action: str | None,
    reply: CommandReply,
    key: bytes | None,
    cause: Cause,
    now: datetime,
) -> OutboxMessage:
    """Keyed by the invoice's order id, else by the command record's key."""
    return OutboxMessage(
        topic=settings.topics.command_results,
        key=reply.invoice.order_id.encode() if reply.invoice is not None else key,
        value=event_bytes(
            event_type="invoice-command-result",
            source=settings.event_source,
            event_id=stable_event_id("invoice-command-result", command_source, command_id),
            data=InvoiceCommandResult(
                command_id=command_id,
                action=action,
                ok=reply.ok,
                invoice=None if reply.invoice is None else invoice_snapshot(reply.invoice),
                warnings=reply.warnings,
                errors=reply.errors,
                details=reply.details,
            ),
            correlation_id=cause.correlation_id,
            subject=None if reply.invoice is None else reply.invoice.invoice_id,
            time=now,
        ),
        event_time=cause.time,
    )
