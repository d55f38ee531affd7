"""seller-updated: a seller registered, or changed, for invoices closed afterwards."""

from __future__ import annotations

import structlog

from worker.decisions import Decision, Outcome, Record, View, cause_of
from worker.messages import SellerUpdatedEvent

log = structlog.get_logger(__name__)


def handle_seller_updated(view: View, record: Record, event: SellerUpdatedEvent) -> Decision:
    seller = event.data.registered()
    known = view.seller(seller.seller_id) is not None
    log.info(
        "seller changed" if known else "seller registered",
        action="seller",
        seller_id=seller.seller_id,
    )
    return Decision(Outcome.APPLIED, cause_of(event, record), event.type, seller=seller)
