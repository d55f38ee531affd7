"""Builders the tests share: order and command events as the worker reads them, an order row,
a closed invoice and a registered seller as the domain holds them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from worker.domain.invoice import Adjustment, OrderRow, build_invoice_content
from worker.domain.lifecycle import Invoice, InvoiceType, close_draft, number_invoice
from worker.domain.parties import Address, Customer, Seller
from worker.domain.sellers import RegisteredSeller

SOURCE = "/shop"
BACK_OFFICE = "/backoffice"
TAKEN_AT = datetime(2026, 11, 23, tzinfo=UTC)


def order(
    event_id: str, order_id: str, rows: Sequence[tuple[str, str, str]], **invoicing: Any
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": "order-completed",
        "time": "2026-11-23T10:00:00Z",
        "data": {
            "orderId": order_id,
            "currency": "EUR",
            "customer": {"name": "Ada", "email": "ada@example.com"},
            "rows": [
                {
                    "rowId": row_id,
                    "name": f"Item {row_id}",
                    "quantity": quantity,
                    "unitPrice": price,
                    "taxRate": "5",
                }
                for row_id, quantity, price in rows
            ],
            "invoicing": invoicing,
        },
    }


def command(event_id: str, action: str, source: str = BACK_OFFICE, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": "invoice-command",
        "time": "2026-11-23T11:00:00Z",
        "data": {"action": action, **data},
    }


def returned(
    event_id: str, order_id: str, return_id: str, rows: Sequence[tuple[str, str]], **data: Any
) -> dict[str, Any]:
    """An order-returned event: (rowId, quantity) of each row given back."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": "order-returned",
        "time": "2026-11-23T12:00:00Z",
        "data": {
            "orderId": order_id,
            "returnId": return_id,
            "rows": [{"rowId": row_id, "quantity": quantity} for row_id, quantity in rows],
            **data,
        },
    }


def order_row(row_id: str, position: int = 0, **changes: Any) -> OrderRow:
    row = OrderRow(
        row_id=row_id,
        position=position,
        sku=f"SKU-{row_id}",
        name=f"Item {row_id}",
        quantity=Decimal("1.50"),
        unit="kg",
        unit_price=Decimal("10.00"),
        discount_percent=Decimal("0"),
        tax_rate=Decimal("21"),
    )
    return dataclasses.replace(row, **changes)


def closed_invoice(
    rows: list[tuple[str, str, str]], currency: str = "EUR", prices_include_tax: bool = False
) -> Invoice:
    """An open invoice of (quantity, unit price, tax rate) rows."""
    order_rows = [
        OrderRow(f"r{n}", n, None, "Item", Decimal(q), None, Decimal(p), Decimal(0), Decimal(t))
        for n, (q, p, t) in enumerate(rows)
    ]
    return closed_invoice_of(order_rows, currency, prices_include_tax)


def closed_invoice_of(
    order_rows: Sequence[OrderRow],
    currency: str = "EUR",
    prices_include_tax: bool = False,
    adjustments: Sequence[Adjustment] = (),
) -> Invoice:
    """An open invoice of the rows, with the order's charges and allowances."""
    draft = Invoice(
        invoice_id="inv",
        order_id="o-1",
        type=InvoiceType.INVOICE,
        order_code=None,
        currency=currency,
        prices_include_tax=prices_include_tax,
        customer=Customer("A"),
        content=build_invoice_content(order_rows, currency, prices_include_tax, adjustments),
        payment_terms_days=14,
    )
    closed = close_draft(draft, reference=None, today=date(2026, 11, 23)).invoice
    return number_invoice(closed, "INV-2026-000001", TAKEN_AT, date(2026, 11, 23))


MERCHANT: dict[str, Any] = {
    "name": "Koffiebranderij B.V.",
    "vatId": "NL987654321B01",
    "address": {"line1": "Kade 3", "city": "Amsterdam", "postalCode": "1011 AB", "country": "NL"},
}
"""What a registered seller must state, but its id."""


def seller_updated(event_id: str, seller_id: str, **data: Any) -> dict[str, Any]:
    """A seller-updated event: MERCHANT registered as `seller_id`, `data` added or changed."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "/merchants",
        "type": "seller-updated",
        "data": {"sellerId": seller_id, **MERCHANT, **data},
    }


def registered_seller(seller_id: str, **changes: Any) -> RegisteredSeller:
    """A registered merchant (Koffie B.V., Amsterdam, invoices prefixed KB), `changes` to
    the registration; `language` is the seller's."""
    seller = Seller(
        "Koffie B.V.",
        "NL987654321B01",
        Address("Kade 3", None, "Amsterdam", "1011 AB", None, "NL"),
        language=changes.pop("language", None),
    )
    return RegisteredSeller(seller_id, seller, **({"invoice_number_prefix": "KB"} | changes))
