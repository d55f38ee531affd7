"""Every amount on the PDF has the currency's ISO 4217 minor digits, as the XML and the
events have them (docs/contract.md, "Documents"): CLDR, which formats for a language, gives
some currencies other digits (HUF, ALL, IRR, LBP, IQD...)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from facturx import get_facturx_xml_from_pdf
from iso4217 import Currency
from lxml import etree

from tests.documents.spread import BUYER, spread_invoice
from tests.documents.test_documents import text_of
from worker.documents.render import render_documents
from worker.domain.lifecycle import Invoice
from worker.domain.money import format_amount

WITH_MINOR_UNITS = sorted(currency.code for currency in Currency if currency.exponent is not None)
_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
# The PDF's label (in English) of each total, and the CII's element stating it.
TOTALS = {
    "Total excl. VAT": "TaxBasisTotalAmount",
    "VAT": "TaxTotalAmount",
    "Total incl. VAT": "GrandTotalAmount",
    "Amount due": "DuePayableAmount",
}


_AMOUNT = r"\D{0,8}?(-?\d(?:[\d,.]*\d)?)\D*?"
_TOTALS_PRINTED = re.compile(" ".join(f"{re.escape(label)} {_AMOUNT}" for label in TOTALS))


def printed_totals(pdf: bytes) -> dict[str, str]:
    """Each total as printed, its currency and grouping taken off: "HUF 1,382.52" → 1382.52."""
    text = text_of(pdf)
    match = _TOTALS_PRINTED.search(text)
    assert match is not None, text
    return {
        label: amount.replace(",", "") for label, amount in zip(TOTALS, match.groups(), strict=True)
    }


def stated_totals(invoice: Invoice, pdf: bytes) -> dict[str, str]:
    """The totals as the embedded CII states them, else (no EN 16931 document for 3-digit
    currencies) as the events state them."""
    if b"factur-x.xml" not in pdf:
        amounts = invoice.content.amounts
        values = (amounts.net_amount, amounts.tax_amount, amounts.gross_amount)
        return dict(
            zip(
                TOTALS,
                [format_amount(value, invoice.currency) for value in (*values, values[2])],
                strict=True,
            )
        )
    _, cii = get_facturx_xml_from_pdf(pdf, check_xsd=False)
    summation = etree.fromstring(cii).find(
        f".//{{{_RAM}}}SpecifiedTradeSettlementHeaderMonetarySummation"
    )
    assert summation is not None
    return {
        label: summation.findtext(f"{{{_RAM}}}{element}") or "" for label, element in TOTALS.items()
    }


@pytest.mark.parametrize("currency", WITH_MINOR_UNITS)
def test_the_pdf_prints_every_total_with_the_iso_4217_digits(currency: str) -> None:
    invoice = spread_invoice(["S"], currency=currency, lines=3, customer=BUYER | {"language": "en"})

    pdf = render_documents(invoice, None, "en").documents[0].content

    assert printed_totals(pdf) == stated_totals(invoice, pdf)
    assert invoice.content.amounts.gross_amount > Decimal(0)
