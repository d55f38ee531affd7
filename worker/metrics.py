"""The worker's Prometheus metrics. Names follow the conventions: `_total` for counters,
`_seconds` for durations, the unit last; labels are few and bounded.

Every metric here is exported by /metrics; deploy/ (alert rules, dashboard) uses only these,
which a test checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from worker.messages.routing import INCOMING
from worker.store.dunning import Overdue
from worker.store.outbox import PendingMessage
from worker.version import package_version

# `_created` series double the count of series and no dashboard or rule here uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]

UNKNOWN_TYPE = "unknown"
KNOWN_TYPES = frozenset(INCOMING)


RECORDS = Counter(
    "invoicer_records_total",
    "Records consumed, by topic, event type (unknown when unreadable or not in the contract)"
    " and outcome (applied, duplicate, rejected, dead-lettered).",
    ["topic", "type", "outcome"],
)
DEAD_LETTERS = Counter(
    "invoicer_dead_letters_total", "Records copied to the dead-letter topic, by reason.", ["reason"]
)
BATCH_DURATION = Histogram(
    "invoicer_batch_duration_seconds",
    "Time to apply one batch of records (load, handlers, writes) in its database transaction.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
END_TO_END_LATENCY = Histogram(
    "invoicer_end_to_end_latency_seconds",
    "From the causing event's time to its invoice-closed event acknowledged by the broker.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
CONSUMER_LAG = Gauge(
    "invoicer_consumer_lag_records",
    "Records waiting to be applied, per partition assigned to this worker (from the"
    " consumer's own highwater).",
    ["topic", "partition"],
)
OUTBOX_BACKLOG = Gauge("invoicer_outbox_backlog_messages", "Messages waiting in the outbox.")
OUTBOX_OLDEST_AGE = Gauge(
    "invoicer_outbox_oldest_age_seconds",
    "Age of the oldest message waiting in the outbox (0 when it is empty).",
)
OUTBOX_PARKED = Counter(
    "invoicer_outbox_parked_total",
    "Messages the broker refused for good (too large, topic unknown or not allowed), moved to"
    " the outbox_parked table, by topic and error.",
    ["topic", "error"],
)
RENDER_OLDEST_AGE = Gauge(
    "invoicer_render_oldest_age_seconds",
    "Age of the oldest closed invoice whose documents are still to be rendered (0 when none).",
)
RENDER_FAILURES = Counter(
    "invoicer_render_failures_total",
    "Renderings that failed, by cause: error, timeout, process-lost; store: documents the"
    " database refused to store.",
    ["cause"],
)
DOCUMENTS_FAILED = Counter(
    "invoicer_documents_failed_total",
    "Invoices whose documents failed for good (INVOICER_RENDER_MAX_ATTEMPTS renderings in a"
    " row failed), by the last rendering's cause: their notifications went out without them.",
    ["cause"],
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
    "Gross amount of closed invoices in the currency's major unit (credit notes not"
    " subtracted), by currency.",
    ["currency"],
)
RETRIES = Counter(
    "invoicer_retries_total", "Transient faults waited out, by what failed.", ["what"]
)
DB_POOL_IN_USE = Gauge("invoicer_db_pool_connections_in_use", "Database connections in use.")
READY = Gauge(
    "invoicer_ready",
    "1 when the worker is ready (database reachable, broker connected, group joined), else 0.",
)
INVOICES_OVERDUE = Gauge(
    "invoicer_invoices_overdue",
    "Invoices open past their due date with something due, by currency, as of the last"
    " dunning scan (every replica reports the same figure: aggregate with max, not sum).",
    ["currency"],
)
AMOUNT_OVERDUE = Gauge(
    "invoicer_amount_overdue",
    "Amount due on overdue invoices in the currency's major unit, by currency, as of the"
    " last dunning scan (aggregate with max, not sum).",
    ["currency"],
)
REMINDERS_SENT = Counter(
    "invoicer_payment_reminders_total",
    "Payment reminders requested, by level (1, 2, …).",
    ["level"],
)
BUILD_INFO = Gauge("invoicer_build_info", "Always 1; the running version as a label.", ["version"])


BUILD_INFO.labels(version=package_version()).set(1)


def record_published(pending: Sequence[PendingMessage], invoices_closed_topic: str) -> None:
    now = datetime.now(UTC)
    for item in pending:
        PUBLISHED.labels(topic=item.message.topic).inc()
        if item.message.topic == invoices_closed_topic and item.message.event_time is not None:
            # A producer's clock ahead of ours would make it negative.
            latency = max(0.0, (now - item.message.event_time).total_seconds())
            END_TO_END_LATENCY.observe(latency)


def record_outbox(backlog: int, oldest: datetime | None) -> None:
    OUTBOX_BACKLOG.set(backlog)
    age = 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
    OUTBOX_OLDEST_AGE.set(max(0.0, age))


def record_render_jobs(oldest: datetime | None) -> None:
    age = 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
    RENDER_OLDEST_AGE.set(max(0.0, age))


def record_consumed(topic: str, event_type: str | None, outcome: str) -> None:
    """Counts a record under a bounded `type` label: a type outside the contract (bad input
    may carry any string) is counted as `unknown`, so made-up types add no series."""
    bounded = event_type if event_type in KNOWN_TYPES else UNKNOWN_TYPE
    RECORDS.labels(topic=topic, type=bounded, outcome=outcome).inc()


def record_overdue(overdue: Sequence[Overdue]) -> None:
    """The overdue figures of the last scan, replacing the ones before."""
    INVOICES_OVERDUE.clear()
    AMOUNT_OVERDUE.clear()
    for figure in overdue:
        INVOICES_OVERDUE.labels(currency=figure.currency).set(figure.invoices)
        AMOUNT_OVERDUE.labels(currency=figure.currency).set(float(figure.amount))
