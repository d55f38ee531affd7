"""The worker's Prometheus metrics. Names follow the conventions: `_total` for counters,
`_seconds` for durations; labels are few and bounded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

from worker.store.outbox import PendingMessage

RECORDS = Counter(
    "invoicer_records_total",
    "Records consumed, by topic, event type and outcome.",
    ["topic", "type", "outcome"],
)
DEAD_LETTERS = Counter(
    "invoicer_dead_letters_total", "Records copied to the dead-letter topic, by reason.", ["reason"]
)
BATCH_DURATION = Histogram(
    "invoicer_batch_duration_seconds",
    "Time to apply one batch of records in its database transaction.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
END_TO_END_LATENCY = Histogram(
    "invoicer_end_to_end_latency_seconds",
    "From the order event's time to its invoice-closed event acknowledged by the broker.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CONSUMER_LAG = Gauge(
    "invoicer_consumer_lag_records",
    "Records not yet processed, per assigned partition (from the consumer's own highwater).",
    ["topic", "partition"],
)
OUTBOX_BACKLOG = Gauge("invoicer_outbox_backlog_messages", "Messages waiting in the outbox.")
OUTBOX_OLDEST_AGE = Gauge(
    "invoicer_outbox_oldest_age_seconds", "Age of the oldest message waiting in the outbox."
)
PUBLISHED = Counter(
    "invoicer_messages_published_total", "Messages the outbox relay published, by topic.", ["topic"]
)
INVOICES_CLOSED = Counter(
    "invoicer_invoices_closed_total",
    "Invoices closed (numbered), by type and currency.",
    ["type", "currency"],
)
AMOUNT_INVOICED = Counter(
    "invoicer_amount_invoiced_total",
    "Gross amount of closed invoices (credit notes not subtracted), by currency.",
    ["currency"],
)
RETRIES = Counter(
    "invoicer_retries_total", "Transient faults waited out, by what failed.", ["what"]
)
DB_POOL_IN_USE = Gauge("invoicer_db_pool_connections_in_use", "Database connections in use.")


def record_published(pending: Sequence[PendingMessage], invoices_closed_topic: str) -> None:
    now = datetime.now(UTC)
    for item in pending:
        PUBLISHED.labels(topic=item.message.topic).inc()
        if item.message.topic == invoices_closed_topic and item.message.event_time is not None:
            END_TO_END_LATENCY.observe((now - item.message.event_time).total_seconds())
