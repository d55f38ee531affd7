"""The worker's decisions run on an in-memory store: what worker.unit_of_work loads and
stores in PostgreSQL, kept in dictionaries, so the handlers and the batch can be driven
through any batching without a broker or a database."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.batch import Batch, Numbers
from worker.decisions import Record
from worker.domain.lifecycle import Invoice
from worker.domain.order import Order
from worker.domain.sellers import RegisteredSeller
from worker.handlers import ROUTES
from worker.messages import Rejection
from worker.processing import decide, parse_items
from worker.publishing.batch_writes import batch_writes
from worker.rows import EventKey, InboxEntry, OutboxMessage, RenderJob, WaitingNotification
from worker.settings import Settings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TAKEN_AT = NOW + timedelta(milliseconds=5)
"""When every batch takes its numbers: a fixed clock, so runs can be compared byte for byte."""


@dataclass
class MemoryStore:
    settings: Settings
    orders: dict[str, Order] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    inbox: dict[EventKey, InboxEntry] = field(default_factory=dict)
    series: dict[tuple[str, int], int] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    render_jobs: list[RenderJob] = field(default_factory=list)
    waiting_notifications: list[WaitingNotification] = field(default_factory=list)
    sellers: dict[str, RegisteredSeller] = field(default_factory=dict)

    def run(self, records: Sequence[Record]) -> None:
        """One batch: loaded as worker.unit_of_work.begin loads it, decided record by
        record, and stored as commit stores it."""
        items = parse_items(records)
        needs = [
            ROUTES[type(item.event.data)].needs(item.event.data)
            for item in items
            if not isinstance(item.event, Rejection)
        ]
        with_invoices = {order_id for need in needs for order_id in need.orders_with_invoices}
        with_invoices |= {
            self.invoices[invoice_id].order_id
            for need in needs
            for invoice_id in need.invoices
            if invoice_id in self.invoices
        }
        all_orders = with_invoices | {order_id for need in needs for order_id in need.orders}
        batch = Batch(
            settings=self.settings,
            now=NOW,
            orders={
                order_id: self._order(order_id)
                for order_id in all_orders
                if order_id in self.orders
            },
            invoices={
                invoice.invoice_id: invoice
                for invoice in self.invoices.values()
                if invoice.order_id in with_invoices
            },
            inbox=dict(self.inbox),
            sellers={
                seller_id: seller
                for seller_id, seller in self.sellers.items()
                if seller_id in {name for need in needs for name in need.sellers}
                or any(
                    self.orders[o].details.seller_id == seller_id
                    for o in all_orders
                    if o in self.orders
                )
            },
        )
        for item in items:
            decide(batch, item)
        self.sellers.update((seller.seller_id, seller) for seller in batch.saved_sellers)
        for order in batch.saved_orders:
            self.orders[order.order_id] = replace(
                order, held_row_ids=frozenset(), held_adjustments=frozenset()
            )
        counts = batch.series_counts()
        numbers = None
        if counts:
            year = TAKEN_AT.year
            first = {prefix: self.series.get((prefix, year), 0) + 1 for prefix in counts}
            for prefix, count in counts.items():
                self.series[(prefix, year)] = self.series.get((prefix, year), 0) + count
            closing = {
                seller_id: self.sellers[seller_id]
                for seller_id in batch.closing_sellers
                if seller_id in self.sellers
            }
            numbers = Numbers(first, TAKEN_AT, TAKEN_AT.date(), closing)
        writes = batch_writes(batch.finish(numbers), batch.settings, batch.now)
        for invoice in [*writes.numbered.changed_invoices, *writes.numbered.new_invoices]:
            self.invoices[invoice.invoice_id] = invoice
        self.outbox.extend(writes.messages)
        self.render_jobs.extend(writes.render_jobs)
        self.waiting_notifications.extend(writes.waiting_notifications)
        for outcome in writes.inbox:
            self.inbox[outcome.key] = InboxEntry(
                outcome.outcome, outcome.result_key, outcome.result_value
            )

    def _order(self, order_id: str) -> Order:
        """The order, and which of its rows, charges and allowances live invoices hold (as
        the database derives it)."""
        holding = [
            invoice
            for invoice in self.invoices.values()
            if invoice.order_id == order_id and invoice.holds_rows
        ]
        return replace(
            self.orders[order_id],
            held_row_ids=frozenset(row_id for i in holding for row_id in i.row_ids),
            held_adjustments=frozenset(key for i in holding for key in i.content.adjustment_keys),
        )


_TOPICS = {
    "order-completed": "orders.completed",
    "order-returned": "orders.returned",
    "seller-updated": "sellers",
}


def records_of(events: Iterable[dict[str, Any] | bytes]) -> list[Record]:
    """Records of the order, return and command topics, by event type, keyed by the order
    id."""
    records = []
    for offset, event in enumerate(events):
        value = event if isinstance(event, bytes) else json.dumps(event).encode()
        event_type = event.get("type") if isinstance(event, dict) else None
        data = event.get("data", {}) if isinstance(event, dict) else {}
        key = data.get("orderId", data.get("sellerId")) if isinstance(data, dict) else None
        records.append(
            Record(
                topic=_TOPICS.get(event_type, "invoices.commands"),
                partition=0,
                offset=offset,
                key=None if not isinstance(key, str) else key.encode(),
                value=value,
            )
        )
    return records


def results(store: MemoryStore) -> list[dict[str, Any]]:
    """The data of every command result the store's outbox holds, in order."""
    return [
        json.loads(message.value)["data"]
        for message in store.outbox
        if message.topic == store.settings.topics.command_results and message.value
    ]


def outgoing(store: MemoryStore, event_type: str) -> list[dict[str, Any]]:
    """The data of every event of this type the store's outbox holds, in order."""
    return [
        json.loads(message.value)["data"]
        for message in store.outbox
        if message.value and json.loads(message.value).get("type") == event_type
    ]


def dead_letters(store: MemoryStore) -> list[tuple[str, dict[str, Any]]]:
    """(reason, errors) of every dead letter the store's outbox holds, in order."""
    letters = []
    for message in store.outbox:
        if message.topic != store.settings.topics.dead_letter:
            continue
        headers = dict(message.headers)
        reason, error = headers["x-dead-letter-reason"], headers["x-dead-letter-error"]
        assert reason is not None and error is not None
        letters.append((reason.decode(), json.loads(error)["errors"]))
    return letters
