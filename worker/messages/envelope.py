"""CloudEvents 1.0 in structured JSON mode: the envelope of every record, in and out."""

import json
import uuid
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SerializeAsAny, StringConstraints

from worker.messages.commands import InvoiceCommand
from worker.messages.orders import OrderCompleted
from worker.messages.returns import OrderReturned
from worker.messages.sellers import SellerUpdated
from worker.messages.values import MAX_ID_LENGTH, Omittable

ORDER_COMPLETED = "order-completed"
ORDER_RETURNED = "order-returned"
SELLER_UPDATED = "seller-updated"
INVOICE_COMMAND = "invoice-command"

EVENT_ID_NAMESPACE = uuid.UUID("02519d1c-4bbf-4846-bec2-02534bf8c91c")
"""The namespace of the uuid5 ids of emitted events. Never change it: ids would change."""

_Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]


JsonMediaType = Annotated[str, StringConstraints(pattern=r"^application/json *(;.*)?$")]
"""`application/json`, maybe with parameters (`application/json; charset=utf-8`)."""


class CloudEvent(BaseModel):
    """The attributes every incoming event must have; `data` is left to the typed events."""

    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)

    specversion: Literal["1.0"]
    id: _Id
    source: _Id
    type: str
    time: AwareDatetime | None = None
    datacontenttype: JsonMediaType | None = None
    subject: str | None = None
    correlation_id: _Id | None = Field(default=None, alias="correlationid")
    traceparent: Annotated[str, StringConstraints(max_length=MAX_ID_LENGTH)] | None = None
    """The CloudEvents distributed-tracing extension; one that is not valid W3C trace
    context is ignored, never a reason to refuse the event."""

    @property
    def correlation(self) -> str:
        """What ties the events caused by this one together: `correlationid`, else `id`."""
        return self.correlation_id or self.id


class OrderCompletedEvent(CloudEvent):
    type: Literal["order-completed"]
    data: OrderCompleted


class InvoiceCommandEvent(CloudEvent):
    """A command; the event's `id` is the command id."""

    type: Literal["invoice-command"]
    data: InvoiceCommand


class OrderReturnedEvent(CloudEvent):
    type: Literal["order-returned"]
    data: OrderReturned


class SellerUpdatedEvent(CloudEvent):
    type: Literal["seller-updated"]
    data: SellerUpdated


KnownEvent = OrderCompletedEvent | OrderReturnedEvent | InvoiceCommandEvent | SellerUpdatedEvent
"""An incoming event of a type the contract knows, its data valid."""
IncomingEvent = Annotated[KnownEvent, Field(discriminator="type")]

_DataT = TypeVar("_DataT", bound=BaseModel)


class OutgoingEvent(BaseModel, Generic[_DataT]):
    """An event the worker emits, as written to its topic."""

    model_config = ConfigDict(
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        json_schema_serialization_defaults_required=True,
    )

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    """The URI of the event type's JSON Schema (its `$id`; routing.schema_uri)."""
    subject: Omittable[str] = None
    correlation_id: str = Field(alias="correlationid")
    traceparent: Omittable[str] = None
    data: SerializeAsAny[_DataT]


def stable_event_id(*parts: str) -> str:
    """The id of an emitted event, the same whenever the same cause is processed again."""
    # JSON keeps the parts apart: ("a", "b/c") and ("a/b", "c") are different causes.
    name = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, name))
