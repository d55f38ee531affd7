"""The invoice as a PDF a person reads and prints: a PDF/A-3 in the customer's language,
with the CII embedded (Factur-X 1.0, profile EN 16931) when EN 16931 can express it.

Rendering is deterministic: the PDF's dates and identifiers come from the invoice (its
closing time), never from the clock, so the same invoice gives the same bytes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal
from functools import cache
from typing import Any, Literal, NamedTuple

import structlog
from babel import Locale
from babel.dates import format_date
from facturx.facturx import FACTURX_LEVEL2xmp, generate_xmp_object
from fpdf import FPDF
from fpdf.fonts import TTFFont
from lxml import etree

from worker.documents.fonts import FAMILY, Coverage, FontProducer, add_bundled_fonts
from worker.documents.labels import LABELS, DocumentLanguage
from worker.documents.numbers import currency_format, decimal_format
from worker.domain.en16931 import buyer, document_adjustments, invoice_seller, seller, stated
from worker.domain.lifecycle import Invoice, InvoiceType
from worker.domain.money import minor_units
from worker.domain.parties import Address
from worker.domain.tax_categories import stated_rate

log = structlog.get_logger(__name__)

FONT = FAMILY
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (31, 58, 95)
RULE = (206, 212, 218)
SHADE = (241, 243, 245)
_LEFT = 18.0
_WIDTH = 174.0  # A4 less the margins
_FACTUR_X = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
_CREATOR = "invoicer"


class _Writer:
    """Formats in one language: labels, dates, amounts, quantities, countries. Amounts have
    the currency's ISO 4217 digits, as the XML and the events have them (CLDR's, which
    Babel uses by default, differ for some: HUF 0 there, 2 in ISO 4217)."""

    def __init__(self, language: DocumentLanguage, currency: str) -> None:
        self.language = language
        self.labels = LABELS[language]
        self.currency = currency
        self.territories = _territories(language)
        self._amounts = currency_format(language, currency, minor_units(currency))
        self._numbers = decimal_format(language)

    def __getitem__(self, key: str) -> str:
        return self.labels[key]

    def money(self, value: Decimal) -> str:
        return self._amounts.format(value)

    def price(self, value: Decimal) -> str:
        """A unit price, with its own digits where it has more than the currency."""
        return self._amounts.format(value, all_digits=True)

    def number(self, value: Decimal) -> str:
        return self._numbers.format(value, all_digits=True)

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
    def __init__(self, footer_text: str, page_label: str, fallback_fonts: Sequence[str]) -> None:
        super().__init__(format="A4", enforce_compliance="PDF/A-3B")
        self._footer_text = footer_text
        self._page_label = page_label
        add_bundled_fonts(self)
        self.coverage = Coverage(self, fallback_fonts)
        self._widths: dict[tuple[int, float, str], float] = {}
        self._codes: dict[int, dict[str, str]] = {}

    def normalize_text(self, text: str) -> str:
        return self.coverage.text(super().normalize_text(text))

    def get_string_width(self, s: str, normalized: bool = False, markdown: bool = False) -> float:
        """fpdf2's width, without its per-character fragments where the bundled font draws
        all of `s` unshaped (the document sets no character spacing or stretching); once
        per string, font and size (a table cell's is asked for its wrapping and its
        alignment, and amounts and rates repeat)."""
        if markdown or self.text_shaping or not self.coverage.bundled(s):
            return super().get_string_width(s, normalized, markdown)
        font = self.current_font
        assert isinstance(font, TTFFont)
        key = (font.i, self.font_size_pt, s)
        width = self._widths.get(key)
        if width is None:
            width = self._widths[key] = font.get_text_width(s, self.font_size_pt, None)[1] / self.k
        return width

    def _encoded(self, font: TTFFont, value: str) -> str:
        """font.encode_text(value), from each character's code in the document's subset,
        picked and escaped once per character."""
        codes = self._codes.setdefault(font.i, {})
        for char in value:
            if char not in codes:
                code = font.subset.pick(ord(char))
                codes[char] = "" if code is None else font.escape_text(chr(code))
        return f"({''.join([codes[char] for char in value])}) Tj"

    def texts(self, placed: Sequence[tuple[float, float, str]]) -> None:
        """Strings of the bundled fonts at their baselines (x, y), in the current font and
        colour, as one text object: what text() draws for each, in a fraction of its time
        (text() checks every string for the underlines, text modes and fonts the document
        never uses here)."""
        if not placed:
            return
        font = self.current_font
        assert isinstance(font, TTFFont)
        if not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(font, self.font_size_pt))
        operators = ["BT"]
        for x, y, value in placed:
            at = f"1 0 0 1 {x * self.k:.2f} {(self.h - y) * self.k:.2f} Tm"
            operators.append(f"{at} {self._encoded(font, value)}")
        operators.append("ET")
        if self.fill_color != self.text_color:
            assert self.text_color is not None
            operators = ["q", self.text_color.serialize().lower(), *operators, "Q"]
        self._out(" ".join(operators))

    def text_cell(
        self,
        width: float,
        height: float,
        value: str,
        align: Literal["L", "R"] = "L",
        new_x: Literal["RIGHT", "LEFT", "LMARGIN"] = "RIGHT",
        new_y: Literal["TOP", "NEXT"] = "TOP",
    ) -> None:
        """cell() of one line without border, fill or link. Where the bundled fonts draw all
        of `value` unshaped, the same content as cell()'s, in a fifth of its time (fpdf2
        parses the text into styled fragments and copies the graphics state for each)."""
        if self.text_shaping or not self.coverage.bundled(value):
            self.cell(width, height, value, align=align, new_x=new_x, new_y=new_y)
            return
        self._perform_page_break_if_need_be(height)
        x = self.x
        if value:
            font = self.current_font
            assert isinstance(font, TTFFont)
            if not self.current_font_is_set_on_page:
                self._out(self._set_font_for_page(font, self.font_size_pt))
            if align == "L":
                x += self.c_margin
            else:
                x += width - self.c_margin - self.get_string_width(value)
            y = self.h - self.y - 0.5 * height - 0.3 * self.font_size
            shown = f"BT {x * self.k:.2f} {y * self.k:.2f} Td"
            if self.text_color != self.fill_color:
                assert self.text_color is not None
                color = self.text_color.serialize().lower()
                shown = f"q {shown} {color} {self._encoded(font, value)} ET Q"
            else:
                shown = f"{shown} {self._encoded(font, value)} ET"
            self._out(shown)
        self._lasth = height
        if new_x == "RIGHT":
            self.x += width
        elif new_x == "LMARGIN":
            self.x = self.l_margin
        if new_y == "NEXT":
            self.y += height

    def footer(self) -> None:
        self.set_draw_color(*RULE)
        self.line(_LEFT, self.h - 17, _LEFT + _WIDTH, self.h - 17)
        self.set_font(FONT, size=7.5)
        self.set_text_color(*MUTED)
        self.set_xy(_LEFT, -16)
        _paragraph(self, _WIDTH - 26, 3.6, self._footer_text, align="L")
        self.set_xy(_LEFT + _WIDTH - 24, -16)
        self.cell(24, 3.6, self._page_label.format(page=self.page_no(), pages="{nb}"), align="R")


def invoice_pdf(
    invoice: Invoice,
    reference_number: str | None,
    language: DocumentLanguage,
    cii: bytes | None,
    fallback_fonts: Sequence[str] = (),
) -> bytes:
    """The PDF; with `cii`, a Factur-X PDF embedding it. Characters of the invoice that the
    bundled fonts lack come from `fallback_fonts` (font files)."""
    assert invoice.number is not None and invoice.closed_at is not None
    text = _Writer(language, invoice.currency)
    pdf = _layout(invoice, reference_number, text, fallback_fonts)
    title = f"{text[invoice.type.value]} {invoice.number}"
    pdf.set_subject(title)
    if cii is not None:
        pdf.embed_file(
            bytes=cii,
            basename="factur-x.xml",
            modification_date=invoice.closed_at,
            mime_type="text/xml",
            associated_file_relationship="Data",
            desc="Factur-X XML file",
            compress=True,
            checksum=True,
        )
    pdf.set_xmp_metadata(_xmp(title, invoice, factur_x=cii is not None))
    if pdf.coverage.not_shown:
        log.warning(
            "document_characters_not_shown",
            invoice_number=invoice.number,
            characters=[f"U+{ord(char):04X} {char}" for char in pdf.coverage.not_shown],
        )
    return bytes(pdf.output(output_producer_class=FontProducer))


def _xmp(title: str, invoice: Invoice, *, factur_x: bool) -> str:
    """The PDF/A metadata, with Factur-X's extension schema (as the factur-x package writes
    it) when the CII is embedded; dated with the invoice's closing, as the PDF is."""
    assert invoice.closed_at is not None
    values = {
        "title": _xml_text(title),
        "author": _xml_text(seller(invoice).name),
        "timestamp": invoice.closed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    }
    return _XMP_MARK.sub(lambda mark: values[mark[1]], _xmp_template(factur_x))


