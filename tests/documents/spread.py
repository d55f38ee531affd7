"""Closed invoices and credit notes to render, made through the domain as the worker makes
them: every VAT category, both price modes, several currencies, one line to 1,000, with and
without a voucher, shipping and a fee."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from worker.domain.amounts import TaxTreatment
from worker.domain.credit_notes import (
    LineCredit,
    charges_left,
    credit_note_content,
    lines_left,
)
from worker.domain.invoice import Adjustment, AdjustmentKind, OrderRow, build_invoice_content
from worker.domain.lifecycle import Invoice, InvoiceStatus, InvoiceType, number_invoice
from worker.domain.money import from_minor_units, minor_units
from worker.store.parties import customer_of, purchase_of, seller_of

SELLER: dict[str, Any] = {
    "name": "Bakkerij de Molen B.V.",
    "vatId": "NL123456789B01",
    "addressLine1": "Molenstraat 1",
    "city": "Utrecht",
    "postalCode": "3511 AA",
    "country": "NL",
    "registrationId": "30123456",
    "email": "facturen@demolen.example",
    "electronicAddress": {"scheme": "0106", "id": "30123456"},
    "iban": "NL91ABNA0417164300",
    "bic": "ABNANL2A",
}
BUYER: dict[str, Any] = {
    "name": "Müller Backwaren GmbH",
    "customerId": "C-1042",
    "email": "rechnung@mueller-backwaren.example",
    "vatId": "DE123456789",
    "language": "de",
    "electronicAddress": {"scheme": "9930", "id": "DE123456789"},
    "billingAddress": {
        "line1": "Hauptstraße 5",
        "city": "Köln",
        "postalCode": "50667",
        "country": "DE",
    },
}
PURCHASE: dict[str, Any] = {
    "buyerReference": "04011000-12345-03",
    "purchaseOrderReference": "PO-88121",
    "deliveryDate": "2026-11-28",
}

# (category, rate, exemption reason, code): one row kind per category
CATEGORIES: dict[str, tuple[str, str | None, str | None]] = {
    "S": ("19", None, None),
    "Z": ("0", None, None),
    "E": ("0", "Exempt under Article 132 of the VAT Directive", "VATEX-EU-132"),
    "AE": ("0", "Reverse charge", "VATEX-EU-AE"),
    "K": ("0", None, "VATEX-EU-IC"),
    "G": ("0", "Export outside the EU", "VATEX-EU-G"),
    "O": ("0", "Not subject to VAT", "VATEX-EU-O"),
}
NAMES = ["Weizenmehl 25 kg", "Roggenbrot", "Croissant au beurre", "Pain d'épices", "Stroopwafel"]


def rows(categories: list[str], count: int, currency: str) -> list[OrderRow]:
    made = []
    for index in range(count):
        category = categories[index % len(categories)]
        rate, reason, code = CATEGORIES[category]
        if category == "S":
            rate = ["19", "7", "9.5", "21"][index // len(categories) % 4]
        price = Decimal(["18.99", "2.35", "1250", "0.125", "7"][index % 5])
        if currency == "JPY":
            price = Decimal(int(price * 100))
        made.append(
            OrderRow(
                row_id=f"r{index}",
                position=index,
                sku=f"SKU-{index:04d}" if index % 3 else None,
                name=NAMES[index % len(NAMES)],
                quantity=Decimal(["40", "1.5", "3", "12.250", "1"][index % 5]),
                unit=["bag", "kg", None, "pcs", "h"][index % 5],
                unit_price=price,
                discount_percent=Decimal(["0", "10", "0", "2.5", "0"][index % 5]),
                tax_rate=Decimal(rate),
                treatment=TaxTreatment(category, reason, code),
            )
        )
    return made


def adjustments(categories: list[str], currency: str) -> list[Adjustment]:
    """A voucher and a payment fee split over the groups, and shipping at the standard rate
    where the invoice has standard-rated lines."""
    digits = minor_units(currency)
    made = [
        Adjustment(
            AdjustmentKind.ALLOWANCE,
            "voucher",
            "Voucher WINTER10",
            from_minor_units(1000, digits),
            reason_code="95",
        ),
        Adjustment(AdjustmentKind.CHARGE, "fee", "Payment fee", from_minor_units(150, digits)),
    ]
    if "S" in categories:
        made.append(
            Adjustment(
                AdjustmentKind.CHARGE,
                "shipping",
                "Shipping",
                from_minor_units(495, digits),
                Decimal(19),
                TaxTreatment("S"),
                "FC",
                position=1,
            )
        )
    return made


def spread_invoice(
    categories: list[str],
    *,
    currency: str = "EUR",
    prices_include_tax: bool = False,
    lines: int = 5,
    customer: dict[str, Any] | None = None,
    seller: dict[str, Any] | None = None,
    note: str | None = "Thank you for your order.",
    purchase: dict[str, Any] | None = None,
    charged: bool = False,
) -> Invoice:
    """`customer`, `seller` and `purchase` as an invoice's row stores them; `charged`: with
    the order's voucher, fee and shipping."""
    content = build_invoice_content(
        rows(categories, lines, currency),
        currency,
        prices_include_tax,
        adjustments(categories, currency) if charged else (),
    )
    name = f"{'-'.join(categories)}-{currency}-{prices_include_tax}-{lines}-{charged}"
    draft = Invoice(
        invoice_id=str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        order_id="SO-" + name,
        type=InvoiceType.INVOICE,
        order_code=None,
        currency=currency,
        prices_include_tax=prices_include_tax,
        customer=customer_of(BUYER if customer is None else customer),
        content=content,
        payment_terms_days=14,
        note=note,
        status=InvoiceStatus.OPEN,
        purchase=purchase_of(PURCHASE if purchase is None else purchase),
        seller=seller_of(SELLER if seller is None else seller),
    )
    return number_invoice(
        draft, "INV-2026-000042", datetime(2026, 11, 30, 9, 0, tzinfo=UTC), date(2026, 11, 30)
    )


