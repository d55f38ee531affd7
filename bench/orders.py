"""The benchmark's order-completed events: valid per docs/contract.md, 5 rows each, mixed tax
rates, some orders with tax-inclusive prices, a few currencies, every customer reachable
(so each order yields an invoice-closed and a notification-requested event).

Deterministic for a seed: two runs offer the same orders.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

ROWS_PER_ORDER = 5
SOURCE_COUNT = 4
TAX_INCLUSIVE_SHARE = 0.25
SMS_SHARE = 0.1

# (currency, minor digits, weight, tax rates used in that market)
_MARKETS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("EUR", 2, 6, ("0", "7", "9", "19", "21")),
    ("USD", 2, 2, ("0", "6.25", "8.875")),
    ("GBP", 2, 1, ("0", "5", "20")),
    ("SEK", 2, 1, ("6", "12", "25")),
    ("JPY", 0, 1, ("8", "10")),
)
_PRODUCTS = (
    ("Flour 25 kg", "bag"),
    ("Oven service", "h"),
    ("Yeast 500 g", None),
    ("Cookbook", None),
    ("Frying pan 28 cm", None),
    ("Spice set", "set"),
    ("Shipping", None),
    ("Olive oil 1 l", "bottle"),
)
_NAMES = ("Bakkerij de Vries B.V.", "Jonas Weber", "Aiko Tanaka", "Emma Larsson", "Oak & Ash Ltd")


@dataclass(frozen=True, slots=True)
class BenchOrder:
    """One order-completed event, as a dict until it is sent (its `time` is set then)."""

    order_id: str
    event: dict[str, Any]

    def value(self, time: datetime | None = None) -> bytes:
        """The record value; `time` (the event's time) defaults to the generated one."""
        if time is None:
            return json.dumps(self.event, separators=(",", ":")).encode()
        event = {**self.event, "time": rfc3339(time)}
        return json.dumps(event, separators=(",", ":")).encode()

    @property
    def key(self) -> bytes:
        return self.order_id.encode()


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _price(rng: random.Random, digits: int) -> str:
    if digits == 0:
        return str(rng.randint(100, 20_000))
    cents = rng.randint(50, 50_000)
    return str(Decimal(cents).scaleb(-digits))


def _row(rng: random.Random, index: int, digits: int, rates: tuple[str, ...]) -> dict[str, Any]:
    name, unit = rng.choice(_PRODUCTS)
    row: dict[str, Any] = {
        "rowId": str(10 * (index + 1)),
        "sku": f"SKU-{rng.randint(1, 9999):04d}",
        "name": name,
        "quantity": rng.choice(("1", "2", "3", "1.5", "12")),
        "unitPrice": _price(rng, digits),
        "taxRate": rng.choice(rates),
    }
    if unit is not None:
        row["unit"] = unit
    if rng.random() < 0.2:
        row["discountPercent"] = rng.choice(("5", "10", "15", "12.5"))
    return row


def make_order(rng: random.Random, order_id: str, time: datetime) -> BenchOrder:
    currency, digits, _, rates = rng.choices(_MARKETS, weights=[m[2] for m in _MARKETS])[0]
    rows = [_row(rng, index, digits, rates) for index in range(ROWS_PER_ORDER)]
    # Mixed rates on every order: the first two rows never share one.
    if rows[0]["taxRate"] == rows[1]["taxRate"]:
        rows[1]["taxRate"] = rates[(rates.index(rows[0]["taxRate"]) + 1) % len(rates)]
    name = rng.choice(_NAMES)
    customer: dict[str, Any] = {
        "name": name,
        "customerId": f"C-{rng.randint(1, 99_999):05d}",
        "email": f"billing+{rng.randint(1, 99_999)}@example.com",
        "phone": f"+49151{rng.randint(10_000_000, 99_999_999)}",
    }
    if rng.random() < 0.5:
        customer["billingAddress"] = {
            "line1": "Markt 1",
            "city": "Utrecht",
            "postalCode": "3511 AA",
            "country": "NL",
        }
    data: dict[str, Any] = {
        "orderId": order_id,
        "orderCode": order_id[-20:],
        "currency": currency,
        "pricesIncludeTax": rng.random() < TAX_INCLUSIVE_SHARE,
        "customer": customer,
        "rows": rows,
        "invoicing": {"delivery": "sms" if rng.random() < SMS_SHARE else "email"},
    }
    event = {
        "specversion": "1.0",
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "source": f"/bench/shop-{rng.randrange(SOURCE_COUNT)}",
        "type": "order-completed",
        "time": rfc3339(time),
        "datacontenttype": "application/json",
        "data": data,
    }
    return BenchOrder(order_id, event)


def make_orders(count: int, run_tag: str, seed: int = 2026) -> list[BenchOrder]:
    """`count` orders with ids `<run_tag>-0000001`...; their event time is now."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    return [make_order(rng, f"{run_tag}-{index:07d}", now) for index in range(1, count + 1)]