_XMP_MARK = re.compile("@(title|author|timestamp)@")


@cache
def _xmp_template(factur_x: bool) -> str:
    """factur-x's XMP with a mark (_XMP_MARK) for each value that is the invoice's: made
    once (factur-x builds it with lxml's objectify, ~0.7 ms a document)."""
    metadata: dict[str, str] = {
        "pdfa3_flavor": "B",
        "title": "@title@",
        "author": "@author@",
        "subject": "@title@",
        "producer": _CREATOR,
        "creator_tool": _CREATOR,
        "timestamp": "@timestamp@",
    }
    if factur_x:
        metadata |= {
            "urn": _FACTUR_X,
            "documenttype": "INVOICE",
            "xml_filename": "factur-x.xml",
            "version": "1.0",
            "xmp_level": FACTURX_LEVEL2xmp["en16931"],
        }
    xmp: str = etree.tostring(generate_xmp_object(metadata), encoding="unicode")
    return xmp


def _xml_text(value: str) -> str:
    """`value` as lxml writes an element's text (refusing, as lxml does, what XML cannot
    hold)."""
    element = etree.Element("text")
    element.text = value
    written: str = etree.tostring(element, encoding="unicode")
    return written.removeprefix("<text>")[: -len("</text>")]


def _layout(
    invoice: Invoice, reference_number: str | None, text: _Writer, fallback_fonts: Sequence[str]
) -> _Document:
    assert invoice.closed_at is not None
    issuer = invoice_seller(invoice)
    footer = " · ".join(
        part
        for part in (
            issuer.name,
            ", ".join(text.address_lines(issuer.address)[:2]),
            f"{text['vat_id']} {issuer.vat_id}",
            issuer.registration_id and f"{text['registration_id']} {issuer.registration_id}",
            issuer.email,
        )
        if part
    )
    pdf = _Document(footer, text["page"], fallback_fonts)
    pdf.set_creation_date(invoice.closed_at)
    pdf.set_lang(text.language)
    pdf.set_title(f"{text[invoice.type.value]} {invoice.number}")
    pdf.set_author(issuer.name)
    pdf.set_creator(_CREATOR)
    pdf.set_producer(_CREATOR)
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


