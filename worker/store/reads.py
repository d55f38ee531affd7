"""What the read API (`invoicer api`) reads: an invoice with its documents, pages of
invoices newest first, a document. Read-only; each answer is read in one snapshot.

A list is read in the snapshot of its first page: later pages carry it (in the cursor) and
see only the invoices that snapshot saw, so that an invoice whose transaction began before
the first page and committed after it neither slips in between pages already served nor
is skipped (migration 0006).

Each read takes `sellers`, the sellers whose invoices the reader may see (None: every
invoice, also those without a seller): an invoice of another seller is not there for it,
on every page whatever its cursor says, as an unknown one (docs/contract.md, "Read API")."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from worker.domain.lifecycle import Invoice
from worker.rows import StoredDocument
from worker.store.documents import stored_document_of
from worker.store.invoices import HEADER_COLUMNS, LINE_COLUMNS, assemble_invoices
from worker.store.pool import Executor
from worker.store.transactions import read_only


@dataclass(frozen=True, slots=True)
class InvoiceFilter:
    """Only the invoices with these values (None: any)."""

    order_id: str | None = None
    customer_id: str | None = None
    status: str | None = None
    seller_id: str | None = None


Sellers = frozenset[str] | None
"""The sellers whose invoices a reader may see; None: every invoice."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ends: the snapshot its list is read in, and the last invoice served."""

    snapshot: str
    created_at: datetime
    invoice_id: str


@dataclass(frozen=True, slots=True)
class StoredInvoice:
    invoice: Invoice
    documents: list[StoredDocument]


@dataclass(frozen=True, slots=True)
class Page:
    invoices: list[StoredInvoice]
    next: Position | None
    """Where the next page starts; None on the last page."""


def invoice_key(invoice_id: str) -> uuid.UUID | None:
    """The uuid an invoice id names, in the one spelling the API gives (lowercase,
    hyphenated); None for any other: uuid.UUID also reads braces, `urn:uuid:`, no hyphens, and
    whitespace or a sign for leading zeros, which PostgreSQL's cast and a header do not."""
    try:
        key = uuid.UUID(invoice_id)
    except ValueError:
        return None
    return key if str(key) == invoice_id else None


async def stored_invoice(
    pool: asyncpg.Pool, invoice_id: str, sellers: Sellers
) -> StoredInvoice | None:
    """The invoice with its documents; None when there is none (or the id is no uuid, or the
    invoice is not of `sellers`)."""
    if (key := invoice_key(invoice_id)) is None:
        return None
    async with read_only(pool) as connection:
        headers = await connection.fetch(
            f"SELECT {HEADER_COLUMNS} FROM invoices WHERE invoice_id = $1"
            " AND ($2::text[] IS NULL OR seller_id = ANY($2::text[]))",
            key,
            _seller_array(sellers),
        )
        found = await _with_lines_and_documents(connection, headers)
    return found[0] if found else None


async def page_of_invoices(
    pool: asyncpg.Pool, only: InvoiceFilter, limit: int, after: Position | None, sellers: Sellers
) -> Page:
    """At most `limit` invoices of `sellers`, newest first (by creation, then id), after
    `after`."""
    async with read_only(pool) as connection:
        snapshot: str = (
            after.snapshot
            if after is not None
            else await connection.fetchval("SELECT pg_current_snapshot()::text")
        )
        statement, arguments = page_query(only, limit + 1, snapshot, after, sellers)
        headers = await connection.fetch(statement, *arguments)
        invoices = await _with_lines_and_documents(connection, headers[:limit])
    if len(headers) <= limit:
        return Page(invoices, None)
    last = headers[limit - 1]
    return Page(invoices, Position(snapshot, last["created_at"], str(last["invoice_id"])))


def page_query(
    only: InvoiceFilter, limit: int, snapshot: str, after: Position | None, sellers: Sellers
) -> tuple[str, list[Any]]:
    """The statement reading a page's invoice headers, and its arguments: only the filters
    given, so that each uses its index, and always the reader's sellers."""
    conditions = [
        "(created_xid IS NULL OR pg_visible_in_snapshot(created_xid, $1::text::pg_snapshot))"
    ]
    arguments: list[Any] = [snapshot]
    for condition, value in (
        ("order_id = ${}", only.order_id),
        ("customer ->> 'customerId' = ${}", only.customer_id),
        ("status = ${}", only.status),
        ("seller_id = ${}", only.seller_id),
        *_seller_condition(sellers),
    ):
        if value is not None:
            arguments.append(value)
            conditions.append(condition.format(len(arguments)))
    if after is not None:
        arguments += [after.created_at, uuid.UUID(after.invoice_id)]
        count = len(arguments)
        conditions.append(f"(created_at, invoice_id) < (${count - 1}, ${count})")
    statement = (
        f"SELECT {HEADER_COLUMNS}, created_at FROM invoices WHERE {' AND '.join(conditions)}"
        f" ORDER BY created_at DESC, invoice_id DESC LIMIT {int(limit)}"
    )
    return statement, arguments


def _seller_condition(sellers: Sellers) -> list[tuple[str, str | list[str]]]:
    """The condition that keeps a page to the reader's sellers (none for every invoice): one
    seller by the index of a seller's invoices, several as any of them."""
    if sellers is None:
        return []
    if len(sellers) == 1:
        return [("seller_id = ${}", next(iter(sellers)))]
    return [("seller_id = ANY(${}::text[])", sorted(sellers))]


def _seller_array(sellers: Sellers) -> list[str] | None:
    return None if sellers is None else sorted(sellers)


async def _with_lines_and_documents(
    connection: Executor, headers: Sequence[asyncpg.Record]
) -> list[StoredInvoice]:
    if not headers:
        return []
    ids = [header["invoice_id"] for header in headers]
    line_records = await connection.fetch(
        f"SELECT {LINE_COLUMNS} FROM invoice_lines WHERE invoice_id = ANY($1::uuid[])"
        " ORDER BY invoice_id, line_no",
        ids,
    )
    invoices = await assemble_invoices(connection, headers, line_records)
    documents: dict[str, list[StoredDocument]] = {}
    for record in await connection.fetch(
        "SELECT invoice_id::text, kind, media_type, sha256, size FROM invoice_documents"
        " WHERE invoice_id = ANY($1::uuid[]) ORDER BY invoice_id, kind",
        ids,
    ):
        documents.setdefault(record["invoice_id"], []).append(stored_document_of(record))
    return [StoredInvoice(invoice, documents.get(invoice.invoice_id, [])) for invoice in invoices]


async def stored_document(
    pool: asyncpg.Pool, invoice_id: str, kind: str, sellers: Sellers
) -> StoredDocument | None:
    """A document's description, without its bytes (documents.document_content); None when
    the invoice has none of this kind (yet), or the id is no uuid, or the invoice is not of
    `sellers`."""
    if (key := invoice_key(invoice_id)) is None:
        return None
    record = await pool.fetchrow(
        "SELECT kind, media_type, sha256, size FROM invoice_documents"
        " WHERE invoice_id = $1 AND kind = $2 AND ($3::text[] IS NULL OR EXISTS ("
        "SELECT FROM invoices WHERE invoices.invoice_id = $1 AND seller_id = ANY($3::text[])))",
        key,
        kind,
        _seller_array(sellers),
    )
    return None if record is None else stored_document_of(record)
