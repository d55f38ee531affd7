"""The data of the events the worker emits.

Amounts, quantities, prices and percentages are decimal strings the caller formats (amounts
with exactly the currency's minor digits). Optional fields are left out when they have no
value; `invoice` of a result and `invoiceNumber` of a snapshot are always there, maybe null.
"""

from datetime import date
from typing import Annotated, Literal, get_args

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from worker.messages.commands import Channel, InvoiceTypeName
from worker.messages.orders import BillingAddress, CustomerData, ElectronicAddressData
from worker.messages.values import MessageModel, Omittable

DecimalString = Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)?$")]
InvoiceStatusName = Literal["draft", "open", "paid", "void", "deleted"]
PaymentStatusName = Literal["unpaid", "partially-paid", "paid"]
Version = Annotated[int, Field(ge=1)]


class TotalsData(MessageModel):
    net_amount: DecimalString
    tax_amount: DecimalString
    gross_amount: DecimalString
    paid_amount: DecimalString
    credited_amount: DecimalString
    amount_due: DecimalString
    refund_due: DecimalString
    """max(0, paid + credited - gross): what is owed back to the customer."""
    # Contract v3 added these; optional in the schema, always written.
    line_net_amount: Omittable[DecimalString] = None
    """Σ line net (BT-106): netAmount = lineNetAmount - allowanceAmount + chargeAmount."""
    allowance_amount: Omittable[DecimalString] = None
    """The order-level allowances' net (BT-107)."""
    charge_amount: Omittable[DecimalString] = None
    """The order-level charges' net (BT-108)."""


class InvoiceLineData(MessageModel):
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


class TaxGroupData(MessageModel):
    tax_rate: DecimalString
    taxable_amount: DecimalString
    tax_amount: DecimalString
    tax_category: Omittable[str] = None
    """A group is one VAT category and rate (docs/contract.md)."""
    tax_exemption_reason: Omittable[str] = None
    tax_exemption_reason_code: Omittable[str] = None


class AdjustmentPartData(MessageModel):
    """The share of a charge or allowance in one tax group."""

    model_config = ConfigDict(title="AdjustmentPart")

    tax_category: str
    tax_rate: DecimalString
    amount: DecimalString
    """As the charge or allowance is given: net, or gross when prices include tax."""
    net_amount: DecimalString
    tax_exemption_reason: Omittable[str] = None
    tax_exemption_reason_code: Omittable[str] = None


class _AdjustmentFields(MessageModel):
    reason: str
    amount: DecimalString
    """As given (on a credit note: what it credits): net, or gross when prices include tax."""
    tax_rate: Omittable[DecimalString] = None
    tax_category: Omittable[str] = None
    tax_exemption_reason: Omittable[str] = None
    tax_exemption_reason_code: Omittable[str] = None
    reason_code: Omittable[str] = None
    parts: list[AdjustmentPartData]
    """One per tax group it falls in."""


class InvoiceAllowanceData(_AdjustmentFields):
    model_config = ConfigDict(title="InvoiceAllowance")

    allowance_id: str


class InvoiceChargeData(_AdjustmentFields):
    model_config = ConfigDict(title="InvoiceCharge")

    charge_id: str


class SellerData(MessageModel):
    """The seller the invoice was issued by (INVOICER_SELLER_*)."""

    name: str
    vat_id: str
    address_line1: str
    city: str
    postal_code: str
    country: str
    registration_id: Omittable[str] = None
    email: Omittable[str] = None
    phone: Omittable[str] = None
    electronic_address: Omittable[ElectronicAddressData] = None
    iban: Omittable[str] = None
    bic: Omittable[str] = None


DocumentKind = Literal["pdf", "ubl"]
"""The documents of an invoice, by kind: in events, in the read API's paths and in the
database (migrations/0004_documents.sql checks it)."""
DOCUMENT_KINDS: tuple[DocumentKind, ...] = get_args(DocumentKind)


class Document(MessageModel):
    """A stored document of an invoice, served by the read API at `path`."""

    kind: DocumentKind
    media_type: str
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[int, Field(ge=1)]
    path: str


def document_path(invoice_id: str, kind: str) -> str:
    """Where the read API serves a document."""
    return f"/v1/invoices/{invoice_id}/{kind}"


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


