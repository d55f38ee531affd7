"""Overdue invoices and payment reminders against the real database and broker (docs/contract.md
v2, "Payments, the change log, overdue and reminders"): each notice exactly once, whoever
scans, however often, and whatever dies on the way."""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from tests.faults.processes import environment_without_invoicer, invoicer_command
from tests.integration.flows import (
    await_event,
    command_event,
    order_invoiced,
    row,
    send_command,
)
from tests.integration.kafka_client import KafkaClient
from worker import metrics
from worker.dunning_scan import scan
from worker.running import Worker
from worker.settings import Settings
from worker.store.dunning import DUNNING_LOCK_ID, overdue_by_currency
from worker.store.pool import create_pool

NOTICES_SQL = "SELECT invoice_id::text, level FROM dunning_notices ORDER BY invoice_id, level"
OUTBOX_SQL = "SELECT convert_from(value, 'UTF8')::jsonb AS event FROM outbox ORDER BY id"


async def overdue_invoice(kafka: KafkaClient, settings: Settings, order_id: str) -> dict[str, Any]:
    """A closed invoice of 12.10 to a customer with an email address: its invoice-closed data."""
    return await order_invoiced(kafka, settings, order_id, row("1"))


def due(invoice: dict[str, Any], days: int) -> date:
    return date.fromisoformat(invoice["dueDate"]) + timedelta(days=days)


