"""One batch of records, applied in one database transaction.

The batch is loaded set-based (inbox, locked orders), every record is decided in memory
in order by its handler, and everything is written back set-based, numbers last:
a handful of round trips per batch, whatever its size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from worker.domain.invoice import OrderRow
from worker.domain.lifecycle import Invoice, InvoiceType
from worker.domain.numbering import invoice_number
from worker.domain.order import Order
from worker.messages import Rejection
from worker.settings import Settings
from worker.store import inbox, invoices, numbers, orders, outbox
from worker.store.inbox import EventKey, InboxEntry, InboxOutcome
from worker.store.outbox import Headers, OutboxMessage
from worker.store.pool import Executor


@dataclass(frozen=True, slots=True)
class Record:
    """A consumed Kafka record, as the processing needs it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    DEAD_LETTERED = "dead-lettered"


@dataclass(slots=True)
class UnitOfWork:
    """What a batch read and what it will write. Handlers change it; commit() saves it."""

    settings: Settings
    now: datetime
    orders: dict[str, Order]
    inbox: dict[EventKey, InboxEntry]
    invoices: dict[str, Invoice] = field(default_factory=dict)
    """The invoices of the orders the batch's commands are about, by id."""
    saved_orders: dict[str, Order] = field(default_factory=dict)
    saved_rows: dict[tuple[str, str], OrderRow] = field(default_factory=dict)
    new_invoices: dict[str, Invoice] = field(default_factory=dict)
    changed_invoices: dict[str, Invoice] = field(default_factory=dict)
    closing: list[Invoice] = field(default_factory=list)
    closing_log_context: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Rendered only at commit, once the closing invoices have their numbers.
    emissions: list[Callable[[], OutboxMessage]] = field(default_factory=list)
    outcomes: dict[EventKey, InboxOutcome] = field(default_factory=dict)
    replies: dict[EventKey, Reply] = field(default_factory=dict)
    dead_letter_reasons: list[str] = field(default_factory=list)

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def save_order(self, order: Order, rows: Sequence[OrderRow]) -> None:
        self.orders[order.order_id] = order
        self.saved_orders[order.order_id] = order
        for row in rows:
            self.saved_rows[(order.order_id, row.row_id)] = row

    def add_invoice(self, invoice: Invoice) -> None:
        self.new_invoices[invoice.invoice_id] = invoice
        self.invoices[invoice.invoice_id] = invoice
        self._hold_rows(invoice)

    def change_invoice(self, invoice: Invoice, *, released_rows: Sequence[str] = ()) -> None:
        """Saves the invoice at commit; `released_rows` held by it before are free now."""
        if invoice.invoice_id not in self.new_invoices:
            self.changed_invoices[invoice.invoice_id] = invoice
        self.orders[invoice.order_id].held_row_ids.difference_update(released_rows)
        self._hold_rows(invoice)

    def _hold_rows(self, invoice: Invoice) -> None:
        if invoice.holds_rows:
            self.orders[invoice.order_id].held_row_ids.update(
                line.order_row_id for line in invoice.content.lines
            )

    def invoices_of(self, order_id: str) -> list[Invoice]:
        return [invoice for invoice in self.invoices.values() if invoice.order_id == order_id]

    def number_on_commit(self, invoice: Invoice) -> None:
        """Numbers the invoice at commit. The line logged once it is committed carries the
        identifiers bound now, those of the record that closes it."""
        self.closing.append(invoice)
        self.closing_log_context[invoice.invoice_id] = structlog.contextvars.get_contextvars()

    def emit(self, render: Callable[[], OutboxMessage]) -> None:
        self.emissions.append(render)

    def record(self, key: EventKey, event_type: str, outcome: Outcome) -> None:
        self.outcomes[key] = InboxOutcome(key, event_type, outcome.value)
        self.inbox[key] = InboxEntry(outcome.value, None, None)

    def reply(
        self, key: EventKey, event_type: str, outcome: Outcome, render: Callable[[], OutboxMessage]
    ) -> None:
        """Publishes a command's result and keeps it in the inbox, to publish again for
        a duplicate. Rendered at commit, when the invoice has its number."""
        reply = Reply(key, event_type, outcome, render)
        self.replies[key] = reply
        self.emissions.append(reply.rendered)
        self.inbox[key] = InboxEntry(outcome.value, None, None)

    def seen(self, key: EventKey) -> InboxEntry | None:
        """The event's earlier outcome, unless it was dead-lettered (then it is new again)."""
        entry = self.inbox.get(key)
        if entry is None or entry.outcome == inbox.DEAD_LETTERED:
            return None
        return entry

    def _assign_numbers(
        self, first_numbers: dict[tuple[str, int], int], taken_at: datetime | None
    ) -> None:
        taken: dict[tuple[str, int], int] = {}
        for invoice in self.closing:
            invoice.closed_at = taken_at
            series = self._series(invoice)
            sequence = first_numbers[series] + taken.get(series, 0)
            taken[series] = taken.get(series, 0) + 1
            invoice.number = invoice_number(series[0], series[1], sequence)

    def _series(self, invoice: Invoice) -> tuple[str, int]:
        assert invoice.issue_date is not None
        prefix = (
            self.settings.credit_note_number_prefix
            if invoice.type is InvoiceType.CREDIT_NOTE
            else self.settings.invoice_number_prefix
        )
        return prefix, invoice.issue_date.year

    async def commit(self, connection: Executor) -> None:
        await orders.save_orders(connection, self.saved_orders.values())
        await orders.save_rows(
            connection, [(order_id, row) for (order_id, _), row in self.saved_rows.items()]
        )
        counts: dict[tuple[str, int], int] = {}
        for invoice in self.closing:
            counts[self._series(invoice)] = counts.get(self._series(invoice), 0) + 1
        # Last writes from here on: the series counters stay locked until commit.
        self._assign_numbers(*await numbers.reserve_numbers(connection, counts))
        # Changed invoices first: a voided invoice releases rows a new one may take.
        await invoices.update_invoices(connection, list(self.changed_invoices.values()))
        await invoices.insert_invoices(connection, list(self.new_invoices.values()))
        await outbox.enqueue(connection, [render() for render in self.emissions])
        await inbox.record_outcomes(
            connection,
            [*self.outcomes.values(), *(reply.inbox_outcome() for reply in self.replies.values())],
        )


