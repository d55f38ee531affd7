"""Attacks on many sellers in one worker that needed the database (review)."""

from __future__ import annotations

import dataclasses

import asyncpg
import pytest

from worker.domain.parties import Address, Seller
from worker.domain.sellers import RegisteredSeller
from worker.store import sellers

pytestmark = pytest.mark.integration


async def test_the_prefixes_a_seller_had_come_back_as_saved(db: asyncpg.Connection) -> None:
    """What keeps a prefix from moving to the other type survives the database."""
    first = RegisteredSeller(
        "merchant-review",
        Seller(
            "Koffie B.V.",
            "NL987654321B01",
            Address("Kade 3", None, "Amsterdam", "1011 AB", None, "NL"),
        ),
        invoice_number_prefix="KB",
        credit_note_number_prefix="KN",
    )
    changed = dataclasses.replace(first, credit_note_number_prefix="KX").after(first)

    await sellers.save_sellers(db, [changed])

    loaded = (await sellers.load_sellers(db, ["merchant-review"]))["merchant-review"]
    assert loaded == changed
    assert loaded.prefixes_of() == (frozenset({"KB"}), frozenset({"KN", "KX"}))
