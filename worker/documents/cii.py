"""The invoice as UN/CEFACT Cross Industry Invoice (D16B), Factur-X 1.0 profile EN 16931:
the XML a Factur-X PDF embeds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

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

_NAMESPACES = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
RSM = Namespace(_NAMESPACES["rsm"])
RAM = Namespace(_NAMESPACES["ram"])
UDT = Namespace(_NAMESPACES["udt"])
EN16931 = "urn:cen.eu:en16931:2017"
DISCOUNT = "95"  # UNTDID 5189


def cii_xml(invoice: Invoice, reference_number: str | None) -> bytes:
    """The CII of a closed invoice; `reference_number` is a credit note's invoice's number."""
    assert invoice.number is not None and invoice.issue_date is not None
    root = etree.Element(RSM.CrossIndustryInvoice, nsmap=_NAMESPACES)
    context = child(root, RSM.ExchangedDocumentContext)
    child(child(context, RAM.GuidelineSpecifiedDocumentContextParameter), RAM.ID, EN16931)
    document = child(root, RSM.ExchangedDocument)
    child(document, RAM.ID, invoice.number)
    child(document, RAM.TypeCode, type_code(invoice))
    _date(child(document, RAM.IssueDateTime), invoice.issue_date)
    if invoice.note:
        child(child(document, RAM.IncludedNote), RAM.Content, invoice.note)
    transaction = child(root, RSM.SupplyChainTradeTransaction)
    _lines(transaction, invoice)
    _agreement(transaction, invoice)
    _delivery(transaction, invoice)
    _settlement(transaction, invoice, reference_number)
    return document_bytes(root)


def _date(parent: etree._Element, day: date) -> None:
    child(parent, UDT.DateTimeString, day.strftime("%Y%m%d"), format="102")


def _lines(parent: etree._Element, invoice: Invoice) -> None:
    for priced in document_lines(invoice):
        line = priced.line
        item = child(parent, RAM.IncludedSupplyChainTradeLineItem)
        child(child(item, RAM.AssociatedDocumentLineDocument), RAM.LineID, str(line.line_no))
        product = child(item, RAM.SpecifiedTradeProduct)
        if line.sku:
            child(product, RAM.SellerAssignedID, line.sku)
        child(product, RAM.Name, line.name)
        price = child(child(item, RAM.SpecifiedLineTradeAgreement), RAM.NetPriceProductTradePrice)
        child(price, RAM.ChargeAmount, text_of(priced.net_price))
        if priced.base_quantity is not None:
            child(
                price,
                RAM.BasisQuantity,
                text_of(priced.base_quantity),
                unitCode=priced.unit_code,
            )
        delivery = child(item, RAM.SpecifiedLineTradeDelivery)
        child(delivery, RAM.BilledQuantity, text_of(line.quantity), unitCode=priced.unit_code)
        settlement = child(item, RAM.SpecifiedLineTradeSettlement)
        _line_tax(settlement, priced.category, line.tax_rate)
        if priced.allowance:
            allowance = child(settlement, RAM.SpecifiedTradeAllowanceCharge)
            child(child(allowance, RAM.ChargeIndicator), UDT.Indicator, "false")
            child(allowance, RAM.ActualAmount, money(priced.allowance, invoice))
            child(allowance, RAM.ReasonCode, DISCOUNT)
            child(allowance, RAM.Reason, f"Discount {text_of(line.discount_percent)} %")
        summation = child(settlement, RAM.SpecifiedTradeSettlementLineMonetarySummation)
        child(summation, RAM.LineTotalAmount, money(line.net_amount, invoice))


def _line_tax(
    parent: etree._Element, category: str, rate: Decimal, tag: str = RAM.ApplicableTradeTax
) -> None:
    tax = child(parent, tag)
    child(tax, RAM.TypeCode, "VAT")
    child(tax, RAM.CategoryCode, category)
    stated = stated_rate(category, rate)
    if stated is not None:
        child(tax, RAM.RateApplicablePercent, text_of(stated))


def _address(parent: etree._Element, address: Address) -> None:
    element = child(parent, RAM.PostalTradeAddress)
    parts = [
        (RAM.PostcodeCode, address.postal_code),
        (RAM.LineOne, address.line1),
        (RAM.LineTwo, address.line2),
        (RAM.CityName, address.city),
        (RAM.CountryID, address.country),
        (RAM.CountrySubDivisionName, address.region),
    ]
    for tag, value in parts:
        if value:
            child(element, tag, value)


def _party(parent: etree._Element, tag: str, party: Party) -> None:
    element = child(parent, tag)
    if party.identifier:
        child(element, RAM.ID, party.identifier)
    child(element, RAM.Name, party.name)
    if party.registration_id:
        child(child(element, RAM.SpecifiedLegalOrganization), RAM.ID, party.registration_id)
    if tag == RAM.SellerTradeParty and (party.email or party.phone):
        contact = child(element, RAM.DefinedTradeContact)
        child(contact, RAM.PersonName, party.name)
        if party.phone:
            phone = child(contact, RAM.TelephoneUniversalCommunication)
            child(phone, RAM.CompleteNumber, party.phone)
        if party.email:
            child(child(contact, RAM.EmailURIUniversalCommunication), RAM.URIID, party.email)
    _address(element, party.address)
    if party.electronic_address:
        electronic = party.electronic_address
        child(
            child(element, RAM.URIUniversalCommunication),
            RAM.URIID,
            electronic.identifier,
            schemeID=electronic.scheme,
        )
    if party.vat_id:
        registration = child(element, RAM.SpecifiedTaxRegistration)
        child(registration, RAM.ID, party.vat_id, schemeID="VA")


def _agreement(parent: etree._Element, invoice: Invoice) -> None:
    purchase = invoice.purchase
    agreement = child(parent, RAM.ApplicableHeaderTradeAgreement)
    if purchase.buyer_reference:
        child(agreement, RAM.BuyerReference, purchase.buyer_reference)
    _party(agreement, RAM.SellerTradeParty, seller(invoice))
    _party(agreement, RAM.BuyerTradeParty, buyer(invoice))
    if purchase.purchase_order_reference:
        order = child(agreement, RAM.BuyerOrderReferencedDocument)
        child(order, RAM.IssuerAssignedID, purchase.purchase_order_reference)


def _delivery(parent: etree._Element, invoice: Invoice) -> None:
    delivery = child(parent, RAM.ApplicableHeaderTradeDelivery)
    address = delivery_address(invoice)
    if address is not None:
        _address(child(delivery, RAM.ShipToTradeParty), address)
    delivered = invoice.purchase.delivery_date
    if delivered:
        event = child(delivery, RAM.ActualDeliverySupplyChainEvent)
        _date(child(event, RAM.OccurrenceDateTime), delivered)


def _settlement(parent: etree._Element, invoice: Invoice, reference_number: str | None) -> None:
    assert invoice.number is not None
    amounts = invoice.content.amounts
    issuer = invoice_seller(invoice)
    is_invoice = invoice.type is InvoiceType.INVOICE
    settlement = child(parent, RAM.ApplicableHeaderTradeSettlement)
    if is_invoice and issuer.iban:
        child(settlement, RAM.PaymentReference, invoice.number)
    child(settlement, RAM.InvoiceCurrencyCode, invoice.currency)
    if is_invoice and issuer.iban:
        means = child(settlement, RAM.SpecifiedTradeSettlementPaymentMeans)
        child(means, RAM.TypeCode, "58")  # SEPA credit transfer
        child(child(means, RAM.PayeePartyCreditorFinancialAccount), RAM.IBANID, issuer.iban)
        if issuer.bic:
            institution = child(means, RAM.PayeeSpecifiedCreditorFinancialInstitution)
            child(institution, RAM.BICID, issuer.bic)
    for group in amounts.tax_breakdown:
        treatment = group.treatment
        tax = child(settlement, RAM.ApplicableTradeTax)
        child(tax, RAM.CalculatedAmount, money(group.tax_amount, invoice))
        child(tax, RAM.TypeCode, "VAT")
        if treatment.exemption_reason:
            child(tax, RAM.ExemptionReason, treatment.exemption_reason)
        child(tax, RAM.BasisAmount, money(group.taxable_amount, invoice))
        child(tax, RAM.CategoryCode, treatment.category)
        if treatment.exemption_reason_code:
            child(tax, RAM.ExemptionReasonCode, treatment.exemption_reason_code)
        stated = stated_rate(treatment.category, group.tax_rate)
        if stated is not None:
            child(tax, RAM.RateApplicablePercent, text_of(stated))
    adjustments = document_adjustments(invoice)
    for adjustment in adjustments:
        element = child(settlement, RAM.SpecifiedTradeAllowanceCharge)
        indicator = "true" if adjustment.is_charge else "false"
        child(child(element, RAM.ChargeIndicator), UDT.Indicator, indicator)
        child(element, RAM.ActualAmount, money(adjustment.amount, invoice))
        if adjustment.reason_code:
            child(element, RAM.ReasonCode, adjustment.reason_code)
        child(element, RAM.Reason, adjustment.reason)
        _line_tax(element, adjustment.category, adjustment.tax_rate, RAM.CategoryTradeTax)
    terms = child(settlement, RAM.SpecifiedTradePaymentTerms)
    child(terms, RAM.Description, payment_terms(invoice, reference_number))
    if is_invoice and invoice.due_date is not None:
        _date(child(terms, RAM.DueDateDateTime), invoice.due_date)
    total = child(settlement, RAM.SpecifiedTradeSettlementHeaderMonetarySummation)
    summed = document_totals(invoice)
    child(total, RAM.LineTotalAmount, money(summed.line_net, invoice))
    if adjustments:
        child(total, RAM.ChargeTotalAmount, money(summed.charges, invoice))
        child(total, RAM.AllowanceTotalAmount, money(summed.allowances, invoice))
    child(total, RAM.TaxBasisTotalAmount, money(amounts.net_amount, invoice))
    tax_total = money(amounts.tax_amount, invoice)
    child(total, RAM.TaxTotalAmount, tax_total, currencyID=invoice.currency)
    child(total, RAM.GrandTotalAmount, money(amounts.gross_amount, invoice))
    child(total, RAM.DuePayableAmount, money(payable(invoice), invoice))
    if reference_number is not None:
        referenced = child(settlement, RAM.InvoiceReferencedDocument)
        child(referenced, RAM.IssuerAssignedID, reference_number)
