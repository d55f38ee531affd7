"""The invoice builder: an invoice's lines and amounts from the order rows it bills."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter
from typing import Any

from worker.domain.amounts import (
    InvoiceAmounts,
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


def _with_treatment(line: OrderRow | InvoiceLine) -> None:
    """A row or line that states no VAT category has its rate's default: one value for one
    meaning, so a v1 row equals itself sent again."""
    if line.treatment is None:
        object.__setattr__(line, "treatment", TaxTreatment(default_tax_category(line.tax_rate)))


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


def build_invoice_content(
    rows: Sequence[OrderRow], currency: str, prices_include_tax: bool
) -> InvoiceContent:
    """Lines numbered 1..n in the order the rows first appeared, with their amounts."""
    ordered = sorted(rows, key=attrgetter("position"))
    amounts = compute_amounts(
        [
            PricedLine(
                row.quantity, row.unit_price, row.discount_percent, row.tax_rate, row.treatment
            )
            for row in ordered
        ],
        currency,
        prices_include_tax,
    )
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
    return InvoiceContent(lines, amounts)
