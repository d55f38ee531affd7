"""The read API's list reads by index on a realistic table (50,000 invoices of 5,000
customers and 20 sellers, a tenth paid): every filter, to every token (of every seller, of
one, of some), the first page and a later one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from worker.store.reads import InvoiceFilter, Position, page_query

pytestmark = pytest.mark.integration

SIZE = 50_000
POPULATE = f"""
INSERT INTO orders (order_id, currency, prices_include_tax, customer)
SELECT 'O-' || n, 'EUR', false, '{{"name": "Customer"}}' FROM generate_series(1, {SIZE}) AS n;
INSERT INTO invoices (invoice_id, order_id, type, status, invoice_number, currency,
                      prices_include_tax, customer, payment_terms_days, issue_date,
                      net_amount, tax_amount, gross_amount, tax_breakdown, created_at,
                      seller_id)
SELECT md5('i' || n)::uuid, 'O-' || n, 'invoice', CASE WHEN n % 10 = 0 THEN 'paid' ELSE 'open' END,
       'INV-' || n, 'EUR', false,
       jsonb_build_object('name', 'Customer', 'customerId', 'C-' || n % 5000), 14,
       date '2026-11-23', 10, 2.1, 12.1, '[]', now() - n * interval '1 minute', 'S-' || n % 20
  FROM generate_series(1, {SIZE}) AS n;
ANALYZE;
"""
FILTERS = [
    InvoiceFilter(),
    InvoiceFilter(order_id="O-42"),
    InvoiceFilter(customer_id="C-42"),
    InvoiceFilter(status="paid"),
    InvoiceFilter(status="open"),
    InvoiceFilter(customer_id="C-42", status="open"),
    InvoiceFilter(seller_id="S-3"),
    InvoiceFilter(seller_id="S-3", status="paid"),
]
SCOPES = [None, frozenset({"S-3"}), frozenset({"S-3", "S-4"})]
"""The sellers of a token: every one, one, some."""


def _indexes(plan: dict[str, Any]) -> Iterator[str]:
    if "Index Name" in plan:
        yield plan["Index Name"]
    for child in plan.get("Plans", ()):
        yield from _indexes(child)


def _scans(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if "Relation Name" in plan:
        yield plan["Node Type"], plan["Relation Name"]
    for child in plan.get("Plans", ()):
        yield from _scans(child)


async def test_every_list_reads_invoices_by_index(db: asyncpg.Connection) -> None:
    await db.execute(POPULATE)
    snapshot = await db.fetchval("SELECT pg_current_snapshot()::text")
    for only, sellers in [(only, sellers) for only in FILTERS for sellers in SCOPES]:
        for after in (None, Position(snapshot, datetime.now(UTC), str(uuid.uuid4()))):
            statement, arguments = page_query(only, 51, snapshot, after, sellers)
            [plan] = json.loads(await db.fetchval(f"EXPLAIN (FORMAT JSON) {statement}", *arguments))
            scans = list(_scans(plan["Plan"]))
            assert scans, plan
            for node, relation in scans:
                assert relation == "invoices"
                assert node in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), (
                    only,
                    sellers,
                    after,
                    plan,
                )
            one_seller = only.seller_id is not None or (sellers is not None and len(sellers) == 1)
            if one_seller and only.order_id is None and only.customer_id is None:
                # a seller's list, however few of the invoices are theirs
                assert "invoices_seller_newest" in _indexes(plan["Plan"]), (only, sellers, plan)
