"""The one place a record goes to the dead-letter topic."""

from __future__ import annotations

import structlog

from worker.messages import Rejection
from worker.unit_of_work import Outcome, Record, UnitOfWork, dead_letter_message

log = structlog.get_logger(__name__)


def dead_letter(work: UnitOfWork, record: Record, rejection: Rejection) -> Outcome:
    """The one place a record goes to the dead-letter topic."""
    topic = work.settings.topics.dead_letter
    work.emit(lambda: dead_letter_message(record, rejection, topic))
    work.dead_letter_reasons.append(rejection.reason.value)
    if rejection.event_id is not None and rejection.source is not None:
        work.record(
            (rejection.source, rejection.event_id),
            rejection.event_type or "",
            Outcome.DEAD_LETTERED,
        )
    log.warning(
        "record dead-lettered",
        action="dead-letter",
        reason=rejection.reason.value,
        details=rejection.details,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )
    return Outcome.DEAD_LETTERED
