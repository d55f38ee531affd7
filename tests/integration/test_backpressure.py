"""Backpressure: while more messages wait in the outbox than INVOICER_OUTBOX_BACKLOG_LIMIT
(the broker refuses or no relay publishes), consumption pauses and the worker says why;
once the outbox drains it resumes by itself."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.integration.flows import order_event, publish_order, row
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import running_worker, wait_until
from worker.relay import RELAY_LOCK_ID
from worker.rows import OutboxMessage
from worker.running import Worker
from worker.settings import Settings
from worker.store.outbox import enqueue

LIMIT = 5
PAUSED_FOR_SECONDS = 3.0


async def _joined(worker: Worker) -> bool:
    return worker.consumer is not None and worker.consumer.joined


async def test_consumption_pauses_above_the_outbox_bound_and_resumes_below_it(
    settings: Settings, db: asyncpg.Connection, kafka: KafkaClient
) -> None:
    await db.execute("SELECT pg_advisory_lock($1)", RELAY_LOCK_ID)  # no relay can publish
    await enqueue(db, [OutboxMessage(settings.topics.invoice_events, None, b"{}")] * (LIMIT + 5))
    async with running_worker(
        settings.model_copy(update={"outbox_backlog_limit": LIMIT})
    ) as worker:
        await publish_order(kafka, settings, order_event("O-held", [row("1")]))

        async def paused() -> bool:
            ready, reason = await worker.readiness()
            return not ready and "consumption paused: 10 messages wait in the outbox" in reason

        await wait_until(paused, "/readyz says consumption is paused")
        await wait_until(lambda: _joined(worker), "partitions assigned")
        await asyncio.sleep(PAUSED_FOR_SECONDS)
        assert await db.fetchval("SELECT count(*) FROM inbox") == 0, "consumed while paused"

        await db.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK_ID)

        async def invoiced() -> bool:
            return bool(await db.fetchval("SELECT count(*) FROM invoices"))

        await wait_until(invoiced, "the order invoiced once the outbox drained")

        async def ready() -> bool:
            return (await worker.readiness())[0]

        await wait_until(ready, "ready again")
