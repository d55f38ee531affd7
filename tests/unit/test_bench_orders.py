"""The benchmark offers orders the contract accepts, in the mix the issue asks for."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.orders import ROWS_PER_ORDER, make_orders
from worker.messages import OrderCompletedEvent, parse_event

ORDERS = 400


def test_every_benchmark_order_is_a_valid_order_completed_event() -> None:
    for order in make_orders(ORDERS, "unit"):
        event = parse_event(order.value())
        assert isinstance(event, OrderCompletedEvent), event
        assert event.data.order_id == order.order_id
        assert order.key == order.order_id.encode()


def test_benchmark_orders_have_five_rows_with_mixed_tax_rates() -> None:
    for order in make_orders(ORDERS, "unit"):
        event = parse_event(order.value())
        assert isinstance(event, OrderCompletedEvent)
        assert len(event.data.rows) == ROWS_PER_ORDER
        assert len({row.tax_rate for row in event.data.rows}) >= 2


def test_benchmark_orders_mix_currencies_and_tax_inclusive_prices() -> None:
    events = [parse_event(order.value()) for order in make_orders(ORDERS, "unit")]
    orders = [event for event in events if isinstance(event, OrderCompletedEvent)]
    assert len({event.data.currency for event in orders}) >= 3
    inclusive = sum(event.data.prices_include_tax for event in orders)
    assert 0 < inclusive < len(orders)


def test_every_benchmark_customer_can_be_notified() -> None:
    for order in make_orders(ORDERS, "unit"):
        event = parse_event(order.value())
        assert isinstance(event, OrderCompletedEvent)
        delivery = event.data.invoicing.delivery
        address = {"email": event.data.customer.email, "sms": event.data.customer.phone}
        assert address[delivery]


def test_a_benchmark_order_carries_the_time_it_is_sent() -> None:
    order = make_orders(1, "unit")[0]
    sent = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
    event = parse_event(order.value(sent))
    assert isinstance(event, OrderCompletedEvent)
    assert event.time == sent


def test_benchmark_orders_are_the_same_for_the_same_seed_and_ids_unique() -> None:
    first = make_orders(50, "unit")
    second = make_orders(50, "unit")
    assert [o.event["data"] for o in first] == [o.event["data"] for o in second]
    assert len({o.event["id"] for o in first}) == 50
    assert len({o.order_id for o in first}) == 50
