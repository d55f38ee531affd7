"""order-completed: record the order, invoice its free rows, close and notify."""

from __future__ import annotations

import structlog

from worker.decisions import Decision, Outcome, Record, View, cause_of
from worker.domain.amounts import TaxTreatment, line_amount
from worker.domain.customer import address_for
from worker.domain.invoice import OrderRow, build_invoice_content, row_fields
from worker.domain.lifecycle import (
    Change,
    Invoice,
    InvoiceType,
    NotificationRequested,
    create_invoice,
)
from worker.domain.order import OrderConflict, OrderDetails, apply_order_message
from worker.handlers.rejections import dead_letter
from worker.messages import (
    OrderCompleted,
    OrderCompletedEvent,
    Rejection,
    RejectReason,
    stable_event_id,
)

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


def handle_order_completed(view: View, record: Record, event: OrderCompletedEvent) -> Decision:
    data = event.data
    errors = line_total_errors(data)
    if errors:
        return dead_letter(
            record,
            _rejection(
                event,
                RejectReason.VALIDATION,
                errors,
                "A stated lineTotal does not match its line amount.",
            ),
        )
    details = OrderDetails(
        data.order_code,
        data.currency,
        data.prices_include_tax,
        data.customer.customer(),
        data.purchase(),
    )
    rows = [
        OrderRow(
            row_id=row.row_id,
            position=index,
            **row_fields(row),
            treatment=TaxTreatment(
                row.category, row.tax_exemption_reason, row.tax_exemption_reason_code
            ),
        )
        for index, row in enumerate(data.rows)
    ]
    try:
        update = apply_order_message(view.order(data.order_id), data.order_id, details, rows)
    except OrderConflict as conflict:
        return dead_letter(
            record,
            _rejection(
                event,
                RejectReason.CONFLICT,
                conflict.errors,
                "The message would change what is already invoiced; nothing of it was applied.",
            ),
        )
    free_rows = update.order.free_rows()
    change = (
        Change(())
        if not free_rows
        else _invoice_free_rows(view, event, free_rows, update.order.details)
    )
    return Decision(
        Outcome.APPLIED,
        cause_of(event, record),
        event.type,
        order=update.order,
        saved_rows=tuple(update.upserted_rows),
        invoices=change.invoices,
        facts=change.facts,
    )


def _invoice_free_rows(
    view: View,
    event: OrderCompletedEvent,
    free_rows: list[OrderRow],
    details: OrderDetails,
) -> Change:
    data = event.data
    customer = details.customer
    invoicing = data.invoicing
    draft = Invoice(
        invoice_id=stable_event_id("invoice", event.source, event.id),
        order_id=data.order_id,
        type=InvoiceType.INVOICE,
        order_code=data.order_code,
        currency=data.currency,
        prices_include_tax=data.prices_include_tax,
        customer=customer,
        content=build_invoice_content(free_rows, data.currency, data.prices_include_tax),
        payment_terms_days=view.settings.payment_terms_days
        if invoicing.payment_terms_days is None
        else invoicing.payment_terms_days,
        note=invoicing.note,
        purchase=details.purchase,
        seller=view.settings.seller.as_seller(),
    )
    structlog.contextvars.bind_contextvars(invoice_id=draft.invoice_id)
    change = create_invoice(draft, close=invoicing.auto_close, reference=None)
    if not invoicing.auto_close or invoicing.delivery == "none":
        return change
    address = address_for(customer, invoicing.delivery)
    if address is None:
        log.info(
            "no address for the notification channel", action="notify", channel=invoicing.delivery
        )
        return change
    closed = change.invoice
    notification = NotificationRequested(
        closed, invoicing.delivery, address, "auto", (closed.invoice_id,)
    )
    return Change(change.invoices, (*change.facts, notification))
