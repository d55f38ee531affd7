"""A graceful stop leaves nothing in the outbox that the worker committed before it exits:
its relay's last flush begins after the last commit, and a relay that is not the active one
(another replica, or another process of `invoicer run --processes N`, holds the lock) waits
until what is there has been published, by that relay or, once it has stopped, by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.examples import example
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import running_worker, wait_until
from tests.memory_store import records_of
from tests.sellers import SELLER
from tests.slow_rendering import render_slowly
from worker import relay as relay_module
from worker import render_jobs as renderer_module
from worker.processing import Outage, process_records
from worker.relay import RELAY_LOCK_ID, OutboxRelay, create_producer
from worker.rows import OutboxMessage
from worker.settings import Settings
from worker.store.outbox import enqueue, fetch_pending
from worker.store.pool import Executor, create_pool

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


async def _active_relay_elsewhere(settings: Settings) -> asyncpg.Connection:
    """A connection holding the relay's lock: another replica's relay, active."""
    other = await asyncpg.connect(settings.database_url)
    assert await other.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_ID)
    return other


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


async def test_a_relay_that_is_not_active_waits_for_what_its_worker_wrote_to_be_published(
    settings: Settings, db: asyncpg.Connection, kafka: KafkaClient, relay: OutboxRelay
) -> None:
    """Another relay holds the lock, and stops after this one was told to: this one takes
    the lock and publishes what is left."""
    topic = settings.topics.invoice_events
    other = await _active_relay_elsewhere(settings)
    try:
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop))
        await enqueue(db, [OutboxMessage(topic, b"O-1", b"written by this worker")])
        stop.set()
        await asyncio.sleep(0.5)
        assert not running.done(), "the relay stopped with its worker's message unpublished"
        await other.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK_ID)
        await asyncio.wait_for(running, STOP_WITHIN_SECONDS)
    finally:
        await other.close()

    assert await _outbox_left(db) == 0
    published = await kafka.read_quiet(topic, 1)
    assert [message.value for message in published] == [b"written by this worker"]


async def test_a_relay_that_is_not_active_stops_once_the_active_one_published_it_all(
    settings: Settings, db: asyncpg.Connection, relay: OutboxRelay
) -> None:
    """The active relay (another replica) goes on: once it has published what this worker
    wrote, this one stops without the lock."""
    other = await _active_relay_elsewhere(settings)
    try:
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop))
        await enqueue(db, [OutboxMessage(settings.topics.invoice_events, b"O-1", b"x")])
        stop.set()
        await asyncio.sleep(0.5)
        assert not running.done()
        await db.execute("DELETE FROM outbox")  # as the active relay does once it is sent
        await asyncio.wait_for(running, STOP_WITHIN_SECONDS)
        locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        assert await other.fetchval(locks) == 1  # still the other's
    finally:
        await other.close()


async def test_a_stop_while_documents_render_leaves_nothing_in_the_outbox(
    settings: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `invoicer run --processes 2` is stopped: this worker's relay is not the active
    one, the stop comes while it renders an invoice's documents, and the active relay has
    stopped by the time they are stored (with their event and notification)."""
    selling = settings.model_copy(update={"seller": SELLER})
    pool = await create_pool(selling.database_url)
    try:
        await process_records(
            pool,
            records_of([example("order-completed-intra-community.json")]),
            selling,
            asyncio.Event(),
            Outage(),
        )
    finally:
        await pool.close()
    monkeypatch.setattr(renderer_module, "render_documents", render_slowly)
    other = await _active_relay_elsewhere(selling)
    try:
        async with running_worker(selling) as worker:

            async def rendering() -> bool:
                return bool(
                    await db.fetchval("SELECT EXISTS (SELECT FROM render_jobs WHERE attempts > 0)")
                )

            await wait_until(rendering, "the rendering begun")
            worker.request_stop()

            async def stored() -> bool:
                return bool(await db.fetchval("SELECT EXISTS (SELECT FROM invoice_documents)"))

            await wait_until(stored, "the documents stored")
            await other.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK_ID)
    finally:
        await other.close()

    assert await db.fetchval("SELECT count(*) FROM render_jobs") == 0
    assert await _outbox_left(db) == 0
