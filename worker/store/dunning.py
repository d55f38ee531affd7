"""The dunning scan's queries: overdue invoices, the notices done, and the figures."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from worker.domain.dunning import DunningHistory, Notice
from worker.store.pool import Executor

DUNNING_LOCK_ID = 0x1A70_0003


async def lock_scan(connection: Executor, *, wait: bool) -> bool:
    """Takes the scan's lock until the transaction ends: one replica scans at a time.
    Without `wait`, False when another holds it."""
    if wait:
        await connection.execute("SELECT pg_advisory_xact_lock($1)", DUNNING_LOCK_ID)
        return True
    return bool(await connection.fetchval("SELECT pg_try_advisory_xact_lock($1)", DUNNING_LOCK_ID))


# The days past due of each reminder of invoice i sent so far. One stored before the days
# were (null) counts at the days its invoice was past due on the day it went out: its
# level's days whenever the scans ran on the day that level was reached.
_REMINDED_DAYS = "coalesce(n.days, n.as_of - i.due_date)"


async def overdue_invoices(
    connection: Executor,
    today: date,
    reminder_days: Sequence[int],
    after: str | None,
    limit: int,
) -> list[tuple[str, str]]:
    """(invoice id, order id) of overdue invoices, by id after `after`, that are due a
    notice today: not announced yet, or past a level of more days than any reminder sent."""
    records = await connection.fetch(
        f"""
        SELECT i.invoice_id::text, i.order_id FROM invoices i
         WHERE i.status = 'open' AND i.type = 'invoice' AND i.due_date < $1
           AND i.gross_amount - i.paid_amount - i.credited_amount > 0
           AND ($3::uuid IS NULL OR i.invoice_id > $3::uuid)
           AND (NOT EXISTS (SELECT 1 FROM dunning_notices n
                             WHERE n.invoice_id = i.invoice_id AND n.level = 0)
                OR (SELECT max(d.days) FROM unnest($2::integer[]) AS d(days)
                     WHERE d.days <= $1 - i.due_date)
                   > (SELECT coalesce(max({_REMINDED_DAYS}), 0) FROM dunning_notices n
                       WHERE n.invoice_id = i.invoice_id AND n.level > 0))
         ORDER BY i.invoice_id
         LIMIT $4
        """,
        today,
        list(reminder_days),
        after,
        limit,
    )
    return [(record["invoice_id"], record["order_id"]) for record in records]


async def histories(
    connection: Executor, invoice_ids: Collection[str]
) -> dict[str, DunningHistory]:
    """What each of the invoices was sent so far, for those sent anything."""
    records = await connection.fetch(
        f"""
        SELECT n.invoice_id::text, bool_or(n.level = 0) AS overdue_announced,
               coalesce(max({_REMINDED_DAYS}) FILTER (WHERE n.level > 0), 0) AS reminded_days
          FROM dunning_notices n JOIN invoices i USING (invoice_id)
         WHERE n.invoice_id = ANY($1::uuid[])
         GROUP BY n.invoice_id
        """,
        list(invoice_ids),
    )
    return {
        record["invoice_id"]: DunningHistory(record["overdue_announced"], record["reminded_days"])
        for record in records
    }


async def awaiting_their_notification(
    connection: Executor, invoice_ids: Collection[str]
) -> set[str]:
    """Those of the invoices whose own notification (the automatic one, a `send`'s) still
    waits for their documents."""
    records = await connection.fetch(
        "SELECT DISTINCT invoice_id::text FROM document_notifications"
        " WHERE invoice_id = ANY($1::uuid[])",
        list(invoice_ids),
    )
    return {record["invoice_id"] for record in records}


async def record_notices(
    connection: Executor, notices: Sequence[Notice], as_of: date
) -> set[tuple[str, int]]:
    """Notes the notices as done; returns those that were not done yet (another scan may
    have done some since they were read), which alone may be sent."""
    if not notices:
        return set()
    records = await connection.fetch(
        """
        INSERT INTO dunning_notices (invoice_id, level, days, sent, as_of)
        SELECT invoice_id, level, days, sent, $5
          FROM unnest($1::uuid[], $2::integer[], $3::integer[], $4::boolean[])
               AS t(invoice_id, level, days, sent)
        ON CONFLICT DO NOTHING
        RETURNING invoice_id::text, level
        """,
        [notice.invoice_id for notice in notices],
        [notice.level for notice in notices],
        [notice.days for notice in notices],
        [notice.fact is not None for notice in notices],
        as_of,
    )
    return {(record["invoice_id"], record["level"]) for record in records}


@dataclass(frozen=True, slots=True)
class Overdue:
    currency: str
    invoices: int
    amount: Decimal


async def overdue_by_currency(connection: Executor, today: date) -> list[Overdue]:
    """How many invoices are overdue today, and the amount due on them, per currency."""
    records = await connection.fetch(
        """
        SELECT currency, count(*) AS invoices,
               sum(gross_amount - paid_amount - credited_amount) AS amount
          FROM invoices
         WHERE status = 'open' AND type = 'invoice' AND due_date < $1
           AND gross_amount - paid_amount - credited_amount > 0
         GROUP BY currency
        """,
        today,
    )
    return [Overdue(r["currency"], r["invoices"], r["amount"]) for r in records]
