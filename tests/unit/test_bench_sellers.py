"""The benchmark's marketplace: sellers the contract registers, orders spread over them."""

from __future__ import annotations

from collections import Counter

from bench.orders import make_orders
from bench.sellers import SELLER_COUNT, make_sellers, spread_over
from worker.messages import OrderCompletedEvent, SellerUpdatedEvent, parse_event


def test_every_benchmark_seller_is_a_valid_seller_updated_event_keyed_by_its_id() -> None:
    sellers = make_sellers()
    assert len(sellers) == SELLER_COUNT
    prefixes = set()
    for seller in sellers:
        event = parse_event(seller.value())
        assert isinstance(event, SellerUpdatedEvent), event
        assert event.data.seller_id == seller.seller_id
        assert seller.key == seller.seller_id.encode()
        prefixes.add(event.data.invoice_number_prefix)
    assert len({seller.seller_id for seller in sellers}) == len(prefixes) == SELLER_COUNT


def test_the_orders_are_spread_evenly_over_the_sellers_and_otherwise_unchanged() -> None:
    sellers = make_sellers(7)
    orders = make_orders(70, "unit")
    spread = spread_over(orders, sellers)
    parsed = [parse_event(order.value()) for order in spread]
    events = [event for event in parsed if isinstance(event, OrderCompletedEvent)]
    assert len(events) == len(orders)
    shares = Counter(event.data.seller_id for event in events)
    assert shares == {seller.seller_id: 10 for seller in sellers}
    for original, moved in zip(orders, spread, strict=True):
        assert moved.order_id == original.order_id
        data = dict(moved.event["data"])
        del data["sellerId"]
        assert data == original.event["data"]
