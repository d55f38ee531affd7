"""An order as upstream systems describe it, and what a later message may change in it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from worker.domain.invoice import Adjustment, AdjustmentKey, AdjustmentKind, OrderRow
from worker.domain.parties import Customer, Purchase
from worker.domain.rules import RuleViolation

INVOICED_ROW_CHANGED = "row {row_id!r} is already invoiced and cannot change"
INVOICED_ORDER_CHANGED = "cannot change once rows of the order are invoiced"
KEPT_ADJUSTMENTS_CHANGED = (
    "cannot change while the order keeps charges or allowances this message does not restate"
)


@dataclass(frozen=True, slots=True)
class OrderDetails:
    """The order-level fields of an order-completed message."""

    order_code: str | None
    currency: str
    prices_include_tax: bool
    customer: Customer
    purchase: Purchase = field(default_factory=Purchase)
    delivery: str = "email"
    """How the customer hears of its invoices: "email", "sms" or "none"."""
    seller_id: str | None = None
    """Who issues its invoices: "default" is the configured seller; None: none."""
    payment_terms_days: int | None = None
    """The terms its last message stated (`invoicing.paymentTermsDays`), for its invoices
    made since, by it or by `create`; None: the seller's, else the configured ones."""


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    details: OrderDetails
    rows: Mapping[str, OrderRow] = field(default_factory=dict)
    held_row_ids: frozenset[str] = frozenset()
    """Rows on a live invoice (draft, open or paid): not free to invoice again."""
    adjustments: Mapping[AdjustmentKey, Adjustment] = field(default_factory=dict)
    """Its charges and allowances as recorded."""
    held_adjustments: frozenset[AdjustmentKey] = frozenset()
    """Charges and allowances on a live invoice: not free to go onto another."""

    def free_rows(self) -> list[OrderRow]:
        free = [row for row_id, row in self.rows.items() if row_id not in self.held_row_ids]
        return sorted(free, key=lambda row: row.position)

    def free_adjustments(self, own: Iterable[AdjustmentKey] = ()) -> list[Adjustment]:
        """The charges and allowances the order's next invoice takes (with those already on
        the draft being changed, whose keys are `own`)."""
        owned = set(own)
        return [
            adjustment
            for key, adjustment in self.adjustments.items()
            if key not in self.held_adjustments or key in owned
        ]

    def rows_to_invoice(
        self, row_ids: Sequence[str] | None, own: Iterable[str] = ()
    ) -> list[OrderRow]:
        """The rows an invoice may bill: all free ones by default, else the named ones,
        which must be free (or already on the draft being changed, whose rows are `own`)."""
        if row_ids is None:
            return self.free_rows()
        owned = set(own)
        for index, row_id in enumerate(row_ids):
            if row_id not in self.rows:
                raise RuleViolation(
                    f"rowIds.{index}", f"order {self.order_id!r} has no row {row_id!r}"
                )
            if row_id in self.held_row_ids and row_id not in owned:
                raise RuleViolation(f"rowIds.{index}", f"row {row_id!r} is already on an invoice")
        return [self.rows[row_id] for row_id in row_ids]

    def holding(
        self,
        released: Iterable[str],
        held: Iterable[str],
        released_adjustments: Iterable[AdjustmentKey] = (),
        held_adjustments: Iterable[AdjustmentKey] = (),
    ) -> Order:
        """The order once `released` rows (and adjustments) are free again and `held` ones
        are on an invoice."""
        return replace(
            self,
            held_row_ids=(self.held_row_ids - set(released)) | set(held),
            held_adjustments=(self.held_adjustments - set(released_adjustments))
            | set(held_adjustments),
        )


