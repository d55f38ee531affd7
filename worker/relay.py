"""The outbox relay: publishes what committed transactions wrote to the outbox table.

One relay is active per database (a PostgreSQL advisory lock held by its connection;
when that connection dies, another replica's relay takes over). It is woken by
LISTEN/NOTIFY and polls as a fallback. Rows are deleted only after the broker
acknowledged them (acks=all): a crash in between sends them again, with the same
event ids, so consumers can drop the copies.

A message the broker refuses for good (too large, its topic unknown, invalid or not
allowed) is parked: moved to `outbox_parked` with the error, counted, and what follows it
is published. A dead letter refused as too large is replaced by a small one, without the
value, that says where the original is kept. Any other failure is the broker away: what it
acknowledged before the first failed message is marked sent, the rest is sent again after
a backoff, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)

from worker import metrics
from worker.kafka_client import client_options
from worker.messages.dead_letter import HEADERS
from worker.retry import Backoff, Waiting
from worker.rows import OutboxMessage
from worker.settings import Settings
from worker.store.outbox import (
    OUTBOX_CHANNEL,
    PendingMessage,
    delete_sent,
    fetch_pending,
    newest_id,
    park,
    waiting_up_to,
)
from worker.store.pool import connect

log = structlog.get_logger(__name__)

RELAY_LOCK_ID = 0x1A70_0002
POLL_INTERVAL_SECONDS = 1.0
LOCK_RETRY_SECONDS = 2.0
HANDOVER_POLL_SECONDS = 0.1
"""A stopping relay that is not the active one: how often it looks whether what its worker
wrote has been published, or the lock is free for it to publish that itself."""
HANDOVER_WAIT_SECONDS = 20.0
"""How long it waits for that at most (the broker away): the active relay publishes the
rest once it can, a replica's stop does not wait on the broker."""
SEND_BATCH_SIZE = 2000
SEND_BATCH_BYTES = 8 * 1024 * 1024
"""What one round of the relay holds in memory at most (but for a single larger message)."""
STORED = "x-dead-letter-stored"
"""On a dead letter sent without its value: where the original is kept."""

TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)
TOPIC_REFUSED = (InvalidTopicError, TopicAuthorizationFailedError, UnknownTopicOrPartitionError)
"""Refusals of a topic, not of one message: the topic's other messages are not tried again
in the same round (an unknown topic costs a metadata wait each time)."""


def is_refusal(error: BaseException) -> bool:
    """The broker (or the client's own check of its limits) refuses this message for good:
    sending it again cannot succeed."""
    return isinstance(error, TOO_LARGE + TOPIC_REFUSED)


def create_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings),
        acks="all",
        enable_idempotence=settings.enable_idempotence,
        linger_ms=5,
        max_batch_size=256 * 1024,
        # A dead letter is a consumed record plus its headers: it may be as large as the
        # broker lets a record be. Above the limit it is parked, not lost.
        max_request_size=settings.kafka_max_message_bytes,
        request_timeout_ms=30_000,
    )


