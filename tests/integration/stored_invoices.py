"""Invoices and documents written straight into the test's database, for the read API's
tests that need something to read but no worker to make it."""

from __future__ import annotations

import hashlib
import uuid

from worker.rows import StoredDocument
from worker.store.documents import Rendered, store_documents
from worker.store.pool import connect

ORDER_ID = "O-1"


async def store_drafts(database_url: str, count: int) -> list[str]:
    """`count` drafts of one order; their ids."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    await store_drafts_of(database_url, ids)
    return ids


async def store_drafts_of(database_url: str, ids: list[str]) -> None:
    """A draft of one order for each of `ids`."""
    connection = await connect(database_url)
    try:
        await connection.execute(
            "INSERT INTO orders (order_id, currency, prices_include_tax, customer)"
            """ VALUES ($1, 'EUR', false, '{"name": "Customer"}') ON CONFLICT DO NOTHING""",
            ORDER_ID,
        )
        for invoice_id in ids:
            await connection.execute(
                "INSERT INTO invoices (invoice_id, order_id, type, status, currency,"
                " prices_include_tax, customer, payment_terms_days, net_amount, tax_amount,"
                " gross_amount, tax_breakdown) VALUES ($1::uuid, $2, 'invoice', 'draft',"
                """ 'EUR', false, '{"name": "Customer"}', 14, 0, 0, 0, '[]')""",
                invoice_id,
                ORDER_ID,
            )
    finally:
        await connection.close()


async def store_document(
    database_url: str, invoice_id: str, kind: str, media_type: str, content: bytes
) -> StoredDocument:
    document = StoredDocument(kind, media_type, hashlib.sha256(content).hexdigest(), len(content))
    connection = await connect(database_url)
    try:
        await store_documents(connection, [Rendered(invoice_id, [(document, content)], [])])
    finally:
        await connection.close()
    return document