class OrderConflict(Exception):
    """A message conflicts with what is invoiced (it would change it, or return more than
    it billed); nothing of it may be applied."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """What applying a message changed: the order as it is now and the rows to store."""

    order: Order
    upserted_rows: list[OrderRow]


# What may not change on an invoiced row (values compare as numbers: "9" equals "9.00"),
# by attribute, with the name the contract gives it.
_INVOICED_ROW_FIELDS = {
    "sku": "sku",
    "name": "name",
    "quantity": "quantity",
    "unit_price": "unitPrice",
    "tax_rate": "taxRate",
    "discount_percent": "discountPercent",
    "treatment": "taxCategory",
}
_INVOICED_ADJUSTMENT_FIELDS = {
    "reason": "reason",
    "amount": "amount",
    "tax_rate": "taxRate",
    "treatment": "taxCategory",
    "reason_code": "reasonCode",
}
INVOICED_ADJUSTMENT_CHANGED = "{kind} {adjustment_id!r} is already invoiced and cannot change"
ADJUSTMENT_FIELDS = {AdjustmentKind.CHARGE: "charges", AdjustmentKind.ALLOWANCE: "allowances"}
"""Where an order message lists each kind."""


def apply_order_message(
    order: Order | None,
    order_id: str,
    details: OrderDetails,
    rows: Sequence[OrderRow],
    adjustments: Sequence[Adjustment] = (),
) -> OrderUpdate:
    """Records an order-completed message: rows, charges and allowances upserted by id, the
    ones missing from it kept as they are. ``rows`` carry their position in the message;
    positions within the order continue after the rows already known (adjustments' after
    those of their kind). Raises OrderConflict when the message would change an invoiced
    row, charge or allowance, or the currency or tax mode of a partly invoiced order.
    """
    if order is None:
        order = Order(order_id=order_id, details=details)
    errors: dict[str, list[str]] = {}
    restated = {adjustment.key for adjustment in adjustments}
    kept = any(key not in restated for key in order.adjustments)
    if order.held_row_ids or kept:
        # A kept charge or allowance is stated in the order's currency and tax mode.
        why = INVOICED_ORDER_CHANGED if order.held_row_ids else KEPT_ADJUSTMENTS_CHANGED
        if details.currency != order.details.currency:
            errors["currency"] = [why]
        if details.prices_include_tax != order.details.prices_include_tax:
            errors["pricesIncludeTax"] = [why]
    if order.held_row_ids and details.seller_id != order.details.seller_id:
        errors["sellerId"] = [INVOICED_ORDER_CHANGED]
    upserted: list[OrderRow] = []
    next_position = len(order.rows)
    for index, incoming in enumerate(rows):
        known = order.rows.get(incoming.row_id)
        if known is None:
            upserted.append(_at(incoming, next_position))
            next_position += 1
        elif incoming.row_id in order.held_row_ids:
            for name, contract_name in _INVOICED_ROW_FIELDS.items():
                if getattr(known, name) != getattr(incoming, name):
                    errors[f"rows.{index}.{contract_name}"] = [
                        INVOICED_ROW_CHANGED.format(row_id=incoming.row_id)
                    ]
        elif _differs(known, incoming):
            upserted.append(_at(incoming, known.position))
    recorded = _recorded_adjustments(order, adjustments, errors)
    if errors:
        raise OrderConflict(errors)
    merged = replace(
        order,
        details=details,
        rows={**order.rows, **{row.row_id: row for row in upserted}},
        adjustments=recorded,
    )
    return OrderUpdate(order=merged, upserted_rows=upserted)


def _recorded_adjustments(
    order: Order, incoming: Sequence[Adjustment], errors: dict[str, list[str]]
) -> dict[AdjustmentKey, Adjustment]:
    """The order's adjustments with the message's upserted; an error for each field that
    would change an invoiced one."""
    recorded = dict(order.adjustments)
    next_position = {
        kind: sum(1 for key in order.adjustments if key[0] is kind) for kind in AdjustmentKind
    }
    index_of = dict.fromkeys(AdjustmentKind, -1)
    for adjustment in incoming:
        index_of[adjustment.kind] += 1
        known = recorded.get(adjustment.key)
        if known is None:
            position = next_position[adjustment.kind]
            next_position[adjustment.kind] += 1
        elif adjustment.key in order.held_adjustments:
            for name, contract_name in _INVOICED_ADJUSTMENT_FIELDS.items():
                if getattr(known, name) != getattr(adjustment, name):
                    path = f"{ADJUSTMENT_FIELDS[adjustment.kind]}.{index_of[adjustment.kind]}"
                    errors[f"{path}.{contract_name}"] = [
                        INVOICED_ADJUSTMENT_CHANGED.format(
                            kind=adjustment.kind, adjustment_id=adjustment.adjustment_id
                        )
                    ]
            continue
        else:
            position = known.position
        recorded[adjustment.key] = replace(adjustment, position=position)
    return recorded


def _at(row: OrderRow, position: int) -> OrderRow:
    """The row at `position` in its order (a new order's rows usually are already)."""
    return row if row.position == position else replace(row, position=position)


def _differs(known: OrderRow, incoming: OrderRow) -> bool:
    return _at(incoming, known.position) != known
