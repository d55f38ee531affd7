"""The documents of closed invoices (docs/contract.md, "Documents"): over a spread of
invoices and credit notes, every UBL and CII passes the official EN 16931 schematron with
no fatal assertion, and every UBL that claims Peppol BIS Billing 3.0 OpenPEPPOL's rules; the
PDF embeds exactly that CII and shows what a reader needs."""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal

import pytest
from facturx import get_facturx_xml_from_pdf
from pypdf import PdfReader

from tests.documents.spread import BUYER, credit_notes, spread_invoice
from tests.documents.test_peppol import claims_peppol
from tests.documents.validation import fatal_assertions, schema_errors
from worker.documents.cii import cii_xml
from worker.documents.render import render_documents
from worker.documents.ubl import ubl_xml
from worker.domain.lifecycle import Invoice

CATEGORY_SETS = [["S"], ["Z"], ["E"], ["AE"], ["K"], ["G"], ["O"], ["S", "Z", "E", "AE", "K", "G"]]
CURRENCIES = ["EUR", "USD", "JPY", "SEK"]
CHARGED_CATEGORY_SETS = [["S"], ["E"], ["O"], ["S", "Z", "E", "AE", "K", "G"]]


def spread() -> list[tuple[str, Invoice, str | None]]:
    """(name, invoice or credit note, the number of its reference)."""
    made = []
    for currency in CURRENCIES:
        for inclusive in (False, True):
            for categories in CATEGORY_SETS:
                lines = 7 if len(categories) > 1 else 3
                invoice = spread_invoice(
                    categories, currency=currency, prices_include_tax=inclusive, lines=lines
                )
                name = f"{'+'.join(categories)}-{currency}-{'gross' if inclusive else 'net'}"
                made.append((name, invoice, None))
                for index, note in enumerate(credit_notes(invoice)):
                    made.append((f"{name}-credit-note-{index}", note, invoice.number))
        for inclusive in (False, True):
            for categories in CHARGED_CATEGORY_SETS:
                invoice = spread_invoice(
                    categories, currency=currency, prices_include_tax=inclusive, charged=True
                )
                name = f"{'+'.join(categories)}-{currency}-{'gross' if inclusive else 'net'}"
                name += "-voucher-fee-shipping"
                made.append((name, invoice, None))
                for index, note in enumerate(credit_notes(invoice)):
                    made.append((f"{name}-credit-note-{index}", note, invoice.number))
    made.append(("1000-lines", spread_invoice(["S", "Z", "E"], lines=1000), None))
    return made


SPREAD = spread()


@pytest.mark.parametrize(
    ("invoice", "reference"), [c[1:] for c in SPREAD], ids=[c[0] for c in SPREAD]
)
def test_every_ubl_and_cii_passes_the_en16931_schematron(
    invoice: Invoice, reference: str | None
) -> None:
    ubl = ubl_xml(invoice, reference)
    cii = cii_xml(invoice, reference)

    assert schema_errors(ubl, "ubl") is None
    assert schema_errors(cii, "cii") is None
    assert fatal_assertions(ubl, "ubl") == []
    assert fatal_assertions(cii, "cii") == []
    if claims_peppol(ubl):
        assert fatal_assertions(ubl, "ubl", "peppol") == []


def test_the_schematron_catches_a_wrong_total() -> None:
    invoice = spread_invoice(["S"])
    amounts = invoice.content.amounts
    wrong = replace(
        invoice,
        content=replace(
            invoice.content, amounts=replace(amounts, gross_amount=amounts.gross_amount + 1)
        ),
    )

    assert any("[BR-CO-15]" in failure for failure in fatal_assertions(ubl_xml(wrong, None), "ubl"))
    assert any("[BR-CO-15]" in failure for failure in fatal_assertions(cii_xml(wrong, None), "cii"))


@pytest.fixture(scope="module")
def intra_community() -> tuple[Invoice, bytes]:
    invoice = spread_invoice(["K"], lines=2)
    documents = render_documents(invoice, None, "en")
    pdf = next(d for d in documents.documents if d.kind == "pdf")
    return invoice, pdf.content