class InvoiceDocumentsFailed(MessageModel):
    """An invoice's documents failed to render `attempts` times in a row
    (`invoice-documents-failed`): the notifications that waited for them go out without
    them. Rendered again on request, they may still be ready later."""

    invoice_id: str
    invoice_number: str
    order_id: str
    reason: str
    """Why the last rendering failed."""
    attempts: Annotated[int, Field(ge=1)]


class InvoiceBody(MessageModel):
    """An invoice as `invoice-created` shows a new draft; also the body of `invoice-closed`
    and of the whole invoice (InvoiceState)."""

    invoice_id: str
    type: InvoiceTypeName
    reference_invoice_id: Omittable[str] = None
    return_id: Omittable[str] = None
    """A credit note's that a return made: the return's id."""
    order_id: str
    order_code: Omittable[str] = None
    status: InvoiceStatusName
    currency: str
    prices_include_tax: bool
    customer: CustomerData
    lines: list[InvoiceLineData]
    # Contract v3 added these; optional in the schema, always written.
    allowances: Omittable[list[InvoiceAllowanceData]] = None
    """Order-level allowances (vouchers) it takes, each with its parts per tax group."""
    charges: Omittable[list[InvoiceChargeData]] = None
    """Order-level charges (shipping, fees) it takes, each with its parts per tax group."""
    tax_breakdown: list[TaxGroupData]
    totals: TotalsData
    note: Omittable[str] = None
    version: Version
    buyer_reference: Omittable[str] = None
    purchase_order_reference: Omittable[str] = None
    delivery_date: Omittable[date] = None
    delivery_address: Omittable[BillingAddress] = None
    seller_id: Omittable[str] = None
    """Who issues it: "default" is the configured seller (contract v3, "Many sellers in one
    worker"); absent without a seller."""
    seller: Omittable[SellerData] = None
    """Present when documents are made (the invoice has a seller)."""


class RecordedRefund(MessageModel):
    """Part or all of a payment given back."""

    refund_id: str
    amount: DecimalString
    refunded_at: AwareDatetime
    reason: Omittable[str] = None


class RecordedPayment(MessageModel):
    """A payment of an invoice's ledger."""

    payment_id: str
    amount: DecimalString
    paid_at: AwareDatetime
    method: Omittable[str] = None
    reference: Omittable[str] = None
    refunded_amount: DecimalString
    refunds: list[RecordedRefund]
    """What was given back of it, in the order given."""


class InvoiceState(InvoiceBody):
    """The whole invoice as it is after a change, in every status: the `invoice-closed`
    shape, with number and dates null until it closes, plus its payments. Every change-log
    event carries it as `invoice`; folding them by `invoiceId`, keeping the highest
    `version`, gives every invoice. A read API returns it too, adding what is derived when
    read (`overdue`) or comes from other stages (`seller`, `documents`)."""

    invoice_number: str | None
    issue_date: date | None
    due_date: date | None
    closed_at: AwareDatetime | None
    payments: list[RecordedPayment]
    payment_status: PaymentStatusName


class DraftCreated(InvoiceBody):
    """A draft now exists (`invoice-created`): the draft, and the whole invoice."""

    invoice: InvoiceState


class InvoiceClosedData(InvoiceBody):
    """An invoice was closed: numbered and dated (`invoice-closed`)."""

    model_config = ConfigDict(title="InvoiceClosed")

    invoice_number: str
    issue_date: date
    due_date: date
    closed_at: AwareDatetime
    invoice: InvoiceState


class InvoiceVoidedData(MessageModel):
    model_config = ConfigDict(title="InvoiceVoided")

    invoice_id: str
    invoice_number: str
    order_id: str
    status: InvoiceStatusName
    totals: TotalsData
    reason: str
    invoice: InvoiceState


class PaymentData(MessageModel):
    amount: DecimalString
    paid_at: AwareDatetime
    method: Omittable[str] = None
    reference: Omittable[str] = None


class InvoicePaidData(MessageModel):
    model_config = ConfigDict(title="InvoicePaid")

    invoice_id: str
    invoice_number: str
    order_id: str
    status: InvoiceStatusName
    totals: TotalsData
    payment: Omittable[PaymentData] = None
    """The payment that settled it; absent when credit notes did."""
    invoice: InvoiceState


