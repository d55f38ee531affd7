"""Render jobs and documents: a closed invoice's job is enqueued by the closing transaction;
a renderer claims one for a lease, renders it with no transaction open, then stores its
documents and deletes it in one transaction. A stored document never changes (the table
refuses updates). A notification that goes out with the documents waits in
document_notifications until they are stored, or until they have failed for good: a job
whose rendering failed INVOICER_RENDER_MAX_ATTEMPTS times in a row stays, with its
`failure`, never due again until it is rendered again on request."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from worker.rows import RenderJob, StoredDocument, WaitingNotification
from worker.store.pool import Executor


async def enqueue_render_jobs(connection: Executor, jobs: Sequence[RenderJob]) -> None:
    if jobs:
        await connection.execute(
            """
            INSERT INTO render_jobs (invoice_id, correlation_id, event_time, traceparent)
            SELECT invoice_id, correlation_id, event_time, traceparent
              FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[])
                   AS t(invoice_id, correlation_id, event_time, traceparent)
            ON CONFLICT (invoice_id) DO NOTHING
            """,
            [job.invoice_id for job in jobs],
            [job.correlation_id for job in jobs],
            [job.event_time for job in jobs],
            [job.traceparent for job in jobs],
        )


async def add_waiting(connection: Executor, waiting: Sequence[WaitingNotification]) -> None:
    """Notifications that go out with the documents, once they are stored or have failed."""
    if waiting:
        # text[] of each request as JSON: unnest would flatten an array of arrays
        await connection.execute(
            """
            INSERT INTO document_notifications (invoice_id, channel, recipient, reason, request,
                                                amount_due, correlation_id, event_time,
                                                traceparent, refund_due)
            SELECT invoice_id, channel, recipient, reason,
                   ARRAY(SELECT jsonb_array_elements_text(request::jsonb)), amount_due,
                   correlation_id, event_time, traceparent, refund_due
              FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                          $6::numeric[], $7::text[], $8::timestamptz[], $9::text[],
                          $10::numeric[])
                   WITH ORDINALITY
                   AS t(invoice_id, channel, recipient, reason, request, amount_due,
                        correlation_id, event_time, traceparent, refund_due, position)
             ORDER BY position
            """,
            [n.invoice_id for n in waiting],
            [n.channel for n in waiting],
            [n.recipient for n in waiting],
            [n.reason for n in waiting],
            [json.dumps(n.request) for n in waiting],
            [n.amount_due for n in waiting],
            [n.correlation_id for n in waiting],
            [n.event_time for n in waiting],
            [n.traceparent for n in waiting],
            [n.refund_due for n in waiting],
        )


async def claim(connection: Executor, lease_seconds: float) -> RenderJob | None:
    """Takes the oldest due job that no other renderer holds, for `lease_seconds`: it is
    not due again (for any renderer) until then, and its `attempts` count this one. Run
    outside a transaction, so the lease holds while the job renders without one open;
    None when no job is due."""
    record = await connection.fetchrow(
        """
        UPDATE render_jobs
           SET attempts = attempts + 1, not_before = now() + make_interval(secs => $1)
         WHERE invoice_id = (SELECT invoice_id FROM render_jobs
                              WHERE not_before <= now()
                              ORDER BY not_before, created_at
                              LIMIT 1
                                FOR UPDATE SKIP LOCKED)
        RETURNING invoice_id::text, correlation_id, event_time, attempts, retried, traceparent
        """,
        lease_seconds,
    )
    if record is None:
        return None
    return RenderJob(
        invoice_id=record["invoice_id"],
        correlation_id=record["correlation_id"],
        event_time=record["event_time"],
        attempts=record["attempts"],
        retried=record["retried"],
        traceparent=record["traceparent"],
    )


async def hold(connection: Executor, job: RenderJob) -> bool:
    """Locks the job until the transaction ends, if it is still this claim's: False when a
    renderer finished it, or claimed it again after this claim's lease ran out."""
    held: bool | None = await connection.fetchval(
        "SELECT true FROM render_jobs"
        " WHERE invoice_id = $1::uuid AND attempts = $2 AND retried = $3 FOR UPDATE",
        job.invoice_id,
        job.attempts,
        job.retried,
    )
    return held is not None


