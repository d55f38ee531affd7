"""A `send` committed while the renderer stores its invoice's documents goes out, whatever
isolation the database gives a transaction that names none."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import asyncpg
import pytest

from worker.rows import RenderJob, WaitingNotification
from worker.store import documents, invoices, orders
from worker.store.migrate import migrate
from worker.store.pool import create_pool
from worker.store.transactions import unit_of_work


async def _invoice_with_job(connection: asyncpg.Connection, order_id: str) -> str:
    invoice_id = str(uuid.uuid4())
    await connection.execute(
        "INSERT INTO orders (order_id, currency, prices_include_tax, customer)"
        " VALUES ($1, 'EUR', false, '{}')",
        order_id,
    )
    await connection.execute(
        "INSERT INTO invoices (invoice_id, order_id, type, status, currency, prices_include_tax,"
        " customer, payment_terms_days, net_amount, tax_amount, gross_amount, tax_breakdown)"
        " VALUES ($1, $2, 'invoice', 'draft', 'EUR', false, '{}', 14, 1, 0, 1, '[]')",
        invoice_id,
        order_id,
    )
    await documents.enqueue_render_jobs(connection, [RenderJob(invoice_id, "c", None)])
    return invoice_id


@pytest.mark.parametrize("isolation", ["read committed", "repeatable read"])
async def test_a_send_committed_while_the_documents_are_stored_is_sent(
    fresh_database: str, isolation: str
) -> None:
    await migrate(fresh_database)
    admin = await asyncpg.connect(fresh_database)
    try:
        name = fresh_database.rpartition("/")[2]
        await admin.execute(
            f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = '{isolation}'"
        )
        invoice_id = await _invoice_with_job(admin, "order-1")
    finally:
        await admin.close()
    pool = await create_pool(fresh_database, max_size=4)
    try:
        # the renderer: its job held, its order locked, about to take the waiting ones
        async with unit_of_work(pool) as renderer:
            assert await documents.hold(renderer, [RenderJob(invoice_id, "c", None)])
            await orders.lock_orders(renderer, ["order-1"])

            async def send() -> None:  # a batch with a `send` (worker/unit_of_work.py)
                async with unit_of_work(pool) as batch:
                    assert await invoices.orders_of_invoices(batch, [invoice_id])
                    await orders.lock_orders(batch, ["order-1"])
                    notification = WaitingNotification(
                        invoice_id,
                        "email",
                        "a@example.com",
                        "command",
                        (invoice_id,),
                        Decimal(1),
                        "c-send",
                        None,
                    )
                    await documents.add_waiting(batch, [notification])

            sending = asyncio.create_task(send())
            await asyncio.sleep(0.5)  # the batch waits for the order
            assert not sending.done()
            assert await documents.take_waiting(renderer, [invoice_id]) == {invoice_id: []}
            await documents.finish(renderer, [invoice_id])
        await sending

        async with unit_of_work(pool) as release:
            released = await documents.take_released(release, 100)
            left = await release.fetchval("SELECT count(*) FROM document_notifications")
    finally:
        await pool.close()
    assert [(n.invoice_id, n.correlation_id, f) for n, f in released] == [
        (invoice_id, "c-send", None)
    ], f"the send was not released ({left} notification(s) left waiting, no render job)"