@dataclass(slots=True)
class Reply:
    key: EventKey
    event_type: str
    outcome: Outcome
    render: Callable[[], OutboxMessage]
    message: OutboxMessage | None = None

    def rendered(self) -> OutboxMessage:
        self.message = self.render()
        return self.message

    def inbox_outcome(self) -> InboxOutcome:
        assert self.message is not None, "rendered before the inbox is written"
        return InboxOutcome(
            self.key, self.event_type, self.outcome.value, self.message.key, self.message.value
        )


async def begin(
    connection: Executor,
    settings: Settings,
    now: datetime,
    event_keys: Sequence[EventKey],
    order_ids: Sequence[str],
    invoice_ids: Sequence[str],
    command_order_ids: Sequence[str],
) -> UnitOfWork:
    """Locks the orders the batch is about (given, or through their invoices) and loads
    what its records need: orders, and the invoices of orders that commands are about."""
    invoice_orders = await invoices.orders_of_invoices(connection, invoice_ids)
    command_orders = {*command_order_ids, *invoice_orders.values()}
    all_orders = {*order_ids, *command_orders}
    await orders.lock_orders(connection, all_orders)
    loaded = await invoices.load_invoices(connection, command_orders)
    return UnitOfWork(
        settings=settings,
        now=now,
        orders=await orders.load_orders(connection, all_orders),
        inbox=await inbox.load_inbox(connection, event_keys),
        invoices={invoice.invoice_id: invoice for invoice in loaded},
    )


def dead_letter_message(record: Record, rejection: Rejection, topic: str) -> OutboxMessage:
    """The record unchanged, with why it was rejected and where it came from."""
    return OutboxMessage(
        topic=topic,
        key=record.key,
        value=record.value,
        headers=(
            *record.headers,
            ("x-dead-letter-reason", rejection.reason.value.encode()),
            ("x-dead-letter-error", rejection.header_value()),
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
        ),
    )