_WAITING_COLUMNS = """invoice_id::text, channel, recipient, reason, request, amount_due,
                      correlation_id, event_time, traceparent, refund_due"""


def _waiting(record: asyncpg.Record) -> WaitingNotification:
    return WaitingNotification(
        invoice_id=record["invoice_id"],
        channel=record["channel"],
        recipient=record["recipient"],
        reason=record["reason"],
        request=tuple(record["request"]),
        amount_due=record["amount_due"],
        correlation_id=record["correlation_id"],
        event_time=record["event_time"],
        traceparent=record["traceparent"],
        refund_due=record["refund_due"],
    )


async def take_waiting(connection: Executor, invoice_id: str) -> list[WaitingNotification]:
    """Deletes and returns the notifications waiting for the invoice's documents, oldest
    first: the renderer that stores the documents sends them in the same transaction."""
    records = await connection.fetch(
        f"""
        WITH taken AS (
            DELETE FROM document_notifications WHERE invoice_id = $1::uuid
            RETURNING id, {_WAITING_COLUMNS}
        )
        SELECT {_WAITING_COLUMNS} FROM taken ORDER BY id
        """,
        invoice_id,
    )
    return [_waiting(record) for record in records]


async def take_released(
    connection: Executor, limit: int
) -> list[tuple[WaitingNotification, str | None]]:
    """Deletes and returns up to `limit` waiting notifications, oldest first, whose invoice's
    documents are done (no render job left) or failed for good, each with that failure
    (None: done), as the same statement saw it: a `send` that came after the documents, or
    after the renderer took the invoice's waiting ones. Rows another transaction holds are
    skipped."""
    records = await connection.fetch(
        f"""
        WITH taken AS (
            DELETE FROM document_notifications
             WHERE id IN (SELECT id FROM document_notifications n
                           WHERE NOT EXISTS (SELECT 1 FROM render_jobs j
                                              WHERE j.invoice_id = n.invoice_id
                                                AND j.failure IS NULL)
                           ORDER BY id
                           LIMIT $1
                             FOR UPDATE SKIP LOCKED)
            RETURNING id, {_WAITING_COLUMNS}
        )
        SELECT {_WAITING_COLUMNS},
               (SELECT failure FROM render_jobs j
                 WHERE j.invoice_id = taken.invoice_id::uuid) AS failure
          FROM taken ORDER BY id
        """,
        limit,
    )
    return [(_waiting(record), record["failure"]) for record in records]


async def store_documents(
    connection: Executor,
    invoice_id: str,
    documents: Sequence[tuple[StoredDocument, bytes]],
    unavailable: Sequence[tuple[str, str]],
) -> list[StoredDocument]:
    """Stores each document unless one of its kind is stored already, and returns what is
    stored: a render after a crash gives the same bytes, and the first stored stays."""
    if unavailable:
        await connection.execute(
            """
            INSERT INTO invoice_documents_unavailable (invoice_id, kind, reason)
            SELECT $1::uuid, kind, reason FROM unnest($2::text[], $3::text[]) AS t(kind, reason)
            ON CONFLICT (invoice_id, kind) DO NOTHING
            """,
            invoice_id,
            [kind for kind, _ in unavailable],
            [reason for _, reason in unavailable],
        )
    # One round trip: the statement's own snapshot holds the documents stored before it,
    # RETURNING the ones it stores.
    records = await connection.fetch(
        """
        WITH stored AS (
            INSERT INTO invoice_documents (invoice_id, kind, media_type, sha256, size, content)
            SELECT $1::uuid, kind, media_type, sha256, size, content
              FROM unnest($2::text[], $3::text[], $4::text[], $5::integer[], $6::bytea[])
                   AS t(kind, media_type, sha256, size, content)
            ON CONFLICT (invoice_id, kind) DO NOTHING
            RETURNING kind, media_type, sha256, size
        )
        SELECT kind, media_type, sha256, size FROM stored
         UNION ALL
        SELECT kind, media_type, sha256, size FROM invoice_documents WHERE invoice_id = $1::uuid
         ORDER BY kind
        """,
        invoice_id,
        [document.kind for document, _ in documents],
        [document.media_type for document, _ in documents],
        [document.sha256 for document, _ in documents],
        [document.size for document, _ in documents],
        [content for _, content in documents],
    )
    return [stored_document_of(record) for record in records]


