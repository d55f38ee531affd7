"""Render jobs and documents: a closed invoice's job is enqueued by the closing transaction;
a renderer claims a few for a lease, renders them one by one with no transaction open, then
stores their documents and deletes them in one transaction. A stored document never
changes (the table refuses updates). A notification that goes out with the documents waits
in document_notifications until they are stored, or until they have failed for good: a job
whose rendering failed INVOICER_RENDER_MAX_ATTEMPTS times in a row stays, with its
`failure`, never due again until it is rendered again on request."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
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
    """Notifications that go out with the documents, once they are stored or have failed;
    those whose invoice's documents are done already marked released, for the renderer's
    release to send. Called under their invoices' order locks (worker/unit_of_work.py),
    which the renderer takes before it ends a job: the job each sees stays so until commit."""
    if waiting:
        # text[] of each request as JSON: unnest would flatten an array of arrays
        await connection.execute(
            """
            INSERT INTO document_notifications (invoice_id, channel, recipient, reason, request,
                                                amount_due, correlation_id, event_time,
                                                traceparent, refund_due, released)
            SELECT invoice_id, channel, recipient, reason,
                   ARRAY(SELECT jsonb_array_elements_text(request::jsonb)), amount_due,
                   correlation_id, event_time, traceparent, refund_due,
                   NOT EXISTS (SELECT 1 FROM render_jobs j
                                WHERE j.invoice_id = t.invoice_id AND j.failure IS NULL)
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


@dataclass(frozen=True, slots=True)
class Claim:
    """A due job a renderer took for a lease, its rendering not started yet."""

    job: RenderJob
    """As claimed: `attempts` those of the renderings before this claim."""
    due: datetime
    """When it was due: its place in the queue, given back if it is released unrendered."""
    leased_until: datetime


async def claim(connection: Executor, lease_seconds: float, limit: int = 1) -> list[Claim]:
    """Takes up to `limit` of the oldest due jobs that no other renderer holds, for
    `lease_seconds`: they are not due again (for any renderer) until then. Their `attempts`
    count none of this claim's: a rendering counts when it starts (`start`), so a renderer
    that dies holding jobs it never began charges them nothing. Run outside a transaction,
    so the lease holds while the jobs render without one open; in their queue's order,
    none when no job is due."""
    records = await connection.fetch(
        """
        WITH due AS (
            SELECT invoice_id, not_before FROM render_jobs
             WHERE not_before <= now()
             ORDER BY not_before, created_at
             LIMIT $2
               FOR UPDATE SKIP LOCKED
        )
        UPDATE render_jobs j
           SET not_before = now() + make_interval(secs => $1)
          FROM due
         WHERE j.invoice_id = due.invoice_id
        RETURNING j.invoice_id::text, j.correlation_id, j.event_time, j.attempts, j.retried,
                  j.traceparent, j.created_at, due.not_before AS due, j.not_before AS leased_until
        """,
        lease_seconds,
        limit,
    )
    return [
        Claim(
            job=RenderJob(
                invoice_id=record["invoice_id"],
                correlation_id=record["correlation_id"],
                event_time=record["event_time"],
                attempts=record["attempts"],
                retried=record["retried"],
                traceparent=record["traceparent"],
            ),
            due=record["due"],
            leased_until=record["leased_until"],
        )
        for record in sorted(records, key=lambda r: (r["due"], r["created_at"]))
    ]


async def start(connection: Executor, claim: Claim) -> RenderJob | None:
    """Counts the claimed job's rendering, about to start, among its `attempts`: the job as
    this rendering holds it (see `hold`). None when the claim is no longer this renderer's
    (its lease ran out, and another renderer started or finished the job). Its lease stays
    as claimed (what is indexed stays as it is: the row is updated in place): a group's
    renderings each end within the render timeout, those still to start are given back
    after HOLD_UP_SECONDS (worker/render_jobs.py), and the lease outlasts the render timeout
    by a minute."""
    attempts: int | None = await connection.fetchval(
        """
        UPDATE render_jobs SET attempts = attempts + 1
         WHERE invoice_id = $1::uuid AND attempts = $2 AND retried = $3
        RETURNING attempts
        """,
        claim.job.invoice_id,
        claim.job.attempts,
        claim.job.retried,
    )
    return None if attempts is None else replace(claim.job, attempts=attempts)


async def give_back(connection: Executor, claims: Sequence[Claim]) -> None:
    """Gives the jobs of claims whose rendering never started back to the queue, at the
    place they had (each still this claim's: not started, nor claimed since)."""
    if claims:
        await connection.execute(
            """
            UPDATE render_jobs j
               SET not_before = c.due
              FROM unnest($1::uuid[], $2::integer[], $3::integer[], $4::timestamptz[],
                          $5::timestamptz[]) AS c(invoice_id, attempts, retried, due, leased_until)
             WHERE j.invoice_id = c.invoice_id AND j.attempts = c.attempts
               AND j.retried = c.retried AND j.not_before = c.leased_until
            """,
            [claim.job.invoice_id for claim in claims],
            [claim.job.attempts for claim in claims],
            [claim.job.retried for claim in claims],
            [claim.due for claim in claims],
            [claim.leased_until for claim in claims],
        )


async def hold(connection: Executor, jobs: Sequence[RenderJob]) -> set[str]:
    """Locks the jobs still their renderings' until the transaction ends (in one order, so
    two renderers never deadlock) and returns their invoice ids: not those a renderer
    finished, or started again after this rendering's lease ran out."""
    records = await connection.fetch(
        """
        SELECT j.invoice_id::text FROM render_jobs j
          JOIN unnest($1::uuid[], $2::integer[], $3::integer[]) AS t(invoice_id, attempts, retried)
            ON j.invoice_id = t.invoice_id AND j.attempts = t.attempts AND j.retried = t.retried
         ORDER BY j.invoice_id
           FOR UPDATE OF j
        """,
        [job.invoice_id for job in jobs],
        [job.attempts for job in jobs],
        [job.retried for job in jobs],
    )
    return {record["invoice_id"] for record in records}


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


