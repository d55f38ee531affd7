"""Returns against the real database, without a broker: batches applied as the worker
applies them (worker.processing), two at once as two replicas would, and an order stored
before migration 0011 (docs/contract.md, "order-returned")."""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

import asyncpg
import pytest

from tests.builders import order, returned
from tests.memory_store import records_of
from worker.processing import Outage, process_records
from worker.settings import Settings


async def _apply(pool: asyncpg.Pool, settings: Settings, *events: dict[str, Any]) -> None:
    await process_records(pool, records_of(list(events)), settings, asyncio.Event(), Outage())


async def _published(pool: asyncpg.Pool, event_type: str) -> list[dict[str, Any]]:
    values = await pool.fetch("SELECT value FROM outbox WHERE value IS NOT NULL ORDER BY id")
    parsed = [json.loads(row["value"]) for row in values]
    return [event["data"] for event in parsed if event.get("type") == event_type]


def _settings(fresh_database: str) -> Settings:
    return Settings(database_url=fresh_database)


async def test_one_return_told_twice_to_two_replicas_at_once_is_credited_once(
    pool: asyncpg.Pool, fresh_database: str
) -> None:
    settings = _settings(fresh_database)
    await _apply(pool, settings, order("e-1", "o-1", [("r1", "3", "10.00"), ("r2", "1", "5.00")]))

    # The same return under two event ids (one on orders.returned, one on orders.completed),
    # and another return of more than is left if both were applied, all at once.
    await asyncio.gather(
        _apply(pool, settings, returned("ret-a", "o-1", "R1", [("r1", "2")])),
        _apply(pool, settings, returned("ret-b", "o-1", "R1", [("r1", "2")])),
        _apply(pool, settings, returned("ret-c", "o-1", "R2", [("r1", "2")])),
    )

    notes = await pool.fetch(
        "SELECT return_id, count(*) AS n FROM invoices WHERE type = 'credit-note'"
        " GROUP BY return_id ORDER BY return_id"
    )
    credited = {row["return_id"]: row["n"] for row in notes}
    assert sum(credited.values()) == 1, credited
    outcomes = await pool.fetch("SELECT event_id, outcome FROM inbox ORDER BY event_id")
    by_id = {row["event_id"]: row["outcome"] for row in outcomes}
    assert [by_id[key] for key in ("ret-a", "ret-b", "ret-c")].count("applied") >= 1


async def test_the_unique_index_allows_one_note_per_return_and_credited_invoice(
    pool: asyncpg.Pool, fresh_database: str
) -> None:
    settings = _settings(fresh_database)
    await _apply(
        pool,
        settings,
        order("e-1", "o-1", [("r1", "3", "10.00")]),
        order("e-2", "o-1", [("r2", "3", "10.00")]),
    )

    await _apply(pool, settings, returned("ret-1", "o-1", "R1", [("r1", "1"), ("r2", "1")]))

    assert await pool.fetchval("SELECT count(*) FROM invoices WHERE return_id = 'R1'") == 2
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(
            "INSERT INTO invoices (invoice_id, order_id, type, reference_invoice_id, status,"
            " version, currency, prices_include_tax, customer, payment_terms_days,"
            " net_amount, tax_amount, gross_amount, tax_breakdown, return_id)"
            " SELECT gen_random_uuid(), order_id, type, reference_invoice_id, 'draft', 1,"
            " currency, prices_include_tax, customer, payment_terms_days, net_amount,"
            " tax_amount, gross_amount, tax_breakdown, return_id"
            " FROM invoices WHERE return_id = 'R1' LIMIT 1"
        )


async def test_an_order_stored_before_migration_0011_has_its_returns_notified_as_its_invoice(
    pool: asyncpg.Pool, fresh_database: str
) -> None:
    """The contract: a return's credit note is notified by the order's delivery ("email" by
    default), unless it is "none". An order stored before 0011 was told with a delivery the
    worker did not keep; its invoice went out by email. Migration 0011 gives every such
    order "none", and the credit notes of its returns reach no one."""
    settings = _settings(fresh_database)
    await _apply(pool, settings, order("e-1", "o-1", [("r1", "3", "10.00")]))
    assert len(await _published(pool, "notification-requested")) == 1, "the invoice was sent"
    # The order as a database migrated before 0011 holds it: no delivery, then 0011 applied.
    sql = resources.files("worker.store").joinpath("migrations/0011_returns.sql").read_text()
    await pool.execute("ALTER TABLE orders DROP COLUMN delivery")
    await pool.execute(sql)

    await _apply(pool, settings, returned("ret-1", "o-1", "R1", [("r1", "1")]))

    sent = await _published(pool, "notification-requested")
    assert [d["template"] for d in sent] == ["invoice-issued", "credit-note-issued"]
