"""The data of the events the worker emits.

Amounts, quantities, prices and percentages are decimal strings the caller formats (amounts
with exactly the currency's minor digits). Optional fields are left out when they have no
value; `invoice` of a result and `invoiceNumber` of a snapshot are always there, maybe null.
"""

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from worker.messages.commands import Channel, InvoiceType
from worker.messages.orders import BillingAddress, Customer, ElectronicAddress
from worker.messages.values import MessageModel, Omittable

DecimalString = Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)?$")]
InvoiceStatus = Literal["draft", "open", "paid", "void", "deleted"]
Version = Annotated[int, Field(ge=1)]


class Totals(MessageModel):
    net_amount: DecimalString
    tax_amount: DecimalString
    gross_amount: DecimalString
    paid_amount: DecimalString
    credited_amount: DecimalString
    amount_due: DecimalString


class InvoiceLine(MessageModel):
    line_no: Annotated[int, Field(ge=1)]
    order_row_id: str
    sku: Omittable[str] = None
    name: str
    quantity: DecimalString
    unit: Omittable[str] = None
    unit_price: DecimalString
    discount_percent: DecimalString
    tax_rate: DecimalString
    net_amount: DecimalString
    gross_amount: Omittable[DecimalString] = None
    """Only with prices that include tax."""
    tax_category: Omittable[str] = None
    """UNCL5305: S, Z, E, AE, K, G or O."""


class TaxGroup(MessageModel):
    tax_rate: DecimalString
    taxable_amount: DecimalString
    tax_amount: DecimalString
    tax_category: Omittable[str] = None
    """A group is one VAT category and rate (docs/contract.md v2)."""
    tax_exemption_reason: Omittable[str] = None
    tax_exemption_reason_code: Omittable[str] = None


class Seller(MessageModel):
    """The seller the invoice was issued by (INVOICER_SELLER_*)."""

    name: str
    vat_id: str
    address_line1: str
    city: str
    postal_code: str
    country: str
    registration_id: Omittable[str] = None
    email: Omittable[str] = None
    electronic_address: Omittable[ElectronicAddress] = None
    iban: Omittable[str] = None
    bic: Omittable[str] = None


DocumentKind = Literal["pdf", "ubl"]


class Document(MessageModel):
    """A stored document of an invoice, served by the read API at `path`."""

    kind: DocumentKind
    media_type: str
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[int, Field(ge=1)]
    path: str


class UnavailableDocument(MessageModel):
    kind: DocumentKind
    reason: str


class InvoiceDocumentsReady(MessageModel):
    """An invoice's documents are stored (`invoice-documents-ready`). Once per invoice."""

    invoice_id: str
    invoice_number: str
    order_id: str
    documents: list[Document]
    unavailable: list[UnavailableDocument]


class InvoiceCreated(MessageModel):
    """A draft now exists (`invoice-created`); also the body of `invoice-closed`."""

    invoice_id: str
    type: InvoiceType
    reference_invoice_id: Omittable[str] = None
    order_id: str
    order_code: Omittable[str] = None
    status: InvoiceStatus
    currency: str
    prices_include_tax: bool
    customer: Customer
    lines: list[InvoiceLine]
    tax_breakdown: list[TaxGroup]
    totals: Totals
    note: Omittable[str] = None
    version: Version
    buyer_reference: Omittable[str] = None
    purchase_order_reference: Omittable[str] = None
    delivery_date: Omittable[date] = None
    delivery_address: Omittable[BillingAddress] = None
    seller: Omittable[Seller] = None
    """Present when documents are made (a seller is configured)."""


class InvoiceClosed(InvoiceCreated):
    """An invoice was closed: numbered and dated (`invoice-closed`)."""

    invoice_number: str
    issue_date: date
    due_date: date
    closed_at: AwareDatetime


class InvoiceVoided(MessageModel):
    invoice_id: str
    invoice_number: str
    order_id: str
    status: InvoiceStatus
    totals: Totals
    reason: str


class Payment(MessageModel):
    amount: DecimalString
    paid_at: AwareDatetime
    method: Omittable[str] = None
    reference: Omittable[str] = None


class InvoicePaid(MessageModel):
    invoice_id: str
    invoice_number: str
    order_id: str
    status: InvoiceStatus
    totals: Totals
    payment: Omittable[Payment] = None
    """The payment that settled it; absent when credit notes did."""


class NotificationRequested(MessageModel):
    notification_id: str
    channel: Channel
    recipient: str
    template: Literal["invoice-issued"] = "invoice-issued"
    invoice_id: str
    invoice_number: str
    order_id: str
    customer_name: str
    amount_due: DecimalString
    currency: str
    due_date: date
    reason: Literal["auto", "command"]
    documents: Omittable[list[Document]] = None
    """With documents on, the automatic notification waits for them and carries them."""


class InvoiceSnapshot(MessageModel):
    invoice_id: str
    status: InvoiceStatus
    version: Version
    invoice_number: str | None
    """None for a draft."""
    totals: Totals


class InvoiceCommandResult(MessageModel):
    command_id: str
    action: str | None
    """The command's action; None when the command had none that could be read."""
    ok: bool
    invoice: InvoiceSnapshot | None
    warnings: list[str] = Field(default_factory=list)
    errors: Omittable[dict[str, list[str]]] = None
    details: Omittable[str] = None
