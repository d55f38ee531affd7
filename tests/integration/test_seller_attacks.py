"""Attacks on many sellers in one worker, through the database: the prefixes a seller had,
its events kept apart in the inbox."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import asyncpg
import pytest

from tests.builders import registered_seller, seller_updated
from tests.memory_store import records_of
from tests.sellers import SELLER
from tests.unit.test_sellers import SELLER_B, seller_order
from worker.processing import Outage, process_records
from worker.settings import Settings
from worker.store import sellers

pytestmark = pytest.mark.integration


async def test_the_prefixes_a_seller_had_come_back_as_saved(db: asyncpg.Connection) -> None:
    """What keeps a prefix from moving to the other type survives the database."""
    first = registered_seller("merchant-review", credit_note_number_prefix="KN")
    changed = dataclasses.replace(first, credit_note_number_prefix="KX").after(first)

    await sellers.save_sellers(db, [changed])

    loaded = (await sellers.load_sellers(db, ["merchant-review"]))["merchant-review"]
    assert loaded == changed
    assert loaded.prefixes_of() == (frozenset({"KB"}), frozenset({"KN", "KX"}))


async def _apply(pool: asyncpg.Pool, settings: Settings, *events: dict[str, Any]) -> None:
    await process_records(pool, records_of(list(events)), settings, asyncio.Event(), Outage())


async def test_a_sellers_events_are_kept_apart_in_the_databases_inbox(
    pool: asyncpg.Pool, fresh_database: str
) -> None:
    """Through the database: a seller's event told again is a duplicate (the newer one
    stands), and an order that took the (source, id) of the seller's next event keeps it
    from nothing, nor is it kept from being invoiced by a seller's event of its id."""
    settings = Settings(database_url=fresh_database, seller=SELLER)
    first = seller_updated("s-1", **SELLER_B)
    second = seller_updated("s-2", **{**SELLER_B, "name": "Koffie & Co B.V."})
    squatter = seller_order("s-3", "merchant-b", [("r1", "1", "1.00")])
    squatter["source"] = "/merchants"
    clash = seller_order("s-1", "merchant-b", [("r2", "1", "1.00")])
    clash["source"] = "/merchants"
    clash["data"]["orderId"] = "o-clash"
    third = seller_updated(
        "s-3",
        **{**SELLER_B, "name": "Koffie & Co B.V.", "iban": "DE89 3704 0044 0532 0130 00"},
    )

    await _apply(pool, settings, first, second)
    await _apply(pool, settings, first)  # told again after the newer one
    await _apply(pool, settings, squatter, clash)
    await _apply(pool, settings, third)
    await _apply(pool, settings, third)  # and again

    stored = (await sellers.load_sellers(pool, ["merchant-b"]))["merchant-b"]
    assert (stored.seller.name, stored.seller.iban) == (
        "Koffie & Co B.V.",
        "DE89370400440532013000",
    )
    assert await pool.fetchval("SELECT count(*) FROM invoices") == 2
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = $1", settings.topics.dead_letter
        )
        == 0
    )