def _header(pdf: _Document, invoice: Invoice, reference_number: str | None, text: _Writer) -> None:
    issuer = seller(invoice)
    _style(pdf, 15, bold=True, color=ACCENT)
    pdf.set_xy(_LEFT, 16)
    _paragraph(pdf, 95, 7, issuer.name)
    _style(pdf, 9, color=MUTED)
    for line in text.address_lines(issuer.address):
        pdf.set_x(_LEFT)
        pdf.text_cell(95, 4.4, line, new_x="LMARGIN", new_y="NEXT")
    for detail in (f"{text['vat_id']} {invoice_seller(invoice).vat_id}", issuer.email):
        if detail:
            pdf.set_x(_LEFT)
            pdf.text_cell(95, 4.4, detail, new_x="LMARGIN", new_y="NEXT")
    left_bottom = pdf.get_y()

    assert invoice.number is not None and invoice.issue_date is not None
    _style(pdf, 22, bold=True, color=ACCENT)
    pdf.set_xy(118, 15)
    pdf.text_cell(74, 10, text[invoice.type.value], align="R")
    purchase = invoice.purchase
    facts: list[tuple[str, str | None]] = [
        (text["number"], invoice.number),
        (text["issue_date"], text.day(invoice.issue_date)),
    ]
    if invoice.type is InvoiceType.INVOICE and invoice.due_date is not None:
        facts.append((text["due_date"], text.day(invoice.due_date)))
    if invoice.type is InvoiceType.CREDIT_NOTE:
        facts.append((text["credits_invoice"], reference_number))
    delivered = purchase.delivery_date
    facts += [
        (text["delivery_date"], None if delivered is None else text.day(delivered)),
        (text["buyer_reference"], purchase.buyer_reference),
        (text["order_reference"], purchase.purchase_order_reference),
        (text["order"], invoice.order_code or invoice.order_id),
        (text["customer_number"], invoice.customer.customer_id),
    ]
    y = 27.0
    for label, value in facts:
        if not value:
            continue
        pdf.set_xy(118, y)
        _style(pdf, 9, color=MUTED)
        pdf.text_cell(32, 5, label)
        _style(pdf, 9, bold=label == text["number"])
        _paragraph(pdf, 42, 5, value, align="R")
        y = pdf.get_y()
    pdf.set_y(max(left_bottom, y) + 8)


