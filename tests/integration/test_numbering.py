"""Numbers under concurrency: gap-free and strictly increasing in closing order within a
series, never reused, across replicas (docs/contract.md, "Invoices")."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg

from tests.builders import seller_updated
from tests.integration.flows import command_event, order_event, row
from tests.integration.kafka_client import KafkaClient
from worker.running import Worker
from worker.settings import Settings
from worker.store.numbers import SERIES_LOCK_NAMESPACE

ORDERS = 150


@contextlib.asynccontextmanager
async def replicas(settings: Settings, count: int) -> AsyncIterator[list[Worker]]:
    workers = [Worker(settings) for _ in range(count)]
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        await asyncio.wait_for(asyncio.gather(*(worker.started.wait() for worker in workers)), 60)
        yield workers
    finally:
        for worker in workers:
            worker.request_stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)


async def wait_until(db: asyncpg.Connection, query: str, expected: int) -> None:
    async with asyncio.timeout(120):
        while await db.fetchval(query) != expected:  # noqa: ASYNC110 - polling is the point
            await asyncio.sleep(0.2)


async def test_two_replicas_close_hundreds_of_invoices_without_a_gap_or_a_double(
    kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    async with replicas(settings, 2):
        for index in range(ORDERS):
            order_id = f"NUM-{index}"
            # random keys: the messages of one order land on any partition, in any order,
            # so both replicas work on the same orders at the same time
            first = order_event(order_id, [row("a")])
            later = order_event(order_id, [row("a"), row("b")], invoicing={"autoClose": False})
            await kafka.publish(settings.topics.orders_completed, first, key=uuid.uuid4().hex)
            await kafka.publish(settings.topics.orders_completed, later, key=uuid.uuid4().hex)
        await wait_until(db, "SELECT count(*) FROM invoice_lines WHERE holds_row", 2 * ORDERS)
        drafts = await db.fetch("SELECT invoice_id::text FROM invoices WHERE status = 'draft'")
        for draft in drafts:
            close = command_event("close", invoiceId=draft["invoice_id"])
            await kafka.publish(settings.topics.invoice_commands, close, key=uuid.uuid4().hex)
        await wait_until(db, "SELECT count(*) FROM invoices WHERE status = 'draft'", 0)
        invoices = await db.fetchval("SELECT count(*) FROM invoices")
        closed = await kafka.read(settings.topics.invoices_closed, invoices)

    assert ORDERS <= invoices <= 2 * ORDERS
    in_closing_order = await db.fetch(
        "SELECT invoice_number FROM invoices ORDER BY closed_at, invoice_number"
    )
    numbers = [int(record["invoice_number"].rsplit("-", 1)[1]) for record in in_closing_order]
    assert numbers == list(range(1, invoices + 1))
    assert sorted(m.event["data"]["invoiceNumber"] for m in closed) == sorted(
        r["invoice_number"] for r in in_closing_order
    )
    # every row of every order on exactly one invoice
    per_order = await db.fetch(
        "SELECT order_id, count(*) AS lines, count(DISTINCT order_row_id) AS rows"
        " FROM invoice_lines GROUP BY order_id"
    )
    assert len(per_order) == ORDERS
    assert all(record["lines"] == record["rows"] == 2 for record in per_order)


SELLER_ORDERS = 40


async def test_two_sellers_number_apart_across_replicas_and_neither_waits_for_the_other(
    kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    """Each seller's series is gap-free in closing order across two replicas, and a
    seller's series lock held by another transaction holds up that seller's closing only:
    another seller's invoices close meanwhile."""
    async with replicas(settings, 2):
        for seller_id, prefix in (("merchant-a", "A"), ("merchant-b", "B")):
            await kafka.publish(
                settings.topics.sellers,
                seller_updated(str(uuid.uuid4()), seller_id, invoiceNumberPrefix=prefix),
                key=seller_id,
            )
        await wait_until(db, "SELECT count(*) FROM sellers", 2)
        async with asyncpg_connection(settings) as holder, holder.transaction():
            # merchant-a's series locked, as a replica closing its invoices would hold it
            await holder.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext('merchant-a/invoice'))",
                SERIES_LOCK_NAMESPACE,
            )
            for index in range(SELLER_ORDERS // 2):
                event = order_event(f"B-{index}", [row("a")], sellerId="merchant-b")
                await kafka.publish(settings.topics.orders_completed, event, key=uuid.uuid4().hex)
            await wait_until(
                db,
                "SELECT count(*) FROM invoices WHERE seller_id = 'merchant-b'",
                SELLER_ORDERS // 2,
            )
            for index in range(SELLER_ORDERS // 2):
                event = order_event(f"A-{index}", [row("a")], sellerId="merchant-a")
                await kafka.publish(settings.topics.orders_completed, event, key=uuid.uuid4().hex)
            await asyncio.sleep(1)
            assert (
                await db.fetchval("SELECT count(*) FROM invoices WHERE seller_id = 'merchant-a'")
                == 0
            )
        await wait_until(db, "SELECT count(*) FROM invoices", SELLER_ORDERS)

    for seller_id, prefix in (("merchant-a", "A"), ("merchant-b", "B")):
        in_closing_order = await db.fetch(
            "SELECT invoice_number FROM invoices WHERE seller_id = $1"
            " ORDER BY closed_at, invoice_number",
            seller_id,
        )
        numbers = [record["invoice_number"] for record in in_closing_order]
        assert all(number.startswith(f"{prefix}-") for number in numbers)
        assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, SELLER_ORDERS // 2 + 1))


@contextlib.asynccontextmanager
async def asyncpg_connection(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection, without the worker's session timeouts: it may idle in a
    transaction as long as the test needs."""
    connection = await asyncpg.connect(settings.database_url)
    try:
        yield connection
    finally:
        await connection.close()
