"""The opaque `after` cursor of a list: base64url of the position where a page ended and
the filters of its list (a cursor is refused for a list with other filters). Not signed:
what a page shows never depends on it beyond where the page starts, as the reader's sellers
are applied to every page (worker/store/reads.py)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, ValidationError

from worker.api.problems import BadParameter
from worker.store.reads import InvoiceFilter, Position

PARAMETER = "after"
MAX_XID = 2**63
_XID = r"\d{1,19}"  # below MAX_XID; a longer number is more than int() reads from text
_SNAPSHOT = rf"^{_XID}:{_XID}:({_XID}(,{_XID})*)?$"  # pg_snapshot's text: xmin:xmax:xip,...
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class _Cursor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    snapshot: Annotated[str, StringConstraints(pattern=_SNAPSHOT)]
    created_at: AwareDatetime
    invoice_id: Annotated[str, StringConstraints(pattern=_UUID)]
    order_id: str | None
    customer_id: str | None
    status: str | None
    seller_id: str | None = None


def encode(position: Position, only: InvoiceFilter) -> str:
    cursor = _Cursor(
        snapshot=position.snapshot,
        created_at=position.created_at,
        invoice_id=position.invoice_id,
        order_id=only.order_id,
        customer_id=only.customer_id,
        status=only.status,
        seller_id=only.seller_id,
    )
    return base64.urlsafe_b64encode(cursor.model_dump_json().encode()).decode().rstrip("=")


def decode(text: str, only: InvoiceFilter) -> Position:
    """BadParameter when it is not a cursor this API made, or one of another list."""
    try:
        cursor = _Cursor.model_validate_json(
            base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        )
    except (ValueError, binascii.Error, ValidationError):
        raise BadParameter(PARAMETER, "not a cursor: pass the `next` of a page") from None
    if not _is_snapshot(cursor.snapshot) or not _is_instant(cursor.created_at):
        raise BadParameter(PARAMETER, "not a cursor: pass the `next` of a page")
    if (cursor.order_id, cursor.customer_id, cursor.status, cursor.seller_id) != (
        only.order_id,
        only.customer_id,
        only.status,
        only.seller_id,
    ):
        raise BadParameter(PARAMETER, "the cursor is of a list with other filters")
    return Position(cursor.snapshot, cursor.created_at, cursor.invoice_id)


def _is_snapshot(text: str) -> bool:
    """A snapshot PostgreSQL accepts: 0 < xmin <= xmax, in-progress ids ascending and
    between them (a cursor only this API made, but checked: it comes back from outside)."""
    xmin, xmax, in_progress = text.split(":")
    ids = [int(xid) for xid in in_progress.split(",") if xid]
    bounds_hold = 0 < int(xmin) <= int(xmax) < MAX_XID
    return bounds_hold and ids == sorted(set(ids)) and all(int(xmin) <= x < int(xmax) for x in ids)


def _is_instant(moment: datetime) -> bool:
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True
