"""The invoice builder: an invoice's lines and amounts from the order rows it bills."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any

from worker.domain.amounts import (
    InvoiceAmounts,
    PricedAdjustment,
    PricedLine,
    TaxTreatment,
    compute_amounts,
    default_tax_category,
)

ROW_FIELDS = ("sku", "name", "quantity", "unit", "unit_price", "discount_percent", "tax_rate")
"""What an order row states about its item, and its invoice line copies as it is: one list for
the message's row, the stored row, the invoice line and the stored line."""

_row_fields = attrgetter(*ROW_FIELDS)


def row_fields(row: Any) -> dict[str, Any]:
    """The ROW_FIELDS of anything that has them as attributes."""
    return dict(zip(ROW_FIELDS, _row_fields(row), strict=True))


def row_fields_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ROW_FIELDS of a stored row or line."""
    return {name: record[name] for name in ROW_FIELDS}


def _with_treatment(line: OrderRow | InvoiceLine | Adjustment) -> None:
    """A row, line or rated adjustment that states no VAT category has its rate's default:
    one value for one meaning, so a v1 row equals itself sent again."""
    if line.treatment is None and line.tax_rate is not None:
        object.__setattr__(line, "treatment", TaxTreatment(default_tax_category(line.tax_rate)))


class AdjustmentKind(StrEnum):
    """EN 16931's document-level allowances (BG-20) and charges (BG-21)."""

    ALLOWANCE = "allowance"
    CHARGE = "charge"


AdjustmentKey = tuple[AdjustmentKind, str]
"""A charge or allowance within its order: its kind and its id (chargeId or allowanceId)."""


@dataclass(frozen=True, slots=True)
class Adjustment:
    """An order-level allowance (a voucher) or charge (shipping, a fee), as recorded; on an
    invoice, as the invoice takes it (on a credit note, what the note credits of it)."""

    kind: AdjustmentKind
    adjustment_id: str
    reason: str
    amount: Decimal
    """Net, or gross when prices include tax."""
    tax_rate: Decimal | None = None
    """None: split over the invoice's tax groups."""
    treatment: TaxTreatment | None = None
    reason_code: str | None = None
    """UNCL5189 for an allowance, UNCL7161 for a charge."""
    position: int = 0
    """Order of first appearance among the order's adjustments of its kind."""

    def __post_init__(self) -> None:
        _with_treatment(self)

    @property
    def key(self) -> AdjustmentKey:
        return self.kind, self.adjustment_id

    @property
    def is_charge(self) -> bool:
        return self.kind is AdjustmentKind.CHARGE

    def priced(self) -> PricedAdjustment:
        return PricedAdjustment(self.is_charge, self.amount, self.tax_rate, self.treatment)


def adjustment_order(adjustment: Adjustment) -> tuple[bool, int]:
    """Allowances first, then charges, each in the order they first appeared."""
    return adjustment.is_charge, adjustment.position


@dataclass(frozen=True, slots=True)
class OrderRow:
    """A row of an order as recorded."""

    row_id: str
    position: int  # order of first appearance within the order (0-based, across messages)
    sku: str | None
    name: str
    quantity: Decimal
    unit: str | None
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal
    treatment: TaxTreatment | None = None

    def __post_init__(self) -> None:
        _with_treatment(self)


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    line_no: int  # 1..n
    order_row_id: str
    sku: str | None
    name: str
    quantity: Decimal
    unit: str | None
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal
    net_amount: Decimal
    gross_amount: Decimal | None
    treatment: TaxTreatment | None = None

    def __post_init__(self) -> None:
        _with_treatment(self)


@dataclass(frozen=True, slots=True)
class InvoiceContent:
    lines: tuple[InvoiceLine, ...]
    amounts: InvoiceAmounts
    adjustments: tuple[Adjustment, ...] = ()
    """Its charges and allowances, in the order of `amounts.adjustments`."""

    @property
    def adjustment_keys(self) -> tuple[AdjustmentKey, ...]:
        return tuple(adjustment.key for adjustment in self.adjustments)


def build_invoice_content(
    rows: Sequence[OrderRow],
    currency: str,
    prices_include_tax: bool,
    adjustments: Sequence[Adjustment] = (),
) -> InvoiceContent:
    """Lines numbered 1..n in the order the rows first appeared, with their amounts, and the
    order's free charges and allowances that the lines can take (one without a rate cannot
    when the line amounts sum to zero). Raises NegativeBase when a tax group's allowances
    exceed its lines and charges."""
    ordered = sorted(rows, key=attrgetter("position"))
    offered = sorted(adjustments, key=adjustment_order)
    amounts = compute_amounts(
        [
            PricedLine(
                row.quantity, row.unit_price, row.discount_percent, row.tax_rate, row.treatment
            )
            for row in ordered
        ],
        currency,
        prices_include_tax,
        [adjustment.priced() for adjustment in offered],
    )
    taken = [
        (adjustment, parts)
        for adjustment, parts in zip(offered, amounts.adjustments, strict=True)
        if parts.parts
    ]
    lines = tuple(
        InvoiceLine(
            line_no=line_no,
            order_row_id=row.row_id,
            **row_fields(row),
            net_amount=amount.net_amount,
            gross_amount=amount.gross_amount,
            treatment=row.treatment,
        )
        for line_no, (row, amount) in enumerate(zip(ordered, amounts.lines, strict=True), start=1)
    )
    return InvoiceContent(
        lines,
        replace(amounts, adjustments=tuple(parts for _, parts in taken)),
        tuple(adjustment for adjustment, _ in taken),
    )
