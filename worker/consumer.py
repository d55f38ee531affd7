"""The Kafka loop: fetch a batch, apply it in one transaction, then commit its offsets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from worker import metrics
from worker.decisions import Record
from worker.kafka_client import client_options
from worker.kafka_records import tolerate_undecodable_header_names
from worker.processing import Outage, Stopping, process_records
from worker.settings import Settings
from worker.store.outbox import backlog

log = structlog.get_logger(__name__)

FETCH_TIMEOUT_MS = 500
POSITION_TIMEOUT = 1.0
MAX_POLL_INTERVAL_MS = 300_000
REBALANCE_TIMEOUT_MS = 5_000
BACKLOG_CHECK_SECONDS = 1.0


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the batch in hand finish and commit before its partitions move elsewhere."""

    def __init__(self, loop: BatchConsumer) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._loop.batch_lock:
            pass
        self._loop.forget(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._loop.joined = True
        if self._loop.held_back is not None:
            self._loop.consumer.pause(*assigned)  # before anything is fetched from them
        log.info(
            "partitions assigned",
            action="rebalance",
            partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
        )


def record_of(message: ConsumerRecord) -> Record:
    """What the worker takes of a consumed record."""
    return Record(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=tuple(message.headers),
    )


class BatchConsumer:
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        tolerate_undecodable_header_names()
        self._settings = settings
        self._pool = pool
        self.batch_lock = asyncio.Lock()
        self.consumer = AIOKafkaConsumer(
            **client_options(settings),
            group_id=settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.batch_max_records,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            # An order system that publishes in Kafka transactions may abort one: its
            # records must never be invoiced.
            isolation_level="read_committed",
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_session_timeout_ms // 5,
            max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
            rebalance_timeout_ms=REBALANCE_TIMEOUT_MS,
        )
        self.running = False
        self.joined = False
        self.outage = Outage()
        self.held_back: str | None = None
        """Why consumption is paused (the outbox backlog above its bound), or None."""
        self._backlog_checked = 0.0
        self.last_progress = time.monotonic()
        self.lag: dict[TopicPartition, int] = {}
        self._next_offsets: dict[TopicPartition, int] = {}
        # A test-only fault hook (worker/faults.py), off by default: called after a batch's
        # database transaction committed and before its offsets are committed.
        self.after_db_commit: Callable[[], Awaitable[None]] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Consumes until `stop` is set; the batch in hand is finished and committed."""
        self.consumer.subscribe(list(self._settings.topics.inputs), listener=_CommitOnRevoke(self))
        self.running = True
        try:
            while not stop.is_set():
                await self._hold_back_while_the_outbox_is_full()
                batch = await self.consumer.getmany(
                    timeout_ms=FETCH_TIMEOUT_MS, max_records=self._settings.batch_max_records
                )
                await self._record_lag(batch)
                if not batch:
                    if not any(self.lag.values()):
                        self.last_progress = time.monotonic()  # nothing to do is progress
                    continue
                async with self.batch_lock:
                    records = [
                        record_of(message) for messages in batch.values() for message in messages
                    ]
                    try:
                        await process_records(
                            self._pool, records, self._settings, stop, self.outage
                        )
                    except Stopping:
                        log.info("stopped before the batch was applied; it will be redelivered")
                        return
                    if self.after_db_commit is not None:
                        await self.after_db_commit()
                    offsets = {tp: messages[-1].offset + 1 for tp, messages in batch.items()}
                    await self._commit(offsets)
                    self._next_offsets.update(offsets)
                    self.last_progress = time.monotonic()
        finally:
            self.running = False
            self.forget([*self.lag, *self._next_offsets])

    async def _hold_back_while_the_outbox_is_full(self) -> None:
        """Backpressure: while more messages wait in the outbox than the bound (the broker
        refuses or is away), fetching stops; records wait in Kafka, not in the database.
        Heartbeats go on, so the partitions stay ours."""
        now = time.monotonic()
        if now - self._backlog_checked >= BACKLOG_CHECK_SECONDS:
            self._backlog_checked = now
            try:
                waiting, _ = await backlog(self._pool)
            except Exception:  # the database away: the batch will say so
                waiting = None
            limit = self._settings.outbox_backlog_limit
            if waiting is not None and waiting > limit and self.held_back is None:
                log.warning("outbox backlog above its bound: consumption paused", waiting=waiting)
                self.held_back = (
                    f"consumption paused: {waiting} messages wait in the outbox"
                    f" (INVOICER_OUTBOX_BACKLOG_LIMIT={limit})"
                )
            elif waiting is not None and waiting <= limit and self.held_back is not None:
                log.info("outbox backlog within its bound: consumption resumed", waiting=waiting)
                self.held_back = None
                self.consumer.resume(*self.consumer.paused())
        if self.held_back is not None:
            self.consumer.pause(*self.consumer.assignment())  # also partitions newly assigned

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as error:
            # The records were applied; whoever gets them next finds them in the inbox.
            log.warning("offset commit failed", action="commit", error=repr(error))

    async def _record_lag(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Records waiting per assigned partition: from the first record of the batch in hand,
        else from the consumer's position once it has applied some, up to what the consumer
        last heard the partition ends at (the broker's offset answers can lag). The position,
        not the offset after the last record applied: a transactional producer's commit
        marker takes an offset too, and would otherwise look like a record waiting for ever.
        The end is the last stable offset when the broker gives one: records of a
        transaction still open cannot be read yet, so they are not waiting on the worker."""
        self.lag = {}
        for tp in self.consumer.assignment():
            end = self._end(tp)
            fetched = batch.get(tp)
            done = fetched[0].offset if fetched else await self._position(tp)
            if end is None or done is None:
                continue
            self.lag[tp] = max(0, end - done)
            metrics.CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(
                self.lag[tp]
            )

    def _end(self, tp: TopicPartition) -> int | None:
        highwater: int | None = self.consumer.highwater(tp)
        stable: int | None = self.consumer.last_stable_offset(tp)
        if highwater is None or stable is None or stable < 0:
            return highwater
        return min(highwater, stable)

    async def _position(self, tp: TopicPartition) -> int | None:
        applied = self._next_offsets.get(tp)
        if applied is None:
            return None
        try:  # known without asking the broker once records were consumed
            position: int = await asyncio.wait_for(self.consumer.position(tp), POSITION_TIMEOUT)
        except (KafkaError, TimeoutError):  # revoked meanwhile, or not known yet
            return applied
        return max(applied, position)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions no longer ours: their lag is for their new owner to report."""
        for tp in partitions:
            self.lag.pop(tp, None)
            self._next_offsets.pop(tp, None)
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(tp.topic, str(tp.partition))
