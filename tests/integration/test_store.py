"""The database's own guarantees: migrations, the one-live-invoice rule, the number series."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import datetime
from decimal import Decimal

import asyncpg
import pytest

from tests.builders import closed_invoice, closed_invoice_of, registered_seller
from worker.domain.amounts import TaxTreatment
from worker.domain.invoice import Adjustment, AdjustmentKind, OrderRow
from worker.domain.order import Order, OrderDetails
from worker.domain.parties import Customer
from worker.rows import OutboxMessage, RenderJob, WaitingNotification
from worker.settings import Settings
from worker.store import documents, invoices, orders, sellers
from worker.store.migrate import Migration, migrate, migrations
from worker.store.numbers import take_numbers
from worker.store.outbox import enqueue, fetch_pending
from worker.store.pool import connect


async def test_migrate_twice_applies_nothing_the_second_time(
    settings: Settings, db: asyncpg.Connection
) -> None:
    assert await migrate(settings.database_url) == []
    applied = await db.fetchval("SELECT count(*) FROM schema_migrations")
    assert applied == len(migrations())


async def test_two_workers_migrating_at_once_apply_each_file_once(fresh_database: str) -> None:
    results = await asyncio.gather(migrate(fresh_database), migrate(fresh_database))
    assert sorted(name for result in results for name in result) == [m.name for m in migrations()]


def up_to(name: str) -> tuple[list[Migration], Migration]:
    """The migrations before the one named, and that one."""
    every = migrations()
    [at] = [n for n, migration in enumerate(every) if migration.name == name]
    return every[:at], every[at]


async def test_the_automatic_notification_waiting_on_a_job_moves_to_document_notifications(
    fresh_database: str,
) -> None:
    db = await asyncpg.connect(fresh_database)
    try:
        before, moving = up_to("0007_document_notifications.sql")
        for migration in before:
            await db.execute(migration.sql)
        invoice_id = uuid.uuid4()
        await db.execute("SET session_replication_role = replica")  # no invoice row needed
        await db.execute(
            "INSERT INTO render_jobs (invoice_id, correlation_id, notification)"
            " VALUES ($1, 'c-1', $2::jsonb)",
            invoice_id,
            '{"channel": "email", "recipient": "a@example.com", "request": ["x", "y"],'
            ' "amountDue": "12.30"}',
        )
        await db.execute(moving.sql)
        await db.execute(moving.sql)  # safe to run twice

        moved = await db.fetch("SELECT * FROM document_notifications")
        column = await db.fetchval(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'render_jobs' AND column_name = 'notification'"
        )
    finally:
        await db.close()
    assert [dict(row) | {"id": 0, "created_at": None} for row in moved] == [
        {
            "id": 0,
            "invoice_id": invoice_id,
            "channel": "email",
            "recipient": "a@example.com",
            "reason": "auto",
            "request": ["x", "y"],
            "amount_due": Decimal("12.30"),
            "correlation_id": "c-1",
            "event_time": None,
            "traceparent": None,
            "created_at": None,
        }
    ]
    assert column == 0


async def applied(connection: asyncpg.Connection, migration: Migration) -> None:
    """`migration` applied as worker.store.migrate applies a file."""
    async with connection.transaction():
        await connection.execute("SET LOCAL lock_timeout = 5000")
        await connection.execute(migration.sql)


async def test_a_notification_an_old_renderer_sends_while_0007_runs_is_not_moved_to_be_sent_again(
    fresh_database: str,
) -> None:
    before, moving = up_to("0007_document_notifications.sql")
    setup, old, migrating = [await asyncpg.connect(fresh_database) for _ in range(3)]
    try:
        for migration in before:
            await setup.execute(migration.sql)
        invoice_id = uuid.uuid4()
        for connection in (setup, migrating):
            await connection.execute("SET session_replication_role = replica")  # no invoice
        await setup.execute(
            "INSERT INTO render_jobs (invoice_id, correlation_id, notification)"
            " VALUES ($1, 'c-1', $2::jsonb)",
            invoice_id,
            '{"channel": "email", "recipient": "a@example.com", "request": ["x"],'
            ' "amountDue": "1"}',
        )
        # the release before's renderer holds the job it renders
        claim = old.transaction()
        await claim.start()
        await old.fetchrow("SELECT invoice_id FROM render_jobs FOR UPDATE SKIP LOCKED")

        running = asyncio.create_task(applied(migrating, moving))
        await asyncio.sleep(0.5)
        # it stores the documents, sends the notification and deletes the job
        await old.execute("DELETE FROM render_jobs WHERE invoice_id = $1", invoice_id)
        await claim.commit()
        await running
        for later in migrations()[len(before) + 1 :]:  # as `invoicer migrate` goes on
            await setup.execute(later.sql)

        async with setup.transaction():
            released = await documents.take_released(setup, 100)
    finally:
        for connection in (setup, old, migrating):
            await connection.close()
    assert released == []


async def test_what_was_refunded_of_a_payment_before_refund_ids_becomes_one_refund(
    fresh_database: str,
) -> None:
    db = await asyncpg.connect(fresh_database)
    try:
        before, adding = up_to("0009_refunds_and_reminder_days.sql")
        for migration in before:
            await db.execute(migration.sql)
        invoice_id = uuid.uuid4()
        await db.execute("SET session_replication_role = replica")  # no order row needed
        await db.execute(
            "INSERT INTO invoices (invoice_id, order_id, type, status, currency,"
            " prices_include_tax, customer, payment_terms_days, net_amount, tax_amount,"
            " gross_amount, paid_amount, tax_breakdown, updated_at)"
            " VALUES ($1, 'o-1', 'invoice', 'draft', 'EUR', false, '{}', 14, 10, 0, 10, 6,"
            " '[]', '2026-11-30T10:00:00Z')",
            invoice_id,
        )
        await db.execute(
            "INSERT INTO payments (invoice_id, payment_id, position, amount, paid_at,"
            " refunded_amount) VALUES ($1, 'bank-1', 1, 10, now(), 4),"
            " ($1, 'bank-2', 2, 1, now(), 0)",
            invoice_id,
        )
        await db.execute(adding.sql)
        await db.execute(adding.sql)  # safe to run twice

        refunds = await db.fetch(
            "SELECT payment_id, refund_id, position, amount, refunded_at, reason"
            " FROM payment_refunds"
        )
    finally:
        await db.close()
    assert [dict(refund) for refund in refunds] == [
        {
            "payment_id": "bank-1",
            "refund_id": "before-refund-ids:bank-1",
            "position": 1,
            "amount": Decimal(4),
            "refunded_at": datetime.fromisoformat("2026-11-30T10:00:00+00:00"),
            "reason": None,
        }
    ]


async def test_a_render_job_is_leased_and_a_claim_whose_lease_ran_out_stores_nothing(
    db: asyncpg.Connection,
) -> None:
    await db.execute("SET session_replication_role = replica")  # no invoice row needed
    await db.execute(
        "INSERT INTO render_jobs (invoice_id, correlation_id) VALUES ($1, 'c')", uuid.uuid4()
    )
    [first] = await documents.claim(db, 600)
    assert first.job.attempts == 0  # counted when its rendering starts
    assert await documents.claim(db, 600) == []  # leased: no other renderer takes it

    await db.execute("UPDATE render_jobs SET not_before = now()")  # the lease ran out
    [second] = await documents.claim(db, 600)
    late = await documents.start(db, first)
    assert late is not None and late.attempts == 1
    started = await documents.start(db, second)  # the late renderer started it first
    assert started is None
    await db.execute("UPDATE render_jobs SET not_before = now()")  # its lease ran out too
    [third] = await documents.claim(db, 600)
    again = await documents.start(db, third)
    assert again is not None and again.attempts == 2
    async with db.transaction():
        assert await documents.hold(db, [late]) == set()  # the late renderer stores nothing
    async with db.transaction():
        assert await documents.hold(db, [again]) == {again.invoice_id}


async def test_the_release_reads_the_notifications_released_not_the_backlog_waiting(
    db: asyncpg.Connection,
) -> None:
    """During a burst thousands of notifications wait for their renderings: the renderer's
    release, twice a second, must not look up each one's render job to find the few whose
    documents were done when they were requested."""
    await db.execute("SET session_replication_role = replica")  # no invoice rows needed
    backlog = [str(uuid.uuid4()) for _ in range(3000)]
    await documents.enqueue_render_jobs(db, [RenderJob(i, "c", None) for i in backlog])
    done = str(uuid.uuid4())  # its documents stored: no render job left

    def waiting(invoice_id: str) -> WaitingNotification:
        return WaitingNotification(invoice_id, "sms", "+3161234", "send", (), Decimal(1), "c", None)

    await documents.add_waiting(db, [waiting(i) for i in backlog[:1500]])
    await documents.add_waiting(db, [waiting(done)])
    await documents.add_waiting(db, [waiting(i) for i in backlog[1500:]])
    await db.execute("ANALYZE render_jobs; ANALYZE document_notifications")
    reads = (  # this backend's counts not yet reported: what it read since, as a difference
        "SELECT pg_stat_get_xact_numscans('render_jobs'::regclass)"
        " + pg_stat_get_xact_tuples_returned('render_jobs'::regclass)"
        " + pg_stat_get_xact_tuples_returned('document_notifications'::regclass)"
    )
    async with db.transaction():
        before = await db.fetchval(reads)
        released = await documents.take_released(db, 100)
        looked_up = await db.fetchval(reads) - before

    assert [(notification.invoice_id, failure) for notification, failure in released] == [
        (done, None)
    ]
    assert looked_up <= 6, f"{looked_up} rows and lookups read to release one of 3,001"


async def _order_with_row(db: asyncpg.Connection, order_id: str) -> None:
    await db.execute(
        "INSERT INTO orders (order_id, currency, prices_include_tax, customer) VALUES ($1, 'EUR', false, '{}')",
        order_id,
    )
    await db.execute(
        "INSERT INTO order_rows (order_id, row_id, position, name, quantity, unit_price, discount_percent, tax_rate)"
        " VALUES ($1, 'r1', 0, 'Item', 1, 1, 0, 0)",
        order_id,
    )


async def _invoice_holding(db: asyncpg.Connection, order_id: str, holds: bool = True) -> None:
    invoice_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO invoices (invoice_id, order_id, type, status, currency, prices_include_tax, customer,"
        " payment_terms_days, net_amount, tax_amount, gross_amount, tax_breakdown)"
        " VALUES ($1, $2, 'invoice', 'draft', 'EUR', false, '{}', 14, 1, 0, 1, '[]')",
        invoice_id,
        order_id,
    )
    await db.execute(
        "INSERT INTO invoice_lines (invoice_id, line_no, order_id, order_row_id, holds_row, name, quantity,"
        " unit_price, discount_percent, tax_rate, net_amount) VALUES ($1, 1, $2, 'r1', $3, 'Item', 1, 1, 0, 0, 1)",
        invoice_id,
        order_id,
        holds,
    )


async def test_the_database_keeps_an_order_row_on_at_most_one_live_invoice(
    db: asyncpg.Connection,
) -> None:
    await _order_with_row(db, "O-1")
    await _invoice_holding(db, "O-1")
    with pytest.raises(asyncpg.UniqueViolationError):
        await _invoice_holding(db, "O-1")


async def test_a_row_freed_by_a_void_or_deleted_invoice_may_be_invoiced_again(
    db: asyncpg.Connection,
) -> None:
    await _order_with_row(db, "O-2")
    await _invoice_holding(db, "O-2", holds=False)
    await _invoice_holding(db, "O-2")

    lines = await db.fetch(
        "SELECT holds_row FROM invoice_lines WHERE order_id = 'O-2' AND order_row_id = 'r1'"
    )
    assert sorted(line["holds_row"] for line in lines) == [False, True]


def _year_2026(_: datetime) -> int:
    return 2026


async def test_numbers_of_a_rolled_back_transaction_are_given_back(db: asyncpg.Connection) -> None:
    transaction = db.transaction()
    await transaction.start()
    first, _ = await take_numbers(db, {"INV": 3}, _year_2026)
    assert first == {"INV": 1}
    await transaction.rollback()
    first, _ = await take_numbers(db, {"INV": 2, "CN": 1}, _year_2026)
    assert first == {"INV": 1, "CN": 1}
    first, _ = await take_numbers(db, {"INV": 1}, _year_2026)
    assert first == {"INV": 3}


async def test_numbers_are_taken_from_the_series_of_the_year_the_moment_gives(
    db: asyncpg.Connection,
) -> None:
    moments: list[datetime] = []

    def year_of(moment: datetime) -> int:
        moments.append(moment)
        return 2031

    async with db.transaction():
        first, taken_at = await take_numbers(db, {"INV": 2}, year_of)
        now = await db.fetchval("SELECT clock_timestamp()")
    assert first == {"INV": 1}
    assert moments == [taken_at]
    assert taken_at <= now
    last = await db.fetchval(
        "SELECT last_number FROM number_series WHERE prefix = 'INV' AND year = 2031"
    )
    assert last == 2


async def test_a_replica_waiting_for_a_series_takes_its_moment_after_the_holder_commits(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """The closing time (and so the issue date) is read once the series is this replica's:
    numbers and closing times never run in opposite directions across replicas."""
    other = await asyncpg.connect(settings.database_url)
    try:
        first = db.transaction()
        await first.start()
        [first_number], first_taken = await _take_one(db)
        waiting = asyncio.create_task(_take_one_in_a_transaction(other))
        await asyncio.sleep(0.5)  # the other replica is waiting for the series meanwhile
        committed_at = await db.fetchval("SELECT clock_timestamp()")
        await first.commit()
        [second_number], second_taken = await waiting
    finally:
        await other.close()
    assert (first_number, second_number) == (1, 2)
    assert first_taken < committed_at < second_taken


async def _take_one(connection: asyncpg.Connection) -> tuple[list[int], datetime]:
    first, taken_at = await take_numbers(connection, {"INV": 1}, _year_2026)
    return list(first.values()), taken_at


async def _take_one_in_a_transaction(
    connection: asyncpg.Connection,
) -> tuple[list[int], datetime]:
    async with connection.transaction():
        return await _take_one(connection)


async def test_outbox_headers_keep_any_name_and_null_values(db: asyncpg.Connection) -> None:
    # a dead letter carries the consumed record's headers, whatever they hold
    headers = (("trace\x00id", b"\x00\xff"), ("empty", None), ("plain", b"v"))
    await enqueue(db, [OutboxMessage("dead", b"k", b"value", headers)])

    [pending] = await fetch_pending(db, 10, 1 << 20)

    assert pending.message.headers == headers


async def test_charges_and_allowances_come_back_as_stored_and_live_invoices_hold_them(
    db: asyncpg.Connection,
) -> None:
    rows = [
        OrderRow(
            "r1", 0, None, "Item", Decimal(2), None, Decimal("10.00"), Decimal(0), Decimal(19)
        ),
        OrderRow(
            "r2",
            1,
            None,
            "Item",
            Decimal(1),
            None,
            Decimal("5.00"),
            Decimal(0),
            Decimal(0),
            TaxTreatment("E", "Exempt under §4", None),
        ),
    ]
    adjustments = [
        Adjustment(AdjustmentKind.ALLOWANCE, "v1", "Voucher", Decimal("2.50"), reason_code="95"),
        Adjustment(
            AdjustmentKind.CHARGE,
            "fee",
            "Fee",
            Decimal("1.00"),
            Decimal(0),
            TaxTreatment("E", "Exempt under §4", None),
            position=0,
        ),
        Adjustment(
            AdjustmentKind.CHARGE,
            "ship",
            "Shipping",
            Decimal("4.90"),
            Decimal(19),
            reason_code="FC",
            position=1,
        ),
    ]
    invoice = dataclasses.replace(
        closed_invoice_of(rows, "EUR", True, adjustments),
        invoice_id=str(uuid.uuid4()),
        order_id="O-ADJ",
    )
    extra = Adjustment(AdjustmentKind.CHARGE, "gift", "Gift wrap", Decimal("3.00"), position=2)
    order = Order(
        "O-ADJ",
        OrderDetails(None, "EUR", True, Customer("A")),
        {row.row_id: row for row in rows},
        adjustments={a.key: a for a in [*adjustments, extra]},
    )
    await orders.save_orders(db, [order])
    await orders.save_rows(db, [("O-ADJ", row) for row in rows])
    await invoices.insert_invoices(db, [invoice])

    [loaded] = await invoices.load_invoices(db, ["O-ADJ"])
    stored = (await orders.load_orders(db, ["O-ADJ"]))["O-ADJ"]

    assert loaded == invoice
    assert stored.adjustments == {a.key: a for a in [*adjustments, extra]}
    assert stored.held_adjustments == {a.key for a in adjustments}
    assert [a.adjustment_id for a in stored.free_adjustments()] == ["gift"]


@pytest.mark.parametrize("terms", [None, 0, 45])
async def test_an_orders_details_come_back_as_saved(
    db: asyncpg.Connection, terms: int | None
) -> None:
    details = OrderDetails(
        "C-1",
        "SEK",
        False,
        Customer("A"),
        delivery="sms",
        seller_id="merchant-b",
        payment_terms_days=terms,
    )
    order_id = f"O-TERMS-{terms}"
    await orders.save_orders(db, [Order(order_id, details)])

    assert (await orders.load_orders(db, [order_id]))[order_id].details == details


async def test_a_seller_comes_back_as_saved_and_the_last_one_stands(
    db: asyncpg.Connection,
) -> None:
    first = registered_seller("merchant-b", language="nl", payment_terms_days=30)
    changed = dataclasses.replace(
        first, seller=dataclasses.replace(first.seller, name="Koffie & Co")
    )

    await sellers.save_sellers(db, [first])
    await sellers.save_sellers(db, [changed])

    assert await sellers.load_sellers(db, ["merchant-b", "unknown"]) == {"merchant-b": changed}


async def test_an_order_invoiced_by_the_configured_seller_before_sellers_keeps_that_seller(
    fresh_database: str,
) -> None:
    """An order stored before 0013 has no seller_id; its invoices are the configured
    seller's ("default"), and so are the order's later rows, messages and creates."""
    db = await connect(fresh_database)
    try:
        before, sellers_migration = up_to("0013_sellers.sql")
        for migration in [*before, sellers_migration]:
            await db.execute(migration.sql)
        row = OrderRow(
            "r1", 0, None, "Item", Decimal(1), None, Decimal("10.00"), Decimal(0), Decimal(19)
        )
        invoiced = dataclasses.replace(
            closed_invoice_of([row], "EUR", False),
            invoice_id=str(uuid.uuid4()),
            order_id="O-OLD",
            seller_id="default",
        )
        # as a version before 0013 stored it (the columns of its day), without a seller_id
        await db.execute(
            "INSERT INTO orders (order_id, currency, prices_include_tax, customer)"
            " VALUES ('O-OLD', 'EUR', false, '{\"name\": \"A\"}')"
        )
        await orders.save_rows(db, [("O-OLD", row)])
        await invoices.insert_invoices(db, [invoiced])

        for later in migrations()[len(before) + 1 :]:  # as `invoicer migrate` goes on
            await db.execute(later.sql)

        stored = (await orders.load_orders(db, ["O-OLD"]))["O-OLD"]
        assert stored.details.seller_id == "default"
    finally:
        await db.close()


async def test_a_number_is_unique_within_its_sellers_invoices_only(db: asyncpg.Connection) -> None:
    """Two sellers may both have INV-2026-000001; one seller never twice."""
    base = closed_invoice([("1", "10.00", "19")])
    mine, theirs, again = (
        dataclasses.replace(
            base, invoice_id=str(uuid.uuid4()), order_id=f"O-NUM-{n}", seller_id=seller_id
        )
        for n, seller_id in enumerate(("merchant-a", "merchant-b", "merchant-a"))
    )
    for invoice in (mine, theirs, again):
        row = OrderRow(
            "r0", 0, None, "Item", Decimal(1), None, Decimal("10.00"), Decimal(0), Decimal(19)
        )
        order = Order(invoice.order_id, OrderDetails(None, "EUR", False, Customer("A")))
        await orders.save_orders(db, [order])
        await orders.save_rows(db, [(invoice.order_id, row)])

    await invoices.insert_invoices(db, [mine, theirs])
    with pytest.raises(asyncpg.UniqueViolationError):
        await invoices.insert_invoices(db, [again])


async def test_0017_runs_beside_a_closing_batch_of_the_release_before_without_a_deadlock(
    fresh_database: str,
) -> None:
    """A rolling upgrade: a worker of the release before closes an invoice (its render job,
    then its notification) while `invoicer migrate` applies 0017. One waits for the other;
    neither is aborted."""
    before, adding = up_to("0017_released_notifications.sql")
    setup, old, migrating = [await asyncpg.connect(fresh_database) for _ in range(3)]
    try:
        for migration in before:
            await setup.execute(migration.sql)
        await _order_with_row(setup, "o-1")
        await _invoice_holding(setup, "o-1")
        invoice_id = await setup.fetchval("SELECT invoice_id FROM invoices")

        closing = old.transaction()
        await closing.start()
        await old.execute(
            "INSERT INTO render_jobs (invoice_id, correlation_id) VALUES ($1, 'c-1')", invoice_id
        )

        running = asyncio.create_task(applied(migrating, adding))
        await asyncio.sleep(0.5)

        async def notify() -> None:  # the same batch adds its notification, then commits
            await old.execute(
                "INSERT INTO document_notifications (invoice_id, channel, recipient, reason,"
                " request, amount_due, correlation_id) VALUES ($1, 'email', 'a@example.com',"
                " 'auto', ARRAY['x'], 1, 'c-1')",
                invoice_id,
            )
            await closing.commit()

        outcomes = await asyncio.gather(notify(), running, return_exceptions=True)
        waiting = await setup.fetchval("SELECT count(*) FROM document_notifications")
    finally:
        for connection in (setup, old, migrating):
            await connection.close()
    assert [type(outcome).__name__ for outcome in outcomes] == ["NoneType", "NoneType"]
    assert waiting == 1
