"""What every document of an invoice states, in EN 16931's terms (its semantic model: the
parties, the lines as priced, the payment terms, and whether the standard can express the
invoice at all), read from the stored invoice (with its seller). The documents (CII, UBL,
the PDF) lay this out, each in its syntax. Only what cannot change once an invoice is
closed is read, so a document rendered again is the same document."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from worker.domain.amounts import line_amount
from worker.domain.invoice import InvoiceLine
from worker.domain.lifecycle import Invoice, InvoiceType
from worker.domain.money import format_amount, minor_units
from worker.domain.parties import NO_ADDRESS, Address, ElectronicAddress, Seller, delivered_to
from worker.domain.tax_categories import (
    has_vat_prefix,
    names_delivery_country,
    names_vat_identifiers,
)

EN16931_MINOR_UNITS = (0, 2)
"""EN 16931 amounts have at most 2 decimals (BR-DEC-*); 3-digit currencies cannot be told."""

# UN/ECE Recommendation 20 codes for the units orders commonly state; any other is "one".
_UNIT_CODES = {
    "kg": "KGM",
    "g": "GRM",
    "t": "TNE",
    "l": "LTR",
    "m": "MTR",
    "m2": "MTK",
    "h": "HUR",
    "hour": "HUR",
    "hours": "HUR",
    "day": "DAY",
    "days": "DAY",
    "month": "MON",
    "pc": "H87",
    "pcs": "H87",
    "piece": "H87",
    "pieces": "H87",
}
ONE = "C62"


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    address: Address
    vat_id: str | None
    registration_id: str | None
    identifier: str | None
    """BT-29 / BT-46: an identifier without scheme."""
    electronic_address: ElectronicAddress | None
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class DocumentLine:
    """A line as the documents state it, priced as EN 16931 prices it: net price per base
    quantity, and a line allowance for a discount, so that quantity × price / base quantity
    − allowance is the line's net."""

    line: InvoiceLine
    unit_code: str
    net_price: Decimal
    base_quantity: Decimal | None
    allowance: Decimal
    category: str


def stated(address: Address | None) -> Address | None:
    """The address, unless it states nothing."""
    return None if address == NO_ADDRESS else address


def unavailable_reason(invoice: Invoice) -> str | None:
    """Why the invoice can have no EN 16931 document (UBL, Factur-X), or None."""
    digits = minor_units(invoice.currency)
    if digits not in EN16931_MINOR_UNITS:
        return (
            f"EN 16931 cannot express amounts in {invoice.currency} ({digits} minor digits): "
            "a plain PDF is made instead"
        )
    address = buyer_address(invoice)
    if address is None or address.country is None:
        return "the customer has no billingAddress.country (EN 16931 BG-8)"
    return None


def buyer_address(invoice: Invoice) -> Address | None:
    return stated(invoice.customer.billing_address)


def categories_of(invoice: Invoice) -> frozenset[str]:
    """The VAT categories of the invoice's tax groups."""
    return frozenset(group.treatment.category for group in invoice.content.amounts.tax_breakdown)


def invoice_seller(invoice: Invoice) -> Seller:
    assert invoice.seller is not None, "documents are made for invoices with a seller"
    return invoice.seller


def seller(invoice: Invoice) -> Party:
    issuer = invoice_seller(invoice)
    hide_vat = not names_vat_identifiers(categories_of(invoice))
    return Party(
        name=issuer.name,
        address=issuer.address,
        vat_id=None if hide_vat else issuer.vat_id,
        registration_id=issuer.registration_id,
        # BR-CO-26 wants some seller identifier; without VAT id and registration, the
        # VAT number serves as the seller's plain identifier.
        identifier=issuer.vat_id if hide_vat and not issuer.registration_id else None,
        electronic_address=issuer.electronic_address,
        email=issuer.email,
        phone=issuer.phone,
    )


def buyer(invoice: Invoice) -> Party:
    customer = invoice.customer
    return Party(
        name=customer.name,
        address=buyer_address(invoice) or NO_ADDRESS,
        vat_id=_stated_vat_id(invoice),
        registration_id=None,
        identifier=customer.customer_id,
        electronic_address=customer.electronic_address,
        email=customer.email,
        phone=None,
    )


def _stated_vat_id(invoice: Invoice) -> str | None:
    """The buyer's VAT identifier as EN 16931 can state it: with its country prefix
    (BR-CO-9; a v1 customer's may lack it, the PDF still shows it), and none for an
    invoice that may name none (BR-O-02)."""
    vat_id = invoice.customer.vat_id
    if (
        vat_id is None
        or not names_vat_identifiers(categories_of(invoice))
        or not has_vat_prefix(vat_id)
    ):
        return None
    return vat_id


def delivery_address(invoice: Invoice) -> Address | None:
    """Where the goods went (BG-15): the stated delivery address, else the billing address
    where the categories must name the country (BR-IC-12)."""
    named = names_delivery_country(categories_of(invoice))
    return delivered_to(
        stated(invoice.purchase.delivery_address), buyer_address(invoice) if named else None
    )


