"""The outbox relay: publishes what committed transactions wrote to the outbox table.

One relay is active per database (a PostgreSQL advisory lock held by its connection;
when that connection dies, another replica's relay takes over). It is woken by
LISTEN/NOTIFY and polls as a fallback. Rows are deleted only after the broker
acknowledged them (acks=all): a crash in between sends them again, with the same
event ids, so consumers can drop the copies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from worker import metrics
from worker.retry import Backoff
from worker.settings import Settings
from worker.store.outbox import OUTBOX_CHANNEL, PendingMessage, delete_sent, fetch_pending
from worker.store.pool import connect

log = structlog.get_logger(__name__)

RELAY_LOCK_ID = 0x1A70_0002
POLL_INTERVAL_SECONDS = 1.0
LOCK_RETRY_SECONDS = 2.0
SEND_BATCH_SIZE = 2000
# The client's own cap on one message. A dead letter is a consumed record plus its headers,
# so it can be as large as the broker lets a record be; at aiokafka's default (1 MiB) a
# record near that size could never be dead-lettered and would block the relay for good.
# The broker's limit (message.max.bytes) is the one that counts.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def create_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=settings.enable_idempotence,
        linger_ms=5,
        max_batch_size=256 * 1024,
        max_request_size=MAX_MESSAGE_BYTES,
        request_timeout_ms=30_000,
    )


class OutboxRelay:
    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self._settings = settings
        self._producer = producer
        self._wake = asyncio.Event()
        # A test-only fault hook, off by default: called after the broker acknowledged a
        # batch and before it is marked sent.
        self.after_send: Callable[[list[PendingMessage]], Awaitable[None]] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                connection = await connect(self._settings.database_url)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                await backoff.sleep(stop, "outbox relay cannot connect", error)
                continue
            try:
                await self._run_on(connection, stop, backoff)
            except Exception as error:
                await backoff.sleep(stop, "outbox relay failed", error)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=2))

    async def _run_on(
        self, connection: asyncpg.Connection, stop: asyncio.Event, backoff: Backoff
    ) -> None:
        while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_ID):
            if await _wait(stop, LOCK_RETRY_SECONDS):
                return
        log.info("outbox relay active", action="relay")
        await connection.add_listener(OUTBOX_CHANNEL, lambda *_: self._wake.set())
        while True:
            self._wake.clear()
            try:
                sent = await self.drain(connection)
            except KafkaError as error:
                await backoff.sleep(stop, "outbox relay cannot publish", error)
                if stop.is_set():
                    return
                continue
            backoff.reset()
            if stop.is_set():
                return
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL_SECONDS)

    async def drain(self, connection: asyncpg.Connection) -> int:
        """Sends everything pending; returns how many messages were sent."""
        total = 0
        while pending := await fetch_pending(connection, SEND_BATCH_SIZE):
            await self._send(pending)
            if self.after_send is not None:
                await self.after_send(pending)
            await delete_sent(connection, [item.id for item in pending])
            metrics.record_published(pending, self._settings.topics.invoices_closed)
            total += len(pending)
            if len(pending) < SEND_BATCH_SIZE:
                break
        return total

    async def _send(self, pending: list[PendingMessage]) -> None:
        deliveries = [
            await self._producer.send(
                item.message.topic,
                value=item.message.value,
                key=item.message.key,
                headers=list(item.message.headers),
            )
            for item in pending
        ]
        await asyncio.gather(*deliveries)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleeps unless told to stop first; True when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
