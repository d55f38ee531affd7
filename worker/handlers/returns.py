"""order-returned: credit the returned quantities at once, one credit note per invoice that
billed them, or dead-letter the whole return as a conflict."""

from __future__ import annotations

import structlog

from worker.decisions import Decision, Outcome, Record, View, cause_of
from worker.domain.credit_notes import credit_note_content, lines_by_quantity, live_credit_notes
from worker.domain.lifecycle import Change, create_invoice
from worker.domain.order import OrderConflict
from worker.domain.returns import ReturnCredit, already_returned, return_credits
from worker.handlers.drafts import new_draft, notified
from worker.handlers.rejections import dead_letter, event_rejection
from worker.messages import OrderReturnedEvent, RejectReason, stable_event_id

log = structlog.get_logger(__name__)


def handle_order_returned(view: View, record: Record, event: OrderReturnedEvent) -> Decision:
    data = event.data
    cause = cause_of(event, record)
    invoices = view.in_number_order(view.invoices_of(data.order_id))
    if already_returned(invoices, data.return_id):
        log.info("return applied before: nothing changed", action="return")
        return Decision(Outcome.APPLIED, cause, event.type)
    try:
        credits = return_credits(
            invoices,
            [(row.row_id, row.quantity) for row in data.rows],
            data.charges or (),
        )
    except OrderConflict as conflict:
        return dead_letter(
            record,
            event_rejection(
                event,
                RejectReason.CONFLICT,
                conflict.errors,
                "The return does not match what the order's invoices have left to credit"
                " (see errors); nothing of it was applied. One that came before its invoice"
                " may be replayed once the invoice is closed.",
            ),
        )
    change = Change(())
    for credit in credits:
        change = change.then(_credit_note(view, event, credit))
    log.info("return credited", action="return", credit_notes=len(credits))
    return Decision(
        Outcome.APPLIED, cause, event.type, invoices=change.invoices, facts=change.facts
    )


def _credit_note(view: View, event: OrderReturnedEvent, credit: ReturnCredit) -> Change:
    """A credit note of the reference's returned quantities, closed at once and sent as the
    order's invoices are: the same credit by quantity as a `create` with `lines`."""
    reference = credit.reference
    order = view.order(reference.order_id)
    assert order is not None  # an order with invoices is known
    notes = live_credit_notes(reference, view.invoices_of(order.order_id))
    content = credit_note_content(
        reference, notes, lines_by_quantity(reference, notes, credit.lines), credit.charges
    )
    draft = new_draft(
        view,
        stable_event_id("credit-note", event.source, event.id, reference.invoice_id),
        order,
        content,
        reference,
        note=event.data.reason,
        return_id=event.data.return_id,
    )
    change = create_invoice(draft, close=True, reference=reference)
    return notified(change, order.details.delivery)
