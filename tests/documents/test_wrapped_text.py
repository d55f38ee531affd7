"""Text too long for its column wraps and stays left-aligned, as the one-line text beside
it is: no line of a name, an address, a note or an exemption reason is stretched to the
column's width with wide gaps between its words."""

from __future__ import annotations

import io
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from tests.documents.spread import BUYER, SELLER, spread_invoice
from worker.documents.render import render_documents

LETTERS = "abcdefghijklmnopqrstuvwxyzäöüéèçßABCDEFGHÄÖÜαβγδεζηθλμπσωΑΒΓΔΣΩабвгдежзиклмнопрстуфхцчшщыэюяБГДЖЗИЛФЦЧШЩЭЮЯ"
TEXT_ARRAY = re.compile(rb"\[((?:[^\]\\]|\\.)*)\]\s*TJ")
ADJUSTMENT = re.compile(rb"\)\s*(-?\d+(?:\.\d+)?)\s*\(")
STRETCHED = 250.0
"""A gap between two runs of a line wider than a quarter of the font's size: justified
word spacing (kerning moves glyphs by a few hundredths)."""

words = st.lists(st.text(LETTERS, min_size=1, max_size=14), min_size=2, max_size=16).map(" ".join)


def gaps(pdf: bytes) -> list[float]:
    """Every adjustment between the runs of a text array on every page, in thousandths of
    the font's size."""
    found = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        content = page.get_contents()
        assert content is not None
        for array in TEXT_ARRAY.finditer(content.get_data()):
            found.extend(abs(float(value)) for value in ADJUSTMENT.findall(array.group(1)))
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=words, seller=words, street=words, note=words)
def test_no_wrapped_line_is_stretched_to_its_column(
    name: str, seller: str, street: str, note: str
) -> None:
    invoice = spread_invoice(
        ["S", "E"],
        customer=BUYER | {"name": name, "addressLine1": street},
        seller=SELLER | {"name": seller},
        note=note,
    )
    pdf = render_documents(invoice, None, "en").documents[0].content
    assert [gap for gap in gaps(pdf) if gap > STRETCHED] == []
