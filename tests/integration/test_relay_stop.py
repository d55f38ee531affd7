"""A graceful stop leaves nothing in the outbox that the worker committed before it exits:
its relay's last flush begins after the last commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.integration.kafka_client import KafkaClient
from worker import relay as relay_module
from worker.relay import OutboxRelay, create_producer
from worker.rows import OutboxMessage
from worker.settings import Settings
from worker.store.outbox import enqueue, fetch_pending
from worker.store.pool import Executor

pytestmark = pytest.mark.integration

STOP_WITHIN_SECONDS = 20.0


@pytest.fixture
async def relay(settings: Settings) -> AsyncIterator[OutboxRelay]:
    producer = create_producer(settings)
    await producer.start()
    yield OutboxRelay(settings, producer)
    await producer.stop()


async def _outbox_left(db: asyncpg.Connection) -> int:
    left: int = await db.fetchval("SELECT count(*) FROM outbox")
    return left


async def test_a_commit_while_the_last_drain_is_under_way_is_published_before_the_stop(
    settings: Settings,
    db: asyncpg.Connection,
    kafka: KafkaClient,
    relay: OutboxRelay,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The renderer commits while the relay's drain looks at the outbox, and the stop comes
    before that drain returns (it found nothing): a last drain follows."""
    topic = settings.topics.invoice_events
    stop = asyncio.Event()
    armed = asyncio.Event()

    async def committed_meanwhile(
        connection: Executor, limit: int, limit_bytes: int
    ) -> list[relay_module.PendingMessage]:
        pending = await fetch_pending(connection, limit, limit_bytes)
        if not pending and armed.is_set():
            armed.clear()
            await enqueue(db, [OutboxMessage(topic, b"O-1", b"the last commit")])
            stop.set()
        return pending

    monkeypatch.setattr(relay_module, "fetch_pending", committed_meanwhile)
    running = asyncio.create_task(relay.run(stop))
    armed.set()
    await asyncio.wait_for(running, STOP_WITHIN_SECONDS)

    assert await _outbox_left(db) == 0
    published = await kafka.read_quiet(topic, 1)
    assert [message.value for message in published] == [b"the last commit"]
