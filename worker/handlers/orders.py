"""order-completed: record the order, invoice its free rows, close and notify."""

from __future__ import annotations

import structlog

from worker.decisions import Decision, Outcome, Record, View, cause_of
from worker.domain.amounts import NegativeBase, TaxTreatment, line_amount
from worker.domain.invoice import OrderRow, build_invoice_content, row_fields
from worker.domain.lifecycle import Change, create_invoice
from worker.domain.order import Order, OrderConflict, OrderDetails, apply_order_message
from worker.handlers.drafts import UnknownSeller, issuing_seller, new_draft, notified
from worker.handlers.rejections import dead_letter, event_rejection
from worker.messages import OrderCompleted, OrderCompletedEvent, RejectReason, stable_event_id

log = structlog.get_logger(__name__)

LINE_TOTAL_MISMATCH = (
    "does not equal the line amount {amount} (quantity × unitPrice × (1 − discountPercent/100))"
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
            event_rejection(
                event,
                RejectReason.VALIDATION,
                errors,
                "A stated lineTotal does not match its line amount.",
            ),
        )
    try:
        seller_id = issuing_seller(view, data.seller_id)
    except UnknownSeller as unknown:
        return dead_letter(
            record,
            event_rejection(
                event,
                RejectReason.UNKNOWN_SELLER,
                {"sellerId": [str(unknown)]},
                "The order names a seller not registered (yet); sent again once a"
                " seller-updated registers it, it is invoiced.",
            ),
        )
    details = OrderDetails(
        data.order_code,
        data.currency,
        data.prices_include_tax,
        data.customer.customer(),
        data.purchase(),
        data.invoicing.delivery,
        seller_id,
        data.invoicing.payment_terms_days,
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
        update = apply_order_message(
            view.order(data.order_id), data.order_id, details, rows, data.adjustments()
        )
        free_rows = update.order.free_rows()
        change = (
            Change(())
            if not free_rows
            else _invoice_free_rows(view, event, free_rows, update.order)
        )
    except OrderConflict as conflict:
        return dead_letter(
            record,
            event_rejection(
                event,
                RejectReason.CONFLICT,
                conflict.errors,
                "The message would change what is already invoiced; nothing of it was applied.",
            ),
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
    view: View, event: OrderCompletedEvent, free_rows: list[OrderRow], order: Order
) -> Change:
    data = event.data
    invoicing = data.invoicing
    try:
        content = build_invoice_content(
            free_rows, data.currency, data.prices_include_tax, order.free_adjustments()
        )
    except NegativeBase as negative:
        raise OrderConflict({"allowances": [str(negative)]}) from None
    draft = new_draft(
        view,
        stable_event_id("invoice", event.source, event.id),
        order,
        content,
        None,
        note=invoicing.note,
    )
    structlog.contextvars.bind_contextvars(invoice_id=draft.invoice_id)
    change = create_invoice(draft, close=invoicing.auto_close, reference=None)
    if not invoicing.auto_close:
        return change
    return notified(change, invoicing.delivery)