async def documents_of(connection: Executor, invoice_id: str) -> list[StoredDocument]:
    """The invoice's stored documents, by kind (pdf, then ubl)."""
    records = await connection.fetch(
        "SELECT kind, media_type, sha256, size FROM invoice_documents"
        " WHERE invoice_id = $1::uuid ORDER BY kind",
        invoice_id,
    )
    return [stored_document_of(record) for record in records]


def stored_document_of(record: asyncpg.Record) -> StoredDocument:
    """From a row with kind, media_type, sha256 and size."""
    return StoredDocument(record["kind"], record["media_type"], record["sha256"], record["size"])


async def document_content(connection: Executor, invoice_id: str, kind: str) -> bytes | None:
    """A stored document's bytes (what the read API serves, with its sha256 as ETag)."""
    content: bytes | None = await connection.fetchval(
        "SELECT content FROM invoice_documents WHERE invoice_id = $1::uuid AND kind = $2",
        invoice_id,
        kind,
    )
    return content


async def finish(connection: Executor, invoice_id: str) -> None:
    await connection.execute("DELETE FROM render_jobs WHERE invoice_id = $1::uuid", invoice_id)


async def postpone(connection: Executor, job: RenderJob, seconds: float) -> None:
    """A job whose rendering failed is due again in `seconds` (unless claimed anew)."""
    await connection.execute(
        "UPDATE render_jobs SET not_before = now() + make_interval(secs => $4)"
        " WHERE invoice_id = $1::uuid AND attempts = $2 AND retried = $3",
        job.invoice_id,
        job.attempts,
        job.retried,
        seconds,
    )


async def fail(connection: Executor, invoice_id: str, reason: str) -> None:
    """The job's documents have failed for good: it is due no more, and why is kept."""
    await connection.execute(
        "UPDATE render_jobs SET failure = $2, not_before = 'infinity' WHERE invoice_id = $1::uuid",
        invoice_id,
        reason,
    )


async def render_again(connection: Executor, invoice_id: str | None) -> list[tuple[str, str]]:
    """Makes the invoice's job due now (None: the job of every invoice whose documents failed
    for good); a failed one starts a new round of attempts. Returns (invoice id, invoice
    number) of each job made due, by number; none when the invoice has no job (its
    documents are stored, or it has none)."""
    records = await connection.fetch(
        """
        UPDATE render_jobs j
           SET not_before = now(),
               failure = NULL,
               attempts = CASE WHEN j.failure IS NULL THEN j.attempts ELSE 0 END,
               retried = j.retried + CASE WHEN j.failure IS NULL THEN 0 ELSE 1 END
          FROM invoices i
         WHERE i.invoice_id = j.invoice_id
           AND CASE WHEN $1::uuid IS NULL THEN j.failure IS NOT NULL
                    ELSE j.invoice_id = $1::uuid END
        RETURNING j.invoice_id::text, i.invoice_number
        """,
        invoice_id,
    )
    return sorted(
        ((record["invoice_id"], record["invoice_number"]) for record in records),
        key=lambda made_due: made_due[1],
    )


async def oldest_job(connection: Executor) -> datetime | None:
    """When the oldest job still to be rendered was enqueued (an index look-up: a scrape
    must not scan); one whose documents failed for good is not waiting."""
    oldest: datetime | None = await connection.fetchval(
        "SELECT min(created_at) FROM render_jobs WHERE failure IS NULL"
    )
    return oldest
