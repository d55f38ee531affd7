"""Overdue and reminders (docs/contract.md), as pure rules: which notices an invoice is due
on a given day."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from tests.unit.test_lifecycle import open_invoice, pay
from worker.domain.dunning import Notice, due_notices
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


def on(day: date, done: set[int] | None = None, subject: Invoice | None = None) -> list[Notice]:
    return due_notices(subject or invoice(), day, LEVELS, done or set())


def test_nothing_is_due_on_the_due_date() -> None:
    assert on(DUE) == []


def test_the_day_after_the_due_date_the_invoice_is_overdue() -> None:
    [notice] = on(DUE + timedelta(days=1))

    assert notice.fact == InvoiceOverdue(invoice(), 1)


def test_each_level_is_reminded_once_it_is_reached() -> None:
    assert levels(on(DUE + timedelta(days=6), {0})) == []
    assert levels(on(DUE + timedelta(days=7), {0})) == [(1, "NotificationRequested")]
    assert levels(on(DUE + timedelta(days=14), {0, 1})) == [(2, "NotificationRequested")]
    assert levels(on(DUE + timedelta(days=30), {0, 1, 2})) == [(3, "NotificationRequested")]


def test_notices_done_are_not_due_again() -> None:
    assert on(DUE + timedelta(days=40), {0, 1, 2, 3}) == []


def test_a_reminder_asks_for_the_payment_reminder_of_its_level() -> None:
    [reminder] = on(DUE + timedelta(days=7), {0})

    fact = reminder.fact
    assert isinstance(fact, NotificationRequested)
    assert (fact.reason, fact.reminder_level, fact.channel) == ("reminder", 1, "email")
    assert fact.recipient == "a@example.com"


def test_an_invoice_found_past_several_levels_gets_each_of_them_once() -> None:
    assert levels(on(DUE + timedelta(days=20))) == [
        (0, "InvoiceOverdue"),
        (1, "NotificationRequested"),
        (2, "NotificationRequested"),
    ]


def test_a_customer_without_an_address_has_its_reminder_passed_over() -> None:
    silent = replace(invoice(), customer=Customer("A"))

    assert levels(on(DUE + timedelta(days=7), {0}, silent)) == [(1, None)]


def test_nothing_for_a_paid_invoice() -> None:
    assert on(DUE + timedelta(days=30), subject=pay(invoice(), "100.00")) == []


def test_a_payment_that_settles_after_a_reminder_stops_the_next_level() -> None:
    reminded = {0, 1}
    settled = pay(invoice(), "100.00")

    assert on(DUE + timedelta(days=14), reminded, settled) == []


def test_a_partly_paid_invoice_is_still_reminded() -> None:
    partly = pay(invoice(), "99.99")

    assert levels(on(DUE + timedelta(days=7), {0}, partly)) == [(1, "NotificationRequested")]


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