def dunning_run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*invoicer_command(), "dunning", "run", *args],
        env={
            **environment_without_invoicer(),
            "INVOICER_DATABASE_URL": settings.database_url,
            **{
                f"INVOICER_TOPIC_{name.upper()}": topic
                for name, topic in settings.topics.model_dump().items()
            },
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_as_of_one_day_before_the_due_date_nothing_and_one_day_after_overdue(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    invoice = await overdue_invoice(kafka, settings, "DUN-1")

    before = dunning_run(settings, "--as-of", str(due(invoice, -1)), "--allow-future")
    after = dunning_run(settings, "--as-of", str(due(invoice, 1)), "--allow-future")

    assert (before.returncode, after.returncode) == (0, 0)
    assert "sent 0 notice(s)" in before.stdout
    assert f"invoice-overdue {invoice['invoiceNumber']} {invoice['invoiceId']} 1 days" in (
        after.stdout
    )
    overdue = await await_event(
        kafka,
        settings.topics.invoice_events,
        lambda e: e["type"] == "invoice-overdue" and e["data"]["invoiceId"] == invoice["invoiceId"],
    )
    assert overdue.event["data"]["daysOverdue"] == 1
    assert overdue.event["data"]["invoice"]["version"] == invoice["version"]


async def test_a_dry_run_prints_what_it_would_send_and_sends_nothing(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    invoice = await overdue_invoice(kafka, settings, "DUN-2")
    as_of = str(due(invoice, 7))

    dry = dunning_run(settings, "--as-of", as_of, "--dry-run")

    assert dry.returncode == 0
    assert "would send 2 notice(s)" in dry.stdout
    assert "payment-reminder by email level 1" in dry.stdout
    assert await db.fetch(NOTICES_SQL) == []
    real = dunning_run(settings, "--as-of", as_of, "--allow-future")
    assert real.stdout.replace("sent", "would send") == dry.stdout


async def test_a_run_as_of_a_day_after_today_is_refused_unless_dry_or_allowed(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    """Without --dry-run or --allow-future, a future day would send every level now."""
    invoice = await overdue_invoice(kafka, settings, "DUN-2-FUTURE")

    refused = dunning_run(settings, "--as-of", str(due(invoice, 30)))

    assert refused.returncode == 2
    assert refused.stdout == ""
    assert len(refused.stderr.splitlines()) == 1 and "--allow-future" in refused.stderr
    assert await db.fetch(NOTICES_SQL) == []


async def test_a_repeated_scan_sends_nothing_new(
    kafka: KafkaClient, settings: Settings, pool: asyncpg.Pool, worker: Worker
) -> None:
    invoice = await overdue_invoice(kafka, settings, "DUN-3")
    as_of = due(invoice, 8)

    first = await scan(pool, settings, as_of)
    second = await scan(pool, settings, as_of)

    assert [notice.level for notice in first.notices] == [0, 1]
    assert second.notices == []


async def test_two_replicas_scanning_at_once_send_each_notice_once(
    kafka: KafkaClient, settings: Settings, db: asyncpg.Connection, worker: Worker
) -> None:
    invoices = [await overdue_invoice(kafka, settings, f"DUN-4-{n}") for n in range(3)]
    as_of = due(invoices[0], 15)
    pools = [await create_pool(settings.database_url) for _ in range(4)]
    try:
        # two that give way to a scan under way, two that wait for it and scan after
        reports = await asyncio.gather(
            *(scan(p, settings, as_of, wait=n % 2 == 0) for n, p in enumerate(pools))
        )
    finally:
        for p in pools:
            await p.close()

    sent = Counter(
        (notice.invoice_id, notice.level) for report in reports for notice in report.notices
    )
    assert sorted(sent.values()) == [1] * 6  # per invoice: overdue, and level 2 (the highest)
    ids = {invoice["invoiceId"] for invoice in invoices}
    await _assert_published_once(kafka, settings, ids, levels={2})


async def _assert_published_once(
    kafka: KafkaClient, settings: Settings, invoice_ids: set[str], levels: set[int]
) -> None:
    """Each invoice has exactly one invoice-overdue and one reminder of each of `levels` on
    the broker, by event id."""
    expected = len(invoice_ids) * (1 + len(levels))

    def ours(event: dict[str, Any]) -> bool:
        return event["data"].get("invoiceId") in invoice_ids and (
            event["type"] == "invoice-overdue" or event["data"].get("reason") == "reminder"
        )

    async with asyncio.timeout(30):
        while True:
            seen = [
                m.event
                for topic in (
                    settings.topics.invoice_events,
                    settings.topics.notifications_requested,
                )
                for m in await kafka.read(topic, 1)
                if m.value is not None and ours(m.event)
            ]
            if len({e["id"] for e in seen}) >= expected:
                break
            await asyncio.sleep(0.2)
    by_id = Counter(e["id"] for e in seen)
    assert len(by_id) == expected
    reminders = Counter(
        (e["data"]["invoiceId"], e["data"]["reminderLevel"])
        for e in {e["id"]: e for e in seen}.values()
        if e["type"] == "notification-requested"
    )
    assert set(reminders) == {(i, level) for i in invoice_ids for level in levels}


async def test_a_scan_killed_before_it_commits_sends_nothing_and_the_next_sends_once(
    kafka: KafkaClient, settings: Settings, db: asyncpg.Connection, worker: Worker
) -> None:
    invoice = await overdue_invoice(kafka, settings, "DUN-5")
    as_of = due(invoice, 7)
    killing = await create_pool(settings.database_url)

    async def die() -> None:
        """What the database sees of a replica killed mid-scan: its connection gone."""
        pid = await db.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted",
            DUNNING_LOCK_ID,
        )
        await db.execute("SELECT pg_terminate_backend($1, 10000)", pid)

    try:
        # a killed connection: the server's error, or asyncpg's own when the termination
        # arrives while it starts the commit (InternalClientError, seen under load)
        with pytest.raises(
            (
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
                ConnectionError,
            )
        ):
            await scan(killing, settings, as_of, before_commit=die)
    finally:
        killing.terminate()

    assert await db.fetch(NOTICES_SQL) == []
    pool = await create_pool(settings.database_url)
    try:
        report = await scan(pool, settings, as_of)
        again = await scan(pool, settings, as_of)
    finally:
        await pool.close()
    assert [notice.level for notice in report.notices] == [0, 1]
    assert again.notices == []
    await _assert_published_once(kafka, settings, {invoice["invoiceId"]}, levels={1})


async def test_a_payment_that_settles_after_a_reminder_stops_the_next_level(
    kafka: KafkaClient, settings: Settings, pool: asyncpg.Pool, worker: Worker
) -> None:
    invoice = await overdue_invoice(kafka, settings, "DUN-6")
    reminded = await scan(pool, settings, due(invoice, 7))
    pay = command_event(
        "record-payment", invoiceId=invoice["invoiceId"], amount=invoice["totals"]["amountDue"]
    )
    assert (await send_command(kafka, settings, pay))["invoice"]["status"] == "paid"

    later = await scan(pool, settings, due(invoice, 14))

    assert [notice.level for notice in reminded.notices] == [0, 1]
    assert later.notices == []


async def test_nothing_for_paid_void_or_fully_credited_invoices(
    kafka: KafkaClient, settings: Settings, pool: asyncpg.Pool, worker: Worker
) -> None:
    paid, void, credited = [
        (await overdue_invoice(kafka, settings, f"DUN-7-{n}"))["invoiceId"] for n in range(3)
    ]
    commands = [
        command_event("record-payment", invoiceId=paid, amount="12.10"),
        command_event("void", invoiceId=void, reason="wrong"),
        command_event(
            "create",
            orderId="DUN-7-2",
            type="credit-note",
            referenceInvoiceId=credited,
            close=True,
        ),
    ]
    for command in commands:
        assert (await send_command(kafka, settings, command))["ok"]

    report = await scan(pool, settings, date.today() + timedelta(days=400))

    assert {notice.invoice_id for notice in report.notices}.isdisjoint({paid, void, credited})


async def test_the_scan_figures_count_overdue_invoices_and_reminders(
    kafka: KafkaClient, settings: Settings, pool: asyncpg.Pool, worker: Worker
) -> None:
    invoice = await overdue_invoice(kafka, settings, "DUN-8")
    as_of = due(invoice, 7)
    before = _sample("invoicer_payment_reminders_total", level="1")

    await scan(pool, settings, as_of)
    metrics.record_overdue(await overdue_by_currency(pool, as_of))

    assert _sample("invoicer_payment_reminders_total", level="1") == before + 1
    assert _sample("invoicer_invoices_overdue", currency="EUR") == 1
    assert _sample("invoicer_amount_overdue", currency="EUR") == 12.10


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_longer_list_of_reminder_days_sends_no_level_already_reached_again(
    kafka: KafkaClient, settings: Settings, pool: asyncpg.Pool, worker: Worker
) -> None:
    """INVOICER_REMINDER_DAYS 7,14,30 becomes 3,7,14,30: the 7-day reminder is not sent again
    the same day; the 14-day one goes out as level 3."""
    invoice = await overdue_invoice(kafka, settings, "DUN-9")
    longer = settings.model_copy(update={"reminder_days": (3, 7, 14, 30)})

    first = await scan(pool, settings, due(invoice, 7))
    same_day = await scan(pool, longer, due(invoice, 7))
    later = await scan(pool, longer, due(invoice, 14))

    assert [(notice.level, notice.days) for notice in first.notices] == [(0, None), (1, 7)]
    assert same_day.notices == []
    assert [(notice.level, notice.days) for notice in later.notices] == [(3, 14)]


async def test_a_reminder_stored_before_the_days_were_counts_at_the_days_it_went_out(
    kafka: KafkaClient, settings: Settings, pool: asyncpg.Pool, worker: Worker
) -> None:
    """Reminders noted before migration 0009 have no days: level 1, sent 7 days past due,
    counts at 7 days under any later list."""
    invoice = await overdue_invoice(kafka, settings, "DUN-10")
    await pool.execute(
        "INSERT INTO dunning_notices (invoice_id, level, sent, as_of)"
        " VALUES ($1::uuid, 0, true, $2), ($1::uuid, 1, true, $3)",
        invoice["invoiceId"],
        due(invoice, 1),
        due(invoice, 7),
    )
    longer = settings.model_copy(update={"reminder_days": (3, 7, 14, 30)})

    same_day = await scan(pool, longer, due(invoice, 7))
    later = await scan(pool, longer, due(invoice, 14))

    assert same_day.notices == []
    assert [(notice.level, notice.days) for notice in later.notices] == [(3, 14)]
