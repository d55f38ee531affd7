"""The invoice as a PDF a person reads and prints: a PDF/A-3 in the customer's language,
with the CII embedded (Factur-X 1.0, profile EN 16931) when EN 16931 can express it.

Rendering is deterministic: the PDF's dates and identifiers come from the invoice (its
closing time), never from the clock, so the same invoice gives the same bytes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import facturx.facturx as facturx_module
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from facturx import generate_from_binary
from font_source_sans_pro import font_files_ttf
from fpdf import FPDF, FontFace

from worker.documents.content import Address, address_of, buyer, seller
from worker.documents.labels import LABELS
from worker.domain.lifecycle import Invoice, InvoiceType

FONT = "SourceSans"
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (31, 58, 95)
RULE = (206, 212, 218)
SHADE = (241, 243, 245)
_LEFT = 18.0
_WIDTH = 174.0  # A4 less the margins
# An XMP packet fpdf2 would otherwise date with the clock; factur-x writes the real one.
_PLACEHOLDER_XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'
)


class _Writer:
    """Formats in one language: labels, dates, amounts, quantities, countries."""

    def __init__(self, language: str, currency: str) -> None:
        self.language = language
        self.labels = LABELS[language]
        self.currency = currency
        self.territories = _territories(language)

    def __getitem__(self, key: str) -> str:
        return self.labels[key]

    def money(self, value: Decimal) -> str:
        return format_currency(value, self.currency, locale=self.language)

    def price(self, value: Decimal) -> str:
        """A unit price, with its own digits where it has more than the currency."""
        return format_currency(
            value, self.currency, locale=self.language, decimal_quantization=False
        )

    def number(self, value: Decimal) -> str:
        return format_decimal(value, locale=self.language, decimal_quantization=False)

    def percent(self, value: Decimal) -> str:
        return f"{self.number(value)} %"

    def day(self, value: date) -> str:
        return format_date(value, format="long", locale=self.language)

    def country(self, code: str | None) -> str | None:
        return None if code is None else self.territories.get(code, code)

    def address_lines(self, address: Address) -> list[str]:
        place = " ".join(part for part in (address.postal_code, address.city) if part)
        lines = [address.line1, address.line2, place, address.region, self.country(address.country)]
        return [line for line in lines if line]


@cache
def _territories(language: str) -> dict[str, str]:
    return dict(Locale.parse(language).territories)


class _Document(FPDF):
    def __init__(self, footer_text: str, page_label: str) -> None:
        super().__init__(format="A4", enforce_compliance="PDF/A-3B")
        self._footer_text = footer_text
        self._page_label = page_label

    def footer(self) -> None:
        self.set_draw_color(*RULE)
        self.line(_LEFT, self.h - 17, _LEFT + _WIDTH, self.h - 17)
        self.set_font(FONT, size=7.5)
        self.set_text_color(*MUTED)
        self.set_xy(_LEFT, -16)
        self.multi_cell(_WIDTH - 26, 3.6, self._footer_text, align="L")
        self.set_xy(_LEFT + _WIDTH - 24, -16)
        self.cell(24, 3.6, self._page_label.format(page=self.page_no(), pages="{nb}"), align="R")


def invoice_pdf(
    invoice: Invoice, reference_number: str | None, language: str, cii: bytes | None
) -> bytes:
    """The PDF; with `cii`, a Factur-X PDF embedding it."""
    assert invoice.number is not None and invoice.closed_at is not None
    text = _Writer(language, invoice.currency)
    pdf = _layout(invoice, reference_number, text)
    plain = bytes(pdf.output())
    if cii is None:
        return plain
    title = f"{text[invoice.type.value]} {invoice.number}"
    with _dated(invoice.closed_at):
        embedded: bytes = generate_from_binary(
            plain,
            cii,
            flavor="factur-x",
            level="en16931",
            check_xsd=False,
            pdf_metadata={
                "author": pdf.author,
                "keywords": "Factur-X",
                "title": title,
                "subject": title,
            },
            lang=language,
        )
    return embedded


@contextmanager
def _dated(moment: datetime) -> Iterator[None]:
    """factur-x dates what it writes with the clock and offers no parameter for it: its two
    timestamp functions answer `moment` while the document is made (one process renders
    one document at a time)."""
    pdf_timestamp, metadata_timestamp = (
        facturx_module._get_pdf_timestamp,
        facturx_module._get_metadata_timestamp,
    )
    utc = moment.astimezone(UTC)
    facturx_module._get_pdf_timestamp = lambda date=None: pdf_timestamp(date or utc)
    facturx_module._get_metadata_timestamp = lambda: utc.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    try:
        yield
    finally:
        facturx_module._get_pdf_timestamp = pdf_timestamp
        facturx_module._get_metadata_timestamp = metadata_timestamp


def _layout(invoice: Invoice, reference_number: str | None, text: _Writer) -> FPDF:
    assert invoice.closed_at is not None
    issuer = seller(invoice)
    fields = invoice.seller or {}
    footer = " · ".join(
        part
        for part in (
            issuer.name,
            ", ".join(text.address_lines(issuer.address)[:2]),
            f"{text['vat_id']} {fields['vatId']}",
            fields.get("registrationId")
            and f"{text['registration_id']} {fields['registrationId']}",
            fields.get("email"),
        )
        if part
    )
    pdf = _Document(footer, text["page"])
    pdf.set_creation_date(invoice.closed_at)
    pdf.set_xmp_metadata(_PLACEHOLDER_XMP)
    pdf.set_lang(text.language)
    pdf.set_title(f"{text[invoice.type.value]} {invoice.number}")
    pdf.set_author(issuer.name)
    pdf.set_creator("invoicer")
    pdf.set_producer("invoicer")
    pdf.add_font(FONT, "", font_files_ttf["SourceSansPro"])
    pdf.add_font(FONT, "B", font_files_ttf["SourceSansProBold"])
    pdf.set_margins(_LEFT, 16, _LEFT)
    pdf.set_auto_page_break(True, margin=22)
    pdf.add_page()
    _header(pdf, invoice, reference_number, text)
    _parties(pdf, invoice, text)
    _lines(pdf, invoice, text)
    _breakdown_and_totals(pdf, invoice, text)
    _payment_and_notes(pdf, invoice, reference_number, text)
    return pdf


def _style(pdf: FPDF, size: float, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.set_text_color(*color)


def _header(pdf: FPDF, invoice: Invoice, reference_number: str | None, text: _Writer) -> None:
    issuer = seller(invoice)
    _style(pdf, 15, bold=True, color=ACCENT)
    pdf.set_xy(_LEFT, 16)
    pdf.multi_cell(95, 7, issuer.name)
    _style(pdf, 9, color=MUTED)
    for line in text.address_lines(issuer.address):
        pdf.set_x(_LEFT)
        pdf.cell(95, 4.4, line, new_x="LMARGIN", new_y="NEXT")
    fields = invoice.seller or {}
    for detail in (f"{text['vat_id']} {fields['vatId']}", fields.get("email")):
        if detail:
            pdf.set_x(_LEFT)
            pdf.cell(95, 4.4, detail, new_x="LMARGIN", new_y="NEXT")
    left_bottom = pdf.get_y()

    assert invoice.number is not None and invoice.issue_date is not None
    _style(pdf, 22, bold=True, color=ACCENT)
    pdf.set_xy(118, 15)
    pdf.cell(74, 10, text[invoice.type.value], align="R")
    purchase = invoice.purchase
    facts: list[tuple[str, str | None]] = [
        (text["number"], invoice.number),
        (text["issue_date"], text.day(invoice.issue_date)),
    ]
    if invoice.type is InvoiceType.INVOICE and invoice.due_date is not None:
        facts.append((text["due_date"], text.day(invoice.due_date)))
    if invoice.type is InvoiceType.CREDIT_NOTE:
        facts.append((text["credits_invoice"], reference_number))
    delivered = purchase.get("deliveryDate")
    facts += [
        (text["delivery_date"], delivered and text.day(date.fromisoformat(delivered))),
        (text["buyer_reference"], purchase.get("buyerReference")),
        (text["order_reference"], purchase.get("purchaseOrderReference")),
        (text["order"], invoice.order_code or invoice.order_id),
        (text["customer_number"], invoice.customer.get("customerId")),
    ]
    y = 27.0
    for label, value in facts:
        if not value:
            continue
        pdf.set_xy(118, y)
        _style(pdf, 9, color=MUTED)
        pdf.cell(32, 5, label)
        _style(pdf, 9, bold=label == text["number"])
        pdf.multi_cell(42, 5, value, align="R")
        y = pdf.get_y()
    pdf.set_y(max(left_bottom, y) + 8)


def _parties(pdf: FPDF, invoice: Invoice, text: _Writer) -> None:
    customer = buyer(invoice)
    blocks = [(text["bill_to"], customer.name, text.address_lines(customer.address))]
    vat_id = invoice.customer.get("vatId")
    if vat_id:
        blocks[0][2].append(f"{text['vat_id']} {vat_id}")
    delivered_to = address_of(invoice.purchase.get("deliveryAddress"))
    if delivered_to is not None:
        blocks.append((text["deliver_to"], customer.name, text.address_lines(delivered_to)))
    top = pdf.get_y()
    bottom = top
    for index, (label, name, lines) in enumerate(blocks):
        x = _LEFT + index * 90
        pdf.set_xy(x, top)
        _style(pdf, 8, color=MUTED)
        pdf.cell(85, 4.5, label.upper(), new_x="LEFT", new_y="NEXT")
        _style(pdf, 10.5, bold=True)
        pdf.multi_cell(85, 5.2, name, new_x="LEFT", new_y="NEXT")
        _style(pdf, 9.5)
        for line in lines:
            pdf.multi_cell(85, 4.8, line, new_x="LEFT", new_y="NEXT")
        bottom = max(bottom, pdf.get_y())
    pdf.set_y(bottom + 8)


_COLUMNS = (9.0, 61.0, 20.0, 25.0, 14.0, 17.0, 28.0)
_ALIGN = ("L", "L", "R", "R", "R", "R", "R")
_PAD = 1.2
_LINE = 4.4


def _lines(pdf: FPDF, invoice: Invoice, text: _Writer) -> None:
    """The lines, drawn cell by cell (fpdf2's table() costs ~2 ms a cell: seconds for a
    thousand lines); the headings repeat on every page."""
    inclusive = invoice.prices_include_tax
    headings = (
        text["position"],
        text["description"],
        text["quantity"],
        text["unit_price"],
        text["discount"],
        text["vat"],
        text["amount_gross"] if inclusive else text["amount_net"],
    )
    pdf.set_draw_color(*RULE)
    _headings(pdf, headings)
    for line in invoice.content.lines:
        assert line.treatment is not None
        _style(pdf, 8.5)
        description = _wrapped(pdf, line.name, _COLUMNS[1] - 2 * _PAD)
        if line.sku:
            description.append(line.sku)
        height = len(description) * _LINE + 2 * _PAD
        if pdf.will_page_break(height):
            pdf.add_page()
            _headings(pdf, headings)
            _style(pdf, 8.5)
        amount = (
            line.gross_amount if inclusive and line.gross_amount is not None else line.net_amount
        )
        rate = (
            text[line.treatment.category]
            if line.treatment.category == "O"
            else text.percent(line.tax_rate)
        )
        values = (
            str(line.line_no),
            "",
            text.number(line.quantity) + (f" {line.unit}" if line.unit else ""),
            text.price(line.unit_price),
            text.percent(line.discount_percent) if line.discount_percent else "",
            rate,
            text.money(amount),
        )
        top = pdf.get_y()
        _row(pdf, values, top)
        for index, part in enumerate(description):
            if index == 1 and line.sku:
                _style(pdf, 7.5, color=MUTED)
            pdf.set_xy(_LEFT + _COLUMNS[0] + _PAD, top + _PAD + index * _LINE)
            pdf.cell(_COLUMNS[1] - 2 * _PAD, _LINE, part)
        pdf.set_y(top + height)
        pdf.line(_LEFT, pdf.get_y(), _LEFT + _WIDTH, pdf.get_y())
    pdf.ln(6)


def _wrapped(pdf: FPDF, value: str, width: float) -> list[str]:
    if pdf.get_string_width(value) <= width:
        return [value]
    lines = pdf.multi_cell(width, _LINE, value, dry_run=True, output="LINES")
    assert isinstance(lines, list)
    return lines


def _headings(pdf: FPDF, headings: tuple[str, ...]) -> None:
    top = pdf.get_y()
    pdf.set_fill_color(*SHADE)
    pdf.rect(_LEFT, top, _WIDTH, _LINE + 2 * _PAD, style="F")
    _style(pdf, 8.5, bold=True, color=ACCENT)
    _row(pdf, headings, top)
    pdf.set_y(top + _LINE + 2 * _PAD)
    pdf.line(_LEFT, pdf.get_y(), _LEFT + _WIDTH, pdf.get_y())


def _row(pdf: FPDF, values: tuple[str, ...], top: float) -> None:
    x = _LEFT
    for value, width, align in zip(values, _COLUMNS, _ALIGN, strict=True):
        if value:
            pdf.set_xy(x + _PAD, top + _PAD)
            pdf.cell(width - 2 * _PAD, _LINE, value, align=align)
        x += width


def _breakdown_and_totals(pdf: FPDF, invoice: Invoice, text: _Writer) -> None:
    amounts = invoice.content.amounts
    rows: list[tuple[str, str, str]] = []
    reasons: list[str] = []
    for group in amounts.tax_breakdown:
        treatment = group.treatment
        name = text[treatment.category]
        if treatment.category != "O":
            name += f" {text.percent(group.tax_rate)}"
        rows.append((name, text.money(group.taxable_amount), text.money(group.tax_amount)))
        reason = treatment.exemption_reason or treatment.exemption_reason_code
        if reason:
            reasons.append(f"{text[treatment.category]}: {reason}")
    if pdf.will_page_break(12 + 6 * (len(rows) + len(reasons))):
        pdf.add_page()
    top = pdf.get_y()
    _style(pdf, 8.5)
    with pdf.table(
        col_widths=(46, 26, 22),
        text_align=("LEFT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD", color=ACCENT, fill_color=SHADE),
        borders_layout="HORIZONTAL_LINES",
        line_height=4.6,
        padding=(1.2, 1.2, 1.2, 1.2),
        width=94,
        align="LEFT",
    ) as table:
        table.row((text["vat_breakdown"], text["taxable_amount"], text["tax_amount"]))
        for row in rows:
            table.row(row)
    _style(pdf, 8, color=MUTED)
    for reason in reasons:
        pdf.set_x(_LEFT)
        pdf.multi_cell(94, 4, reason, new_x="LMARGIN", new_y="NEXT")
    breakdown_bottom = pdf.get_y()

    is_invoice = invoice.type is InvoiceType.INVOICE
    totals = [
        (text["net_total"], text.money(amounts.net_amount), False),
        (text["vat_total"], text.money(amounts.tax_amount), False),
        (text["total"], text.money(amounts.gross_amount), False),
        (
            text["amount_due"] if is_invoice else text["amount_credited"],
            text.money(amounts.gross_amount),
            True,
        ),
    ]
    y = top
    for label, value, strong in totals:
        pdf.set_xy(122, y)
        if strong:
            pdf.set_fill_color(*SHADE)
            pdf.rect(122, y, 70, 8, style="F")
            _style(pdf, 10.5, bold=True, color=ACCENT)
            pdf.cell(38, 8, " " + label)
            pdf.cell(32, 8, value + " ", align="R")
            y += 8
        else:
            _style(pdf, 9)
            pdf.cell(38, 5.6, " " + label)
            pdf.cell(32, 5.6, value + " ", align="R")
            y += 5.6
    pdf.set_y(max(breakdown_bottom, y) + 8)


def _payment_and_notes(
    pdf: FPDF, invoice: Invoice, reference_number: str | None, text: _Writer
) -> None:
    fields: Any = invoice.seller or {}
    assert invoice.number is not None
    paragraphs: list[tuple[str, list[str]]] = []
    amount = text.money(invoice.content.amounts.gross_amount)
    if invoice.type is InvoiceType.INVOICE:
        payment = []
        if invoice.due_date is not None:
            payment.append(
                text["pay_by"].format(
                    amount=amount, date=text.day(invoice.due_date), reference=invoice.number
                )
            )
        if fields.get("iban"):
            account = text["account"].format(iban=_grouped(fields["iban"]))
            if fields.get("bic"):
                account += " · " + text["bic"].format(bic=fields["bic"])
            payment.append(f"{fields['name']} · {account}")
        paragraphs.append((text["payment"], payment))
    else:
        paragraphs.append(
            (text["payment"], [text["refund"].format(amount=amount, reference=reference_number)])
        )
    if invoice.note:
        paragraphs.append((text["notes"], [invoice.note]))
    for heading, lines in paragraphs:
        if not lines:
            continue
        if pdf.will_page_break(10 + 5 * len(lines)):
            pdf.add_page()
        _style(pdf, 9, bold=True, color=ACCENT)
        pdf.cell(_WIDTH, 5.5, heading, new_x="LMARGIN", new_y="NEXT")
        _style(pdf, 9)
        for line in lines:
            pdf.multi_cell(_WIDTH, 4.8, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)


def _grouped(iban: str) -> str:
    """An IBAN as people write it: groups of four."""
    return " ".join(iban[index : index + 4] for index in range(0, len(iban), 4))
