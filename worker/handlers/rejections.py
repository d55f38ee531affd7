"""Records that cannot be applied: the one place a record goes to the dead-letter topic,
and the answer to a command too broken to apply but with an id to answer."""

from __future__ import annotations

import structlog

from worker.decisions import Cause, CommandResult, DeadLettered, Decision, Outcome, Record
from worker.logs import OFFSET, PARTITION, TOPIC
from worker.messages import INVOICE_COMMAND, CloudEvent, Rejection, RejectReason
from worker.messages.error_report import bounded_report

log = structlog.get_logger(__name__)


def event_rejection(
    event: CloudEvent, reason: RejectReason, errors: dict[str, list[str]], details: str
) -> Rejection:
    """Why a valid event is not applied (its data breaks a rule, or conflicts)."""
    return Rejection(
        reason=reason,
        errors=errors,
        details=details,
        event_id=event.id,
        source=event.source,
        event_type=event.type,
        correlation_id=event.correlation_id,
        action=None,
    )


def rejection_cause(rejection: Rejection, record: Record) -> Cause:
    return Cause(
        source=rejection.source,
        event_id=rejection.event_id,
        correlation_id=rejection.correlation_id or rejection.event_id or "",
        time=None,
        record_key=record.key,
    )


def dead_letter(record: Record, rejection: Rejection) -> Decision:
    log.warning(
        "record dead-lettered",
        action="dead-letter",
        reason=rejection.reason.value,
        details=bounded_report({}, rejection.details)[1],
        **{TOPIC: record.topic, PARTITION: record.partition, OFFSET: record.offset},
    )
    return Decision(
        Outcome.DEAD_LETTERED,
        rejection_cause(rejection, record),
        rejection.event_type,
        facts=(DeadLettered(record, rejection),),
    )


def reject_invalid_command(record: Record, rejection: Rejection) -> Decision:
    """A command whose data is invalid, but whose id can be answered: ok false, never a
    dead letter."""
    assert rejection.event_id is not None and rejection.source is not None
    result = CommandResult(
        action=rejection.action,
        ok=False,
        invoice=None,
        errors=rejection.errors,
        details=rejection.details,
    )
    return Decision(
        Outcome.REJECTED, rejection_cause(rejection, record), INVOICE_COMMAND, facts=(result,)
    )
