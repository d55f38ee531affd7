"""f. Delivered: a burst with documents on, from the first record consumed to the last
notification-requested that carries its invoice's documents, handed to the broker.

Closing goes first in a burst (the renderer yields while records wait, worker/render_jobs.py);
the documents follow, and each invoice's notification waits for them. Every order must get
exactly one notification, and every notification must carry documents.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.kafka import Received, preload, read_topic
from bench.orders import BenchOrder
from bench.services import Services, fresh_scenario
from bench.worker_process import WorkerProcess, migrate_database
from bench.worker_runs import (
    START_POLL_SECONDS,
    BenchmarkFailed,
    Usage,
    meters_of,
    wait_until,
)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    orders: int
    processes: int
    renderer_processes: int
    """Per worker process: processes × renderer_processes render processes in all."""
    seconds: float
    """First record consumed → last notification with documents handed to the broker."""
    usage: Usage
    exit_code: int

    @property
    def delivered_per_second(self) -> float:
        return self.orders / self.seconds


def _problems(notifications: Sequence[Received], orders: int) -> list[str]:
    keys = [record.key for record in notifications]
    without = sum(  # a structured CloudEvent: the notification is its data
        1
        for record in notifications
        if not json.loads(record.value or b"{}").get("data", {}).get("documents")
    )
    found = []
    if len(keys) != orders or len(set(keys)) != orders:
        found.append(f"{len(keys)} notifications for {len(set(keys))} of {orders} orders")
    if without:
        found.append(f"{without} notifications without documents")
    return found


async def measure_delivery(
    services: Services,
    orders: Sequence[BenchOrder],
    *,
    partitions: int,
    batch_max_records: int,
    processes: int,
    renderer_processes: int,
    seconds_allowed: float,
    log_dir: Path,
) -> DeliveryResult:
    """Pre-loads the orders, starts the worker with documents on and waits for every
    order's notification with its documents."""
    async with fresh_scenario(services, "delivered", partitions, migrated=False) as scenario:
        settings = scenario.settings
        await asyncio.to_thread(migrate_database, settings)
        await preload(services.bootstrap_servers, settings.topics.orders_completed, orders)
        worker = WorkerProcess(
            settings,
            batch_max_records,
            processes,
            documents=True,
            renderer_processes=renderer_processes,
        )
        worker.start(log_dir)
        meters = meters_of(services, worker.pid)
        connection = await asyncpg.connect(settings.database_url)
        try:
            await wait_until(
                connection,
                worker,
                "SELECT EXISTS (SELECT FROM inbox)",
                START_POLL_SECONDS,
                time.monotonic() + seconds_allowed,
                "start",
            )
            meters.start()
            notifications = await read_topic(
                settings.kafka_bootstrap_servers,
                settings.topics.notifications_requested,
                len(orders),
                seconds_allowed,
            )
            meters.stop()
            first_consumed = await connection.fetchval("SELECT min(processed_at) FROM inbox")
        finally:
            await connection.close()
            peak_rss = worker.peak_rss_mib()
            worker_pids = worker.worker_pids()
            exit_code = await worker.stop()
    problems = _problems(notifications, len(orders))
    if problems or exit_code != 0:
        raise BenchmarkFailed(f"delivered: exit code {exit_code}; {', '.join(problems)}")
    last_sent = max(record.timestamp_ms for record in notifications) / 1000
    return DeliveryResult(
        orders=len(orders),
        processes=processes,
        renderer_processes=renderer_processes,
        seconds=last_sent - first_consumed.timestamp(),
        usage=meters.usage(peak_rss, worker_pids),
        exit_code=exit_code,
    )
