"""The messages of the worker's public contract (docs/contract.md), as pydantic models.

Incoming records become typed events with `parse_event`; outgoing events are built
with `event_bytes`. `python -m worker.schemas` writes their JSON Schemas and AsyncAPI.
"""

from worker.messages import dead_letter
from worker.messages.commands import (
    CloseInvoice,
    CreateInvoice,
    DeleteInvoice,
    InvoiceCommand,
    InvoiceCommandData,
    RecordPayment,
    SendInvoice,
    UpdateInvoice,
    VoidInvoice,
)
from worker.messages.envelope import (
    EVENT_ID_NAMESPACE,
    INVOICE_COMMAND,
    ORDER_COMPLETED,
    CloudEvent,
    IncomingEvent,
    InvoiceCommandEvent,
    OrderCompletedEvent,
    OutgoingEvent,
    stable_event_id,
)
from worker.messages.orders import (
    BillingAddress,
    Customer,
    CustomerDetails,
    ElectronicAddress,
    Invoicing,
    OrderCompleted,
    OrderRow,
)
from worker.messages.outgoing import (
    InvoiceClosed,
    InvoiceCommandResult,
    InvoiceCreated,
    InvoiceDocumentsReady,
    InvoiceLine,
    InvoicePaid,
    InvoiceSnapshot,
    InvoiceVoided,
    NotificationRequested,
    Payment,
    Seller,
    TaxGroup,
    Totals,
)
from worker.messages.parsing import (
    MAX_HEADER_BYTES,
    Rejection,
    RejectReason,
    parse_event,
    parse_record,
)
from worker.messages.routing import event_bytes

__all__ = [
    "EVENT_ID_NAMESPACE",
    "INVOICE_COMMAND",
    "MAX_HEADER_BYTES",
    "ORDER_COMPLETED",
    "BillingAddress",
    "CloseInvoice",
    "CloudEvent",
    "CreateInvoice",
    "Customer",
    "CustomerDetails",
    "DeleteInvoice",
    "ElectronicAddress",
    "IncomingEvent",
    "InvoiceClosed",
    "InvoiceCommand",
    "InvoiceCommandData",
    "InvoiceCommandEvent",
    "InvoiceCommandResult",
    "InvoiceCreated",
    "InvoiceDocumentsReady",
    "InvoiceLine",
    "InvoicePaid",
    "InvoiceSnapshot",
    "InvoiceVoided",
    "Invoicing",
    "NotificationRequested",
    "OrderCompleted",
    "OrderCompletedEvent",
    "OrderRow",
    "OutgoingEvent",
    "Payment",
    "RecordPayment",
    "RejectReason",
    "Rejection",
    "Seller",
    "SendInvoice",
    "TaxGroup",
    "Totals",
    "UpdateInvoice",
    "VoidInvoice",
    "dead_letter",
    "event_bytes",
    "parse_event",
    "parse_record",
    "stable_event_id",
]