class InvoiceChanged(MessageModel):
    """A change of an invoice (`invoice-updated`, `invoice-deleted`, and the base of the
    other change-log events): which invoice, and the whole invoice after the change."""

    invoice_id: str
    order_id: str
    status: InvoiceStatusName
    version: Version
    invoice: InvoiceState


class PaymentRecordedData(InvoiceChanged):
    """A payment that leaves something due (`invoice-payment-recorded`)."""

    model_config = ConfigDict(title="PaymentRecorded")

    payment: RecordedPayment


class Refund(MessageModel):
    payment_id: str
    refund_id: str
    amount: DecimalString
    refunded_at: AwareDatetime
    reason: Omittable[str] = None


class PaymentRefundedData(InvoiceChanged):
    """Part or all of a payment given back (`invoice-payment-refunded`)."""

    model_config = ConfigDict(title="PaymentRefunded")

    refund: Refund


class InvoiceCreditedData(InvoiceChanged):
    """A credit note closed against the invoice, leaving something due (`invoice-credited`)."""

    model_config = ConfigDict(title="InvoiceCredited")

    credit_note_id: str


class InvoiceOverdueData(MessageModel):
    """Open, something due, past its due date (`invoice-overdue`): once per invoice."""

    model_config = ConfigDict(title="InvoiceOverdue")

    invoice_id: str
    invoice_number: str
    order_id: str
    due_date: date
    days_overdue: Annotated[int, Field(ge=1)]
    invoice: InvoiceState


class InvoiceResource(InvoiceState):
    """An invoice as the read API serves it, in any status: the whole invoice, as the change
    log carries it, plus what is derived when read (`overdue`) or comes from the documents
    stage (`documents`)."""

    overdue: bool
    """Open, something due, and its due date before today (INVOICER_TIMEZONE)."""
    documents: list[Document]
    """The stored ones; empty until they are rendered, and for an invoice without."""


class InvoicePage(MessageModel):
    """A page of invoices, newest first."""

    items: list[InvoiceResource]
    next: str | None
    """The cursor of the next page (`after`); null on the last."""


class NotificationRequestedData(MessageModel):
    model_config = ConfigDict(title="NotificationRequested")

    notification_id: str
    channel: Channel
    recipient: str
    template: Literal["invoice-issued", "payment-reminder", "credit-note-issued"] = "invoice-issued"
    invoice_id: str
    invoice_number: str
    order_id: str
    customer_name: str
    amount_due: DecimalString
    """Of the invoice; for a credit note, of the invoice it credits, after it."""
    credit_amount: Omittable[DecimalString] = None
    """A credit note's gross."""
    refund_due: Omittable[DecimalString] = None
    """A credit note's: what is owed back to the customer on the invoice it credits."""
    currency: str
    due_date: date
    reason: Literal["auto", "command", "reminder"]
    reminder_level: Omittable[Annotated[int, Field(ge=1)]] = None
    """A payment reminder's level: 1, 2, … as INVOICER_REMINDER_DAYS lists them."""
    documents: Omittable[list[Document]] = None
    """With documents on, the automatic notification waits for them and carries them."""
    documents_unavailable: Omittable[str] = None
    """Instead of `documents`, when they failed for good: why (`invoice-documents-failed`)."""
    seller_id: Omittable[str] = None
    """The invoice's seller ("default": the configured one); absent for one without."""
    seller_name: Omittable[str] = None
    """Who the message comes from, as the invoice states its seller."""
    seller_email: Omittable[str] = None
    """Where the customer may answer: the seller's address on the invoice, when it has one."""


class InvoiceSnapshot(MessageModel):
    invoice_id: str
    status: InvoiceStatusName
    version: Version
    invoice_number: str | None
    """None for a draft."""
    totals: TotalsData


class InvoiceCommandResult(MessageModel):
    command_id: str
    action: str | None
    """The command's action; None when the command had none that could be read."""
    ok: bool
    invoice: InvoiceSnapshot | None
    warnings: list[str] = Field(default_factory=list)
    errors: Omittable[dict[str, list[str]]] = None
    details: Omittable[str] = None
