"""c, d. The worker end to end on pre-loaded orders; e. its latency under a steady load.

The worker runs as `invoicer run` in a process of its own, on a database and topics of
the scenario's own. Every run checks its counts: every order invoiced exactly once, one
invoice-closed and one notification-requested event per order, the outbox drained.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.kafka import (
    Received,
    assigned_reader,
    create_producer,
    preload,
    read_topic,
    read_until,
    start_group_past,
)
from bench.orders import BenchOrder
from bench.profiling import Profiler
from bench.sellers import BenchSeller
from bench.services import Services, fresh_scenario
from bench.worker_process import (
    CpuMeter,
    WorkerProcess,
    machine_busy_seconds,
    migrate_database,
)
from worker.settings import Settings

START_POLL_SECONDS = 0.05
DONE_POLL_SECONDS = 0.25
LATENCY_READER_WAIT_MS = 20
LATENCY_DRAIN_SECONDS = 120.0


class BenchmarkFailed(Exception):
    """A run did not do what the worker promises (an order not invoiced, or twice)."""


@dataclass(frozen=True, slots=True)
class Counts:
    orders: int
    invoices: int
    invoiced_orders: int
    """Distinct orders with an invoice."""
    invoice_numbers: int
    """Distinct invoice numbers."""
    inbox_entries: int
    outbox_left: int
    invoice_closed_events: int
    invoice_closed_orders: int
    """Distinct orders among the invoice-closed events."""
    notifications: int
    registered_sellers: int = 0
    """Distinct registered sellers (not the configured one) among the invoices."""
    documents_pending: bool = False
    """Documents on: an invoice's notification waits for its documents, so fewer may be out."""

    def problems(self) -> list[str]:
        expected = {
            "invoices": self.invoices,
            "invoiced_orders": self.invoiced_orders,
            "invoice_numbers": self.invoice_numbers,
            "inbox_entries": self.inbox_entries,
            "invoice_closed_events": self.invoice_closed_events,
            "invoice_closed_orders": self.invoice_closed_orders,
            "notifications": self.notifications,
        }
        if self.documents_pending:
            del expected["notifications"]
        found = [f"{name} = {value}" for name, value in expected.items() if value != self.orders]
        if self.outbox_left:
            found.append(f"outbox_left = {self.outbox_left}")
        return found


@dataclass(frozen=True, slots=True)
class Usage:
    """What the worker and its services used over the measured window."""

    window_seconds: float
    worker_cpu_seconds: float
    postgres_cpu_seconds: float | None
    broker_cpu_seconds: float | None
    bench_cpu_seconds: float
    """The benchmark's own process (polling the database, offering load, reading)."""
    machine_cpu_seconds: float
    """Every process on the machine: what the others leave is load from elsewhere."""
    peak_rss_mib: float
    """Of the worker's largest process."""
    worker_processes_cpu_seconds: tuple[float, ...] = ()
    """Each worker process's (`--processes`), the busiest first; render processes and the
    supervisor, which uses next to none, left out."""

    @property
    def other_cpu_seconds(self) -> float | None:
        """CPU used by processes outside the run, when the services' use is known."""
        if self.postgres_cpu_seconds is None or self.broker_cpu_seconds is None:
            return None
        known = (
            self.worker_cpu_seconds
            + self.postgres_cpu_seconds
            + self.broker_cpu_seconds
            + self.bench_cpu_seconds
        )
        return max(0.0, self.machine_cpu_seconds - known)

    @staticmethod
    def share(cpu_seconds: float | None, window: float) -> float | None:
        """CPU used, in cores (1.0 = one core busy all the time)."""
        return None if cpu_seconds is None else cpu_seconds / window


@dataclass(frozen=True, slots=True)
class ThroughputResult:
    batch_max_records: int
    processes: int
    orders: int
    seconds: float
    """From the first record consumed to the last invoice-closed handed to the broker."""
    counts: Counts
    usage: Usage
    exit_code: int
    documents: int | None = None
    """Documents on: the documents (PDF and UBL each count) stored in the seconds after the
    last invoice closed (`render_sample_seconds`; while closing, rendering mostly waits)."""
    render_cpu_seconds: float | None = None
    """Documents on: what the render processes used over those seconds."""

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds

    @property
    def documents_per_core_second(self) -> float | None:
        if not self.documents or not self.render_cpu_seconds:
            return None
        return self.documents / self.render_cpu_seconds


