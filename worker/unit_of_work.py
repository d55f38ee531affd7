"""One batch's database transaction: load what its records need, then store what its
decisions wrote, numbers last. A handful of round trips per batch, whatever its size."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from worker.batch import Batch, Numbers
from worker.domain.parties import DEFAULT_SELLER_ID
from worker.handlers import Needs
from worker.publishing.batch_writes import Writes, batch_writes
from worker.rows import EventKey
from worker.settings import Settings
from worker.store import documents, inbox, invoices, numbers, orders, outbox, sellers
from worker.store.pool import Executor


async def begin(
    connection: Executor,
    settings: Settings,
    now: datetime,
    needs: Sequence[Needs],
    event_keys: Collection[EventKey],
) -> Batch:
    """Locks the orders the batch is about (named, or through their invoices) and loads
    them, the invoices of those that commands are about, and the events seen before."""
    invoice_orders = await invoices.orders_of_invoices(
        connection, [invoice_id for need in needs for invoice_id in need.invoices]
    )
    with_invoices = {
        *(order_id for need in needs for order_id in need.orders_with_invoices),
        *invoice_orders.values(),
    }
    all_orders = {*(order_id for need in needs for order_id in need.orders), *with_invoices}
    await orders.lock_orders(connection, all_orders)
    loaded = await invoices.load_invoices(connection, with_invoices)
    loaded_orders = await orders.load_orders(connection, all_orders)
    named = {seller_id for need in needs for seller_id in need.sellers}
    named |= {o.details.seller_id for o in loaded_orders.values() if o.details.seller_id}
    return Batch(
        settings=settings,
        now=now,
        orders=loaded_orders,
        invoices={invoice.invoice_id: invoice for invoice in loaded},
        inbox=await inbox.load_inbox(connection, event_keys),
        sellers=await sellers.load_sellers(connection, named - {DEFAULT_SELLER_ID}),
    )


async def commit(connection: Executor, batch: Batch) -> Writes:
    """Stores what the batch decided. The series' counters are locked from the moment the
    numbers are taken until commit, so that is the last thing but the writes it numbers."""
    await sellers.save_sellers(connection, batch.saved_sellers)
    await orders.save_orders(connection, batch.saved_orders)
    await orders.save_rows(connection, batch.saved_rows)
    counts = batch.series_counts()
    taken = None
    if counts:
        timezone = ZoneInfo(batch.settings.timezone)
        first, taken_at = await numbers.take_numbers(
            connection, counts, lambda moment: moment.astimezone(timezone).year
        )
        # The closing invoices' sellers as stored now, under the series' locks.
        closing = await sellers.load_sellers(connection, batch.closing_sellers)
        taken = Numbers(first, taken_at, taken_at.astimezone(timezone).date(), closing)
    writes = batch_writes(batch.finish(taken), batch.settings, batch.now)
    # Changed invoices first: a voided invoice releases rows a new one may take.
    await invoices.update_invoices(connection, writes.numbered.changed_invoices)
    await invoices.insert_invoices(connection, writes.numbered.new_invoices)
    await documents.enqueue_render_jobs(connection, writes.render_jobs)
    await documents.add_waiting(connection, writes.waiting_notifications)
    await outbox.enqueue(connection, writes.messages)
    await inbox.record_outcomes(connection, writes.inbox)
    return writes
