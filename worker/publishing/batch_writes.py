"""What the batch publishes when it commits: each fact's outbox message (an invoice's event,
a command's result, a dead letter, a result published again), the render jobs of closed
invoices with a seller, the notifications that wait for their documents and the inbox's
outcomes. Pure code, from the batch's numbered values (worker.batch.Numbered)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from worker.batch import Numbered
from worker.decisions import Cause, CommandResult, DeadLettered, Fact, Record, Republished
from worker.domain.lifecycle import InvoiceClosed, NotificationRequested
from worker.messages import Rejection, event_bytes, stable_event_id
from worker.messages.binding import EVENT_HEADERS
from worker.messages.dead_letter import (
    ERROR,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_TOPIC,
    REASON,
)
from worker.messages.error_report import MAX_RESULT_REPORT_BYTES, bounded_report
from worker.messages.routing import OUTGOING, topic_for
from worker.publishing.invoice_events import event_headers, invoice_event
from worker.publishing.snapshots import invoice_snapshot
from worker.rows import (
    EventKey,
    InboxOutcome,
    OutboxMessage,
    RenderJob,
    WaitingNotification,
)
from worker.settings import Settings


@dataclass(frozen=True, slots=True)
class Writes:
    """What the batch stores once its numbers are taken, in the order it must be stored."""

    numbered: Numbered
    messages: list[OutboxMessage]
    inbox: list[InboxOutcome]
    dead_letter_reasons: list[str]
    render_jobs: list[RenderJob]
    """Closed invoices with a seller: their documents are rendered after the commit."""
    waiting_notifications: list[WaitingNotification]
    """Notifications of invoices with a seller: sent with the documents, once stored."""


def batch_writes(numbered: Numbered, settings: Settings, now: datetime) -> Writes:
    """The rows the numbered batch publishes, in its facts' order."""
    messages: list[OutboxMessage] = []
    results: dict[EventKey, OutboxMessage] = {}
    dead_letter_reasons: list[str] = []
    render_jobs: list[RenderJob] = []
    waiting: list[WaitingNotification] = []
    for fact, cause in numbered.facts:
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
        message = _message(fact, cause, numbered, results, settings, now)
        if message is None:
            continue
        messages.append(message)
        if isinstance(fact, CommandResult) and cause.source and cause.event_id:
            results[(cause.source, cause.event_id)] = message
        elif isinstance(fact, DeadLettered):
            dead_letter_reasons.append(fact.rejection.reason.value)
    return Writes(
        numbered=numbered,
        messages=messages,
        inbox=[
            InboxOutcome(
                key,
                event_type,
                outcome.value,
                None if key not in results else results[key].key,
                None if key not in results else results[key].value,
            )
            for key, (event_type, outcome) in numbered.outcomes.items()
        ],
        dead_letter_reasons=dead_letter_reasons,
        render_jobs=render_jobs,
        waiting_notifications=waiting,
    )


def _message(
    fact: Fact,
    cause: Cause,
    numbered: Numbered,
    results: dict[EventKey, OutboxMessage],
    settings: Settings,
    now: datetime,
) -> OutboxMessage | None:
    if isinstance(fact, Republished):
        # the stored result, or the one this batch just made (the same command twice)
        earlier = results.get(fact.command)
        entry = numbered.inbox[fact.command]
        key, value = (
            (entry.result_key, entry.result_value)
            if earlier is None
            else (earlier.key, earlier.value)
        )
        if value is None:
            return None
        return OutboxMessage(settings.topics.command_results, key, value, EVENT_HEADERS)
    if isinstance(fact, DeadLettered):
        return dead_letter_message(settings, fact.record, fact.rejection)
    if isinstance(fact, CommandResult):
        return command_result(settings, fact, cause, now)
    return invoice_event(settings, fact, cause, now)


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
        amount_due=fact.amount_due,
        correlation_id=cause.correlation_id,
        event_time=cause.time,
        traceparent=cause.traceparent,
        refund_due=fact.refund_due,
    )


def command_result(
    settings: Settings, result: CommandResult, cause: Cause, now: datetime
) -> OutboxMessage:
    """Keyed by the invoice's order id, else by the command record's key."""
    assert cause.source is not None and cause.event_id is not None
    invoice = result.invoice
    event_type = "invoice-command-result"
    return OutboxMessage(
        topic=topic_for(settings.topics, event_type),
        key=invoice.order_id.encode() if invoice is not None else cause.record_key,
        value=event_bytes(
            event_type=event_type,
            source=settings.event_source,
            event_id=stable_event_id(event_type, cause.source, cause.event_id),
            data=OUTGOING[event_type].model(
                command_id=cause.event_id,
                action=result.action,
                ok=result.ok,
                invoice=None if invoice is None else invoice_snapshot(invoice),
                warnings=result.warnings,
                **_bounded_errors(result),
            ),
            correlation_id=cause.correlation_id,
            subject=None if invoice is None else invoice.invoice_id,
            time=now,
            traceparent=cause.traceparent,
        ),
        headers=event_headers(cause),
        event_time=cause.time,
    )


def _bounded_errors(result: CommandResult) -> dict[str, Any]:
    """A failed command's errors and details as every report bounds them."""
    if result.errors is None:
        return {"errors": None, "details": result.details}
    errors, details = bounded_report(result.errors, result.details or "", MAX_RESULT_REPORT_BYTES)
    return {"errors": errors, "details": details}


def dead_letter_message(settings: Settings, record: Record, rejection: Rejection) -> OutboxMessage:
    """The record unchanged, with why it was rejected and where it came from. A header name
    that was not UTF-8 on the broker (Kafka's names are strings) cannot be sent as it was:
    its bytes that are not UTF-8 become U+FFFD, as Kafka's own Java client reads them."""
    return OutboxMessage(
        topic=settings.topics.dead_letter,
        key=record.key,
        value=record.value,
        headers=(
            *((_sendable(name), value) for name, value in record.headers),
            (REASON, rejection.reason.value.encode()),
            (ERROR, rejection.header_value()),
            (ORIGINAL_TOPIC, record.topic.encode()),
            (ORIGINAL_PARTITION, str(record.partition).encode()),
            (ORIGINAL_OFFSET, str(record.offset).encode()),
        ),
    )


def _sendable(header_name: str) -> str:
    return _SURROGATE.sub("\ufffd", header_name)


_SURROGATE = re.compile("[\ud800-\udfff]")
