"""The invoice as a UBL 2.1 Invoice (380) or CreditNote (381): Peppol BIS Billing 3.0 where
the invoice has what Peppol asks (peppol.peppol_refusal), else plain EN 16931."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from lxml import etree

from worker.documents.peppol import CUSTOMIZATION, PROFILE, peppol_refusal, registration_scheme
from worker.documents.xml import Namespace, child, document_bytes
from worker.domain.en16931 import (
    Party,
    buyer,
    delivery_address,
    document_adjustments,
    document_lines,
    document_totals,
    invoice_seller,
    money,
    payable,
    payment_terms,
    seller,
    text_of,
    type_code,
)
from worker.domain.lifecycle import Invoice, InvoiceType
from worker.domain.parties import Address
from worker.domain.tax_categories import stated_rate

_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_ROOT = {
    InvoiceType.INVOICE: "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    InvoiceType.CREDIT_NOTE: "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
CBC = Namespace(_CBC)
CAC = Namespace(_CAC)
EN16931 = "urn:cen.eu:en16931:2017"
DISCOUNT = "95"  # UNTDID 5189


def ubl_xml(invoice: Invoice, reference_number: str | None) -> bytes:
    """The UBL of a closed invoice; `reference_number` is a credit note's invoice's number."""
    assert invoice.number is not None and invoice.issue_date is not None
    is_invoice = invoice.type is InvoiceType.INVOICE
    root_namespace = _ROOT[invoice.type]
    root = etree.Element(
        f"{{{root_namespace}}}{'Invoice' if is_invoice else 'CreditNote'}",
        nsmap={None: root_namespace, "cbc": _CBC, "cac": _CAC},
    )
    purchase = invoice.purchase
    if peppol_refusal(invoice, reference_number) is None:
        child(root, CBC.CustomizationID, CUSTOMIZATION)
        child(root, CBC.ProfileID, PROFILE)
    else:
        child(root, CBC.CustomizationID, EN16931)
    child(root, CBC.ID, invoice.number)
    child(root, CBC.IssueDate, invoice.issue_date.isoformat())
    if is_invoice and invoice.due_date is not None:
        child(root, CBC.DueDate, invoice.due_date.isoformat())
    child(root, CBC.InvoiceTypeCode if is_invoice else CBC.CreditNoteTypeCode, type_code(invoice))
    if invoice.note:
        child(root, CBC.Note, invoice.note)
    child(root, CBC.DocumentCurrencyCode, invoice.currency)
    child(root, CBC.BuyerReference, purchase.buyer_reference or invoice.order_id)
    if purchase.purchase_order_reference:
        child(child(root, CAC.OrderReference), CBC.ID, purchase.purchase_order_reference)
    if reference_number is not None:
        billing = child(root, CAC.BillingReference)
        child(child(billing, CAC.InvoiceDocumentReference), CBC.ID, reference_number)
    _party(child(root, CAC.AccountingSupplierParty), seller(invoice), supplier=True)
    _party(child(root, CAC.AccountingCustomerParty), buyer(invoice), supplier=False)
    _delivery(root, invoice)
    issuer = invoice_seller(invoice)
    if is_invoice and issuer.iban:
        means = child(root, CAC.PaymentMeans)
        child(means, CBC.PaymentMeansCode, "58")  # SEPA credit transfer
        child(means, CBC.PaymentID, invoice.number)
        account = child(means, CAC.PayeeFinancialAccount)
        child(account, CBC.ID, issuer.iban)
        if issuer.bic:
            child(child(account, CAC.FinancialInstitutionBranch), CBC.ID, issuer.bic)
    child(child(root, CAC.PaymentTerms), CBC.Note, payment_terms(invoice, reference_number))
    for adjustment in document_adjustments(invoice):
        element = child(root, CAC.AllowanceCharge)
        child(element, CBC.ChargeIndicator, "true" if adjustment.is_charge else "false")
        if adjustment.reason_code:
            child(element, CBC.AllowanceChargeReasonCode, adjustment.reason_code)
        child(element, CBC.AllowanceChargeReason, adjustment.reason)
        _amount(element, CBC.Amount, adjustment.amount, invoice)
        _tax_category(element, CAC.TaxCategory, adjustment.category, adjustment.tax_rate)
    _tax_total(root, invoice)
    _monetary_total(root, invoice)
    _lines(root, invoice)
    return document_bytes(root)


def _amount(
    parent: etree._Element, tag: str, value: Decimal, invoice: Invoice, *, price: bool = False
) -> None:
    """An amount with the currency's digits; a `price` with the digits it was given, which
    may be more."""
    text = text_of(value) if price else money(value, invoice)
    child(parent, tag, text, currencyID=invoice.currency)


def _address(parent: etree._Element, tag: str, address: Address) -> None:
    element = child(parent, tag)
    parts = [
        (CBC.StreetName, address.line1),
        (CBC.AdditionalStreetName, address.line2),
        (CBC.CityName, address.city),
        (CBC.PostalZone, address.postal_code),
        (CBC.CountrySubentity, address.region),
    ]
    for part, value in parts:
        if value:
            child(element, part, value)
    if address.country:
        child(child(element, CAC.Country), CBC.IdentificationCode, address.country)


def _party(parent: etree._Element, party: Party, *, supplier: bool) -> None:
    element = child(parent, CAC.Party)
    if party.electronic_address:
        electronic = party.electronic_address
        child(element, CBC.EndpointID, electronic.identifier, schemeID=electronic.scheme)
    if party.identifier:
        child(child(element, CAC.PartyIdentification), CBC.ID, party.identifier)
    child(child(element, CAC.PartyName), CBC.Name, party.name)
    _address(element, CAC.PostalAddress, party.address)
    if party.vat_id:
        scheme = child(element, CAC.PartyTaxScheme)
        child(scheme, CBC.CompanyID, party.vat_id)
        child(child(scheme, CAC.TaxScheme), CBC.ID, "VAT")
    legal = child(element, CAC.PartyLegalEntity)
    child(legal, CBC.RegistrationName, party.name)
    if party.registration_id:
        icd = registration_scheme(party.address.country or "", party.registration_id)
        scheme_id = {} if icd is None else {"schemeID": icd}
        child(legal, CBC.CompanyID, party.registration_id, **scheme_id)
    if supplier and (party.email or party.phone):
        contact = child(element, CAC.Contact)
        child(contact, CBC.Name, party.name)
        if party.phone:
            child(contact, CBC.Telephone, party.phone)
        if party.email:
            child(contact, CBC.ElectronicMail, party.email)


def _delivery(parent: etree._Element, invoice: Invoice) -> None:
    delivered = invoice.purchase.delivery_date
    address = delivery_address(invoice)
    if not delivered and address is None:
        return
    delivery = child(parent, CAC.Delivery)
    if delivered:
        child(delivery, CBC.ActualDeliveryDate, delivered.isoformat())
    if address is not None:
        _address(child(delivery, CAC.DeliveryLocation), CAC.Address, address)


def _tax_category(
    parent: etree._Element,
    tag: str,
    category: str,
    rate: Decimal,
    exemption: Sequence[tuple[str, str | None]] = (),
) -> None:
    """The category, its rate where it states one, the `exemption` elements that are given
    (name and text) and the scheme."""
    element = child(parent, tag)
    child(element, CBC.ID, category)
    stated = stated_rate(category, rate)
    if stated is not None:
        child(element, CBC.Percent, text_of(stated))
    for name, text in exemption:
        if text:
            child(element, name, text)
    child(child(element, CAC.TaxScheme), CBC.ID, "VAT")


def _tax_total(parent: etree._Element, invoice: Invoice) -> None:
    amounts = invoice.content.amounts
    total = child(parent, CAC.TaxTotal)
    _amount(total, CBC.TaxAmount, amounts.tax_amount, invoice)
    for group in amounts.tax_breakdown:
        treatment = group.treatment
        subtotal = child(total, CAC.TaxSubtotal)
        _amount(subtotal, CBC.TaxableAmount, group.taxable_amount, invoice)
        _amount(subtotal, CBC.TaxAmount, group.tax_amount, invoice)
        exemption = [
            (CBC.TaxExemptionReasonCode, treatment.exemption_reason_code),
            (CBC.TaxExemptionReason, treatment.exemption_reason),
        ]
        _tax_category(subtotal, CAC.TaxCategory, treatment.category, group.tax_rate, exemption)


def _monetary_total(parent: etree._Element, invoice: Invoice) -> None:
    amounts = invoice.content.amounts
    total = child(parent, CAC.LegalMonetaryTotal)
    summed = document_totals(invoice)
    _amount(total, CBC.LineExtensionAmount, summed.line_net, invoice)
    _amount(total, CBC.TaxExclusiveAmount, amounts.net_amount, invoice)
    _amount(total, CBC.TaxInclusiveAmount, amounts.gross_amount, invoice)
    if document_adjustments(invoice):
        _amount(total, CBC.AllowanceTotalAmount, summed.allowances, invoice)
        _amount(total, CBC.ChargeTotalAmount, summed.charges, invoice)
    _amount(total, CBC.PayableAmount, payable(invoice), invoice)


def _lines(parent: etree._Element, invoice: Invoice) -> None:
    is_invoice = invoice.type is InvoiceType.INVOICE
    line_tag = CAC.InvoiceLine if is_invoice else CAC.CreditNoteLine
    quantity_tag = CBC.InvoicedQuantity if is_invoice else CBC.CreditedQuantity
    for priced in document_lines(invoice):
        line = priced.line
        element = child(parent, line_tag)
        child(element, CBC.ID, str(line.line_no))
        child(element, quantity_tag, text_of(line.quantity), unitCode=priced.unit_code)
        _amount(element, CBC.LineExtensionAmount, line.net_amount, invoice)
        if priced.allowance:
            allowance = child(element, CAC.AllowanceCharge)
            child(allowance, CBC.ChargeIndicator, "false")
            child(allowance, CBC.AllowanceChargeReasonCode, DISCOUNT)
            reason = f"Discount {text_of(line.discount_percent)} %"
            child(allowance, CBC.AllowanceChargeReason, reason)
            _amount(allowance, CBC.Amount, priced.allowance, invoice)
        item = child(element, CAC.Item)
        child(item, CBC.Name, line.name)
        if line.sku:
            child(child(item, CAC.SellersItemIdentification), CBC.ID, line.sku)
        _tax_category(item, CAC.ClassifiedTaxCategory, priced.category, line.tax_rate)
        price = child(element, CAC.Price)
        _amount(price, CBC.PriceAmount, priced.net_price, invoice, price=True)
        if priced.base_quantity is not None:
            base = text_of(priced.base_quantity)
            child(price, CBC.BaseQuantity, base, unitCode=priced.unit_code)