def test_the_pdf_embeds_the_cii_rendered_separately(intra_community: tuple[Invoice, bytes]) -> None:
    invoice, pdf = intra_community

    filename, embedded = get_facturx_xml_from_pdf(pdf, check_xsd=False)

    assert filename == "factur-x.xml"
    assert embedded == cii_xml(invoice, None)


def test_the_pdf_is_a_factur_x_pdf_a3(intra_community: tuple[Invoice, bytes]) -> None:
    _, pdf = intra_community
    metadata = PdfReader(io.BytesIO(pdf)).xmp_metadata

    assert metadata is not None
    xmp = metadata.stream.get_data()
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp
    assert b"<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp


def text_of(pdf: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages
    )


def test_the_pdf_shows_number_totals_and_vat_breakdown_in_the_customers_language(
    intra_community: tuple[Invoice, bytes],
) -> None:
    text = text_of(intra_community[1])

    assert "Rechnung" in text  # the customer's language: de
    assert "INV-2026-000042" in text
    assert "Summe netto 762,77 €" in text  # 40 × 18.99 + 1.5 × 2.35 less 10 %
    assert "Summe brutto 762,77 €" in text
    assert "Zahlbetrag 762,77 €" in text
    assert "Umsatzsteuer Nettobetrag Steuerbetrag" in text
    assert "Innergemeinschaftliche Lieferung 0 % 762,77 € 0,00 €" in text
    assert "VATEX-EU-IC" in text
    assert "04011000-12345-03" in text
    assert "PO-88121" in text
    assert "NL91 ABNA 0417 1643 00" in text


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Invoice", "Amount due"]),
        ("fr", ["Facture", "Net à payer"]),
        ("nl", ["Factuur", "Te betalen"]),
    ],
)
def test_the_pdf_is_in_the_customers_language_or_the_default(
    language: str, words: list[str]
) -> None:
    invoice = spread_invoice(["S"], lines=1, customer=BUYER | {"language": language})

    text = text_of(render_documents(invoice, None, "de").documents[0].content)

    for word in words:
        assert word in text


def test_rendering_is_deterministic() -> None:
    invoice = spread_invoice(["S", "Z"])

    first = render_documents(invoice, None, "en")
    again = render_documents(invoice, None, "en")

    assert [d.content for d in first.documents] == [d.content for d in again.documents]


def test_a_three_digit_currency_gets_a_plain_pdf_and_a_reason() -> None:
    invoice = spread_invoice(["S"], currency="BHD", lines=2)

    documents = render_documents(invoice, None, "en")

    assert [d.kind for d in documents.documents] == ["pdf"]
    assert [u.kind for u in documents.unavailable] == ["ubl"]
    assert "BHD" in documents.unavailable[0].reason
    pdf = documents.documents[0].content
    assert "BHD" in text_of(pdf)
    assert b"factur-x.xml" not in pdf


def test_a_customer_without_country_gets_a_plain_pdf_and_a_reason() -> None:
    invoice = spread_invoice(
        ["S"], customer={"name": "Jane Roe", "billingAddress": {"city": "Utrecht"}}
    )

    documents = render_documents(invoice, None, "en")

    assert [d.kind for d in documents.documents] == ["pdf"]
    assert (
        documents.unavailable[0].reason
        == "the customer has no billingAddress.country (EN 16931 BG-8)"
    )


def test_a_credit_note_references_its_invoice() -> None:
    invoice = spread_invoice(["S"], lines=3)
    note = credit_notes(invoice)[0]

    text = text_of(render_documents(note, invoice.number, "en").documents[0].content)

    assert "Gutschrift" in text  # the customer's language: de
    assert f"Zur Rechnung {invoice.number}" in text
    assert b"<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>" in ubl_xml(note, invoice.number)
    assert Decimal(0) < note.content.amounts.gross_amount
