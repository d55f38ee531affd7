"""One batch of records, as values: what it read, the decisions applied in order, and the
numbers of the invoices it closes. Pure code: loading and saving are worker.store's, around
it (worker.unit_of_work); the rows it publishes are made by worker.publishing.batch_writes.

Handlers see the batch through its read-only View: the orders and invoices as the records
before them left them. When the batch commits, the database assigns the closing invoices'
numbers (taken as late as possible, under the series lock); only then are the outgoing
messages rendered, each from the snapshot its decision took, numbered where it needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from worker.decisions import Cause, DeadLettered, Decision, Fact, Outcome, Republished
from worker.domain.invoice import OrderRow
from worker.domain.lifecycle import Invoice, InvoiceType, number_invoice
from worker.domain.numbering import invoice_number
from worker.domain.order import Order
from worker.domain.parties import DEFAULT_SELLER_ID
from worker.domain.sellers import RegisteredSeller
from worker.rows import EventKey, InboxEntry
from worker.settings import Settings


@dataclass(frozen=True, slots=True)
class Numbers:
    """Numbers the closing transaction took: the first of each series (by `Batch.series`;
    the year is the issue date's), the moment they were taken and that moment's date, and
    the registered sellers of the closing invoices as stored at that moment."""

    first: Mapping[str, int]
    taken_at: datetime
    issue_date: date
    sellers: Mapping[str, RegisteredSeller] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClosedInvoice:
    invoice: Invoice
    log_context: Mapping[str, Any]
    """The identifiers of the record that closed it, for the line logged after commit."""


@dataclass(frozen=True, slots=True)
class Numbered:
    """The batch's values once its numbers are taken: every snapshot of a closing invoice
    carries its number (worker.publishing.batch_writes makes the rows to write from them)."""

    changed_invoices: list[Invoice]
    new_invoices: list[Invoice]
    closed: list[ClosedInvoice]
    facts: list[tuple[Fact, Cause]]
    """What to publish, in order, each with the event that caused it."""
    outcomes: Mapping[EventKey, tuple[str, Outcome]]
    """The event type and outcome of each event the batch applied or answered."""
    inbox: Mapping[EventKey, InboxEntry]
    """The events seen before and in this batch: a command seen before has its result."""


@dataclass(slots=True)
class Batch:
    settings: Settings
    now: datetime
    orders: dict[str, Order]
    invoices: dict[str, Invoice]
    """The invoices of the orders the batch's commands are about, by id."""
    inbox: dict[EventKey, InboxEntry]
    sellers: dict[str, RegisteredSeller] = field(default_factory=dict)
    """The registered sellers the batch's records name, by id."""
    _saved_orders: dict[str, Order] = field(default_factory=dict)
    _saved_sellers: dict[str, RegisteredSeller] = field(default_factory=dict)
    _saved_rows: dict[tuple[str, str], OrderRow] = field(default_factory=dict)
    _touched: dict[str, None] = field(default_factory=dict)
    """The invoices made or changed, in the order first touched."""
    _stored: set[str] = field(default_factory=set)
    _closing: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    _sellers_at_closing: dict[str, RegisteredSeller] = field(default_factory=dict)
    """A closing invoice's registered seller as the batch saw it when the invoice closed."""
    _facts: list[tuple[Fact, Cause]] = field(default_factory=list)
    _outcomes: dict[EventKey, tuple[str, Outcome]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stored = set(self.invoices)

    # The view handlers read (worker.decisions.View).
    def order(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    def invoice(self, invoice_id: str) -> Invoice | None:
        return self.invoices.get(invoice_id)

    def seller(self, seller_id: str) -> RegisteredSeller | None:
        return self.sellers.get(seller_id)

    def invoices_of(self, order_id: str) -> list[Invoice]:
        return [invoice for invoice in self.invoices.values() if invoice.order_id == order_id]

    def in_number_order(self, invoices: list[Invoice]) -> list[Invoice]:
        numbered = sorted(
            (invoice for invoice in invoices if invoice.number is not None),
            # one series' numbers: a longer one is the later ("…-1000000" after "…-999999")
            key=lambda invoice: (invoice.closed_at, len(invoice.number or ""), invoice.number),
        )
        closing = {invoice_id: place for place, invoice_id in enumerate(self._closing)}
        awaiting = sorted(
            (invoice for invoice in invoices if invoice.invoice_id in closing),
            key=lambda invoice: closing[invoice.invoice_id],
        )
        others = [
            invoice
            for invoice in invoices
            if invoice.number is None and invoice.invoice_id not in closing
        ]
        return [*numbered, *awaiting, *others]

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
        if decision.seller is not None:
            seller = decision.seller
            self.sellers[seller.seller_id] = self._saved_sellers[seller.seller_id] = seller
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
        released = before if before is not None and before.holds_rows else None
        held = invoice if invoice.holds_rows else None
        self.orders[invoice.order_id] = order.holding(
            released=released.row_ids if released else (),
            held=held.row_ids if held else (),
            released_adjustments=released.content.adjustment_keys if released else (),
            held_adjustments=held.content.adjustment_keys if held else (),
        )
        self.invoices[invoice.invoice_id] = invoice
        self._touched[invoice.invoice_id] = None
        if invoice.awaits_number and invoice.invoice_id not in self._closing:
            self._closing[invoice.invoice_id] = log_context
            seller = None if invoice.seller_id is None else self.sellers.get(invoice.seller_id)
            if seller is not None:
                self._sellers_at_closing[invoice.invoice_id] = seller

    @property
    def saved_orders(self) -> list[Order]:
        """The orders to store, stored before the numbers are taken."""
        return list(self._saved_orders.values())

    @property
    def saved_sellers(self) -> list[RegisteredSeller]:
        """The sellers registered or changed, each as its last record left it."""
        return list(self._saved_sellers.values())

    @property
    def saved_rows(self) -> list[tuple[str, OrderRow]]:
        """(order id, row) of the rows to store, new or changed."""
        return [(order_id, row) for (order_id, _), row in self._saved_rows.items()]

    def series_counts(self) -> dict[str, int]:
        """How many numbers each series needs when the batch commits."""
        counts: dict[str, int] = {}
        for invoice_id in self._closing:
            series = self.series(self.invoices[invoice_id])
            counts[series] = counts.get(series, 0) + 1
        return counts

    @property
    def closing_sellers(self) -> set[str]:
        """The registered sellers of the invoices the batch closes."""
        return {
            seller_id
            for invoice_id in self._closing
            if (seller_id := self.invoices[invoice_id].seller_id) not in (None, DEFAULT_SELLER_ID)
        }

    def series(self, invoice: Invoice) -> str:
        """The number series of an invoice: the configured seller's by its prefix (as
        before sellers were registered), a registered seller's by its id and the invoice's
        type, so that a changed prefix continues it."""
        if invoice.seller_id in (None, DEFAULT_SELLER_ID):
            return self._configured_prefix(invoice)
        return f"{invoice.seller_id}/{invoice.type.value}"

    def _configured_prefix(self, invoice: Invoice) -> str:
        if invoice.type is InvoiceType.CREDIT_NOTE:
            return self.settings.credit_note_number_prefix
        return self.settings.invoice_number_prefix

    def _prefix(self, invoice: Invoice, sellers: Mapping[str, RegisteredSeller]) -> str:
        registered = None if invoice.seller_id is None else sellers.get(invoice.seller_id)
        if registered is None:
            return self._configured_prefix(invoice)
        if invoice.type is InvoiceType.CREDIT_NOTE:
            return registered.credit_note_number_prefix
        return registered.invoice_number_prefix

    def _sellers_of(self, invoice: Invoice, numbers: Numbers) -> Mapping[str, RegisteredSeller]:
        """The sellers an invoice is numbered with: as stored when its number is taken,
        but a seller this batch changed as it was when the invoice closed (as if each record
        were a batch of its own)."""
        if invoice.seller_id not in self._saved_sellers:
            return numbers.sellers
        seen = self._sellers_at_closing[invoice.invoice_id]
        return {**numbers.sellers, seen.seller_id: seen}

    def _seller_at_numbering(
        self, invoice: Invoice, sellers: Mapping[str, RegisteredSeller]
    ) -> Invoice:
        """An invoice with its seller as stored when its number is taken; a credit note
        keeps its invoice's."""
        if invoice.type is InvoiceType.CREDIT_NOTE or invoice.seller_id is None:
            return invoice
        if invoice.seller_id == DEFAULT_SELLER_ID:
            return replace(invoice, seller=self.settings.seller.as_seller())
        registered = sellers.get(invoice.seller_id)
        return invoice if registered is None else replace(invoice, seller=registered.seller)

    def finish(self, numbers: Numbers | None) -> Numbered:
        """The batch's values once `numbers` (None when nothing closes) are taken."""
        numbered = self._numbered(numbers)
        # An invoice's facts, the invoice stored and its log line share one snapshot: it is
        # numbered once (by identity; each snapshot lives as long as the batch).
        filled_by_identity: dict[int, Invoice] = {}

        def filled(invoice: Invoice) -> Invoice:
            assigned = numbered.get(invoice.invoice_id)
            numbering = assigned is not None and invoice.awaits_number
            # A credit note of an invoice the batch numbers was made from the invoice before
            # it took its seller as stored then: it keeps the seller the invoice took.
            of_numbered = (
                invoice.type is InvoiceType.CREDIT_NOTE and invoice.reference_invoice_id in numbered
            )
            if not numbering and not of_numbered:
                return invoice
            done = filled_by_identity.get(id(invoice))
            if done is None:
                done = invoice
                if numbering:
                    assert numbers is not None and assigned is not None
                    number, closed_at, issue_date = assigned
                    done = self._seller_at_numbering(
                        number_invoice(invoice, number, closed_at, issue_date),
                        self._sellers_of(invoice, numbers),
                    )
                if of_numbered:
                    assert invoice.reference_invoice_id is not None
                    reference = filled(self.invoices[invoice.reference_invoice_id])
                    done = replace(done, seller=reference.seller)
                filled_by_identity[id(invoice)] = done
            return done

        def filled_fact(fact: Fact) -> Fact:
            if isinstance(fact, DeadLettered | Republished):
                return fact
            if fact.invoice is None:
                return fact
            return replace(fact, invoice=filled(fact.invoice))

        touched = [filled(self.invoices[invoice_id]) for invoice_id in self._touched]
        return Numbered(
            changed_invoices=[i for i in touched if i.invoice_id in self._stored],
            new_invoices=[i for i in touched if i.invoice_id not in self._stored],
            closed=[
                ClosedInvoice(filled(self.invoices[invoice_id]), context)
                for invoice_id, context in self._closing.items()
            ],
            facts=[(filled_fact(fact), cause) for fact, cause in self._facts],
            outcomes=self._outcomes,
            inbox=self.inbox,
        )

    def _numbered(self, numbers: Numbers | None) -> dict[str, tuple[str, datetime, date]]:
        """invoice id → (number, closing time, issue date), in closing order per series."""
        if numbers is None:
            assert not self._closing, "numbers are taken when invoices close"
            return {}
        taken: dict[str, int] = {}
        numbered: dict[str, tuple[str, datetime, date]] = {}
        for invoice_id in self._closing:
            invoice = self.invoices[invoice_id]
            series = self.series(invoice)
            sequence = numbers.first[series] + taken.get(series, 0)
            taken[series] = taken.get(series, 0) + 1
            prefix = self._prefix(invoice, self._sellers_of(invoice, numbers))
            number = invoice_number(prefix, numbers.issue_date.year, sequence)
            numbered[invoice_id] = (number, numbers.taken_at, numbers.issue_date)
        return numbered
