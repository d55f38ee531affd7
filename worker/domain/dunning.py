"""Dunning: which notices an overdue invoice is due on a given day.

An invoice is overdue when it is open, something is still due and its due date is before
today. It is announced once (level 0, `invoice-overdue`), then reminded once per level:
level n when it is at least `reminder_days[n - 1]` days past due. A scan that first finds
it past several levels (the scans were not running, or the invoice is old) sends each of
them, in order, as the contract asks: every level once. A level is passed over when the
customer has no address to remind. Either way it is noted as done, so no level is ever
sent twice.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from worker.domain.customer import address_for
from worker.domain.lifecycle import Invoice, InvoiceOverdue, NotificationRequested

OVERDUE_LEVEL = 0
REMINDER_CHANNELS = ("email", "sms")


@dataclass(frozen=True, slots=True)
class Notice:
    invoice_id: str
    level: int
    """0: the invoice is overdue; n: the n-th reminder."""
    fact: InvoiceOverdue | NotificationRequested | None
    """What to publish; None for a reminder passed over."""


def days_overdue(invoice: Invoice, today: date) -> int:
    assert invoice.due_date is not None
    return (today - invoice.due_date).days


def due_notices(
    invoice: Invoice, today: date, reminder_days: Sequence[int], done: Collection[int]
) -> list[Notice]:
    """The notices the invoice is due today that are not `done` yet (levels)."""
    if not invoice.is_overdue(today):
        return []
    days = days_overdue(invoice, today)
    notices = []
    if OVERDUE_LEVEL not in done:
        notices.append(Notice(invoice.invoice_id, OVERDUE_LEVEL, InvoiceOverdue(invoice, days)))
    reached = [level for level, after in enumerate(reminder_days, start=1) if days >= after]
    for level in reached:
        if level in done:
            continue
        notices.append(Notice(invoice.invoice_id, level, _reminder(invoice, level)))
    return notices


def _reminder(invoice: Invoice, level: int) -> NotificationRequested | None:
    for channel in REMINDER_CHANNELS:
        address = address_for(invoice.customer, channel)
        if address is not None:
            return NotificationRequested(
                invoice,
                channel,
                address,
                "reminder",
                ("reminder", str(level)),
                reminder_level=level,
            )
    return None