async def take_waiting(
    connection: Executor, invoice_ids: Collection[str]
) -> dict[str, list[WaitingNotification]]:
    """Deletes and returns the notifications waiting for these invoices' documents, by
    invoice, oldest first: the renderer that stores the documents sends them in the same
    transaction."""
    records = await connection.fetch(
        f"""
        WITH taken AS (
            DELETE FROM document_notifications WHERE invoice_id = ANY($1::uuid[])
            RETURNING id, {_WAITING_COLUMNS}
        )
        SELECT {_WAITING_COLUMNS} FROM taken ORDER BY id
        """,
        list(invoice_ids),
    )
    waiting: dict[str, list[WaitingNotification]] = {invoice_id: [] for invoice_id in invoice_ids}
    for record in records:
        waiting[record["invoice_id"]].append(_waiting(record))
    return waiting


async def take_released(
    connection: Executor, limit: int
) -> list[tuple[WaitingNotification, str | None]]:
    """Deletes and returns up to `limit` waiting notifications, oldest first, whose invoice's
    documents are done (no render job left) or failed for good, each with that failure
    (None: done), as the same statement saw it: a `send` that came after the documents, or
    after the renderer took the invoice's waiting ones. Only those marked released when
    they were added are read (see `add_waiting`), not those a rendering will send. Rows
    another transaction holds are skipped."""
    records = await connection.fetch(
        f"""
        WITH taken AS (
            DELETE FROM document_notifications
             WHERE id IN (SELECT id FROM document_notifications n
                           WHERE n.released
                             AND NOT EXISTS (SELECT 1 FROM render_jobs j
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


@dataclass(frozen=True, slots=True)
class Rendered:
    """An invoice's rendered documents, to store."""

    invoice_id: str
    documents: Sequence[tuple[StoredDocument, bytes]]
    unavailable: Sequence[tuple[str, str]]
    """(kind, reason) of each document that cannot be made."""


async def store_documents(
    connection: Executor, rendered: Sequence[Rendered]
) -> dict[str, list[StoredDocument]]:
    """Stores each document unless one of its kind is stored already, and returns what is
    stored, by invoice: a render after a crash gives the same bytes, and the first stored
    stays."""
    unavailable = [(r.invoice_id, *each) for r in rendered for each in r.unavailable]
    if unavailable:
        await connection.execute(
            """
            INSERT INTO invoice_documents_unavailable (invoice_id, kind, reason)
            SELECT invoice_id, kind, reason
              FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(invoice_id, kind, reason)
            ON CONFLICT (invoice_id, kind) DO NOTHING
            """,
            [invoice_id for invoice_id, _, _ in unavailable],
            [kind for _, kind, _ in unavailable],
            [reason for _, _, reason in unavailable],
        )
    made = [(r.invoice_id, doc, content) for r in rendered for doc, content in r.documents]
    # One round trip: the statement's own snapshot holds the documents stored before it,
    # RETURNING the ones it stores.
    records = await connection.fetch(
        """
        WITH stored AS (
            INSERT INTO invoice_documents (invoice_id, kind, media_type, sha256, size, content)
            SELECT invoice_id, kind, media_type, sha256, size, content
              FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::integer[],
                          $6::bytea[]) AS t(invoice_id, kind, media_type, sha256, size, content)
            ON CONFLICT (invoice_id, kind) DO NOTHING
            RETURNING invoice_id, kind, media_type, sha256, size
        )
        SELECT invoice_id::text, kind, media_type, sha256, size FROM stored
         UNION ALL
        SELECT invoice_id::text, kind, media_type, sha256, size FROM invoice_documents
         WHERE invoice_id = ANY($7::uuid[])
         ORDER BY invoice_id, kind
        """,
        [invoice_id for invoice_id, _, _ in made],
        [document.kind for _, document, _ in made],
        [document.media_type for _, document, _ in made],
        [document.sha256 for _, document, _ in made],
        [document.size for _, document, _ in made],
        [content for _, _, content in made],
        [r.invoice_id for r in rendered],
    )
    return _by_invoice([r.invoice_id for r in rendered], records)


async def documents_of(connection: Executor, invoice_id: str) -> list[StoredDocument]:
    """The invoice's stored documents, by kind (pdf, then ubl)."""
    return (await documents_of_invoices(connection, [invoice_id]))[invoice_id]


async def documents_of_invoices(
    connection: Executor, invoice_ids: Collection[str]
) -> dict[str, list[StoredDocument]]:
    """Each invoice's stored documents, by kind (pdf, then ubl)."""
    records = await connection.fetch(
        "SELECT invoice_id::text, kind, media_type, sha256, size FROM invoice_documents"
        " WHERE invoice_id = ANY($1::uuid[]) ORDER BY invoice_id, kind",
        list(invoice_ids),
    )
    return _by_invoice(invoice_ids, records)


def _by_invoice(
    invoice_ids: Collection[str], records: Sequence[asyncpg.Record]
) -> dict[str, list[StoredDocument]]:
    stored: dict[str, list[StoredDocument]] = {invoice_id: [] for invoice_id in invoice_ids}
    for record in records:
        stored[record["invoice_id"]].append(stored_document_of(record))
    return stored


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


async def finish(connection: Executor, invoice_ids: Collection[str]) -> None:
    await connection.execute(
        "DELETE FROM render_jobs WHERE invoice_id = ANY($1::uuid[])", list(invoice_ids)
    )


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
