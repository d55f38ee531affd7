"""Invoices and documents written straight into the test's database, for the read API's
tests that need something to read but no worker to make it."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime

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


@dataclass(frozen=True)
class Seeded:
    """An invoice written by store_invoices: what the read API's filters look at."""

    invoice_id: str
    seller_id: str | None
    order_id: str
    customer_id: str
    status: str
    created_at: datetime


async def store_invoices(database_url: str, invoices: list[Seeded]) -> None:
    """Each invoice (a draft, or numbered and issued) with its order, as the read API reads it."""
    connection = await connect(database_url)
    try:
        for seeded in invoices:
            await connection.execute(
                "INSERT INTO orders (order_id, currency, prices_include_tax, customer, seller_id)"
                """ VALUES ($1, 'EUR', false, '{"name": "Customer"}', $2)"""
                " ON CONFLICT DO NOTHING",
                seeded.order_id,
                seeded.seller_id,
            )
            issued = seeded.status != "draft"
            await connection.execute(
                "INSERT INTO invoices (invoice_id, order_id, type, status, invoice_number,"
                " currency, prices_include_tax, customer, payment_terms_days, issue_date,"
                " net_amount, tax_amount, gross_amount, tax_breakdown, created_at, seller_id)"
                " VALUES ($1::uuid, $2, 'invoice', $3, $4, 'EUR', false,"
                " jsonb_build_object('name', 'Customer', 'customerId', $5::text), 14, $6,"
                " 0, 0, 0, '[]', $7, $8)",
                seeded.invoice_id,
                seeded.order_id,
                seeded.status,
                f"INV-{seeded.invoice_id[:8]}" if issued else None,
                seeded.customer_id,
                date(2026, 11, 23) if issued else None,
                seeded.created_at,
                seeded.seller_id,
            )
    finally:
        await connection.close()
