"""The rows the pure middle makes for the store to write: outbox messages, inbox outcomes,
render jobs and the notifications that wait for documents. Plain values, below both the
batch (which makes them) and worker.store (which writes and reads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

EventKey = tuple[str, str]

SELLERS_INBOX = "\x01sellers\x01"
"""Before the source of a sellers-topic event's inbox key: its events are kept apart from
those of orders and commands, so that no order or command can take (source, id) of a
seller's event and make it a duplicate (who may write orders may not change a seller). No
incoming source can start with it (U+0001 is refused in every text)."""


def seller_event_key(key: EventKey) -> EventKey:
    """The inbox key of a sellers-topic event of this (source, id)."""
    source, event_id = key
    return SELLERS_INBOX + source, event_id


"""(source, id) of a CloudEvent."""

Headers = tuple[tuple[str, bytes | None], ...]
"""Kafka record headers: a value may be null."""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default=())
    event_time: datetime | None = None
    """When the event that caused this message happened: for end-to-end latency."""


@dataclass(frozen=True, slots=True)
class InboxEntry:
    outcome: str
    result_key: bytes | None
    result_value: bytes | None


@dataclass(frozen=True, slots=True)
class InboxOutcome:
    key: EventKey
    event_type: str
    outcome: str
    result_key: bytes | None = None
    result_value: bytes | None = None


@dataclass(frozen=True, slots=True)
class WaitingNotification:
    """A notification-requested that goes out with its invoice's documents: the automatic one
    of a close, and the one of a `send` command (docs/contract.md, "Documents")."""

    invoice_id: str
    channel: str
    recipient: str
    reason: str
    request: tuple[str, ...]
    amount_due: Decimal
    """What was due when it was requested (for a credit note, on the invoice it credits):
    the notification tells that, whenever the documents are ready."""
    correlation_id: str
    event_time: datetime | None
    traceparent: str | None = None
    refund_due: Decimal | None = None
    """A credit note's: what was owed back on the invoice it credits when requested."""


@dataclass(frozen=True, slots=True)
class RenderJob:
    invoice_id: str
    correlation_id: str
    event_time: datetime | None
    """When the event that closed the invoice happened: end-to-end latency."""
    traceparent: str | None = None
    attempts: int = 0
    """Renderings of this round, this one included."""
    retried: int = 0
    """Rounds before this one: how often its documents failed for good and were asked for
    again. A claim is (retried, attempts)."""


@dataclass(frozen=True, slots=True)
class StoredDocument:
    kind: str
    media_type: str
    sha256: str
    size: int
