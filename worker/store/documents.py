"""Render jobs and documents: a closed invoice's job is enqueued by the closing transaction;
a renderer claims one (FOR UPDATE SKIP LOCKED), stores its documents, and deletes it, in
one transaction. A stored document never changes (the table refuses updates)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from worker.store.pool import Executor


@dataclass(frozen=True, slots=True)
class WaitingNotification:
    """The automatic notification-requested of a closed invoice, sent with its documents."""

    channel: str
    recipient: str
    request: tuple[str, ...]
    amount_due: Decimal
    """What was due when the invoice closed: the notification tells that, whenever the
    documents are ready."""


@dataclass(frozen=True, slots=True)
class RenderJob:
    invoice_id: str
    correlation_id: str
    event_time: datetime | None
    """When the event that closed the invoice happened: end-to-end latency."""
    notification: WaitingNotification | None = None
    traceparent: str | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class StoredDocument:
    kind: str
    media_type: str
    sha256: str
    size: int


async def enqueue(connection: Executor, jobs: Sequence[RenderJob]) -> None:
    if not jobs:
        return
    await connection.execute(
        """
        INSERT INTO render_jobs (invoice_id, correlation_id, event_time, notification,
                                 traceparent)
        SELECT invoice_id, correlation_id, event_time, notification::jsonb, traceparent
          FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
               AS t(invoice_id, correlation_id, event_time, notification, traceparent)
        ON CONFLICT (invoice_id) DO NOTHING
        """,
        [job.invoice_id for job in jobs],
        [job.correlation_id for job in jobs],
        [job.event_time for job in jobs],
        [_notification_json(job.notification) for job in jobs],
        [job.traceparent for job in jobs],
    )


def _notification_json(notification: WaitingNotification | None) -> str | None:
    if notification is None:
        return None
    return json.dumps(
        {
            "channel": notification.channel,
            "recipient": notification.recipient,
            "request": list(notification.request),
            "amountDue": str(notification.amount_due),
        }
    )


async def claim(connection: Executor) -> RenderJob | None:
    """The oldest job that is due and that no other renderer holds, locked until the
    transaction ends; None when there is none."""
    record = await connection.fetchrow(
        """
        SELECT invoice_id::text, correlation_id, event_time, notification, attempts,
               traceparent
          FROM render_jobs
         WHERE not_before <= now()
         ORDER BY not_before, created_at
         LIMIT 1
           FOR UPDATE SKIP LOCKED
        """
    )
    if record is None:
        return None
    waiting = record["notification"]
    return RenderJob(
        invoice_id=record["invoice_id"],
        correlation_id=record["correlation_id"],
        event_time=record["event_time"],
        notification=None
        if waiting is None
        else WaitingNotification(
            waiting["channel"],
            waiting["recipient"],
            tuple(waiting["request"]),
            Decimal(waiting["amountDue"]),
        ),
        attempts=record["attempts"],
        traceparent=record["traceparent"],
    )


async def store_documents(
    connection: Executor,
    invoice_id: str,
    documents: Sequence[tuple[StoredDocument, bytes]],
    unavailable: Sequence[tuple[str, str]],
) -> list[StoredDocument]:
    """Stores each document unless one of its kind is stored already, and returns what is
    stored: a render after a crash gives the same bytes, and the first stored stays."""
    await connection.execute(
        """
        INSERT INTO invoice_documents (invoice_id, kind, media_type, sha256, size, content)
        SELECT $1::uuid, kind, media_type, sha256, size, content
          FROM unnest($2::text[], $3::text[], $4::text[], $5::integer[], $6::bytea[])
               AS t(kind, media_type, sha256, size, content)
        ON CONFLICT (invoice_id, kind) DO NOTHING
        """,
        invoice_id,
        [document.kind for document, _ in documents],
        [document.media_type for document, _ in documents],
        [document.sha256 for document, _ in documents],
        [document.size for document, _ in documents],
        [content for _, content in documents],
    )
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
    return await documents_of(connection, invoice_id)


async def documents_of(connection: Executor, invoice_id: str) -> list[StoredDocument]:
    """The invoice's stored documents, by kind (pdf, then ubl)."""
    records = await connection.fetch(
        "SELECT kind, media_type, sha256, size FROM invoice_documents"
        " WHERE invoice_id = $1::uuid ORDER BY kind",
        invoice_id,
    )
    return [
        StoredDocument(record["kind"], record["media_type"], record["sha256"], record["size"])
        for record in records
    ]


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


async def postpone(connection: Executor, invoice_id: str, seconds: float) -> None:
    """A job whose rendering failed waits `seconds` before it is tried again."""
    await connection.execute(
        "UPDATE render_jobs SET attempts = attempts + 1,"
        " not_before = now() + make_interval(secs => $2) WHERE invoice_id = $1::uuid",
        invoice_id,
        seconds,
    )


async def pending(connection: Executor) -> int:
    count: int = await connection.fetchval("SELECT count(*) FROM render_jobs")
    return count