@dataclass(slots=True)
class Meters:
    worker: CpuMeter
    postgres: CpuMeter
    broker: CpuMeter
    bench: CpuMeter = field(default_factory=lambda: CpuMeter(os.getpid(), children=False))
    started_at: float = 0.0
    stopped_at: float = 0.0
    machine_started: float = 0.0
    machine_stopped: float = 0.0

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.machine_started = machine_busy_seconds()
        for meter in (self.worker, self.postgres, self.broker, self.bench):
            meter.start()

    def stop(self) -> None:
        self.stopped_at = time.monotonic()
        self.machine_stopped = machine_busy_seconds()
        for meter in (self.worker, self.postgres, self.broker, self.bench):
            meter.stop()

    def usage(self, peak_rss_mib: float, worker_pids: Collection[int]) -> Usage:
        by_process = self.worker.by_process()
        return Usage(
            worker_processes_cpu_seconds=tuple(
                sorted((by_process.get(pid, 0.0) for pid in worker_pids), reverse=True)
            ),
            window_seconds=self.stopped_at - self.started_at,
            worker_cpu_seconds=self.worker.seconds or 0.0,
            postgres_cpu_seconds=self.postgres.seconds,
            broker_cpu_seconds=self.broker.seconds,
            bench_cpu_seconds=self.bench.seconds or 0.0,
            machine_cpu_seconds=self.machine_stopped - self.machine_started,
            peak_rss_mib=peak_rss_mib,
        )


def meters_of(services: Services, worker_pid: int) -> Meters:
    return Meters(
        CpuMeter(worker_pid), CpuMeter(services.postgres_pid), CpuMeter(services.kafka_pid)
    )


async def _database_counts(connection: asyncpg.Connection) -> asyncpg.Record:
    record = await connection.fetchrow(
        """
        SELECT (SELECT count(*) FROM invoices) AS invoices,
               (SELECT count(DISTINCT order_id) FROM invoices) AS invoiced_orders,
               (SELECT count(DISTINCT (coalesce(seller_id, 'default'), invoice_number))
                  FROM invoices) AS invoice_numbers,
               (SELECT count(*) FROM inbox WHERE event_type = 'order-completed')
                  AS inbox_entries,
               (SELECT count(*) FROM outbox) AS outbox_left,
               (SELECT count(DISTINCT seller_id) FROM invoices
                 WHERE seller_id IS DISTINCT FROM 'default') AS registered_sellers
        """
    )
    assert record is not None
    return record


async def _counts(
    settings: Settings, orders: int, seconds_allowed: float, documents: bool = False
) -> tuple[Counts, list[Received]]:
    connection = await asyncpg.connect(settings.database_url)
    try:
        stored = await _database_counts(connection)
    finally:
        await connection.close()
    bootstrap = settings.kafka_bootstrap_servers
    closed = await read_topic(bootstrap, settings.topics.invoices_closed, orders, seconds_allowed)
    # With documents on, an invoice's notification waits for its documents: not counted.
    notifications = (
        []
        if documents
        else await read_topic(
            bootstrap, settings.topics.notifications_requested, orders, seconds_allowed
        )
    )
    counts = Counts(
        orders=orders,
        invoices=stored["invoices"],
        invoiced_orders=stored["invoiced_orders"],
        invoice_numbers=stored["invoice_numbers"],
        inbox_entries=stored["inbox_entries"],
        outbox_left=stored["outbox_left"],
        invoice_closed_events=len(closed),
        invoice_closed_orders=len({record.key for record in closed}),
        notifications=len(notifications),
        registered_sellers=stored["registered_sellers"],
        documents_pending=documents,
    )
    return counts, closed


async def wait_until(
    connection: asyncpg.Connection,
    worker: WorkerProcess,
    query: str,
    poll_seconds: float,
    deadline: float,
    what: str,
) -> None:
    while not await connection.fetchval(query):
        worker.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker did not {what} in time; its log: {worker.log_path}")
        await asyncio.sleep(poll_seconds)


