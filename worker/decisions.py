"""What a handler returns for one record: a decision, as values.

A decision holds the new values of the order and invoices the record changed and the facts
to publish, each a snapshot of its own moment, and what the record's outcome is. The batch
(worker.batch) applies decisions in order; nothing a handler returns changes afterwards,
but for what the database assigns when the batch commits (an invoice's number).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from worker.domain.invoice import OrderRow
from worker.domain.lifecycle import Invoice, InvoiceFact
from worker.domain.order import Order
from worker.domain.sellers import RegisteredSeller
from worker.messages import CloudEvent, Rejection
from worker.rows import EventKey, Headers
from worker.settings import Settings


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
    """What became of a record; every one but a duplicate is kept in the inbox."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    DEAD_LETTERED = "dead-lettered"


@dataclass(frozen=True, slots=True)
class Cause:
    """The event being processed: what every event it causes carries along."""

    source: str | None
    event_id: str | None
    correlation_id: str
    time: datetime | None
    """When the causing event happened, for end-to-end latency."""
    record_key: bytes | None = None
    """The consumed record's key: a command's result takes it when no order is known."""
    traceparent: str | None = None
    """The trace every event this one causes goes on in (worker.tracing)."""


def cause_of(event: CloudEvent, record: Record) -> Cause:
    return Cause(event.source, event.id, event.correlation, event.time, record.key)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A command's `invoice-command-result`, with the invoice right after the command."""

    action: str | None
    ok: bool
    invoice: Invoice | None
    warnings: tuple[str, ...] = ()
    errors: dict[str, list[str]] | None = None
    details: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLettered:
    """The record goes to the dead-letter topic, unchanged, with why."""

    record: Record
    rejection: Rejection


@dataclass(frozen=True, slots=True)
class Republished:
    """A command seen before: its stored result is published again."""

    command: EventKey


Fact = InvoiceFact | CommandResult | DeadLettered | Republished


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    cause: Cause
    event_type: str | None = None
    order: Order | None = None
    """The order's new value, when the record changed it."""
    saved_rows: tuple[OrderRow, ...] = ()
    """The order's rows to store (new or changed ones)."""
    seller: RegisteredSeller | None = None
    """A seller the record registered or changed."""
    invoices: tuple[Invoice, ...] = ()
    """The new value of every invoice the record made or changed."""
    facts: tuple[Fact, ...] = ()

    @property
    def event(self) -> EventKey | None:
        if self.cause.source is None or self.cause.event_id is None:
            return None
        return self.cause.source, self.cause.event_id


class View(Protocol):
    """What a handler may read: the batch as the records before this one left it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def now(self) -> datetime: ...

    def order(self, order_id: str) -> Order | None: ...

    def seller(self, seller_id: str) -> RegisteredSeller | None:
        """A registered seller as the records before this one left it."""
        ...

    def invoice(self, invoice_id: str) -> Invoice | None: ...

    def invoices_of(self, order_id: str) -> list[Invoice]: ...

    def in_number_order(self, invoices: list[Invoice]) -> list[Invoice]:
        """The invoices, those closed in the order of their numbers (the ones the batch
        numbers when it commits after the others, in the order they closed)."""
        ...