def _parties(pdf: _Document, invoice: Invoice, text: _Writer) -> None:
    customer = buyer(invoice)
    blocks = [(text["bill_to"], customer.name, text.address_lines(customer.address))]
    vat_id = invoice.customer.vat_id
    if vat_id:
        blocks[0][2].append(f"{text['vat_id']} {vat_id}")
    delivered_to = stated(invoice.purchase.delivery_address)
    if delivered_to is not None:
        blocks.append((text["deliver_to"], customer.name, text.address_lines(delivered_to)))
    top = pdf.get_y()
    bottom = top
    for index, (label, name, lines) in enumerate(blocks):
        x = _LEFT + index * 90
        pdf.set_xy(x, top)
        _style(pdf, 8, color=MUTED)
        pdf.text_cell(85, 4.5, label.upper(), new_x="LEFT", new_y="NEXT")
        _style(pdf, 10.5, bold=True)
        _paragraph(pdf, 85, 5.2, name, new_x="LEFT", new_y="NEXT")
        _style(pdf, 9.5)
        for line in lines:
            _paragraph(pdf, 85, 4.8, line, new_x="LEFT", new_y="NEXT")
        bottom = max(bottom, pdf.get_y())
    pdf.set_y(bottom + 8)


_PAD = 1.2
_LINE = 4.4


@dataclass(frozen=True, slots=True)
class _Table:
    """Columns drawn cell by cell (fpdf2's table() costs ~2 ms a cell: seconds for a
    thousand lines)."""

    columns: tuple[float, ...]
    aligns: tuple[str, ...]

    @property
    def width(self) -> float:
        return sum(self.columns)


_LINES = _Table((9.0, 61.0, 20.0, 25.0, 14.0, 17.0, 28.0), ("L", "L", "R", "R", "R", "R", "R"))
_BREAKDOWN = _Table((46.0, 26.0, 22.0), ("L", "R", "R"))