def _lines(invoice: Invoice) -> tuple[InvoiceLine, ...]:
    """The invoice's lines; a credit note of charges alone (a refunded shipping) states
    each charge's part as a line, as EN 16931 wants at least one line (BR-16)."""
    if invoice.content.lines:
        return invoice.content.lines
    content = invoice.content
    parts = [
        (adjustment, part)
        for adjustment, amounts in zip(
            content.adjustments, content.amounts.adjustments, strict=True
        )
        if adjustment.is_charge
        for part in amounts.parts
    ]
    inclusive = invoice.prices_include_tax
    return tuple(
        InvoiceLine(
            line_no=line_no,
            order_row_id=adjustment.adjustment_id,
            sku=None,
            name=adjustment.reason,
            quantity=Decimal(1),
            unit=None,
            unit_price=part.amount if inclusive else part.net_amount,
            discount_percent=Decimal(0),
            tax_rate=part.tax_rate,
            net_amount=part.net_amount,
            gross_amount=part.amount if inclusive else None,
            treatment=part.treatment,
        )
        for line_no, (adjustment, part) in enumerate(parts, start=1)
    )


def document_lines(invoice: Invoice) -> list[DocumentLine]:
    priced = []
    for line in _lines(invoice):
        assert line.treatment is not None
        unit_code = _UNIT_CODES.get((line.unit or "").strip().lower(), ONE)
        if invoice.prices_include_tax:
            # The net price of the whole quantity: exact, where a net unit price would not be.
            priced.append(
                DocumentLine(
                    line,
                    unit_code,
                    line.net_amount,
                    line.quantity,
                    Decimal(0),
                    line.treatment.category,
                )
            )
            continue
        undiscounted = line_amount(line.quantity, line.unit_price, Decimal(0), invoice.currency)
        # Where quantity × price has more digits than the currency (1.5 × 235 JPY), the
        # price of the whole quantity, so that price less allowance is exactly the line's
        # net (Peppol checks it to 0.02, PEPPOL-EN16931-R120).
        exact = undiscounted == line.quantity * line.unit_price
        priced.append(
            DocumentLine(
                line,
                unit_code,
                line.unit_price if exact else undiscounted,
                None if exact else line.quantity,
                undiscounted - line.net_amount,
                line.treatment.category,
            )
        )
    return priced


@dataclass(frozen=True, slots=True)
class DocumentAdjustment:
    """A document-level allowance (BG-20) or charge (BG-21): one per part of an order-level
    allowance or charge, in its tax group."""

    is_charge: bool
    amount: Decimal
    """Net (BT-92, BT-99)."""
    stated_amount: Decimal
    """As the order gives it: net, or gross when prices include tax (what the PDF shows)."""
    reason: str
    reason_code: str | None
    category: str
    tax_rate: Decimal


def document_adjustments(invoice: Invoice) -> list[DocumentAdjustment]:
    """The allowances, then the charges (but on a note of charges alone, whose charges are
    its lines), each part in the order of its groups."""
    content = invoice.content
    charges_are_lines = not content.lines
    return [
        DocumentAdjustment(
            adjustment.is_charge,
            part.net_amount,
            part.amount,
            adjustment.reason,
            adjustment.reason_code,
            part.treatment.category,
            part.tax_rate,
        )
        for adjustment, amounts in zip(
            content.adjustments, content.amounts.adjustments, strict=True
        )
        if not (adjustment.is_charge and charges_are_lines)
        for part in amounts.parts
    ]


@dataclass(frozen=True, slots=True)
class DocumentTotals:
    """BT-106, BT-107 and BT-108 as the document's lines and adjustments add up."""

    line_net: Decimal
    allowances: Decimal
    charges: Decimal


def document_totals(invoice: Invoice) -> DocumentTotals:
    adjustments = document_adjustments(invoice)
    return DocumentTotals(
        sum((line.net_amount for line in _lines(invoice)), Decimal(0)),
        sum((a.amount for a in adjustments if not a.is_charge), Decimal(0)),
        sum((a.amount for a in adjustments if a.is_charge), Decimal(0)),
    )


def type_code(invoice: Invoice) -> str:
    """UNTDID 1001: 380 commercial invoice, 381 credit note."""
    return "381" if invoice.type is InvoiceType.CREDIT_NOTE else "380"


def payable(invoice: Invoice) -> Decimal:
    """The amount due as issued: the gross (payments and credits come after the close)."""
    return invoice.content.amounts.gross_amount


def money(value: Decimal, invoice: Invoice) -> str:
    return format_amount(value, invoice.currency)


def text_of(value: Decimal) -> str:
    """A quantity, price or rate with the digits it was given."""
    return format(value, "f")


def payment_terms(invoice: Invoice, reference_number: str | None) -> str:
    """BT-20, which BR-CO-25 wants when something is payable, also when no due date can be
    given (a credit note)."""
    if invoice.type is InvoiceType.CREDIT_NOTE:
        return f"Credit note for invoice {reference_number}"
    assert invoice.due_date is not None
    return f"Due {invoice.due_date.isoformat()}"