async def measure_throughput(
    services: Services,
    orders: Sequence[BenchOrder],
    *,
    label: str,
    partitions: int,
    batch_max_records: int,
    processes: int,
    seconds_allowed: float,
    log_dir: Path,
    profile_path: Path | None = None,
    documents: bool = False,
    render_sample_seconds: float = 10.0,
    sellers: Sequence[BenchSeller] = (),
) -> ThroughputResult:
    """Pre-loads the orders, then starts the worker and waits until every invoice is out
    (with `documents`, a seller configured: closed while the render pool works beside).
    `sellers` are registered first, by a worker run of their own."""
    async with fresh_scenario(services, label, partitions, migrated=False) as scenario:
        settings = scenario.settings
        await asyncio.to_thread(migrate_database, settings)
        if sellers:
            await _register_sellers(settings, services, sellers, log_dir, seconds_allowed)
        await preload(services.bootstrap_servers, settings.topics.orders_completed, orders)

        worker = WorkerProcess(settings, batch_max_records, processes, documents=documents)
        worker.start(log_dir)
        profiler = Profiler(profile_path) if profile_path is not None else None
        meters = meters_of(services, worker.pid)
        connection = await asyncpg.connect(settings.database_url)
        try:
            deadline = time.monotonic() + seconds_allowed
            await wait_until(
                connection,
                worker,
                f"SELECT EXISTS (SELECT FROM inbox WHERE {_ORDERS})",
                START_POLL_SECONDS,
                deadline,
                "start",
            )
            meters.start()
            if profiler is not None:
                profiler.start(worker.pid)
            await wait_until(
                connection,
                worker,
                f"SELECT (SELECT count(*) FROM invoices) >= {len(orders)}"
                " AND NOT EXISTS (SELECT FROM outbox)",
                DONE_POLL_SECONDS,
                deadline,
                f"invoice {len(orders)} orders",
            )
            meters.stop()
            first_consumed = await connection.fetchval(
                f"SELECT min(processed_at) FROM inbox WHERE {_ORDERS}"
            )
            rendering = None
            if documents:
                rendering = await _sample_rendering(connection, worker, render_sample_seconds)
        finally:
            await connection.close()
            if profiler is not None:
                profiler.stop()
            peak_rss = worker.peak_rss_mib()
            worker_pids = worker.worker_pids()
            exit_code = await worker.stop()
        counts, closed = await _counts(settings, len(orders), seconds_allowed, documents)
    problems = counts.problems()
    if problems or exit_code != 0:
        raise BenchmarkFailed(f"{label}: exit code {exit_code}; {', '.join(problems)}")
    last_delivered = max(record.timestamp_ms for record in closed) / 1000
    return ThroughputResult(
        batch_max_records=batch_max_records,
        processes=processes,
        orders=len(orders),
        seconds=last_delivered - first_consumed.timestamp(),
        counts=counts,
        usage=meters.usage(peak_rss, worker_pids),
        exit_code=exit_code,
        documents=None if rendering is None else rendering[0],
        render_cpu_seconds=None
        if rendering is None
        else _render_cpu_seconds(rendering[1], worker.pid, worker_pids),
    )


_ORDERS = "event_type = 'order-completed'"
"""The inbox entries of orders: a run's sellers were registered before it."""


async def _register_sellers(
    settings: Settings,
    services: Services,
    sellers: Sequence[BenchSeller],
    log_dir: Path,
    seconds_allowed: float,
) -> None:
    """Registers the sellers as a marketplace does before their orders come: produced to
    the sellers topic, consumed by a worker that is stopped once all are stored. That
    worker has a group of its own, and the run's group starts past the sellers as if it had
    consumed them: a member that just left the run's group would keep the run's worker
    waiting to join until the member's session ran out (Tansu keeps a member that left)."""
    await preload(services.bootstrap_servers, settings.topics.sellers, sellers)
    registering = settings.model_copy(update={"group_id": f"{settings.group_id}-sellers"})
    worker = WorkerProcess(registering, batch_max_records=500)
    worker.start(log_dir)
    connection = await asyncpg.connect(settings.database_url)
    try:
        await wait_until(
            connection,
            worker,
            f"SELECT count(*) >= {len(sellers)} FROM sellers",
            START_POLL_SECONDS,
            time.monotonic() + seconds_allowed,
            f"register {len(sellers)} sellers",
        )
    finally:
        await connection.close()
        exit_code = await worker.stop()
    if exit_code != 0:
        raise BenchmarkFailed(f"registering sellers: exit code {exit_code}")
    await start_group_past(services.bootstrap_servers, settings.group_id, settings.topics.sellers)


async def _sample_rendering(
    connection: asyncpg.Connection, worker: WorkerProcess, seconds: float
) -> tuple[int, CpuMeter]:
    """Documents stored over `seconds` once closing is done (rendering catches up then),
    and the CPU of the worker's processes over them."""
    count = "SELECT count(*) FROM invoice_documents"
    meter = CpuMeter(worker.pid)
    before = await connection.fetchval(count)
    meter.start()
    await asyncio.sleep(seconds)
    meter.stop()
    return await connection.fetchval(count) - before, meter


