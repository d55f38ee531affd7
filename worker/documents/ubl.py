"""The invoice as a UBL 2.1 Invoice (380) or CreditNote (381): Peppol BIS Billing 3.0 where
the invoice has what Peppol asks (peppol.peppol_refusal), else plain EN 16931."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree
from lxml.builder import ElementMaker

from worker.documents.content import (
    Party,
    buyer,
    delivery_address,
    document_lines,
    invoice_seller,
    money,
    payable,
    payment_terms,
    seller,
    text_of,
    type_code,
)
from worker.documents.peppol import CUSTOMIZATION, PROFILE, peppol_refusal, registration_scheme
from worker.domain.lifecycle import Invoice, InvoiceType
from worker.domain.parties import Address
from worker.domain.tax_categories import stated_rate

_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_ROOT = {
    InvoiceType.INVOICE: "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    InvoiceType.CREDIT_NOTE: "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
# The root declares the prefixes; elements made without a namespace map of their own cost
# half as much, and are serialised with the root's prefixes all the same.
CBC = ElementMaker(namespace=_CBC)
CAC = ElementMaker(namespace=_CAC)
EN16931 = "urn:cen.eu:en16931:2017"
DISCOUNT = "95"  # UNTDID 5189


def ubl_xml(invoice: Invoice, reference_number: str | None) -> bytes:
    """The UBL of a closed invoice; `reference_number` is a credit note's invoice's number."""
    assert invoice.number is not None and invoice.issue_date is not None
    is_invoice = invoice.type is InvoiceType.INVOICE
    root_namespace = _ROOT[invoice.type]
    root = ElementMaker(
        namespace=root_namespace, nsmap={None: root_namespace, "cbc": _CBC, "cac": _CAC}
    )
    purchase = invoice.purchase
    if peppol_refusal(invoice, reference_number) is None:
        children = [CBC.CustomizationID(CUSTOMIZATION), CBC.ProfileID(PROFILE)]
    else:
        children = [CBC.CustomizationID(EN16931)]
    children += [
        CBC.ID(invoice.number),
        CBC.IssueDate(invoice.issue_date.isoformat()),
    ]
    if is_invoice and invoice.due_date is not None:
        children.append(CBC.DueDate(invoice.due_date.isoformat()))
    children.append(
        CBC.InvoiceTypeCode(type_code(invoice))
        if is_invoice
        else CBC.CreditNoteTypeCode(type_code(invoice))
    )
    if invoice.note:
        children.append(CBC.Note(invoice.note))
    children.append(CBC.DocumentCurrencyCode(invoice.currency))
    children.append(CBC.BuyerReference(purchase.buyer_reference or invoice.order_id))
    if purchase.purchase_order_reference:
        children.append(CAC.OrderReference(CBC.ID(purchase.purchase_order_reference)))
    if reference_number is not None:
        children.append(
            CAC.BillingReference(CAC.InvoiceDocumentReference(CBC.ID(reference_number)))
        )
    children += [
        CAC.AccountingSupplierParty(_party(seller(invoice), supplier=True)),
        CAC.AccountingCustomerParty(_party(buyer(invoice), supplier=False)),
    ]
    delivery = _delivery(invoice)
    if delivery is not None:
        children.append(delivery)
    issuer = invoice_seller(invoice)
    if is_invoice and issuer.iban:
        account = [CBC.ID(issuer.iban)]
        if issuer.bic:
            account.append(CAC.FinancialInstitutionBranch(CBC.ID(issuer.bic)))
        children.append(
            CAC.PaymentMeans(
                CBC.PaymentMeansCode("58"),  # SEPA credit transfer
                CBC.PaymentID(invoice.number),
                CAC.PayeeFinancialAccount(*account),
            )
        )
    children.append(CAC.PaymentTerms(CBC.Note(payment_terms(invoice, reference_number))))
    children += [_tax_total(invoice), _monetary_total(invoice), *_lines(invoice)]
    document = root("Invoice" if is_invoice else "CreditNote", *children)
    xml: bytes = etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml


def _amount(tag: str, value: Decimal, invoice: Invoice) -> etree._Element:
    return CBC(tag, money(value, invoice), currencyID=invoice.currency)


def _address(tag: str, address: Address) -> etree._Element:
    parts = [
        (CBC.StreetName, address.line1),
        (CBC.AdditionalStreetName, address.line2),
        (CBC.CityName, address.city),
        (CBC.PostalZone, address.postal_code),
        (CBC.CountrySubentity, address.region),
    ]
    children = [make(value) for make, value in parts if value]
    if address.country:
        children.append(CAC.Country(CBC.IdentificationCode(address.country)))
    return CAC(tag, *children)


def _party(party: Party, *, supplier: bool) -> etree._Element:
    children: list[etree._Element] = []
    if party.electronic_address:
        electronic = party.electronic_address
        children.append(CBC.EndpointID(electronic.identifier, schemeID=electronic.scheme))
    if party.identifier:
        children.append(CAC.PartyIdentification(CBC.ID(party.identifier)))
    children.append(CAC.PartyName(CBC.Name(party.name)))
    children.append(_address("PostalAddress", party.address))
    if party.vat_id:
        children.append(
            CAC.PartyTaxScheme(CBC.CompanyID(party.vat_id), CAC.TaxScheme(CBC.ID("VAT")))
        )
    legal = [CBC.RegistrationName(party.name)]
    if party.registration_id:
        icd = registration_scheme(party.address.country or "", party.registration_id)
        legal.append(
            CBC.CompanyID(party.registration_id, **({} if icd is None else {"schemeID": icd}))
        )
    children.append(CAC.PartyLegalEntity(*legal))
    if supplier and (party.email or party.phone):
        contact = [CBC.Name(party.name)]
        if party.phone:
            contact.append(CBC.Telephone(party.phone))
        if party.email:
            contact.append(CBC.ElectronicMail(party.email))
        children.append(CAC.Contact(*contact))
    return CAC.Party(*children)


def _delivery(invoice: Invoice) -> etree._Element | None:
    children = []
    delivered = invoice.purchase.delivery_date
    if delivered:
        children.append(CBC.ActualDeliveryDate(delivered.isoformat()))
    address = delivery_address(invoice)
    if address is not None:
        children.append(CAC.DeliveryLocation(_address("Address", address)))
    return CAC.Delivery(*children) if children else None


def _tax_category(
    tag: str, category: str, rate: Decimal, *exemption: etree._Element
) -> etree._Element:
    stated = stated_rate(category, rate)
    return CAC(
        tag,
        CBC.ID(category),
        *([] if stated is None else [CBC.Percent(text_of(stated))]),
        *exemption,
        CAC.TaxScheme(CBC.ID("VAT")),
    )


def _tax_total(invoice: Invoice) -> etree._Element:
    amounts = invoice.content.amounts
    subtotals = []
    for group in amounts.tax_breakdown:
        treatment = group.treatment
        exemption = []
        if treatment.exemption_reason_code:
            exemption.append(CBC.TaxExemptionReasonCode(treatment.exemption_reason_code))
        if treatment.exemption_reason:
            exemption.append(CBC.TaxExemptionReason(treatment.exemption_reason))
        subtotals.append(
            CAC.TaxSubtotal(
                _amount("TaxableAmount", group.taxable_amount, invoice),
                _amount("TaxAmount", group.tax_amount, invoice),
                _tax_category("TaxCategory", treatment.category, group.tax_rate, *exemption),
            )
        )
    return CAC.TaxTotal(_amount("TaxAmount", amounts.tax_amount, invoice), *subtotals)


def _monetary_total(invoice: Invoice) -> etree._Element:
    amounts = invoice.content.amounts
    return CAC.LegalMonetaryTotal(
        _amount("LineExtensionAmount", amounts.net_amount, invoice),
        _amount("TaxExclusiveAmount", amounts.net_amount, invoice),
        _amount("TaxInclusiveAmount", amounts.gross_amount, invoice),
        _amount("PayableAmount", payable(invoice), invoice),
    )


def _lines(invoice: Invoice) -> list[etree._Element]:
    is_invoice = invoice.type is InvoiceType.INVOICE
    lines = []
    for priced in document_lines(invoice):
        line = priced.line
        children = [
            CBC.ID(str(line.line_no)),
            CBC(
                "InvoicedQuantity" if is_invoice else "CreditedQuantity",
                text_of(line.quantity),
                unitCode=priced.unit_code,
            ),
            _amount("LineExtensionAmount", line.net_amount, invoice),
        ]
        if priced.allowance:
            children.append(
                CAC.AllowanceCharge(
                    CBC.ChargeIndicator("false"),
                    CBC.AllowanceChargeReasonCode(DISCOUNT),
                    CBC.AllowanceChargeReason(f"Discount {text_of(line.discount_percent)} %"),
                    _amount("Amount", priced.allowance, invoice),
                )
            )
        item = [CBC.Name(line.name)]
        if line.sku:
            item.append(CAC.SellersItemIdentification(CBC.ID(line.sku)))
        item.append(_tax_category("ClassifiedTaxCategory", priced.category, line.tax_rate))
        price = [_amount_text("PriceAmount", priced.net_price, invoice)]
        if priced.base_quantity is not None:
            price.append(CBC.BaseQuantity(text_of(priced.base_quantity), unitCode=priced.unit_code))
        children += [CAC.Item(*item), CAC.Price(*price)]
        lines.append(CAC("InvoiceLine" if is_invoice else "CreditNoteLine", *children))
    return lines


def _amount_text(tag: str, value: Decimal, invoice: Invoice) -> etree._Element:
    """A price: with the digits it was given, which may be more than the currency's."""
    return CBC(tag, text_of(value), currencyID=invoice.currency)
