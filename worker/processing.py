"""Applying a batch of records: parse, one transaction, retries, and isolating a bad record.

Faults are classified by cause (worker/store/pool.py, `fault_of`). One of the database's
own (out of reach, a missing table or column, a revoked privilege, a statement or lock
timeout) is no record's fault: the worker says it is not ready, and retries the whole batch
with backoff for as long as it takes, without blaming, splitting or dead-lettering
anything. A concurrency conflict (serialization failure, deadlock) retries the batch too,
but only a few times: a record that conflicts every time must not hold its partition for
ever. After that, and at once for an error a record causes (its data refused, a constraint
it violates, a defect it triggers), the batch is split in halves until the record that
causes it stands alone; that record is tried a few times more, then dead-lettered with the
cause, so it never blocks the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import structlog

from worker import metrics
from worker.batch import Batch
from worker.decisions import Cause, Decision, Outcome, Record, Republished, cause_of
from worker.domain.money import plain
from worker.handlers import ROUTES
from worker.handlers.rejections import dead_letter, reject_invalid_command, rejection_cause
from worker.logs import CORRELATION_ID, MESSAGE_ID, OFFSET, PARTITION, TOPIC, held, release
from worker.messages import (
    INVOICE_COMMAND,
    SELLER_UPDATED,
    KnownEvent,
    Rejection,
    RejectReason,
    parse_record,
)
from worker.publishing.batch_writes import Writes
from worker.retry import Backoff, Waiting
from worker.rows import EventKey, seller_event_key
from worker.settings import Settings
from worker.store.inbox import ConcurrentDuplicate
from worker.store.pool import Fault, condition, describe_error, fault_of
from worker.store.transactions import unit_of_work
from worker.tracing import TRACEPARENT, batch_span, record_span
from worker.unit_of_work import begin, commit

log = structlog.get_logger(__name__)

ATTEMPTS_BEFORE_DEAD_LETTER = 3
CONFLICT_ATTEMPTS = 5
"""Tries of a batch that concurrency conflicts keep failing, before it is split."""
PROCESSING_ERROR_DETAILS = "The record could not be processed: {error}"

Parsed = KnownEvent | Rejection


class Stopping(Exception):
    """A stop was requested while the batch could not be applied; it was not committed."""


@dataclass
class Outage:
    """Why the database does not take the worker's work at the moment (None: it does), for
    /readyz. Only the kind of fault, never the server's message: it may quote values."""

    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    record: Record
    event: Parsed


async def process_records(
    pool: asyncpg.Pool,
    records: Sequence[Record],
    settings: Settings,
    stop: asyncio.Event,
    outage: Outage,
) -> None:
    await _apply_with_retries(pool, parse_items(records), settings, stop, outage)


def parse_items(records: Sequence[Record]) -> list[Item]:
    return [Item(record, _parsed(record)) for record in records]


def _parsed(record: Record) -> Parsed:
    """The record's event, or why it is refused. Parsing is pure: a defect it meets with one
    record fails the same way every time, so that record is dead-lettered at once, and the
    batch and the process go on."""
    try:
        return parse_record(record.value, record.headers)
    except Exception as error:
        log.error(
            "record could not be parsed",
            error=describe_error(error),
            **{TOPIC: record.topic, PARTITION: record.partition, OFFSET: record.offset},
        )
        log.debug("record could not be parsed", exc_info=error)
        return Rejection(
            reason=RejectReason.PROCESSING_ERROR,
            errors={"": [describe_error(error)]},
            details=PROCESSING_ERROR_DETAILS.format(error=describe_error(error)),
        )