def _lines(pdf: _Document, invoice: Invoice, text: _Writer) -> None:
    """The lines; the headings repeat on every page."""
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
    _headings(pdf, _LINES, headings)
    description_width = _LINES.columns[1] - 2 * _PAD
    for line in invoice.content.lines:
        assert line.treatment is not None
        _style(pdf, 8.5)
        name = _wrapped(pdf, line.name, description_width)
        height = (len(name) + (1 if line.sku else 0)) * _LINE + 2 * _PAD
        if pdf.will_page_break(height):
            pdf.add_page()
            _headings(pdf, _LINES, headings)
            _style(pdf, 8.5)
        amount = (
            line.gross_amount if inclusive and line.gross_amount is not None else line.net_amount
        )
        stated = stated_rate(line.treatment.category, line.tax_rate)
        rate = text[line.treatment.category] if stated is None else text.percent(stated)
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
        x = _LEFT + _LINES.columns[0] + _PAD
        described = [
            _CellLine(x, top + _PAD + index * _LINE, description_width, part)
            for index, part in enumerate(name)
        ]
        _row(pdf, _LINES, values, top, also=described)
        if line.sku:
            _style(pdf, 7.5, color=MUTED)
            _draw(pdf, [_CellLine(x, top + _PAD + len(name) * _LINE, description_width, line.sku)])
        _rule_below(pdf, _LINES, top + height)
    for adjustment in document_adjustments(invoice):
        # A voucher, fee or shipping, in each tax group it falls in: as the order gave it.
        _style(pdf, 8.5)
        stated = stated_rate(adjustment.category, adjustment.tax_rate)
        values = (
            "",
            adjustment.reason,
            "",
            "",
            "",
            text[adjustment.category] if stated is None else text.percent(stated),
            text.money(
                adjustment.stated_amount if adjustment.is_charge else -adjustment.stated_amount
            ),
        )
        height = len(_wrapped(pdf, adjustment.reason, description_width)) * _LINE + 2 * _PAD
        if pdf.will_page_break(height):
            pdf.add_page()
            _headings(pdf, _LINES, headings)
            _style(pdf, 8.5)
        top = pdf.get_y()
        _rule_below(pdf, _LINES, top + _row(pdf, _LINES, values, top))
    pdf.ln(6)


def _wrapped(pdf: FPDF, value: str, width: float) -> list[str]:
    if pdf.get_string_width(value) <= width:
        return [value]
    lines = pdf.multi_cell(width, _LINE, value, dry_run=True, output="LINES")
    assert isinstance(lines, list)
    return lines


def _paragraph(pdf: _Document, width: float, height: float, value: str, **position: Any) -> None:
    """multi_cell(), as one cell where the text fits on a line (a seventh of the time);
    left-aligned unless `align` says otherwise (fpdf2's default stretches wrapped lines)."""
    if pdf.get_string_width(value) <= width - 2 * pdf.c_margin and "\n" not in value:
        pdf.text_cell(width, height, value, **({"new_x": "RIGHT", "new_y": "NEXT"} | position))
    else:
        pdf.multi_cell(width, height, value, **({"align": "L"} | position))


def _headings(pdf: _Document, table: _Table, headings: tuple[str, ...]) -> None:
    top = pdf.get_y()
    pdf.set_fill_color(*SHADE)
    _style(pdf, 8.5, bold=True, color=ACCENT)
    lines = max(
        len(_wrapped(pdf, value, width - 2 * _PAD))
        for value, width in zip(headings, table.columns, strict=True)
    )
    pdf.rect(_LEFT, top, table.width, lines * _LINE + 2 * _PAD, style="F")
    _rule_below(pdf, table, top + _row(pdf, table, headings, top))


def _row(
    pdf: _Document,
    table: _Table,
    values: tuple[str, ...],
    top: float,
    also: Sequence[_CellLine] = (),
) -> float:
    """One row of the table at `top`, and `also` with it; its height."""
    lines: list[_CellLine] = []
    x = _LEFT
    height = 1
    for value, width, align in zip(values, table.columns, table.aligns, strict=True):
        if value:
            parts = _wrapped(pdf, value, width - 2 * _PAD)
            for index, part in enumerate(parts):
                top_of_part = top + _PAD + index * _LINE
                lines.append(_CellLine(x + _PAD, top_of_part, width - 2 * _PAD, part, align))
            height = max(height, len(parts))
        x += width
    _draw(pdf, [*lines, *also])
    return height * _LINE + 2 * _PAD


class _CellLine(NamedTuple):
    """One line of text in a cell at (x, top), placed as cell() places it."""

    x: float
    top: float
    width: float
    value: str
    align: str = "L"


