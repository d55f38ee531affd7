"""One batch of records, as values: what it read, the decisions applied in order, and what
it will write. Pure code: loading and saving are worker.store's, around it (worker.processing).

Handlers see the batch through its read-only View: the orders and invoices as the records
before them left them. When the batch commits, the database assigns the closing invoices'
numbers (taken as late as possible, under the series lock); only then are the outgoing
messages rendered, each from the snapshot its decision took, numbered where it needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, TypeGuard

from worker import events
from worker.decisions import (
    Cause,
    CommandResult,
    DeadLetter,
    Decision,
    Fact,
    Outcome,
    Republished,
)
from worker.domain.invoice import OrderRow
from worker.domain.lifecycle import (
    Invoice,
    InvoiceClosed,
    InvoiceType,
    NotificationRequested,
    number_invoice,
)
from worker.domain.numbering import invoice_number
from worker.domain.order import Order
from worker.messages.binding import EVENT_HEADERS
from worker.rows import (
    EventKey,
    InboxEntry,
    InboxOutcome,
    OutboxMessage,
    RenderJob,
    WaitingNotification,
)
from worker.settings import Settings


@dataclass(frozen=True, slots=True)
class Numbers:
    """Numbers the closing transaction took: the first of each series (by prefix; the year
    is the issue date's), the moment they were taken and that moment's date."""

    first: Mapping[str, int]
    taken_at: datetime
    issue_date: date


@dataclass(frozen=True, slots=True)
class ClosedInvoice:
    invoice: Invoice
    log_context: Mapping[str, Any]
    """The identifiers of the record that closed it, for the line logged after commit."""


@dataclass(frozen=True, slots=True)
class Writes:
    """What the batch stores once its numbers are taken, in the order it must be stored."""

    changed_invoices: list[Invoice]
    new_invoices: list[Invoice]
    messages: list[OutboxMessage]
    inbox: list[InboxOutcome]
    closed: list[ClosedInvoice]
    dead_letter_reasons: list[str]
    render_jobs: list[RenderJob] = field(default_factory=list)
    """Closed invoices with a seller: their documents are rendered after the commit."""
    waiting_notifications: list[WaitingNotification] = field(default_factory=list)
    """Notifications of invoices with a seller: sent with the documents, once stored."""


@dataclass(slots=True)
class Batch:
    settings: Settings
    now: datetime
    orders: dict[str, Order]
    invoices: dict[str, Invoice]
    """The invoices of the orders the batch's commands are about, by id."""
    inbox: dict[EventKey, InboxEntry]
    _saved_orders: dict[str, Order] = field(default_factory=dict)
    _saved_rows: dict[tuple[str, str], OrderRow] = field(default_factory=dict)
    _touched: dict[str, None] = field(default_factory=dict)
    """The invoices made or changed, in the order first touched."""
    _stored: set[str] = field(default_factory=set)
    _closing: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    _facts: list[tuple[Fact, Cause]] = field(default_factory=list)
    _outcomes: dict[EventKey, tuple[str, Outcome]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stored = set(self.invoices)

    # The view handlers read (worker.decisions.View).
    def order(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    def invoice(self, invoice_id: str) -> Invoice | None:
        return self.invoices.get(invoice_id)

    def invoices_of(self, order_id: str) -> list[Invoice]:
        return [invoice for invoice in self.invoices.values() if invoice.order_id == order_id]

    def seen(self, key: EventKey) -> bool:
        """Applied or answered before (a dead-lettered event is new again)."""
        entry = self.inbox.get(key)
        return entry is not None and entry.outcome != Outcome.DEAD_LETTERED

    def apply(
        self, decision: Decision, log_context: Mapping[str, Any], traceparent: str | None = None
    ) -> None:
        """Takes the decision's values as the batch's; `log_context` identifies its record,
        `traceparent` the trace its events go on in."""
        if decision.order is not None:
            order = decision.order
            self.orders[order.order_id] = self._saved_orders[order.order_id] = order
            for row in decision.saved_rows:
                self._saved_rows[(order.order_id, row.row_id)] = row
        for invoice in decision.invoices:
            self._take(invoice, log_context)
        cause = replace(decision.cause, traceparent=traceparent)
        self._facts.extend((fact, cause) for fact in decision.facts)
        key = decision.event
        if key is not None and decision.outcome is not Outcome.DUPLICATE:
            self._outcomes[key] = (decision.event_type or "", decision.outcome)
            self.inbox[key] = InboxEntry(decision.outcome.value, None, None)

    def _take(self, invoice: Invoice, log_context: Mapping[str, Any]) -> None:
        before = self.invoices.get(invoice.invoice_id)
        if invoice == before:
            return
        order = self.orders[invoice.order_id]
        self.orders[invoice.order_id] = order.holding(
            released=before.row_ids if before is not None and before.holds_rows else (),
            held=invoice.row_ids if invoice.holds_rows else (),
        )
        self.invoices[invoice.invoice_id] = invoice
        self._touched[invoice.invoice_id] = None
        if invoice.awaits_number and invoice.invoice_id not in self._closing:
            self._closing[invoice.invoice_id] = log_context

    @property
    def saved_orders(self) -> list[Order]:
        """The orders to store, stored before the numbers are taken."""
        return list(self._saved_orders.values())

    @property
    def saved_rows(self) -> list[tuple[str, OrderRow]]:
        """(order id, row) of the rows to store, new or changed."""
        return [(order_id, row) for (order_id, _), row in self._saved_rows.items()]

    def series_counts(self) -> dict[str, int]:
        """How many numbers each series (by prefix) needs when the batch commits."""
        counts: dict[str, int] = {}
        for invoice_id in self._closing:
            prefix = self._prefix(self.invoices[invoice_id])
            counts[prefix] = counts.get(prefix, 0) + 1
        return counts

    def _prefix(self, invoice: Invoice) -> str:
        if invoice.type is InvoiceType.CREDIT_NOTE:
            return self.settings.credit_note_number_prefix
        return self.settings.invoice_number_prefix

    def finish(self, numbers: Numbers | None) -> Writes:
        """What to store, once `numbers` (None when nothing closes) are taken."""
        numbered = self._numbered(numbers)
        # An invoice's facts, the invoice stored and its log line share one snapshot: it is
        # numbered once (by identity; each snapshot lives as long as the batch).
        filled_by_identity: dict[int, Invoice] = {}

        def filled(invoice: Invoice) -> Invoice:
            assigned = numbered.get(invoice.invoice_id)
            if assigned is None or not invoice.awaits_number:
                return invoice
            done = filled_by_identity.get(id(invoice))
            if done is None:
                number, closed_at, issue_date = assigned
                done = filled_by_identity[id(invoice)] = number_invoice(
                    invoice, number, closed_at, issue_date
                )
            return done

        messages: list[OutboxMessage] = []
        results: dict[EventKey, OutboxMessage] = {}
        dead_letter_reasons: list[str] = []
        render_jobs: list[RenderJob] = []
        waiting: list[WaitingNotification] = []
        for fact, cause in self._facts:
            if _waits_for_documents(fact):
                waiting.append(_waiting_notification(fact, cause))
                continue
            if isinstance(fact, InvoiceClosed) and fact.invoice.seller is not None:
                render_jobs.append(
                    RenderJob(
                        fact.invoice.invoice_id,
                        cause.correlation_id,
                        cause.time,
                        traceparent=cause.traceparent,
                    )
                )
            message = self._render(fact, cause, filled, results)
            if message is None:
                continue
            messages.append(message)
            if isinstance(fact, CommandResult) and cause.source and cause.event_id:
                results[(cause.source, cause.event_id)] = message
            elif isinstance(fact, DeadLetter):
                dead_letter_reasons.append(fact.rejection.reason.value)

        touched = [filled(self.invoices[invoice_id]) for invoice_id in self._touched]
        return Writes(
            changed_invoices=[i for i in touched if i.invoice_id in self._stored],
            new_invoices=[i for i in touched if i.invoice_id not in self._stored],
            messages=messages,
            inbox=[
                InboxOutcome(
                    key,
                    event_type,
                    outcome.value,
                    None if key not in results else results[key].key,
                    None if key not in results else results[key].value,
                )
                for key, (event_type, outcome) in self._outcomes.items()
            ],
            closed=[
                ClosedInvoice(filled(self.invoices[invoice_id]), context)
                for invoice_id, context in self._closing.items()
            ],
            dead_letter_reasons=dead_letter_reasons,
            render_jobs=render_jobs,
            waiting_notifications=waiting,
        )

    def _numbered(self, numbers: Numbers | None) -> dict[str, tuple[str, datetime, date]]:
        """invoice id → (number, closing time, issue date), in closing order per series."""
        if numbers is None:
            assert not self._closing, "numbers are taken when invoices close"
            return {}
        taken: dict[str, int] = {}
        numbered: dict[str, tuple[str, datetime, date]] = {}
        for invoice_id in self._closing:
            prefix = self._prefix(self.invoices[invoice_id])
            sequence = numbers.first[prefix] + taken.get(prefix, 0)
            taken[prefix] = taken.get(prefix, 0) + 1
            number = invoice_number(prefix, numbers.issue_date.year, sequence)
            numbered[invoice_id] = (number, numbers.taken_at, numbers.issue_date)
        return numbered

    def _render(
        self,
        fact: Fact,
        cause: Cause,
        filled: Callable[[Invoice], Invoice],
        results: Mapping[EventKey, OutboxMessage],
    ) -> OutboxMessage | None:
        settings, now = self.settings, self.now
        if isinstance(fact, Republished):
            # the stored result, or the one this batch just made (the same command twice)
            earlier = results.get(fact.command)
            entry = self.inbox[fact.command]
            key, value = (
                (entry.result_key, entry.result_value)
                if earlier is None
                else (
                    earlier.key,
                    earlier.value,
                )
            )
            if value is None:
                return None
            return OutboxMessage(settings.topics.command_results, key, value, EVENT_HEADERS)
        if isinstance(fact, DeadLetter):
            return events.dead_letter(settings, fact.record, fact.rejection)
        if isinstance(fact, CommandResult):
            invoice = None if fact.invoice is None else filled(fact.invoice)
            return events.command_result(settings, replace(fact, invoice=invoice), cause, now)
        numbered = replace(fact, invoice=filled(fact.invoice))
        return events.invoice_event(settings, numbered, cause, now)


def _waits_for_documents(fact: Fact) -> TypeGuard[NotificationRequested]:
    """An invoice with a seller is sent with its documents (docs/contract.md, "Documents"):
    its notification waits until the renderer has stored them. Reminders go at once."""
    return (
        isinstance(fact, NotificationRequested)
        and fact.reminder_level is None
        and fact.invoice.seller is not None
    )


def _waiting_notification(fact: NotificationRequested, cause: Cause) -> WaitingNotification:
    return WaitingNotification(
        invoice_id=fact.invoice.invoice_id,
        channel=fact.channel,
        recipient=fact.recipient,
        reason=fact.reason,
        request=fact.request,
        amount_due=fact.invoice.totals.amount_due,
        correlation_id=cause.correlation_id,
        event_time=cause.time,
        traceparent=cause.traceparent,
    )