def _render_cpu_seconds(meter: CpuMeter, supervisor: int, workers: Collection[int]) -> float:
    """The CPU of the worker's processes that are neither a worker nor its supervisor."""
    return sum(
        seconds
        for pid, seconds in meter.by_process().items()
        if pid != supervisor and pid not in workers
    )


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @staticmethod
    def of(seconds: Sequence[float]) -> Percentiles:
        ordered = sorted(seconds)

        def rank(percent: float) -> float:
            # Nearest rank: the smallest value with at least `percent` of them at or below.
            index = max(0, math.ceil(percent / 100 * len(ordered)) - 1)
            return ordered[index] * 1000

        return Percentiles(rank(50), rank(95), rank(99), ordered[-1] * 1000)


@dataclass(frozen=True, slots=True)
class LatencyResult:
    rate: float
    duration: float
    orders: int
    offered_seconds: float
    """How long sending them took (at the offered rate: `orders / rate`)."""
    delivered: Percentiles
    """Event time → invoice-closed received by a downstream consumer."""
    handed_to_broker: Percentiles
    """Event time → the invoice-closed record's timestamp (the relay's send)."""
    counts: Counts
    usage: Usage
    exit_code: int

    @property
    def offered_rate(self) -> float:
        return self.orders / self.offered_seconds


async def _offer(
    settings: Settings, orders: Sequence[BenchOrder], rate: float, event_times: dict[bytes, float]
) -> float:
    """Sends the orders at `rate` per second, each stamped with the time it is sent;
    returns how long that took."""
    producer = create_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        topic = settings.topics.orders_completed
        pending: list[asyncio.Future[object]] = []
        started = time.monotonic()
        for index, order in enumerate(orders):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = datetime.now(UTC)
            event_times[order.key] = now.timestamp()
            pending.append(await producer.send(topic, value=order.value(now), key=order.key))
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return time.monotonic() - started
    finally:
        await producer.stop()


async def measure_latency(
    services: Services,
    orders: Sequence[BenchOrder],
    *,
    rate: float,
    duration: float,
    partitions: int,
    batch_max_records: int,
    processes: int,
    log_dir: Path,
    profile_path: Path | None = None,
) -> LatencyResult:
    """Starts the worker, waits until it is ready, then offers the orders at `rate`."""
    async with fresh_scenario(services, "latency", partitions, migrated=False) as scenario:
        settings = scenario.settings
        await asyncio.to_thread(migrate_database, settings)
        worker = WorkerProcess(settings, batch_max_records, processes)
        worker.start(log_dir)
        profiler = Profiler(profile_path) if profile_path is not None else None
        meters = meters_of(services, worker.pid)
        reader = None
        try:
            await worker.wait_ready()
            reader = await assigned_reader(
                settings.kafka_bootstrap_servers,
                settings.topics.invoices_closed,
                fetch_max_wait_ms=LATENCY_READER_WAIT_MS,
            )
            received: list[Received] = []
            reading = asyncio.create_task(
                read_until(reader, received, len(orders), duration + LATENCY_DRAIN_SECONDS)
            )
            event_times: dict[bytes, float] = {}
            meters.start()
            if profiler is not None:
                profiler.start(worker.pid)
            offered_seconds = await _offer(settings, orders, rate, event_times)
            await reading
            meters.stop()
        finally:
            if profiler is not None:
                profiler.stop()
            if reader is not None:
                await reader.stop()
            peak_rss = worker.peak_rss_mib()
            worker_pids = worker.worker_pids()
            exit_code = await worker.stop()
        counts, _ = await _counts(settings, len(orders), LATENCY_DRAIN_SECONDS)
    problems = counts.problems()
    if problems or exit_code != 0:
        raise BenchmarkFailed(f"latency: exit code {exit_code}; {', '.join(problems)}")
    first: dict[bytes, Received] = {}
    for record in received:
        if record.key is not None:
            first.setdefault(record.key, record)
    return LatencyResult(
        rate=rate,
        duration=duration,
        orders=len(orders),
        offered_seconds=offered_seconds,
        delivered=Percentiles.of(
            [record.received_at - event_times[key] for key, record in first.items()]
        ),
        handed_to_broker=Percentiles.of(
            [record.timestamp_ms / 1000 - event_times[key] for key, record in first.items()]
        ),
        counts=counts,
        usage=meters.usage(peak_rss, worker_pids),
        exit_code=exit_code,
    )