def _draw(pdf: _Document, lines: Sequence[_CellLine]) -> None:
    """`lines` in the current font and colour: those the bundled fonts draw all of as one
    text object, then the others by cell() (no page break: a table row's page break is
    decided before the row). In that order: cell() sets its fonts within a saved graphics
    state, so that after it the page's font is not the one fpdf2 holds set."""
    placed: list[tuple[float, float, str]] = []
    others: list[_CellLine] = []
    for line in lines:
        if not pdf.coverage.bundled(line.value):
            others.append(line)
            continue
        offset = pdf.c_margin
        if line.align != "L":
            offset = line.width - pdf.c_margin - pdf.get_string_width(line.value)
        placed.append((line.x + offset, line.top + 0.5 * _LINE + 0.3 * pdf.font_size, line.value))
    pdf.texts(placed)
    for line in others:
        pdf.set_xy(line.x, line.top)
        pdf.cell(line.width, _LINE, line.value, align=line.align)


def _rule_below(pdf: FPDF, table: _Table, bottom: float) -> None:
    pdf.set_y(bottom)
    pdf.line(_LEFT, bottom, _LEFT + table.width, bottom)


def _breakdown_and_totals(pdf: _Document, invoice: Invoice, text: _Writer) -> None:
    amounts = invoice.content.amounts
    rows: list[tuple[str, str, str]] = []
    reasons: list[str] = []
    for group in amounts.tax_breakdown:
        treatment = group.treatment
        name = text[treatment.category]
        stated = stated_rate(treatment.category, group.tax_rate)
        if stated is not None:
            name += f" {text.percent(stated)}"
        rows.append((name, text.money(group.taxable_amount), text.money(group.tax_amount)))
        reason = treatment.exemption_reason or treatment.exemption_reason_code
        if reason:
            reasons.append(f"{text[treatment.category]}: {reason}")
    if pdf.will_page_break(12 + 6 * (len(rows) + len(reasons))):
        pdf.add_page()
    top = pdf.get_y()
    pdf.set_draw_color(*RULE)
    _headings(pdf, _BREAKDOWN, (text["vat_breakdown"], text["taxable_amount"], text["tax_amount"]))
    for row in rows:
        _style(pdf, 8.5)
        row_top = pdf.get_y()
        _rule_below(pdf, _BREAKDOWN, row_top + _row(pdf, _BREAKDOWN, row, row_top))
    pdf.ln(1)
    _style(pdf, 8, color=MUTED)
    for reason in reasons:
        pdf.set_x(_LEFT)
        _paragraph(pdf, _BREAKDOWN.width, 4, reason, new_x="LMARGIN", new_y="NEXT")
    breakdown_bottom = pdf.get_y()

    is_invoice = invoice.type is InvoiceType.INVOICE
    adjusted = (
        [
            (text["line_total"], text.money(amounts.line_net_amount), False),
            (text["allowance_total"], text.money(-amounts.allowance_amount), False),
            (text["charge_total"], text.money(amounts.charge_amount), False),
        ]
        if invoice.content.adjustments
        else []
    )
    totals = [
        *adjusted,
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
            pdf.text_cell(38, 8, " " + label)
            pdf.text_cell(32, 8, value + " ", align="R")
            y += 8
        else:
            _style(pdf, 9)
            pdf.text_cell(38, 5.6, " " + label)
            pdf.text_cell(32, 5.6, value + " ", align="R")
            y += 5.6
    pdf.set_y(max(breakdown_bottom, y) + 8)


def _payment_and_notes(
    pdf: _Document, invoice: Invoice, reference_number: str | None, text: _Writer
) -> None:
    issuer = invoice_seller(invoice)
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
        if issuer.iban:
            account = text["account"].format(iban=_grouped(issuer.iban))
            if issuer.bic:
                account += " · " + text["bic"].format(bic=issuer.bic)
            payment.append(f"{issuer.name} · {account}")
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
        pdf.text_cell(_WIDTH, 5.5, heading, new_x="LMARGIN", new_y="NEXT")
        _style(pdf, 9)
        for line in lines:
            _paragraph(pdf, _WIDTH, 4.8, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)


def _grouped(iban: str) -> str:
    """An IBAN as people write it: groups of four."""
    return " ".join(iban[index : index + 4] for index in range(0, len(iban), 4))
