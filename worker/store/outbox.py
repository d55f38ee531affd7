"""The outbox table: what to publish, written in the transaction that caused it."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from worker.rows import Headers, OutboxMessage
from worker.store.pool import Executor
from worker.store.transactions import on_connection

OUTBOX_CHANNEL = "invoicer_outbox"


@dataclass(frozen=True, slots=True)
class PendingMessage:
    id: int
    message: OutboxMessage
    created_at: datetime


def _encode_headers(headers: Headers) -> str:
    """JSON of base64 names and values: a dead letter carries the consumed record's headers,
    whose names may hold characters jsonb refuses (NUL) and whose values may be null."""
    if not headers:  # every event but a dead letter
        return "[]"
    return json.dumps(
        [
            [
                _base64(name.encode("utf-8", "surrogatepass")),
                None if value is None else _base64(value),
            ]
            for name, value in headers
        ]
    )


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _decode_headers(stored: list[list[str | None]]) -> Headers:
    return tuple(
        (
            base64.b64decode(name or "").decode("utf-8", "surrogatepass"),
            None if value is None else base64.b64decode(value),
        )
        for name, value in stored
    )


async def enqueue(connection: Executor, messages: Sequence[OutboxMessage]) -> None:
    """Inserting wakes the relay (a trigger notifies on commit)."""
    if not messages:
        return
    await connection.execute(
        """
        INSERT INTO outbox (topic, key, value, headers, event_time)
        SELECT topic, key, value, headers::jsonb, event_time
          FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[], $5::timestamptz[])
               WITH ORDINALITY AS m(topic, key, value, headers, event_time, n)
         ORDER BY n
        """,
        [message.topic for message in messages],
        [message.key for message in messages],
        [message.value for message in messages],
        [_encode_headers(message.headers) for message in messages],
        [message.event_time for message in messages],
    )


async def fetch_pending(connection: Executor, limit: int, limit_bytes: int) -> list[PendingMessage]:
    """The oldest messages in id order, at most `limit` of them and, but for the first,
    at most `limit_bytes` of keys, values and headers together: a relay's memory is bounded
    by bytes, not only rows. (octet_length reads a stored value's size, not the value.)"""
    records = await connection.fetch(
        """
        SELECT id, topic, key, value, headers, event_time, created_at
          FROM (SELECT *, sum(size) OVER (ORDER BY id) - size AS before
                  FROM (SELECT *, coalesce(octet_length(key), 0) + coalesce(octet_length(value), 0)
                                  + pg_column_size(headers) AS size
                          FROM outbox ORDER BY id LIMIT $1) AS oldest) AS sized
         WHERE before < $2
         ORDER BY id
        """,
        limit,
        limit_bytes,
    )
    return [
        PendingMessage(
            id=record["id"],
            message=OutboxMessage(
                topic=record["topic"],
                key=record["key"],
                value=record["value"],
                headers=_decode_headers(record["headers"]),
                event_time=record["event_time"],
            ),
            created_at=record["created_at"],
        )
        for record in records
    ]


async def delete_sent(connection: Executor, ids: Sequence[int]) -> None:
    await connection.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", ids)


async def park(
    connection: asyncpg.Connection,
    refused: Sequence[tuple[int, str]],
    instead: Sequence[OutboxMessage] = (),
) -> None:
    """Moves the messages (id, the broker's error) the broker refused for good from the
    outbox to outbox_parked, and enqueues what is to be published instead, in one
    transaction."""
    async with on_connection(connection):
        await connection.execute(
            """
            WITH moved AS (
                DELETE FROM outbox
                 USING unnest($1::bigint[], $2::text[]) AS refused(id, error)
                 WHERE outbox.id = refused.id
             RETURNING outbox.*, refused.error)
            INSERT INTO outbox_parked (id, topic, key, value, headers, event_time, created_at,
                                       error)
            SELECT id, topic, key, value, headers, event_time, created_at, error FROM moved
            ON CONFLICT (id) DO NOTHING
            """,
            [message_id for message_id, _ in refused],
            [error for _, error in refused],
        )
        await enqueue(connection, instead)


@dataclass(frozen=True, slots=True)
class ParkedMessage:
    """A message in outbox_parked, as an operator sees it: no key or value (a dead letter's
    may hold personal data), their size instead."""

    id: int
    topic: str
    size: int
    """Bytes of its key and value."""
    parked_at: datetime
    error: str
    """The broker's error: why it was parked."""


async def parked(connection: Executor, limit: int) -> tuple[list[ParkedMessage], int]:
    """The first `limit` parked messages in id order (the order they were written), and how
    many there are."""
    records = await connection.fetch(
        """
        SELECT id, topic, coalesce(octet_length(key), 0) + coalesce(octet_length(value), 0)
                   AS size,
               parked_at, error
          FROM outbox_parked
         ORDER BY id
         LIMIT $1
        """,
        limit,
    )
    total = await connection.fetchval("SELECT count(*) FROM outbox_parked")
    return [
        ParkedMessage(
            id=record["id"],
            topic=record["topic"],
            size=record["size"],
            parked_at=record["parked_at"],
            error=record["error"],
        )
        for record in records
    ], total


async def unpark(connection: Executor, ids: Sequence[int] | None) -> list[int]:
    """Moves parked messages back to the outbox, in one statement, in the order they were
    written; the relay is woken and publishes them as any new message (a message the broker
    refuses again is parked again). `ids` None: every one. Returns the ids moved; an id that
    is not parked is left out."""
    records = await connection.fetch(
        """
        WITH moved AS (
            DELETE FROM outbox_parked
             WHERE $1::bigint[] IS NULL OR id = ANY($1::bigint[])
         RETURNING *),
        queued AS (
            INSERT INTO outbox (topic, key, value, headers, event_time)
            SELECT topic, key, value, headers, event_time FROM moved ORDER BY id)
        SELECT id FROM moved ORDER BY id
        """,
        None if ids is None else list(ids),
    )
    return [record["id"] for record in records]


async def backlog(connection: Executor) -> tuple[int, datetime | None]:
    """How many messages wait (from the first and last ids: at most that many, exact while
    rows are published in order), and since when the oldest. Two index look-ups whatever
    the outbox's size: a scrape must not scan it."""
    record = await connection.fetchrow(
        """
        SELECT coalesce((SELECT max(id) FROM outbox) - first.id + 1, 0) AS n,
               first.created_at AS oldest
          FROM (SELECT NULL) AS one
          LEFT JOIN LATERAL (SELECT id, created_at FROM outbox ORDER BY id LIMIT 1) AS first
               ON true
        """
    )
    assert record is not None
    return record["n"], record["oldest"]


async def newest_id(connection: Executor) -> int:
    """The id of the newest message in the outbox; 0 when it is empty."""
    newest: int = await connection.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    return newest


async def waiting_up_to(connection: Executor, last_id: int) -> bool:
    """Whether a message with an id up to `last_id` is still in the outbox (not yet
    published nor parked)."""
    waiting: bool = await connection.fetchval(
        "SELECT EXISTS (SELECT FROM outbox WHERE id <= $1)", last_id
    )
    return waiting