async def _apply_with_retries(
    pool: asyncpg.Pool,
    items: Sequence[Item],
    settings: Settings,
    stop: asyncio.Event,
    outage: Outage,
) -> None:
    backoff = Backoff()
    conflicts = 0
    failures = 0
    while True:
        started = time.perf_counter()
        try:
            with held() as decided:
                writes, outcomes = await _apply(pool, items, settings)
        except Exception as error:
            if stop.is_set():
                raise Stopping from error
            fault = Fault.CONFLICT if isinstance(error, ConcurrentDuplicate) else fault_of(error)
            if fault is Fault.INFRASTRUCTURE:
                outage.reason = f"the database does not take the worker's work: {condition(error)}"
                await backoff.sleep(stop, Waiting.BATCH, error)
                continue
            if fault is Fault.CONFLICT:
                conflicts += 1
                if conflicts < CONFLICT_ATTEMPTS:
                    await backoff.sleep(stop, Waiting.BATCH, error)
                    continue
            if len(items) > 1:
                log.warning(
                    "batch failed; splitting it to find the record", error=describe_error(error)
                )
                middle = len(items) // 2
                await _apply_with_retries(pool, items[:middle], settings, stop, outage)
                await _apply_with_retries(pool, items[middle:], settings, stop, outage)
                return
            failures += 1
            with _bound_to(items[0]):
                log.error("record failed", attempt=failures, error=describe_error(error))
                log.debug("record failed", exc_info=error)  # the whole story, not at INFO
            if failures >= ATTEMPTS_BEFORE_DEAD_LETTER:
                items = [Item(items[0].record, _processing_error(items[0].event, error))]
            await backoff.sleep(stop, Waiting.RECORD, error)
        else:
            outage.reason = None
            metrics.BATCH_DURATION.observe(time.perf_counter() - started)
            release(decided)
            _report(items, outcomes, writes)
            return


def _processing_error(event: Parsed, error: Exception) -> Rejection:
    """A record that fails for a reason no retry cures. When even its dead letter failed,
    the next try keeps it out of the inbox: its id may be what the database refuses."""
    if isinstance(event, Rejection) and event.reason is RejectReason.PROCESSING_ERROR:
        return dataclasses.replace(event, event_id=None, source=None)
    key = _event_key(event)
    return Rejection(
        reason=RejectReason.PROCESSING_ERROR,
        errors={"": [describe_error(error)]},
        details=PROCESSING_ERROR_DETAILS.format(error=describe_error(error)),
        event_id=None if key is None else key[1],
        source=None if key is None else key[0],
        event_type=_event_type(event),
        correlation_id=_correlation(event),
    )


async def _apply(
    pool: asyncpg.Pool, items: Sequence[Item], settings: Settings
) -> tuple[Writes, list[Outcome]]:
    events = [item.event for item in items if not isinstance(item.event, Rejection)]
    async with unit_of_work(pool) as connection:
        batch = await begin(
            connection,
            settings,
            datetime.now(UTC),
            needs=[ROUTES[type(event.data)].needs(event.data) for event in events],
            event_keys=[key for item in items if (key := _inbox_key(item, settings)) is not None],
        )
        with batch_span(len(items), settings.group_id):
            outcomes = [decide(batch, item) for item in items]
            writes = await commit(connection, batch)
    return writes, outcomes


def decide(batch: Batch, item: Item) -> Outcome:
    """Decides one record on what the records before it left, and applies the decision to
    the batch. Every log line about it is bound to its identifiers."""
    outer = structlog.contextvars.get_contextvars()
    key = _event_key(item.event)
    try:
        with (
            record_span(
                _traceparent(item),
                item.record,
                batch.settings.group_id,
                None if key is None else key[1],
            ) as traceparent,
            _bound_to(item),
        ):
            decision = _decision(batch, item)
            batch.apply(decision, structlog.contextvars.get_contextvars(), traceparent)
        return decision.outcome
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**outer)


def _bound_to(item: Item) -> AbstractContextManager[None]:
    """Binds the record's identifiers to every log line written inside."""
    event = item.event
    key = _event_key(event)
    return structlog.contextvars.bound_contextvars(
        **{
            CORRELATION_ID: _correlation(event),
            MESSAGE_ID: None if key is None else key[1],
            TOPIC: item.record.topic,
            OFFSET: item.record.offset,
        }
    )


