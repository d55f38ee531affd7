"""Dunning: which notices an overdue invoice is due on a given day.

An invoice is overdue when it is open, something is still due and its due date is before
today. It is announced once (level 0, `invoice-overdue`), then reminded. Reminder levels
are their days past due (`reminder_days`), not their positions in the list: on any day an
invoice gets at most one reminder, for the highest level it has reached, unless a reminder
was already sent at that many days or more. So a scan that first finds it past several
levels sends the highest only, and a list that changes (7,14,30 becomes 3,7,14,30) never
sends a level it had reached again. The reminder carries that level's position in the list
as it is when sent (`reminderLevel`). A reminder is passed over when the customer has no
address to remind; it counts as sent all the same, so it is not tried again.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    """0: the invoice is overdue; n: a reminder at the n-th days of the list."""
    days: int | None
    """A reminder's days past due (its level's); None for the overdue notice."""
    fact: InvoiceOverdue | NotificationRequested | None
    """What to publish; None for a reminder passed over."""


@dataclass(frozen=True, slots=True)
class DunningHistory:
    """What an invoice was sent so far."""

    overdue_announced: bool = False
    reminded_days: int = 0
    """The most days past due of a reminder sent (or passed over); 0: none yet."""


def days_overdue(invoice: Invoice, today: date) -> int:
    assert invoice.due_date is not None
    return (today - invoice.due_date).days


def due_notices(
    invoice: Invoice, today: date, reminder_days: Sequence[int], history: DunningHistory
) -> list[Notice]:
    """The notices the invoice is due today, after what it was sent (`history`)."""
    if not invoice.is_overdue(today):
        return []
    days = days_overdue(invoice, today)
    notices = []
    if not history.overdue_announced:
        notices.append(
            Notice(invoice.invoice_id, OVERDUE_LEVEL, None, InvoiceOverdue(invoice, days))
        )
    reached = [
        (level, after) for level, after in enumerate(reminder_days, start=1) if days >= after
    ]
    if reached:
        level, after = reached[-1]
        if after > history.reminded_days:
            notices.append(
                Notice(invoice.invoice_id, level, after, _reminder(invoice, level, after))
            )
    return notices


def _reminder(invoice: Invoice, level: int, days: int) -> NotificationRequested | None:
    for channel in REMINDER_CHANNELS:
        address = address_for(invoice.customer, channel)
        if address is not None:
            return NotificationRequested(
                invoice,
                channel,
                address,
                "reminder",
                ("reminder", "days", str(days)),
                reminder_level=level,
            )
    return None