def credit_notes(reference: Invoice) -> list[Invoice]:
    """A note crediting the first lines, one crediting half of each other line, then one
    completing every tax group, charges too."""
    first = credit_note(reference, [], lambda left: left[:2])
    half = credit_note(
        reference,
        [first],
        lambda left: [LineCredit(credit.left, credit.quantity / 2) for credit in left[2:]],
    )
    rest = credit_note(
        reference,
        [first, half],
        lambda left: left[2:],
        list(charges_left(reference, [first, half])),
    )
    return [first, half, rest]


def credit_note(
    reference: Invoice,
    earlier: Sequence[Invoice],
    credited: Callable[[list[LineCredit]], list[LineCredit]],
    charge_ids: Sequence[str] = (),
) -> Invoice:
    """A note crediting `credited` of what is left of every line after `earlier`, and the
    charges named."""
    left = [LineCredit(line, line.quantity) for line in lines_left(reference, earlier)]
    credits = [credit for credit in credited(left) if credit.quantity > 0]
    draft = Invoice(
        invoice_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"cn-{len(earlier)}-{reference.invoice_id}")),
        order_id=reference.order_id,
        type=InvoiceType.CREDIT_NOTE,
        order_code=None,
        currency=reference.currency,
        prices_include_tax=reference.prices_include_tax,
        customer=reference.customer,
        content=credit_note_content(reference, earlier, credits, charge_ids),
        payment_terms_days=14,
        reference_invoice_id=reference.invoice_id,
        status=InvoiceStatus.OPEN,
        purchase=reference.purchase,
        seller=reference.seller,
    )
    return number_invoice(
        draft, "CN-2026-000007", datetime(2026, 12, 2, 9, 0, tzinfo=UTC), date(2026, 12, 2)
    )
