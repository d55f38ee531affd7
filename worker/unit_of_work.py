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
from zoneinfo import ZoneInfo

from worker.domain.invoice import OrderRow
from worker.domain.lifecycle import Invoice, InvoiceType
from worker.domain.numbering import invoice_number
from worker.domain.order import Order
from worker.messages import Rejection
from worker.settings import Settings
from worker.store import inbox, invoices, numbers, orders, outbox
from worker.store.inbox import EventKey, InboxEntry, InboxOutcome
from worker.store.outbox import OutboxMessage
from worker.store.pool import Executor


@dataclass(frozen=True, slots=True)
class Record:
    """A consumed Kafka record, as the processing needs it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


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
    saved_orders: dict[str, Order] = field(default_factory=dict)
    saved_rows: dict[tuple[str, str], OrderRow] = field(default_factory=dict)
    new_invoices: list[Invoice] = field(default_factory=list)
    closing: list[Invoice] = field(default_factory=list)
    # Rendered only at commit, once the closing invoices have their numbers.
    emissions: list[Callable[[], OutboxMessage]] = field(default_factory=list)
    outcomes: dict[EventKey, InboxOutcome] = field(default_factory=dict)
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
        self.new_invoices.append(invoice)
        if invoice.holds_rows:
            self.orders[invoice.order_id].held_row_ids.update(
                line.order_row_id for line in invoice.content.lines
            )

    def number_on_commit(self, invoice: Invoice) -> None:
        self.closing.append(invoice)

    def emit(self, render: Callable[[], OutboxMessage]) -> None:
        self.emissions.append(render)

    def record(self, key: EventKey, event_type: str, outcome: Outcome) -> None:
        self.outcomes[key] = InboxOutcome(key, event_type, outcome.value)
        self.inbox[key] = InboxEntry(outcome.value, None, None)

    def seen(self, key: EventKey) -> InboxEntry | None:
        """The event's earlier outcome, unless it was dead-lettered (then it is new again)."""
        entry = self.inbox.get(key)
        if entry is None or entry.outcome == inbox.DEAD_LETTERED:
            return None
        return entry

    def _assign_numbers(self, first_numbers: dict[tuple[str, int], int]) -> None:
        taken: dict[tuple[str, int], int] = {}
        for invoice in self.closing:
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
        self._assign_numbers(await numbers.reserve_numbers(connection, counts))
        await invoices.insert_invoices(connection, self.new_invoices)
        await outbox.enqueue(connection, [render() for render in self.emissions])
        await inbox.record_outcomes(connection, list(self.outcomes.values()))


async def begin(
    connection: Executor,
    settings: Settings,
    now: datetime,
    event_keys: Sequence[EventKey],
    order_ids: Sequence[str],
) -> UnitOfWork:
    """Locks the batch's orders and loads what its records need."""
    await orders.lock_orders(connection, order_ids)
    return UnitOfWork(
        settings=settings,
        now=now,
        orders=await orders.load_orders(connection, order_ids),
        inbox=await inbox.load_inbox(connection, event_keys),
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
