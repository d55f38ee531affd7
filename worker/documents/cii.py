"""The invoice as UN/CEFACT Cross Industry Invoice (D16B), Factur-X 1.0 profile EN 16931:
the XML a Factur-X PDF embeds."""

from __future__ import annotations

from datetime import date
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
from worker.domain.lifecycle import Invoice, InvoiceType
from worker.domain.parties import Address
from worker.domain.tax_categories import stated_rate

_NAMESPACES = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
RSM = ElementMaker(namespace=_NAMESPACES["rsm"], nsmap=_NAMESPACES)
# The root declares the prefixes; elements made without a namespace map of their own cost
# half as much, and are serialised with the root's prefixes all the same.
RAM = ElementMaker(namespace=_NAMESPACES["ram"])
UDT = ElementMaker(namespace=_NAMESPACES["udt"])
EN16931 = "urn:cen.eu:en16931:2017"
DISCOUNT = "95"  # UNTDID 5189


def cii_xml(invoice: Invoice, reference_number: str | None) -> bytes:
    """The CII of a closed invoice; `reference_number` is a credit note's invoice's number."""
    assert invoice.number is not None and invoice.issue_date is not None
    document = RSM.CrossIndustryInvoice(
        RSM.ExchangedDocumentContext(
            RAM.GuidelineSpecifiedDocumentContextParameter(RAM.ID(EN16931))
        ),
        RSM.ExchangedDocument(
            RAM.ID(invoice.number),
            RAM.TypeCode(type_code(invoice)),
            RAM.IssueDateTime(_date(invoice.issue_date)),
            *([RAM.IncludedNote(RAM.Content(invoice.note))] if invoice.note else []),
        ),
        RSM.SupplyChainTradeTransaction(
            *_lines(invoice),
            _agreement(invoice),
            _delivery(invoice),
            _settlement(invoice, reference_number),
        ),
    )
    xml: bytes = etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml


def _date(day: date) -> etree._Element:
    return UDT.DateTimeString(day.strftime("%Y%m%d"), format="102")


def _lines(invoice: Invoice) -> list[etree._Element]:
    items = []
    for priced in document_lines(invoice):
        line = priced.line
        price = [RAM.ChargeAmount(text_of(priced.net_price))]
        if priced.base_quantity is not None:
            price.append(
                RAM.BasisQuantity(text_of(priced.base_quantity), unitCode=priced.unit_code)
            )
        settlement = [_line_tax(priced.category, line.tax_rate)]
        if priced.allowance:
            settlement.append(
                RAM.SpecifiedTradeAllowanceCharge(
                    RAM.ChargeIndicator(UDT.Indicator("false")),
                    RAM.ActualAmount(money(priced.allowance, invoice)),
                    RAM.ReasonCode(DISCOUNT),
                    RAM.Reason(f"Discount {text_of(line.discount_percent)} %"),
                )
            )
        settlement.append(
            RAM.SpecifiedTradeSettlementLineMonetarySummation(
                RAM.LineTotalAmount(money(line.net_amount, invoice))
            )
        )
        items.append(
            RAM.IncludedSupplyChainTradeLineItem(
                RAM.AssociatedDocumentLineDocument(RAM.LineID(str(line.line_no))),
                RAM.SpecifiedTradeProduct(
                    *([RAM.SellerAssignedID(line.sku)] if line.sku else []), RAM.Name(line.name)
                ),
                RAM.SpecifiedLineTradeAgreement(RAM.NetPriceProductTradePrice(*price)),
                RAM.SpecifiedLineTradeDelivery(
                    RAM.BilledQuantity(text_of(line.quantity), unitCode=priced.unit_code)
                ),
                RAM.SpecifiedLineTradeSettlement(*settlement),
            )
        )
    return items


def _line_tax(category: str, rate: Decimal) -> etree._Element:
    stated = stated_rate(category, rate)
    return RAM.ApplicableTradeTax(
        RAM.TypeCode("VAT"),
        RAM.CategoryCode(category),
        *([] if stated is None else [RAM.RateApplicablePercent(text_of(stated))]),
    )


def _address(address: Address) -> etree._Element:
    parts = [
        (RAM.PostcodeCode, address.postal_code),
        (RAM.LineOne, address.line1),
        (RAM.LineTwo, address.line2),
        (RAM.CityName, address.city),
        (RAM.CountryID, address.country),
        (RAM.CountrySubDivisionName, address.region),
    ]
    return RAM.PostalTradeAddress(*(make(value) for make, value in parts if value))


