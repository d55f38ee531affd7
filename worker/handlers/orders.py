"""order-completed: record the order, invoice its free rows, close and notify."""

from __future__ import annotations

from typing import Any

import structlog

from worker import events
from worker.domain.amounts import line_amount
from worker.domain.invoice import OrderRow, build_invoice_content
from worker.domain.lifecycle import Invoice, InvoiceType, close_invoice
from worker.domain.order import OrderConflict, OrderDetails, apply_order_message
from worker.handlers.dead_letters import dead_letter
from worker.messages import (
    OrderCompleted,
    OrderCompletedEvent,
    Rejection,
    RejectReason,
    stable_event_id,
)
from worker.unit_of_work import Outcome, Record, UnitOfWork

log = structlog.get_logger(__name__)

LINE_TOTAL_MISMATCH = (
    "does not equal the line amount {amount} (quantity × unitPrice × (1 − discountPercent/100))"
)


def _rejection(
    event: OrderCompletedEvent, reason: RejectReason, errors: dict[str, list[str]], details: str
) -> Rejection:
    return Rejection(
        reason=reason,
        errors=errors,
        details=details,
        event_id=event.id,
        source=event.source,
        event_type=event.type,
        correlation_id=event.correlation_id,
        action=None,
    )


def line_total_errors(data: OrderCompleted) -> dict[str, list[str]]:
    """A stated lineTotal must equal, as a number, the line amount the contract computes."""
    errors: dict[str, list[str]] = {}
    for index, row in enumerate(data.rows):
        if row.line_total is None:
            continue
        amount = line_amount(row.quantity, row.unit_price, row.discount_percent, data.currency)
        if row.line_total != amount:
            errors[f"rows.{index}.lineTotal"] = [LINE_TOTAL_MISMATCH.format(amount=amount)]
    return errors


def _recipient(delivery: str, customer: dict[str, Any]) -> tuple[str, str] | None:
    """(channel, address) for an automatic notification, or None when there is none."""
    address = {"email": customer.get("email"), "sms": customer.get("phone")}.get(delivery)
    return (delivery, address) if address else None


def handle_order_completed(work: UnitOfWork, record: Record, event: OrderCompletedEvent) -> Outcome:
    data = event.data
    errors = line_total_errors(data)
    if errors:
        return dead_letter(
            work,
            record,
            _rejection(
                event,
                RejectReason.VALIDATION,
                errors,
                "A stated lineTotal does not match its line amount.",
            ),
        )
    customer = data.customer.model_dump(mode="json", by_alias=True, exclude_none=True)
    details = OrderDetails(data.order_code, data.currency, data.prices_include_tax, customer)
    rows = [
        OrderRow(
            row_id=row.row_id,
            position=index,
            sku=row.sku,
            name=row.name,
            quantity=row.quantity,
            unit=row.unit,
            unit_price=row.unit_price,
            discount_percent=row.discount_percent,
            tax_rate=row.tax_rate,
        )
        for index, row in enumerate(data.rows)
    ]
    try:
        update = apply_order_message(work.orders.get(data.order_id), data.order_id, details, rows)
    except OrderConflict as conflict:
        return dead_letter(
            work,
            record,
            _rejection(
                event,
                RejectReason.CONFLICT,
                conflict.errors,
                "The message would change what is already invoiced; nothing of it was applied.",
            ),
        )
    work.save_order(update.order, update.upserted_rows)
    free_rows = update.order.free_rows()
    if free_rows:
        _invoice_free_rows(work, event, free_rows, customer)
    work.record((event.source, event.id), event.type, Outcome.APPLIED)
    return Outcome.APPLIED


def _invoice_free_rows(
    work: UnitOfWork,
    event: OrderCompletedEvent,
    free_rows: list[OrderRow],
    customer: dict[str, Any],
) -> None:
    data = event.data
    invoicing = data.invoicing
    settings = work.settings
    invoice = Invoice(
        invoice_id=stable_event_id("invoice", event.source, event.id),
        order_id=data.order_id,
        type=InvoiceType.INVOICE,
        order_code=data.order_code,
        currency=data.currency,
        prices_include_tax=data.prices_include_tax,
        customer=customer,
        content=build_invoice_content(free_rows, data.currency, data.prices_include_tax),
        payment_terms_days=settings.payment_terms_days
        if invoicing.payment_terms_days is None
        else invoicing.payment_terms_days,
        note=invoicing.note,
    )
    work.add_invoice(invoice)
    cause = events.Cause(event.correlation, event.time)
    now = work.now
    structlog.contextvars.bind_contextvars(invoiceId=invoice.invoice_id)
    if not invoicing.auto_close:
        work.emit(lambda: events.invoice_created(settings, invoice, cause, now))
        return
    close_invoice(invoice, closed_at=now, issue_date=now.astimezone(work.timezone).date())
    work.number_on_commit(invoice)
    work.emit(lambda: events.invoice_closed(settings, invoice, cause, now))
    recipient = _recipient(invoicing.delivery, customer)
    if recipient is None:
        if invoicing.delivery != "none":
            log.info(
                "no address for the notification channel",
                action="notify",
                channel=invoicing.delivery,
            )
        return
    channel, address = recipient
    work.emit(
        lambda: events.notification_requested(
            settings, invoice, channel, address, "auto", invoice.invoice_id, cause, now
        )
    )