def _decision(batch: Batch, item: Item) -> Decision:
    decision = _decision_of(batch, item)
    if _is_sellers(item, batch.settings) and decision.cause.source is not None:
        # kept in the inbox apart from orders and commands (worker.rows.seller_event_key)
        source = seller_event_key((decision.cause.source, ""))[0]
        decision = dataclasses.replace(
            decision, cause=dataclasses.replace(decision.cause, source=source)
        )
    return decision


def _decision_of(batch: Batch, item: Item) -> Decision:
    record, event = item.record, item.event
    key = _inbox_key(item, batch.settings)
    if key is not None and batch.seen(key):
        # applied or answered before: whatever this copy says, it changes nothing
        republished = (Republished(key),) if _event_type(event) == INVOICE_COMMAND else ()
        return Decision(Outcome.DUPLICATE, _item_cause(item), facts=republished)
    if record.value is None and record.topic == batch.settings.topics.sellers:
        # A compacted topic's tombstone: a seller is never removed (invoices keep theirs).
        log.warning("seller record without a value ignored", action="seller")
        return Decision(Outcome.APPLIED, _item_cause(item))
    if isinstance(event, Rejection):
        if (
            event.event_type == INVOICE_COMMAND
            and key is not None
            and event.reason is not RejectReason.PROCESSING_ERROR
        ):
            return reject_invalid_command(record, event)
        return dead_letter(record, event)
    if event.data.order_id is not None:
        structlog.contextvars.bind_contextvars(order_id=event.data.order_id)
    return ROUTES[type(event.data)].handle(batch, record, event)


def _traceparent(item: Item) -> str | None:
    """The record's trace context: the event's `traceparent` attribute, else the header."""
    if not isinstance(item.event, Rejection) and item.event.traceparent is not None:
        return item.event.traceparent
    for name, value in item.record.headers:
        if name.lower() == TRACEPARENT and value is not None:
            return value.decode("ascii", "replace")
    return None


def _item_cause(item: Item) -> Cause:
    if isinstance(item.event, Rejection):
        return rejection_cause(item.event, item.record)
    return cause_of(item.event, item.record)


def _is_sellers(item: Item, settings: Settings) -> bool:
    """A seller-updated of the sellers topic: its inbox key is kept apart."""
    return (
        item.record.topic == settings.topics.sellers and _event_type(item.event) == SELLER_UPDATED
    )


def _inbox_key(item: Item, settings: Settings) -> EventKey | None:
    """The event's key in the inbox: (source, id), a seller's event's apart."""
    key = _event_key(item.event)
    if key is None or not _is_sellers(item, settings):
        return key
    return seller_event_key(key)


def _event_key(event: Parsed) -> EventKey | None:
    """(source, id), when the record had a usable envelope."""
    if isinstance(event, Rejection):
        if event.source is None or event.event_id is None:
            return None
        return event.source, event.event_id
    return event.source, event.id


def _correlation(event: Parsed) -> str | None:
    return event.correlation_id if isinstance(event, Rejection) else event.correlation


def _event_type(event: Parsed) -> str | None:
    return event.event_type if isinstance(event, Rejection) else event.type


def _report(items: Sequence[Item], outcomes: Sequence[Outcome], writes: Writes) -> None:
    """Metrics and the log line of every invoice closed, once the batch is committed."""
    for item, outcome in zip(items, outcomes, strict=True):
        metrics.record_consumed(item.record.topic, _event_type(item.event), outcome.value)
    for reason in writes.dead_letter_reasons:
        metrics.DEAD_LETTERS.labels(reason=reason).inc()
    for closed in writes.numbered.closed:
        invoice = closed.invoice
        metrics.INVOICES_CLOSED.labels(type=invoice.type.value, currency=invoice.currency).inc()
        metrics.AMOUNT_INVOICED.labels(currency=invoice.currency).inc(
            float(invoice.content.amounts.gross_amount)
        )
        with structlog.contextvars.bound_contextvars(**closed.log_context):
            log.info(
                "invoice closed",
                action="close",
                invoice_number=invoice.number,
                type=invoice.type.value,
                currency=invoice.currency,
                gross_amount=plain(invoice.content.amounts.gross_amount),
            )
