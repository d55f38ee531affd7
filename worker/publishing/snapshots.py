"""The invoice as every outgoing record shows it: the shared snapshot builders that map the
domain onto the contract's models (ids, amounts as strings). The batch's events, the
renderer's events and the read API's resources are all made from these."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from worker.domain.amounts import Totals
from worker.domain.lifecycle import Invoice, Payment, PaymentRefund
from worker.domain.money import format_amount, plain
from worker.domain.parties import Address, Customer, ElectronicAddress, Seller
from worker.messages import (
    BillingAddress,
    CustomerData,
    ElectronicAddressData,
    InvoiceSnapshot,
    InvoiceState,
    SellerData,
    TotalsData,
)
from worker.messages.outgoing import document_path
from worker.rows import StoredDocument


def _totals_fields(totals: Totals, currency: str) -> dict[str, str]:
    return {
        "line_net_amount": format_amount(totals.line_net_amount, currency),
        "allowance_amount": format_amount(totals.allowance_amount, currency),
        "charge_amount": format_amount(totals.charge_amount, currency),
        "net_amount": format_amount(totals.net_amount, currency),
        "tax_amount": format_amount(totals.tax_amount, currency),
        "gross_amount": format_amount(totals.gross_amount, currency),
        "paid_amount": format_amount(totals.paid_amount, currency),
        "credited_amount": format_amount(totals.credited_amount, currency),
        "amount_due": format_amount(totals.amount_due, currency),
        "refund_due": format_amount(totals.refund_due, currency),
    }


def totals_data(totals: Totals, currency: str) -> TotalsData:
    return TotalsData(**_totals_fields(totals, currency))


def _customer(customer: Customer) -> CustomerData:
    """The customer as the contract's model, without validating it again: it was validated
    when its message came in, and e-mail validation (in Python) would otherwise be the
    costliest step of making an invoice's events."""
    return CustomerData.model_construct(
        name=customer.name,
        customer_id=customer.customer_id,
        email=customer.email,
        phone=customer.phone,
        vat_id=customer.vat_id,
        billing_address=_address_data(customer.billing_address),
        electronic_address=_electronic_address_data(customer.electronic_address),
        language=customer.language,
    )


def _address_data(address: Address | None) -> BillingAddress | None:
    if address is None:
        return None
    return BillingAddress.model_construct(
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        postal_code=address.postal_code,
        region=address.region,
        country=address.country,
    )


def _electronic_address_data(address: ElectronicAddress | None) -> ElectronicAddressData | None:
    if address is None:
        return None
    return ElectronicAddressData.model_construct(scheme=address.scheme, id=address.identifier)


def _seller_data(seller: Seller) -> SellerData:
    return SellerData(
        name=seller.name,
        vat_id=seller.vat_id,
        address_line1=seller.address.line1,
        city=seller.address.city,
        postal_code=seller.address.postal_code,
        country=seller.address.country,
        registration_id=seller.registration_id,
        email=seller.email,
        phone=seller.phone,
        electronic_address=_electronic_address_data(seller.electronic_address),
        iban=seller.iban,
        bic=seller.bic,
    )


def invoice_fields(invoice: Invoice) -> dict[str, object]:
    currency = invoice.currency
    return {
        "invoice_id": invoice.invoice_id,
        "type": invoice.type.value,
        "reference_invoice_id": invoice.reference_invoice_id,
        "return_id": invoice.return_id,
        "order_id": invoice.order_id,
        "order_code": invoice.order_code,
        "status": invoice.status.value,
        "currency": currency,
        "prices_include_tax": invoice.prices_include_tax,
        "customer": _customer(invoice.customer),
        # Plain dicts: the event's model validates them in one call, in pydantic's core.
        "lines": [
            {
                "line_no": line.line_no,
                "order_row_id": line.order_row_id,
                "sku": line.sku,
                "name": line.name,
                "quantity": plain(line.quantity),
                "unit": line.unit,
                "unit_price": plain(line.unit_price),
                "discount_percent": plain(line.discount_percent),
                "tax_rate": plain(line.tax_rate),
                "net_amount": format_amount(line.net_amount, currency),
                "gross_amount": None
                if line.gross_amount is None
                else format_amount(line.gross_amount, currency),
                "tax_category": None if line.treatment is None else line.treatment.category,
            }
            for line in invoice.content.lines
        ],
        **_adjustment_fields(invoice),
        "tax_breakdown": [
            {
                "tax_rate": plain(group.tax_rate),
                "taxable_amount": format_amount(group.taxable_amount, currency),
                "tax_amount": format_amount(group.tax_amount, currency),
                "tax_category": group.treatment.category,
                "tax_exemption_reason": group.treatment.exemption_reason,
                "tax_exemption_reason_code": group.treatment.exemption_reason_code,
            }
            for group in invoice.content.amounts.tax_breakdown
        ],
        "totals": _totals_fields(invoice.totals, currency),
        "note": invoice.note,
        "version": invoice.version,
        **_purchase_fields(invoice),
    }


