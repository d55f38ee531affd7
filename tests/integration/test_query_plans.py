"""Every query a batch, the relay or a scrape runs reads by index on tables of a realistic
size (50,000 invoices, their orders, lines and inbox entries, and an outbox backlog of
50,000): none scans a whole table. Each store function runs for real; its statements are
EXPLAINed with the same arguments on the way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from worker.store import inbox, invoices, orders, outbox

SIZE = 50_000
BIG_TABLES = {"orders", "order_rows", "invoices", "invoice_lines", "inbox", "outbox"}

POPULATE = f"""
INSERT INTO orders (order_id, currency, prices_include_tax, customer)
SELECT 'O-' || n, 'EUR', false, '{{"name": "Customer"}}' FROM generate_series(1, {SIZE}) AS n;
INSERT INTO order_rows (order_id, row_id, position, name, quantity, unit_price,
                        discount_percent, tax_rate)
SELECT 'O-' || n, '1', 0, 'Item', 1, 10, 0, 21 FROM generate_series(1, {SIZE}) AS n;
INSERT INTO invoices (invoice_id, order_id, type, status, invoice_number, currency,
                      prices_include_tax, customer, payment_terms_days, issue_date,
                      net_amount, tax_amount, gross_amount, tax_breakdown)
SELECT md5('i' || n)::uuid, 'O-' || n, 'invoice', 'open', 'INV-' || n, 'EUR', false,
       '{{"name": "Customer"}}', 14, date '2026-11-23', 10, 2.1, 12.1, '[]'
  FROM generate_series(1, {SIZE}) AS n;
INSERT INTO invoice_lines (invoice_id, line_no, order_id, order_row_id, holds_row, name,
                           quantity, unit_price, discount_percent, tax_rate, net_amount)
SELECT md5('i' || n)::uuid, 1, 'O-' || n, '1', true, 'Item', 1, 10, 0, 21, 10
  FROM generate_series(1, {SIZE}) AS n;
INSERT INTO inbox (source, event_id, event_type, outcome)
SELECT '/tests', 'e-' || n, 'order-completed', 'applied' FROM generate_series(1, {SIZE}) AS n;
INSERT INTO outbox (topic, key, value)
SELECT 'invoices.events', ('O-' || n)::bytea, 'event'::bytea FROM generate_series(1, {SIZE}) AS n;
ANALYZE;
"""


class Explaining:
    """A connection that EXPLAINs every statement before it runs it."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        self.plans: list[tuple[str, dict[str, Any]]] = []

    async def _explain(self, query: str, args: tuple[Any, ...]) -> None:
        [plan] = json.loads(
            await self._connection.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args)
        )
        self.plans.append((query, plan["Plan"]))

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        await self._explain(query, args)
        return await self._connection.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        await self._explain(query, args)
        return await self._connection.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        await self._explain(query, args)
        return await self._connection.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        await self._explain(query, args)
        return await self._connection.execute(query, *args)


def _scans(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if "Relation Name" in plan:
        yield plan["Node Type"], plan["Relation Name"]
    for child in plan.get("Plans", ()):
        yield from _scans(child)


@pytest.fixture
async def explaining(db: asyncpg.Connection) -> Explaining:
    await db.execute(POPULATE)
    return Explaining(db)


async def test_no_hot_query_scans_a_whole_table(explaining: Explaining) -> None:
    some_orders = [f"O-{n}" for n in (1, 777, 49_999)]
    some_invoices = await invoices.load_invoices(explaining, some_orders)  # type: ignore[arg-type]
    async with explaining._connection.transaction():
        await orders.lock_orders(explaining, some_orders)  # type: ignore[arg-type]
    await orders.load_orders(explaining, some_orders)  # type: ignore[arg-type]
    await invoices.orders_of_invoices(
        explaining,  # type: ignore[arg-type]
        [invoice.invoice_id for invoice in some_invoices],
    )
    await inbox.load_inbox(explaining, [("/tests", "e-5"), ("/tests", "e-40000")])  # type: ignore[arg-type]
    await outbox.fetch_pending(explaining, 2000, 8 * 1024 * 1024)  # type: ignore[arg-type]
    await outbox.backlog(explaining)  # type: ignore[arg-type]

    assert len(some_invoices) == 3
    assert len(explaining.plans) >= 7
    for query, plan in explaining.plans:
        full_scans = [table for node, table in _scans(plan) if node == "Seq Scan"]
        assert not set(full_scans) & BIG_TABLES, f"{full_scans} scanned in full by:\n{query}"
