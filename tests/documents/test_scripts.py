"""Every character of an invoice's text is shown (docs/contract.md,
"Documents"): Latin, Greek and Cyrillic with the bundled fonts; other scripts with the fallback
fonts, shaped where the script needs it; a character no font has as U+FFFD from the bundled
fonts, never a missing-glyph box, and logged once per invoice.

The fallback fonts are Debian's Noto packages, which the image installs and scripts/test
installs where they are missing."""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from structlog.testing import capture_logs

from tests.documents.spread import BUYER, spread_invoice
from tests.documents.test_documents import text_of
from worker.documents.fonts import REPLACEMENT
from worker.documents.render import render_documents
from worker.domain.lifecycle import Invoice

NOTO = Path("/usr/share/fonts")
FALLBACK_FONTS = [
    str(NOTO / "opentype/noto/NotoSansCJK-Regular.ttc"),
    str(NOTO / "truetype/noto/NotoSansArabic-Regular.ttf"),
    str(NOTO / "truetype/noto/NotoSansHebrew-Regular.ttf"),
    str(NOTO / "truetype/noto/NotoSansThai-Regular.ttf"),
    str(NOTO / "truetype/noto/NotoSansDevanagari-Regular.ttf"),
]


@pytest.fixture(scope="module", autouse=True)
def _fallback_fonts_installed() -> None:
    missing = [path for path in FALLBACK_FONTS if not Path(path).is_file()]
    assert not missing, f"{missing}: scripts/test installs fonts-noto-core and fonts-noto-cjk"


def named(customer: str, lines: list[str]) -> Invoice:
    invoice = spread_invoice(["S"], lines=len(lines), customer=BUYER | {"name": customer})
    named_lines = [
        replace(line, name=name) for line, name in zip(invoice.content.lines, lines, strict=True)
    ]
    return replace(invoice, content=replace(invoice.content, lines=named_lines))


def pdf_of(invoice: Invoice, fonts: list[str]) -> bytes:
    return render_documents(invoice, None, "en", fonts).documents[0].content


def embedded_fonts(pdf: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]).lstrip("/").split("+")[-1])
    return names


def test_greek_and_cyrillic_are_drawn_by_the_bundled_fonts() -> None:
    invoice = named("Ελληνικά Αρτοποιεία Α.Ε.", ["Ψωμί ολικής άλεσης", "Хлеб ржаной"])

    with capture_logs() as logs:
        pdf = pdf_of(invoice, FALLBACK_FONTS)

    text = text_of(pdf)
    assert "Ελληνικά Αρτοποιεία Α.Ε." in text
    assert "Ψωμί ολικής άλεσης" in text
    assert "Хлеб ржаной" in text
    assert embedded_fonts(pdf) == {"SourceSansPro", "SourceSansProBold"}
    assert logs == []


def test_chinese_arabic_and_hebrew_come_from_the_fallback_fonts() -> None:
    invoice = named("北京面包有限公司", ["全麦面包", "خبز عربي", "לחם שיפון"])

    with capture_logs() as logs:
        pdf = pdf_of(invoice, FALLBACK_FONTS)

    # pypdf reads the CJK font's own encoding with a NUL before each character (poppler's
    # pdftotext does not), and shaped glyphs placed one by one with spaces between them.
    text = text_of(pdf).replace("\x00", "").replace(" ", "")
    assert "北京面包有限公司" in text
    assert "全麦面包" in text
    assert REPLACEMENT not in text
    assert {"NotoSansCJKJP", "NotoSansArabic", "NotoSansHebrew"} <= (embedded_fonts(pdf))
    assert logs == []


def test_a_character_no_font_has_is_drawn_as_the_replacement_and_named_once() -> None:
    invoice = named("北京面包 🥐", ["全麦面包 🥐", "🥐"])

    with capture_logs() as logs:
        pdf = pdf_of(invoice, [])

    text = text_of(pdf)
    assert "北京面包" not in text
    assert f"{REPLACEMENT * 4} {REPLACEMENT}" in text
    assert "DejaVuSansBook" in embedded_fonts(pdf)
    [logged] = [entry for entry in logs if entry["event"] == "document_characters_not_shown"]
    assert logged["invoice_number"] == invoice.number
    assert logged["characters"] == [
        "U+5317 北",
        "U+4EAC 京",
        "U+9762 面",
        "U+5305 包",
        "U+1F950 🥐",
        "U+5168 全",
        "U+9EA6 麦",
    ]


# Any text the door accepts: every character but surrogates and what XML 1.0 refuses.
TEXT = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="".join(chr(c) for c in range(32)) + "\ufffe\uffff",
    ),
    min_size=1,
    max_size=30,
).filter(str.strip)


@settings(
    max_examples=30,
    deadline=None,
    # caplog is cleared for each example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(customer=TEXT, lines=st.lists(TEXT, min_size=1, max_size=3))
def test_every_character_is_drawn_by_a_font_that_has_it(
    customer: str, lines: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """fpdf2 warns of each character it draws as its font's missing glyph: never."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fpdf"):
        pdf = pdf_of(named(customer, lines), FALLBACK_FONTS)

    assert pdf.startswith(b"%PDF-")
    assert not [r for r in caplog.records if "missing the following glyphs" in r.getMessage()]
