"""What a later order-completed message may change (docs/contract.md, "order-completed")."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from tests.builders import order_row
from worker.domain.invoice import OrderRow
from worker.domain.order import Order, OrderConflict, OrderDetails, apply_order_message
from worker.domain.parties import Customer

DETAILS = OrderDetails(
    order_code=None, currency="EUR", prices_include_tax=False, customer=Customer("A")
)


def invoiced_order(*rows: OrderRow) -> Order:
    return Order(
        order_id="O-1",
        details=DETAILS,
        rows={row.row_id: row for row in rows},
        held_row_ids={row.row_id for row in rows},
    )


def test_a_new_order_records_its_rows_in_message_order() -> None:
    update = apply_order_message(None, "O-1", DETAILS, [order_row("b", 0), order_row("a", 1)])
    assert [(row.row_id, row.position) for row in update.order.free_rows()] == [("b", 0), ("a", 1)]


def test_new_rows_of_a_later_message_are_placed_after_the_known_ones() -> None:
    order = invoiced_order(order_row("a", 0), order_row("b", 1))
    update = apply_order_message(order, "O-1", DETAILS, [order_row("c", 0), order_row("a", 1)])
    assert [(row.row_id, row.position) for row in update.upserted_rows] == [("c", 2)]
    assert [row.row_id for row in update.order.free_rows()] == ["c"]


def test_rows_missing_from_a_later_message_stay_as_they_are() -> None:
    first = apply_order_message(None, "O-1", DETAILS, [order_row("a"), order_row("b", 1)])
    later = apply_order_message(first.order, "O-1", DETAILS, [order_row("b")])
    assert set(later.order.rows) == {"a", "b"}


def test_a_row_not_yet_invoiced_may_change() -> None:
    first = apply_order_message(None, "O-1", DETAILS, [order_row("a")])
    later = apply_order_message(first.order, "O-1", DETAILS, [order_row("a", quantity=Decimal(3))])
    assert later.order.rows["a"].quantity == Decimal(3)
    assert later.upserted_rows == [order_row("a", quantity=Decimal(3))]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sku": "OTHER"}, "sku"),
        ({"sku": None}, "sku"),
        ({"name": "Other name"}, "name"),
        ({"quantity": Decimal("2")}, "quantity"),
        ({"unit_price": Decimal("10.01")}, "unitPrice"),
        ({"tax_rate": Decimal("9")}, "taxRate"),
        ({"discount_percent": Decimal("5")}, "discountPercent"),
    ],
)
def test_an_invoiced_row_may_not_change(change: dict[str, object], field: str) -> None:
    order = invoiced_order(order_row("x"), order_row("a", 1))
    with pytest.raises(OrderConflict) as raised:
        apply_order_message(order, "O-1", DETAILS, [order_row("new"), order_row("a", **change)])
    assert list(raised.value.errors) == [f"rows.1.{field}"]


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": Decimal("1.5")},
        {"unit_price": Decimal("10")},
        {"tax_rate": Decimal("21.00")},
        {"discount_percent": Decimal("0.000")},
        {"unit": "bag"},
    ],
)
def test_the_same_value_spelled_differently_or_a_new_unit_is_not_a_change(
    change: dict[str, object],
) -> None:
    order = invoiced_order(order_row("a"))
    update = apply_order_message(order, "O-1", DETAILS, [order_row("a", **change)])
    assert update.upserted_rows == []


@pytest.mark.parametrize(
    ("details", "field"),
    [
        (dataclasses.replace(DETAILS, currency="USD"), "currency"),
        (dataclasses.replace(DETAILS, prices_include_tax=True), "pricesIncludeTax"),
    ],
)
def test_currency_and_tax_mode_are_fixed_once_rows_are_invoiced(
    details: OrderDetails, field: str
) -> None:
    with pytest.raises(OrderConflict) as raised:
        apply_order_message(invoiced_order(order_row("a")), "O-1", details, [order_row("b")])
    assert list(raised.value.errors) == [field]


def test_currency_may_change_while_nothing_is_invoiced() -> None:
    first = apply_order_message(None, "O-1", DETAILS, [order_row("a")])
    usd = dataclasses.replace(DETAILS, currency="USD")
    assert (
        apply_order_message(first.order, "O-1", usd, [order_row("a")]).order.details.currency
        == "USD"
    )


def test_customer_details_may_change_on_an_invoiced_order() -> None:
    renamed = dataclasses.replace(DETAILS, customer=Customer("B"))
    update = apply_order_message(invoiced_order(order_row("a")), "O-1", renamed, [order_row("a")])
    assert update.order.details.customer == Customer("B")