def _adjustment_fields(invoice: Invoice) -> dict[str, list[dict[str, Any]]]:
    """Its allowances and charges as given, each with its parts."""
    currency = invoice.currency
    fields: dict[str, list[dict[str, Any]]] = {"allowances": [], "charges": []}
    content = invoice.content
    for adjustment, amounts in zip(content.adjustments, content.amounts.adjustments, strict=True):
        treatment = adjustment.treatment
        fields["charges" if adjustment.is_charge else "allowances"].append(
            {
                "charge_id" if adjustment.is_charge else "allowance_id": adjustment.adjustment_id,
                "reason": adjustment.reason,
                "amount": format_amount(adjustment.amount, currency),
                "tax_rate": None if adjustment.tax_rate is None else plain(adjustment.tax_rate),
                "tax_category": None if treatment is None else treatment.category,
                "tax_exemption_reason": None if treatment is None else treatment.exemption_reason,
                "tax_exemption_reason_code": None
                if treatment is None
                else treatment.exemption_reason_code,
                "reason_code": adjustment.reason_code,
                "parts": [
                    {
                        "tax_category": part.treatment.category,
                        "tax_rate": plain(part.tax_rate),
                        "amount": format_amount(part.amount, currency),
                        "net_amount": format_amount(part.net_amount, currency),
                        "tax_exemption_reason": part.treatment.exemption_reason,
                        "tax_exemption_reason_code": part.treatment.exemption_reason_code,
                    }
                    for part in amounts.parts
                ],
            }
        )
    return fields


def _purchase_fields(invoice: Invoice) -> dict[str, Any]:
    """What the buyer stated about the purchase, and the seller, where there are some."""
    purchase = invoice.purchase
    return {
        "buyer_reference": purchase.buyer_reference,
        "purchase_order_reference": purchase.purchase_order_reference,
        "delivery_date": purchase.delivery_date,
        "delivery_address": _address_data(purchase.delivery_address),
        "seller_id": invoice.seller_id,
        "seller": None if invoice.seller is None else _seller_data(invoice.seller),
    }


def invoice_state(invoice: Invoice, fields: Mapping[str, object] | None = None) -> InvoiceState:
    """The whole invoice, as every change-log event carries it; `fields` are its
    `invoice_fields` when the caller made them already."""
    return InvoiceState(
        **(invoice_fields(invoice) if fields is None else fields),
        invoice_number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        closed_at=invoice.closed_at,
        payments=[payment_fields(payment, invoice.currency) for payment in invoice.payments],
        payment_status=invoice.payment_status.value,
    )


def payment_fields(payment: Payment, currency: str) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "amount": format_amount(payment.amount, currency),
        "paid_at": payment.paid_at,
        "method": payment.method,
        "reference": payment.reference,
        "refunded_amount": format_amount(payment.refunded_amount, currency),
        "refunds": [refund_fields(refund, currency) for refund in payment.refunds],
    }


def refund_fields(refund: PaymentRefund, currency: str) -> dict[str, Any]:
    return {
        "refund_id": refund.refund_id,
        "amount": format_amount(refund.amount, currency),
        "refunded_at": refund.refunded_at,
        "reason": refund.reason,
    }


def summary_fields(invoice: Invoice) -> dict[str, Any]:
    assert invoice.number is not None
    return {
        "invoice_id": invoice.invoice_id,
        "invoice_number": invoice.number,
        "order_id": invoice.order_id,
        "status": invoice.status.value,
        "totals": totals_data(invoice.totals, invoice.currency),
    }


def invoice_snapshot(invoice: Invoice) -> InvoiceSnapshot:
    return InvoiceSnapshot(
        invoice_id=invoice.invoice_id,
        status=invoice.status.value,
        version=invoice.version,
        invoice_number=invoice.number,
        totals=totals_data(invoice.totals, invoice.currency),
    )


def documents_data(invoice: Invoice, documents: Sequence[StoredDocument]) -> list[dict[str, Any]]:
    return [
        {
            "kind": document.kind,
            "media_type": document.media_type,
            "sha256": document.sha256,
            "size": document.size,
            "path": document_path(invoice.invoice_id, document.kind),
        }
        for document in documents
    ]