@dataclass
class Round:
    """What became of the messages of one round, in id order up to the first that failed
    for a reason other than a refusal."""

    sent: list[PendingMessage] = field(default_factory=list)
    refused: list[tuple[PendingMessage, KafkaError]] = field(default_factory=list)
    failure: BaseException | None = None
    """The broker away: this message and those after it are sent again later."""


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
                connection = await connect(
                    self._settings.database_url, self._settings.database_timeouts
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                await backoff.sleep(stop, Waiting.RELAY_CONNECTION, error)
                continue
            try:
                await self._run_on(connection, stop, backoff)
            except Exception as error:
                await backoff.sleep(stop, Waiting.RELAY, error)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=2))

    async def _run_on(
        self, connection: asyncpg.Connection, stop: asyncio.Event, backoff: Backoff
    ) -> None:
        while not await _take_lock(connection):
            if stop.is_set():
                await self._hand_over(connection)
                return
            await _wait(stop, LOCK_RETRY_SECONDS)
        log.info("outbox relay active", action="relay")
        await connection.add_listener(OUTBOX_CHANNEL, lambda *_: self._wake.set())
        while True:
            # Only a drain begun after the stop sees every commit its worker made: one under
            # way may have looked at the outbox before the last of them.
            stopping = stop.is_set()
            self._wake.clear()
            try:
                sent = await self.drain(connection)
            except KafkaError as error:
                await backoff.sleep(stop, Waiting.RELAY_PUBLISH, error)
                if stop.is_set():
                    return
                continue
            backoff.reset()
            if stopping:
                return
            if stop.is_set():
                continue
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL_SECONDS)

    async def _hand_over(self, connection: asyncpg.Connection) -> None:
        """Stopping while another relay is active: waits until what this worker wrote is
        published, by that relay, or by this one once that one has stopped too (as the
        processes of `invoicer run --processes N` stop together); HANDOVER_WAIT_SECONDS at
        most."""
        last = await newest_id(connection)
        until = time.monotonic() + HANDOVER_WAIT_SECONDS
        log.info("waiting for the active outbox relay to publish", action="relay")
        while await waiting_up_to(connection, last):
            if await _take_lock(connection):
                log.info("outbox relay active", action="relay")
                await self.drain(connection)
                return
            if time.monotonic() > until:
                log.warning(
                    "stopping with messages in the outbox: the active relay publishes them",
                    action="relay",
                )
                return
            await asyncio.sleep(HANDOVER_POLL_SECONDS)

    async def drain(self, connection: asyncpg.Connection) -> int:
        """Sends everything pending; returns how many messages were sent or parked. A
        KafkaError when the broker is away (what it acknowledged is marked sent first)."""
        total = 0
        while pending := await fetch_pending(connection, SEND_BATCH_SIZE, SEND_BATCH_BYTES):
            done = await self._send(pending)
            if self.after_send is not None and done.sent:
                await self.after_send(done.sent)
            if done.refused:
                await self._park(connection, done.refused)
            await delete_sent(connection, [item.id for item in done.sent])
            metrics.record_published(done.sent, self._settings.topics.invoices_closed)
            total += len(done.sent) + len(done.refused)
            if done.failure is not None:
                raise done.failure
        return total

    async def _send(self, pending: Sequence[PendingMessage]) -> Round:
        """Queues every message (the client batches them per partition), then awaits each
        acknowledgement."""
        queued: list[tuple[PendingMessage, asyncio.Future[object] | BaseException]] = []
        refused_topics: dict[str, KafkaError] = {}
        for item in pending:
            message = item.message
            if message.topic in refused_topics:
                queued.append((item, refused_topics[message.topic]))
                continue
            try:
                delivery = await self._producer.send(
                    message.topic,
                    value=message.value,
                    key=message.key,
                    headers=list(message.headers),
                )
            except KafkaError as error:
                queued.append((item, error))
                if isinstance(error, TOPIC_REFUSED):
                    refused_topics[message.topic] = error
                elif not is_refusal(error):
                    break  # the broker away: the rest waits for the next round
                continue
            queued.append((item, delivery))
        outcomes = await asyncio.gather(
            *(_outcome(delivery) for _, delivery in queued), return_exceptions=True
        )
        done = Round()
        for (item, _), outcome in zip(queued, outcomes, strict=True):
            if outcome is None:
                done.sent.append(item)
            elif isinstance(outcome, KafkaError) and is_refusal(outcome):
                done.refused.append((item, outcome))
            else:
                done.failure = outcome
                break
        return done

    async def _park(
        self, connection: asyncpg.Connection, refused: Sequence[tuple[PendingMessage, KafkaError]]
    ) -> None:
        dead_letter_topic = self._settings.topics.dead_letter
        instead = [
            _stored_dead_letter(item, error)
            for item, error in refused
            if item.message.topic == dead_letter_topic
            and isinstance(error, TOO_LARGE)
            and STORED not in dict(item.message.headers)
        ]
        await park(
            connection,
            [(item.id, f"{type(error).__name__}: {error}") for item, error in refused],
            instead,
        )
        for item, error in refused:
            metrics.OUTBOX_PARKED.labels(topic=item.message.topic, error=type(error).__name__).inc()
            log.error(
                "the broker refuses a message for good: parked in outbox_parked",
                action="park",
                outbox_id=item.id,
                topic=item.message.topic,
                error=f"{type(error).__name__}: {error}",
            )


async def _outcome(delivery: asyncio.Future[object] | BaseException) -> None:
    """None once acknowledged; the error otherwise."""
    if isinstance(delivery, BaseException):
        raise delivery
    await delivery


def _stored_dead_letter(item: PendingMessage, error: KafkaError) -> OutboxMessage:
    """A dead letter too large to publish, as a small one: the worker's own headers (why,
    and where the record came from) and where the original is kept, with no value."""
    message = item.message
    return OutboxMessage(
        topic=message.topic,
        key=message.key,
        value=None,
        headers=(
            *((name, value) for name, value in message.headers if name in HEADERS),
            (STORED, f"outbox_parked/{item.id}: {type(error).__name__}".encode()),
        ),
        event_time=message.event_time,
    )


async def _take_lock(connection: asyncpg.Connection) -> bool:
    """Whether this relay is (now) the active one."""
    taken: bool = await connection.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_ID)
    return taken


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleeps unless told to stop first; True when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
