"""The running worker: consumer, outbox relay and HTTP endpoint, and how they stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

import structlog
from aiokafka import AIOKafkaProducer

from worker import metrics
from worker.consumer import BatchConsumer
from worker.http import create_app, start_http
from worker.outbox import OutboxRelay, create_producer
from worker.retry import Backoff
from worker.settings import Settings
from worker.store.outbox import backlog
from worker.store.pool import create_pool

log = structlog.get_logger(__name__)

# A consumer that is assigned, has lag and has made no progress for this long is stalled.
STALL_SECONDS = 120.0
SHUTDOWN_TIMEOUT_SECONDS = 30.0
READINESS_TIMEOUT_SECONDS = 2.0
GAUGE_INTERVAL_SECONDS = 5.0


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = asyncio.Event()
        self.started = asyncio.Event()
        self._relay_stop = asyncio.Event()
        self._ready_since: float | None = None
        self.consumer: BatchConsumer | None = None
        self.relay: OutboxRelay | None = None

    def request_stop(self) -> None:
        if not self.stop.is_set():
            log.info("stopping", action="shutdown")
            self.stop.set()

    async def run(self) -> None:
        """Runs until request_stop(): the batch in hand is finished and committed, the outbox
        flushed, then it returns."""
        settings = self.settings
        pool = await create_pool(settings.database_url)
        producer = create_producer(settings)
        self.consumer = BatchConsumer(settings, pool)
        self.relay = OutboxRelay(settings, producer)
        self._pool = pool
        runner = await start_http(create_app(self.liveness, self.readiness), settings.http_port)
        try:
            await self._start_kafka(producer)
            relay_task = asyncio.create_task(self.relay.run(self._relay_stop))
            gauges = asyncio.create_task(self._update_gauges())
            self.started.set()
            log.info("worker running", action="start", group_id=settings.group_id)
            try:
                await self.consumer.run(self.stop)
            finally:
                await asyncio.shield(self.consumer.consumer.stop())
                self._relay_stop.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(relay_task, SHUTDOWN_TIMEOUT_SECONDS)
                gauges.cancel()
        finally:
            await producer.stop()
            await runner.cleanup()
            await pool.close()
            log.info("worker stopped", action="shutdown")

    async def _start_kafka(self, producer: AIOKafkaProducer) -> None:
        """The broker may not be up yet: keep trying, unless told to stop."""
        assert self.consumer is not None
        backoff = Backoff()
        for client in (producer, self.consumer.consumer):
            while True:
                try:
                    await client.start()
                    break
                except Exception as error:
                    if self.stop.is_set():
                        raise
                    await backoff.sleep(self.stop, "cannot reach the broker", error)

    async def readiness(self) -> tuple[bool, str]:
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                await self._pool.fetchval("SELECT 1")
        except Exception as error:
            self._ready_since = None
            return False, f"database unreachable: {error!r}"
        consumer = self.consumer
        if consumer is None or not consumer.running:
            self._ready_since = None
            return False, "consumer not running"
        if not consumer.joined:
            self._ready_since = None
            return False, "not in a consumer group yet"
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                await consumer.consumer.topics()
        except Exception as error:
            self._ready_since = None
            return False, f"broker unreachable: {error!r}"
        if self._ready_since is None:
            self._ready_since = time.monotonic()
        return True, "ready"

    async def liveness(self) -> tuple[bool, str]:
        consumer = self.consumer
        if consumer is None or self._ready_since is None:
            return True, "alive"
        stalled_for = time.monotonic() - max(consumer.last_progress, self._ready_since)
        if any(consumer.lag.values()) and stalled_for > STALL_SECONDS:
            return False, f"no progress for {stalled_for:.0f}s with lag"
        return True, "alive"

    async def _update_gauges(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                count, oldest = await backlog(self._pool)
                metrics.OUTBOX_BACKLOG.set(count)
                metrics.OUTBOX_OLDEST_AGE.set(
                    0 if oldest is None else max(0.0, time.time() - oldest.timestamp())
                )
                metrics.DB_POOL_IN_USE.set(self._pool.get_size() - self._pool.get_idle_size())
            await asyncio.sleep(GAUGE_INTERVAL_SECONDS)


def install_signal_handlers(worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.request_stop)
