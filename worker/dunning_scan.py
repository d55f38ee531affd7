"""The dunning scan: overdue invoices announced (`invoice-overdue`) and reminded
(`notification-requested`, template "payment-reminder"), each notice exactly once.

What is done is state in the database (dunning_notices: the overdue notice once per invoice,
a reminder once per invoice and days past due),
written in the transaction that writes the notices to the outbox: a scan that dies
before it commits sent nothing, and one after it commits is never repeated. One replica
scans at a time (a PostgreSQL advisory lock), and even two scans at once could not send a
notice twice: the second's insert of the same level finds it done and sends nothing.
An invoice whose own notification still waits for its documents is passed over until that
has gone out, so no reminder comes before the invoice it reminds of.
`invoicer run` scans every INVOICER_DUNNING_INTERVAL_SECONDS; `invoicer dunning run`
scans once, as of any day.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from worker import metrics
from worker.decisions import Cause
from worker.domain.dunning import DunningHistory, Notice, due_notices
from worker.domain.lifecycle import NotificationRequested
from worker.publishing.invoice_events import invoice_event, overdue_event_id
from worker.retry import Backoff, Waiting
from worker.settings import Settings
from worker.store import dunning, invoices, orders, outbox
from worker.store.pool import Executor
from worker.store.transactions import unit_of_work

log = structlog.get_logger(__name__)

INVOICES_PER_TRANSACTION = 200


@dataclass(slots=True)
class ScanReport:
    as_of: date
    notices: list[Notice] = field(default_factory=list)
    """What the scan sent (or, dry, would send), in order."""
    skipped: bool = False
    """Another replica was scanning: this one did nothing."""


def today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


async def scan(
    pool: asyncpg.Pool,
    settings: Settings,
    as_of: date,
    *,
    dry_run: bool = False,
    wait: bool = False,
    before_commit: Callable[[], Awaitable[None]] | None = None,
) -> ScanReport:
    """One scan as if today were `as_of`, a bounded number of invoices per transaction.
    Without `wait` it does nothing when another replica is scanning. A dry run sends
    nothing and notes nothing. `before_commit` is a test hook, off by default."""
    report = ScanReport(as_of)
    after: str | None = None
    while True:
        async with unit_of_work(pool, keep=not dry_run) as connection:
            if not await dunning.lock_scan(connection, wait=wait):
                report.skipped = True
                return report
            found = await dunning.overdue_invoices(
                connection, as_of, settings.reminder_days, after, INVOICES_PER_TRANSACTION
            )
            if not found:
                return report
            after = found[-1][0]
            sent = await _send_notices(connection, settings, as_of, dict(found))
            if before_commit is not None:
                await before_commit()
        if not dry_run:
            _count(sent)
        report.notices.extend(sent)


async def _send_notices(
    connection: Executor, settings: Settings, as_of: date, found: dict[str, str]
) -> list[Notice]:
    """Decides the notices of these invoices (id → order id), as they are once their orders
    are locked (a payment or a `send` committed meanwhile counts), notes them done and
    writes what to send to the outbox; returns the notices noted."""
    await orders.lock_orders(connection, set(found.values()))
    loaded = await invoices.load_invoices(connection, set(found.values()))
    history = await dunning.histories(connection, found)
    waiting = await dunning.awaiting_their_notification(connection, found)
    notices = [
        notice
        for invoice in loaded
        if invoice.invoice_id in found and invoice.invoice_id not in waiting
        for notice in due_notices(
            invoice,
            as_of,
            settings.reminder_days,
            history.get(invoice.invoice_id, DunningHistory()),
        )
    ]
    noted = await dunning.record_notices(connection, notices, as_of)
    notices = [notice for notice in notices if (notice.invoice_id, notice.level) in noted]
    now = datetime.now(UTC)
    await outbox.enqueue(
        connection,
        [
            invoice_event(settings, notice.fact, _cause(notice), now)
            for notice in notices
            if notice.fact is not None
        ],
    )
    return notices


def _cause(notice: Notice) -> Cause:
    """Every notice of an invoice correlates with its invoice-overdue event."""
    return Cause(None, None, overdue_event_id(notice.invoice_id), None)


def _count(notices: list[Notice]) -> None:
    for notice in notices:
        if isinstance(notice.fact, NotificationRequested):
            metrics.REMINDERS_SENT.labels(level=str(notice.level)).inc()


async def run_scans(settings: Settings, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    """Scans now and every `dunning_interval_seconds` until `stop`; a scan under way is
    finished first. A failed scan (the database away) is tried again after a backoff."""
    backoff = Backoff()
    while not stop.is_set():
        as_of = today(settings)
        try:
            report = await scan(pool, settings, as_of)
            metrics.record_overdue(await dunning.overdue_by_currency(pool, as_of))
        except Exception as error:
            await backoff.sleep(stop, Waiting.DUNNING_SCAN, error)
            continue
        backoff.reset()
        if report.skipped:
            log.debug("another replica is scanning", action="dunning")
        elif report.notices:
            log.info(
                "dunning scan", action="dunning", as_of=str(as_of), notices=len(report.notices)
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.dunning_interval_seconds)
