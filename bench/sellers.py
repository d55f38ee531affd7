"""The benchmark's marketplace: merchants registered by `seller-updated` events on the
sellers topic, and the same orders spread over them by `sellerId`.

Deterministic for a count: two runs register the same merchants and give each order the
same one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.orders import BenchOrder

SELLER_COUNT = 100


@dataclass(frozen=True, slots=True)
class BenchSeller:
    """One seller-updated event, keyed by its seller id (the sellers topic is compacted)."""

    seller_id: str
    event: dict[str, Any]

    def value(self) -> bytes:
        return json.dumps(self.event, separators=(",", ":")).encode()

    @property
    def key(self) -> bytes:
        return self.seller_id.encode()


def make_sellers(count: int = SELLER_COUNT) -> list[BenchSeller]:
    """`count` merchants, `merchant-001`..., each with its own number prefix (M001-...)."""
    return [_seller(index) for index in range(1, count + 1)]


def _seller(index: int) -> BenchSeller:
    seller_id = f"merchant-{index:03d}"
    data = {
        "sellerId": seller_id,
        "name": f"Merchant {index:03d} B.V.",
        "vatId": f"NL{100_000_000 + index:09d}B01",
        "address": {
            "line1": f"Kade {index}",
            "city": "Amsterdam",
            "postalCode": "1011 AB",
            "country": "NL",
        },
        "iban": "NL91ABNA0417164300",
        "bic": "ABNANL2A",
        "paymentTermsDays": 14 + index % 3 * 7,
        "invoiceNumberPrefix": f"M{index:03d}",
        "creditNoteNumberPrefix": f"M{index:03d}C",
    }
    event = {
        "specversion": "1.0",
        "id": str(uuid.UUID(int=index, version=4)),
        "source": "/bench/marketplace",
        "type": "seller-updated",
        "datacontenttype": "application/json",
        "data": data,
    }
    return BenchSeller(seller_id, event)


def spread_over(orders: Sequence[BenchOrder], sellers: Sequence[BenchSeller]) -> list[BenchOrder]:
    """The same orders, each of one seller in turn."""
    return [
        BenchOrder(
            order.order_id,
            {
                **order.event,
                "data": {**order.event["data"], "sellerId": sellers[i % len(sellers)].seller_id},
            },
        )
        for i, order in enumerate(orders)
    ]
