"""The PDF's XMP metadata is the one factur-x's builder writes (worker/documents/pdf.py makes
it once and fills in each invoice's values)."""

from __future__ import annotations

from datetime import UTC

import pytest
from facturx.facturx import FACTURX_LEVEL2xmp, generate_xmp_object
from lxml import etree

from tests.documents.spread import SELLER, spread_invoice
from worker.documents.pdf import _xmp

NAMES = [
    "Bakkerij de Molen B.V.",
    "Smith & Sons <Ltd> \"A\" 'B'",
    "Carriage\rreturn",
    "Ærø Bäckerei — 東京",
    "@timestamp@ @author@",  # the template's marks, as a value
]


@pytest.mark.parametrize("factur_x", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_the_xmp_is_the_one_factur_x_writes(name: str, factur_x: bool) -> None:
    invoice = spread_invoice(["S"], seller=SELLER | {"name": name})
    assert invoice.closed_at is not None
    title = f"Invoice {invoice.number} {name}"
    metadata = {
        "pdfa3_flavor": "B",
        "title": title,
        "author": name,
        "subject": title,
        "producer": "invoicer",
        "creator_tool": "invoicer",
        "timestamp": invoice.closed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    }
    if factur_x:
        metadata |= {
            "urn": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
            "documenttype": "INVOICE",
            "xml_filename": "factur-x.xml",
            "version": "1.0",
            "xmp_level": FACTURX_LEVEL2xmp["en16931"],
        }

    assert _xmp(title, invoice, factur_x=factur_x) == etree.tostring(
        generate_xmp_object(metadata), encoding="unicode"
    )


def test_the_xmp_refuses_what_xml_cannot_hold_as_lxml_does() -> None:
    invoice = spread_invoice(["S"], seller=SELLER | {"name": "Bell\x07"})

    with pytest.raises(ValueError, match="XML compatible"):
        _xmp("Invoice", invoice, factur_x=True)