def _party(tag: str, party: Party) -> etree._Element:
    children: list[etree._Element] = []
    if party.identifier:
        children.append(RAM.ID(party.identifier))
    children.append(RAM.Name(party.name))
    if party.registration_id:
        children.append(RAM.SpecifiedLegalOrganization(RAM.ID(party.registration_id)))
    if tag == "SellerTradeParty" and (party.email or party.phone):
        contact = [RAM.PersonName(party.name)]
        if party.phone:
            contact.append(RAM.TelephoneUniversalCommunication(RAM.CompleteNumber(party.phone)))
        if party.email:
            contact.append(RAM.EmailURIUniversalCommunication(RAM.URIID(party.email)))
        children.append(RAM.DefinedTradeContact(*contact))
    children.append(_address(party.address))
    if party.electronic_address:
        electronic = party.electronic_address
        uri = RAM.URIID(electronic.identifier, schemeID=electronic.scheme)
        children.append(RAM.URIUniversalCommunication(uri))
    if party.vat_id:
        children.append(RAM.SpecifiedTaxRegistration(RAM.ID(party.vat_id, schemeID="VA")))
    return RAM(tag, *children)


def _agreement(invoice: Invoice) -> etree._Element:
    purchase = invoice.purchase
    children = []
    if purchase.buyer_reference:
        children.append(RAM.BuyerReference(purchase.buyer_reference))
    children += [
        _party("SellerTradeParty", seller(invoice)),
        _party("BuyerTradeParty", buyer(invoice)),
    ]
    if purchase.purchase_order_reference:
        children.append(
            RAM.BuyerOrderReferencedDocument(
                RAM.IssuerAssignedID(purchase.purchase_order_reference)
            )
        )
    return RAM.ApplicableHeaderTradeAgreement(*children)


def _delivery(invoice: Invoice) -> etree._Element:
    children = []
    address = delivery_address(invoice)
    if address is not None:
        children.append(RAM.ShipToTradeParty(_address(address)))
    delivered = invoice.purchase.delivery_date
    if delivered:
        children.append(
            RAM.ActualDeliverySupplyChainEvent(RAM.OccurrenceDateTime(_date(delivered)))
        )
    return RAM.ApplicableHeaderTradeDelivery(*children)


def _settlement(invoice: Invoice, reference_number: str | None) -> etree._Element:
    assert invoice.number is not None
    amounts = invoice.content.amounts
    issuer = invoice_seller(invoice)
    is_invoice = invoice.type is InvoiceType.INVOICE
    children = []
    if is_invoice and issuer.iban:
        children.append(RAM.PaymentReference(invoice.number))
    children.append(RAM.InvoiceCurrencyCode(invoice.currency))
    if is_invoice and issuer.iban:
        means = [
            RAM.TypeCode("58"),  # SEPA credit transfer
            RAM.PayeePartyCreditorFinancialAccount(RAM.IBANID(issuer.iban)),
        ]
        if issuer.bic:
            means.append(RAM.PayeeSpecifiedCreditorFinancialInstitution(RAM.BICID(issuer.bic)))
        children.append(RAM.SpecifiedTradeSettlementPaymentMeans(*means))
    for group in amounts.tax_breakdown:
        treatment = group.treatment
        tax = [RAM.CalculatedAmount(money(group.tax_amount, invoice)), RAM.TypeCode("VAT")]
        if treatment.exemption_reason:
            tax.append(RAM.ExemptionReason(treatment.exemption_reason))
        tax += [
            RAM.BasisAmount(money(group.taxable_amount, invoice)),
            RAM.CategoryCode(treatment.category),
        ]
        if treatment.exemption_reason_code:
            tax.append(RAM.ExemptionReasonCode(treatment.exemption_reason_code))
        stated = stated_rate(treatment.category, group.tax_rate)
        if stated is not None:
            tax.append(RAM.RateApplicablePercent(text_of(stated)))
        children.append(RAM.ApplicableTradeTax(*tax))
    terms = [RAM.Description(payment_terms(invoice, reference_number))]
    if is_invoice and invoice.due_date is not None:
        terms.append(RAM.DueDateDateTime(_date(invoice.due_date)))
    children.append(RAM.SpecifiedTradePaymentTerms(*terms))
    children.append(
        RAM.SpecifiedTradeSettlementHeaderMonetarySummation(
            RAM.LineTotalAmount(money(amounts.net_amount, invoice)),
            RAM.TaxBasisTotalAmount(money(amounts.net_amount, invoice)),
            RAM.TaxTotalAmount(money(amounts.tax_amount, invoice), currencyID=invoice.currency),
            RAM.GrandTotalAmount(money(amounts.gross_amount, invoice)),
            RAM.DuePayableAmount(money(payable(invoice), invoice)),
        )
    )
    if reference_number is not None:
        children.append(RAM.InvoiceReferencedDocument(RAM.IssuerAssignedID(reference_number)))
    return RAM.ApplicableHeaderTradeSettlement(*children)
