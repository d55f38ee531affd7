"""The running worker: consumer, outbox relay, dunning scans and HTTP endpoint, and how
they stop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from worker import faults, metrics
from worker.connections import ConnectionLimits
from worker.consumer import BatchConsumer
from worker.dunning_scan import run_scans
from worker.http import create_app, start_http
from worker.logs import CONSUMER_GROUP
from worker.relay import OutboxRelay, create_producer
from worker.render_jobs import Renderer, RenderProcess
from worker.retry import Backoff, Waiting
from worker.settings import Settings
from worker.startup import StartupError
from worker.store import documents
from worker.store.migrate import SchemaMismatch, check_schema
from worker.store.outbox import backlog
from worker.store.pool import condition, create_pool

log = structlog.get_logger(__name__)

SHUTDOWN_TIMEOUT_SECONDS = 30.0
GC_YOUNG_THRESHOLD = 50_000
"""Allocations between collections of the youngest generation (Python's default: 700)."""
READINESS_TIMEOUT_SECONDS = 2.0


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = asyncio.Event()
        self.started = asyncio.Event()
        self._relay_stop = asyncio.Event()
        self._scans_stop = asyncio.Event()
        self._ready_since: float | None = None
        self.consumer: BatchConsumer | None = None
        self.relay: OutboxRelay | None = None
        self.http_port: int | None = None
        """The port /metrics, /healthz and /readyz are served on, once started."""

    def request_stop(self) -> None:
        if not self.stop.is_set():
            self.stop.set()  # before the log line: stopping must not depend on the log
            log.info("stopping", action="shutdown")

    async def run(self) -> None:
        """Runs until request_stop(): the batch in hand is finished and committed, the outbox
        flushed, then it returns. The HTTP port in use is a StartupError, raised before
        anything else is opened."""
        settings = self.settings
        # the renderer holds a connection per process while it renders
        self._pool = pool = await create_pool(
            settings.database_url,
            timeouts=settings.database_timeouts,
            max_size=4 + settings.renderer_processes,
        )
        try:
            app = create_app(self.liveness, self.readiness, self.refresh_metrics)
            runner, self.http_port = await start_http(
                app, settings.http_port, ConnectionLimits(settings.http_max_connections)
            )
            try:
                if await self._schema_is_ours(pool):
                    await self._run_kafka(pool)
            finally:
                await runner.cleanup()
                log.info("worker stopped", action="shutdown")
        finally:
            await pool.close()

    async def _schema_is_ours(self, pool: asyncpg.Pool) -> bool:
        """Waits for the database if it is away (False when told to stop meanwhile); a
        StartupError when its migrations are not this version's: a worker must never
        blame records for a schema it was not built for."""
        backoff = Backoff()
        while not self.stop.is_set():
            try:
                async with pool.acquire() as connection:
                    await check_schema(connection)
                return True
            except SchemaMismatch as mismatch:
                raise StartupError(str(mismatch)) from None
            except Exception as error:
                await backoff.sleep(self.stop, Waiting.MIGRATIONS_CHECK, error)
        return False

    async def _run_kafka(self, pool: asyncpg.Pool) -> None:
        settings = self.settings
        producer = create_producer(settings)
        self.consumer = BatchConsumer(settings, pool)
        self.relay = OutboxRelay(settings, producer)
        kills = faults.hooks(settings.fault_injection)
        self.consumer.after_db_commit = kills.get(faults.FaultPoint.KILL_AFTER_DB_COMMIT)
        self.relay.after_send = kills.get(faults.FaultPoint.KILL_AFTER_OUTBOX_SEND)
        try:
            if not await self._start_kafka(producer):
                return
            relay_task = asyncio.create_task(self.relay.run(self._relay_stop))
            renderer_task = asyncio.create_task(self._run_renderer(pool))
            scans_task = asyncio.create_task(run_scans(settings, pool, self._scans_stop))
            self.started.set()
            log.info("worker running", action="start", **{CONSUMER_GROUP: settings.group_id})
            try:
                await self.consumer.run(self.stop)
            finally:
                await asyncio.shield(self.consumer.consumer.stop())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(renderer_task, SHUTDOWN_TIMEOUT_SECONDS)
                # the scan under way finishes, so the relay below flushes what it wrote
                self._scans_stop.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(scans_task, SHUTDOWN_TIMEOUT_SECONDS)
                self._relay_stop.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(relay_task, SHUTDOWN_TIMEOUT_SECONDS)
        finally:
            await asyncio.shield(self.consumer.consumer.stop())  # when it never ran
            await producer.stop()

    async def _run_renderer(self, pool: asyncpg.Pool) -> None:
        """Documents of closed invoices; a render in hand is finished (and its documents
        announced) before the relay stops. It runs without a seller configured too: invoices
        closed while one was still have theirs to come (no process starts until there is
        something to render)."""
        settings = self.settings
        with contextlib.ExitStack() as stack:
            processes = [
                stack.enter_context(RenderProcess(settings.render_timeout_seconds))
                for _ in range(settings.renderer_processes)
            ]
            await asyncio.gather(
                *(
                    Renderer(settings, pool, process, self._backlog).run(self.stop)
                    for process in processes
                )
            )

    def _backlog(self) -> int:
        """Records waiting for this worker (the renderer leaves the cores to a burst)."""
        return 0 if self.consumer is None else sum(self.consumer.lag.values())

    async def _start_kafka(self, producer: AIOKafkaProducer) -> bool:
        """The broker may not be up yet: keep trying until told to stop (then False)."""
        assert self.consumer is not None
        backoff = Backoff()
        for client in (producer, self.consumer.consumer):
            while not self.stop.is_set():
                try:
                    await client.start()
                    break
                except Exception as error:
                    await backoff.sleep(self.stop, Waiting.BROKER, error)
        return not self.stop.is_set()

    async def readiness(self) -> tuple[bool, str]:
        """Database reachable, broker connected, consumer group joined."""
        ready, reason = await self._check_dependencies()
        if not ready:
            self._ready_since = None
        elif self._ready_since is None:
            self._ready_since = time.monotonic()
        metrics.READY.set(1 if ready else 0)
        return ready, reason

    async def _check_dependencies(self) -> tuple[bool, str]:
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                await self._pool.fetchval("SELECT 1")
        except Exception as error:
            return False, f"database unreachable: {condition(error)}"
        consumer = self.consumer
        if consumer is None or not consumer.running:
            return False, "consumer not running"
        if consumer.outage.reason is not None:
            return False, consumer.outage.reason
        if consumer.held_back is not None:
            return False, consumer.held_back
        if not consumer.joined:
            return False, "not in a consumer group yet"
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                await consumer.consumer.topics()
        except Exception as error:
            return False, f"broker unreachable: {type(error).__name__}"
        return True, "ready"

    async def liveness(self) -> tuple[bool, str]:
        """Alive unless the consumer has records waiting and has applied none for
        `liveness_stall_seconds` of the time it was ready: a database or broker outage
        (not ready) is not a stall, and a restart would not cure it."""
        consumer = self.consumer
        waiting = 0 if consumer is None else sum(consumer.lag.values())
        if consumer is None or not waiting:
            return True, "alive"
        ready, reason = await self.readiness()
        if not ready or self._ready_since is None:
            return True, f"alive; not ready ({reason}), so waiting records are not a stall"
        stalled_for = time.monotonic() - max(consumer.last_progress, self._ready_since)
        if stalled_for > self.settings.liveness_stall_seconds:
            return False, f"no progress for {stalled_for:.0f}s with {waiting} records waiting"
        return True, "alive"

    async def refresh_metrics(self) -> None:
        """Brings the gauges that need a look outside the process up to date (on a scrape)."""
        await self.readiness()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                metrics.record_outbox(*await backlog(self._pool))
                metrics.record_render_jobs(await documents.oldest_job(self._pool))
        metrics.DB_POOL_IN_USE.set(self._pool.get_size() - self._pool.get_idle_size())


def tune_garbage_collection() -> None:
    """A batch makes hundreds of thousands of objects that live until it commits. With the
    default thresholds the cycle collector walks them, and every object alive since startup,
    again and again: a quarter of the CPU an order costs. What startup made is frozen out of
    the collections, and the youngest generation is collected less often (the cycles a
    batch leaves are still freed; reference counting frees the rest at once)."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def install_signal_handlers(worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.request_stop)
