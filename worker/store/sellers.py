"""Registered sellers: loaded by id for a batch, saved as their last event left them."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from worker.domain.sellers import RegisteredSeller
from worker.store.parties import seller_json, seller_of
from worker.store.pool import Executor


def _defaults_json(seller: RegisteredSeller) -> dict[str, Any]:
    return {
        "paymentTermsDays": seller.payment_terms_days,
        "invoiceNumberPrefix": seller.invoice_number_prefix,
        "creditNoteNumberPrefix": seller.credit_note_number_prefix,
        "invoicePrefixes": sorted(seller.invoice_prefixes),
        "creditNotePrefixes": sorted(seller.credit_note_prefixes),
    }


async def load_sellers(
    connection: Executor, seller_ids: Collection[str]
) -> dict[str, RegisteredSeller]:
    if not seller_ids:
        return {}
    records = await connection.fetch(
        "SELECT seller_id, seller, defaults FROM sellers WHERE seller_id = ANY($1::text[])",
        list(set(seller_ids)),
    )
    return {
        record["seller_id"]: RegisteredSeller(
            seller_id=record["seller_id"],
            seller=seller_of(record["seller"]),
            payment_terms_days=record["defaults"]["paymentTermsDays"],
            invoice_number_prefix=record["defaults"]["invoiceNumberPrefix"],
            credit_note_number_prefix=record["defaults"]["creditNoteNumberPrefix"],
            # the prefixes each type had before (none stored by earlier versions)
            invoice_prefixes=frozenset(record["defaults"].get("invoicePrefixes", ())),
            credit_note_prefixes=frozenset(record["defaults"].get("creditNotePrefixes", ())),
        )
        for record in records
    }


async def save_sellers(connection: Executor, sellers: Sequence[RegisteredSeller]) -> None:
    """Upserts each seller: the last one stands."""
    if not sellers:
        return
    await connection.execute(
        """
        INSERT INTO sellers (seller_id, seller, defaults)
        SELECT seller_id, seller::jsonb, defaults::jsonb
          FROM unnest($1::text[], $2::text[], $3::text[]) AS t(seller_id, seller, defaults)
        ON CONFLICT (seller_id) DO UPDATE SET
            seller = EXCLUDED.seller, defaults = EXCLUDED.defaults, updated_at = now()
        """,
        [seller.seller_id for seller in sellers],
        [json.dumps(seller_json(seller.seller)) for seller in sellers],
        [json.dumps(_defaults_json(seller)) for seller in sellers],
    )
