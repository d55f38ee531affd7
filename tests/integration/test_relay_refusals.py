"""A message the broker refuses for good is parked with its error and what follows it is
published, once; a dead letter too large to publish is kept in the database and a small
one says where."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.integration.kafka_client import KafkaClient
from worker import metrics
from worker.messages.dead_letter import ORIGINAL_TOPIC, REASON
from worker.relay import STORED, OutboxRelay, create_producer
from worker.rows import OutboxMessage
from worker.settings import Settings
from worker.store.outbox import enqueue, fetch_pending

LIMIT = 64 * 1024


@pytest.fixture
async def relay(settings: Settings) -> AsyncIterator[OutboxRelay]:
    limited = settings.model_copy(update={"kafka_max_message_bytes": LIMIT})
    producer = create_producer(limited)
    await producer.start()
    yield OutboxRelay(limited, producer)
    await producer.stop()


def _parked(topic: str) -> float:
    return metrics.OUTBOX_PARKED.labels(topic=topic, error="MessageSizeTooLargeError")._value.get()


async def test_a_refused_message_is_parked_and_those_after_it_are_published_once(
    settings: Settings, db: asyncpg.Connection, kafka: KafkaClient, relay: OutboxRelay
) -> None:
    topic = settings.topics.invoice_events
    before = _parked(topic)
    await enqueue(
        db,
        [
            # one key, so one partition: the order of what is published is defined
            OutboxMessage(topic, b"O-1", b"first"),
            OutboxMessage(topic, b"O-1", b"x" * (LIMIT + 1)),
            OutboxMessage(topic, b"O-1", b"third"),
        ],
    )
    [_, refused_id, _] = [row["id"] for row in await db.fetch("SELECT id FROM outbox ORDER BY id")]

    assert await relay.drain(db) == 3
    assert await relay.drain(db) == 0  # nothing is sent again

    published = await kafka.read_quiet(topic, 2)
    assert [message.value for message in published] == [b"first", b"third"]
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    parked = await db.fetchrow("SELECT id, key, value, error FROM outbox_parked")
    assert parked["id"] == refused_id
    assert parked["key"] == b"O-1"
    assert parked["value"] == b"x" * (LIMIT + 1)
    assert parked["error"].startswith("MessageSizeTooLargeError")
    assert _parked(topic) == before + 1


async def test_a_dead_letter_too_large_is_kept_and_a_small_one_says_where(
    settings: Settings, db: asyncpg.Connection, kafka: KafkaClient, relay: OutboxRelay
) -> None:
    topic = settings.topics.dead_letter
    original = b"{" + b" " * LIMIT + b"}"
    headers = (
        ("traceparent", b"00-abc"),
        (REASON, b"validation"),
        (ORIGINAL_TOPIC, settings.topics.orders_completed.encode()),
    )
    await enqueue(db, [OutboxMessage(topic, b"O-9", original, headers)])

    await relay.drain(db)
    await relay.drain(db)

    [small] = await kafka.read_quiet(topic, 1)
    parked_id = await db.fetchval("SELECT id FROM outbox_parked WHERE value = $1", original)
    assert small.value is None
    assert small.key == b"O-9"
    assert small.headers[REASON] == b"validation"
    assert small.headers[ORIGINAL_TOPIC] == settings.topics.orders_completed.encode()
    assert small.headers[STORED].startswith(f"outbox_parked/{parked_id}:".encode())
    assert "traceparent" not in small.headers
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_round_is_bounded_in_bytes(settings: Settings, db: asyncpg.Connection) -> None:
    megabyte = b"x" * (1024 * 1024)
    await enqueue(db, [OutboxMessage(settings.topics.invoice_events, None, megabyte)] * 20)

    fetched = await fetch_pending(db, 2000, 3 * 1024 * 1024)

    assert len(fetched) == 3
    assert len(await fetch_pending(db, 2000, 1)) == 1  # a message larger than the bound
