"""Overdue and reminders (docs/contract.md), as pure rules: which notices an invoice is due
on a given day."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.unit.test_lifecycle import open_invoice, pay
from worker.domain.dunning import DunningHistory, Notice, due_notices
from worker.domain.lifecycle import (
    Invoice,
    InvoiceOverdue,
    NotificationRequested,
    void_invoice,
)
from worker.domain.parties import Customer
from worker.settings import Settings

DUE = date(2026, 12, 7)  # open_invoice(): issued 2026-11-23, 14 days
LEVELS = (7, 14, 30)


def invoice() -> Invoice:
    return replace(open_invoice("100.00"), customer=Customer("A", email="a@example.com"))


def levels(found: list[Notice]) -> list[tuple[int, str | None]]:
    return [
        (notice.level, None if notice.fact is None else type(notice.fact).__name__)
        for notice in found
    ]


ANNOUNCED = DunningHistory(overdue_announced=True)


def reminded(days: int) -> DunningHistory:
    return DunningHistory(overdue_announced=True, reminded_days=days)


def on(
    day: date,
    history: DunningHistory | None = None,
    subject: Invoice | None = None,
    reminder_days: tuple[int, ...] = LEVELS,
) -> list[Notice]:
    return due_notices(subject or invoice(), day, reminder_days, history or DunningHistory())


def test_nothing_is_due_on_the_due_date() -> None:
    assert on(DUE) == []


def test_the_day_after_the_due_date_the_invoice_is_overdue() -> None:
    [notice] = on(DUE + timedelta(days=1))

    assert notice.fact == InvoiceOverdue(invoice(), 1)


def test_each_level_is_reminded_once_it_is_reached() -> None:
    assert levels(on(DUE + timedelta(days=6), ANNOUNCED)) == []
    assert levels(on(DUE + timedelta(days=7), ANNOUNCED)) == [(1, "NotificationRequested")]
    assert levels(on(DUE + timedelta(days=14), reminded(7))) == [(2, "NotificationRequested")]
    assert levels(on(DUE + timedelta(days=30), reminded(14))) == [(3, "NotificationRequested")]


def test_notices_done_are_not_due_again() -> None:
    assert on(DUE + timedelta(days=40), reminded(30)) == []


def test_a_reminder_asks_for_the_payment_reminder_of_its_level() -> None:
    [reminder] = on(DUE + timedelta(days=7), ANNOUNCED)

    fact = reminder.fact
    assert isinstance(fact, NotificationRequested)
    assert (fact.reason, fact.reminder_level, fact.channel) == ("reminder", 1, "email")
    assert fact.recipient == "a@example.com"
    assert reminder.days == 7


def test_an_invoice_found_past_several_levels_gets_the_highest_only() -> None:
    found = on(DUE + timedelta(days=20))

    assert levels(found) == [(0, "InvoiceOverdue"), (2, "NotificationRequested")]
    assert found[1].days == 14


def test_a_reminder_level_is_its_days_not_its_position() -> None:
    """Reminded at 7 days under 7,14,30; the list becomes 3,7,14,30: the 7-day reminder is
    not sent again that day, and the 14-day one goes out as level 3."""
    after_change = (3, 7, 14, 30)

    assert on(DUE + timedelta(days=7), reminded(7), reminder_days=after_change) == []
    [reminder] = on(DUE + timedelta(days=14), reminded(7), reminder_days=after_change)
    assert (reminder.level, reminder.days) == (3, 14)


def test_a_reminder_is_identified_by_its_days() -> None:
    """The same days give the same notification whatever its position; other days another."""
    [seven] = on(DUE + timedelta(days=7), ANNOUNCED)
    [moved] = on(DUE + timedelta(days=7), ANNOUNCED, reminder_days=(3, 7))
    [fourteen] = on(DUE + timedelta(days=14), reminded(7))

    assert isinstance(seven.fact, NotificationRequested)
    assert isinstance(moved.fact, NotificationRequested)
    assert isinstance(fourteen.fact, NotificationRequested)
    assert seven.fact.request == moved.fact.request != fourteen.fact.request


reminder_lists = st.lists(st.integers(1, 60), min_size=1, max_size=6, unique=True).map(
    lambda days: tuple(sorted(days))
)


@given(
    lists=st.lists(reminder_lists, min_size=1, max_size=4),
    days=st.lists(st.integers(1, 90), min_size=1, max_size=8),
)
def test_no_change_of_the_reminder_days_resends_a_level_already_reached(
    lists: list[tuple[int, ...]], days: list[int]
) -> None:
    """Scans on growing days, each under any of the lists: every reminder is at more days
    than any sent before it, one at most per scan, and its level is the position of its
    days in the list of that scan."""
    history = ANNOUNCED
    for n, day in enumerate(sorted(days)):
        reminder_days = lists[n % len(lists)]
        found = on(DUE + timedelta(days=day), history, reminder_days=reminder_days)
        reminders = [notice for notice in found if notice.level > 0]
        assert len(reminders) <= 1
        for notice in reminders:
            assert notice.days is not None
            assert history.reminded_days < notice.days <= day
            assert reminder_days[notice.level - 1] == notice.days
            history = reminded(notice.days)


def test_a_customer_without_an_address_has_its_reminder_passed_over() -> None:
    silent = replace(invoice(), customer=Customer("A"))

    assert levels(on(DUE + timedelta(days=7), ANNOUNCED, silent)) == [(1, None)]


def test_nothing_for_a_paid_invoice() -> None:
    assert on(DUE + timedelta(days=30), subject=pay(invoice(), "100.00")) == []


def test_a_payment_that_settles_after_a_reminder_stops_the_next_level() -> None:
    settled = pay(invoice(), "100.00")

    assert on(DUE + timedelta(days=14), reminded(7), settled) == []


def test_a_partly_paid_invoice_is_still_reminded() -> None:
    partly = pay(invoice(), "99.99")

    assert levels(on(DUE + timedelta(days=7), ANNOUNCED, partly)) == [(1, "NotificationRequested")]


def test_nothing_for_a_void_invoice() -> None:
    assert on(DUE + timedelta(days=30), subject=void_invoice(invoice(), "wrong").invoice) == []


def test_nothing_for_a_fully_credited_invoice() -> None:
    credited = replace(invoice(), credited_amount=Decimal("100.00"))

    assert on(DUE + timedelta(days=30), subject=credited) == []


def test_reminder_days_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICER_REMINDER_DAYS", "3, 10,21")

    assert Settings().reminder_days == (3, 10, 21)


@pytest.mark.parametrize("days", ["14,7", "0,7", "7,7", "seven"])
def test_reminder_days_must_grow(monkeypatch: pytest.MonkeyPatch, days: str) -> None:
    monkeypatch.setenv("INVOICER_REMINDER_DAYS", days)

    with pytest.raises(ValidationError):
        Settings()
