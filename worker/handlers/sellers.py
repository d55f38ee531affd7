"""seller-updated: a seller registered, or changed, for invoices closed afterwards."""

from __future__ import annotations

import structlog

from worker.decisions import Decision, Outcome, Record, View, cause_of
from worker.handlers.rejections import dead_letter, event_rejection
from worker.messages import RejectReason, SellerUpdatedEvent

log = structlog.get_logger(__name__)

MAX_PREFIXES = 100
"""The most prefixes a seller's invoices (or credit notes) have had, the present one too."""


def handle_seller_updated(view: View, record: Record, event: SellerUpdatedEvent) -> Decision:
    if record.topic != view.settings.topics.sellers:
        # Who may write orders or commands may not change a seller (its party, its IBAN).
        return dead_letter(
            record,
            event_rejection(
                event,
                RejectReason.UNKNOWN_TYPE,
                {"type": [f"seller-updated is taken only from {view.settings.topics.sellers}"]},
                "A seller is registered only by the sellers topic.",
            ),
        )
    if record.key != event.data.seller_id.encode():
        # The topic is compacted by its key: a seller's events must all bear its id.
        return dead_letter(
            record,
            event_rejection(
                event,
                RejectReason.VALIDATION,
                {"sellerId": ["must be the record's key (the sellers topic is compacted by it)"]},
                "A seller-updated record is keyed by its sellerId.",
            ),
        )
    before = view.seller(event.data.seller_id)
    seller = event.data.registered().after(before)
    if (shared := seller.shared_prefix(before)) is not None:
        # Each series continues under a changed prefix: one prefix of both would repeat
        # numbers (the database refuses the second, so it could never close).
        field = (
            "invoiceNumberPrefix"
            if shared == seller.invoice_number_prefix
            else "creditNoteNumberPrefix"
        )
        return dead_letter(
            record,
            event_rejection(
                event,
                RejectReason.VALIDATION,
                {
                    field: [
                        f"{shared!r} is a prefix of both the seller's invoices and its credit"
                        " notes (now or before): their series would repeat numbers"
                    ]
                },
                "A seller's invoices and credit notes never share a number prefix.",
            ),
        )
    for field, had in (
        ("invoiceNumberPrefix", seller.invoice_prefixes),
        ("creditNoteNumberPrefix", seller.credit_note_prefixes),
    ):
        if len(had) >= MAX_PREFIXES:
            # What a seller keeps is bounded: a seller's every batch loads it.
            return dead_letter(
                record,
                event_rejection(
                    event,
                    RejectReason.VALIDATION,
                    {field: [f"a seller's {field} may change at most {MAX_PREFIXES - 1} times"]},
                    "A seller's number prefixes change seldom.",
                ),
            )
    known = before is not None
    log.info(
        "seller changed" if known else "seller registered",
        action="seller",
        seller_id=seller.seller_id,
    )
    return Decision(Outcome.APPLIED, cause_of(event, record), event.type, seller=seller)
