"""Where each event goes: every incoming and outgoing event type, its topic (the `Topics`
setting that names it), its model and its schema's URI. worker.publishing, schemas.py and
topics.py all read this."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from worker.messages.envelope import (
    INVOICE_COMMAND,
    ORDER_COMPLETED,
    ORDER_RETURNED,
    SELLER_UPDATED,
    InvoiceCommandEvent,
    OrderCompletedEvent,
    OrderReturnedEvent,
    OutgoingEvent,
    SellerUpdatedEvent,
)
from worker.messages.outgoing import (
    DraftCreated,
    InvoiceChanged,
    InvoiceClosedData,
    InvoiceCommandResult,
    InvoiceCreditedData,
    InvoiceDocumentsFailed,
    InvoiceDocumentsReady,
    InvoiceOverdueData,
    InvoicePaidData,
    InvoiceVoidedData,
    NotificationRequestedData,
    PaymentRecordedData,
    PaymentRefundedData,
)

DEAD_LETTER_TOPIC = "dead_letter"


@dataclass(frozen=True, slots=True)
class EventRoute:
    topic: str
    """The field of `worker.settings.Topics` that names the topic."""
    model: type[BaseModel]
    """The whole event's model (incoming), or its `data`'s (outgoing)."""
    summary: str
    also: tuple[str, ...] = ()
    """The fields of other topics an incoming event is accepted on too."""

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.topic, *self.also)


INCOMING: Mapping[str, EventRoute] = {
    ORDER_COMPLETED: EventRoute(
        "orders_completed",
        OrderCompletedEvent,
        "An order is complete: its rows not yet invoiced go onto one invoice.",
    ),
    ORDER_RETURNED: EventRoute(
        "orders_returned",
        OrderReturnedEvent,
        "Quantities of an order's rows came back: each invoice that billed them is credited"
        " by a credit note, closed at once.",
        also=("orders_completed",),
    ),
    INVOICE_COMMAND: EventRoute(
        "invoice_commands",
        InvoiceCommandEvent,
        "A command about invoices (data.action); the event id is the command id.",
    ),
    SELLER_UPDATED: EventRoute(
        "sellers",
        SellerUpdatedEvent,
        "A seller registered or changed, by its id (compacted topic, keyed by sellerId): the"
        " last one stands, for invoices closed afterwards.",
    ),
}

OUTGOING: Mapping[str, EventRoute] = {
    "invoice-closed": EventRoute(
        "invoices_closed",
        InvoiceClosedData,
        "An invoice was closed: numbered and dated. Once per invoice.",
    ),
    "notification-requested": EventRoute(
        "notifications_requested",
        NotificationRequestedData,
        "Send an issued invoice, or a payment reminder, to its customer.",
    ),
    "invoice-command-result": EventRoute(
        "command_results",
        InvoiceCommandResult,
        "The outcome of a command: exactly one per processing.",
    ),
    "invoice-created": EventRoute("invoice_events", DraftCreated, "A draft invoice now exists."),
    "invoice-voided": EventRoute(
        "invoice_events", InvoiceVoidedData, "An open invoice was voided."
    ),
    "invoice-paid": EventRoute(
        "invoice_events",
        InvoicePaidData,
        "An invoice is paid in full (by payments or credit notes).",
    ),
    "invoice-documents-ready": EventRoute(
        "invoice_events",
        InvoiceDocumentsReady,
        "A closed invoice's documents (PDF, UBL) are stored. Once per invoice.",
    ),
    "invoice-documents-failed": EventRoute(
        "invoice_events",
        InvoiceDocumentsFailed,
        "A closed invoice's documents failed to render INVOICER_RENDER_MAX_ATTEMPTS times in a"
        " row: its waiting notifications go out without them.",
    ),
    "invoice-updated": EventRoute("invoice_events", InvoiceChanged, "A draft was changed."),
    "invoice-deleted": EventRoute("invoice_events", InvoiceChanged, "A draft was deleted."),
    "invoice-payment-recorded": EventRoute(
        "invoice_events", PaymentRecordedData, "A payment was recorded; something is still due."
    ),
    "invoice-payment-refunded": EventRoute(
        "invoice_events",
        PaymentRefundedData,
        "Part or all of a payment was refunded; a paid invoice may be open again.",
    ),
    "invoice-credited": EventRoute(
        "invoice_events",
        InvoiceCreditedData,
        "A credit note was closed against the invoice; something is still due, or owed back"
        " (`refundDue`).",
    ),
    "invoice-overdue": EventRoute(
        "invoice_events",
        InvoiceOverdueData,
        "An open invoice is past its due date with something due. Once per invoice.",
    ),
}


CONTRACT_VERSION = 3
"""The contract's version (docs/contract.md, "Versions and compatibility"): the
package's 0.3.x releases implement v3. Its schemas change only compatibly; an incompatible
change is a new version, with new schema URIs."""
SCHEMA_BASE = f"https://invoicer.example.com/schemas/v{CONTRACT_VERSION}/"


def schema_uri(event_type: str) -> str:
    """The `$id` of an event type's JSON Schema, and the `dataschema` of its events: an
    identifier of the contract's version, whether or not anything is served there."""
    return f"{SCHEMA_BASE}{event_type}.json"


def event_bytes(
    *,
    event_type: str,
    source: str,
    event_id: str,
    data: BaseModel,
    correlation_id: str,
    subject: str | None = None,
    time: datetime,
    traceparent: str | None = None,
) -> bytes:
    """The record value of an emitted event: compact UTF-8 JSON, structured mode."""
    route = OUTGOING.get(event_type)
    if route is None or type(data) is not route.model:
        raise TypeError(f"{type(data).__name__} is not the data of {event_type!r} events")
    event = OutgoingEvent[BaseModel](
        id=event_id,
        source=source,
        type=event_type,
        time=time,
        dataschema=schema_uri(event_type),
        subject=subject,
        correlation_id=correlation_id,
        traceparent=traceparent,
        data=data,
    )
    return event.model_dump_json().encode()


def topic_for(topics: BaseModel, event_type: str) -> str:
    """The configured topic of an outgoing event type."""
    return str(getattr(topics, OUTGOING[event_type].topic))
