"""A credit note that refunds only an order-level charge (docs/contract.md, "Order-level
charges and allowances": a return's charge makes a credit note for the invoice that holds it
even when none of its rows came back): its UBL and CII are valid EN 16931."""

from __future__ import annotations

import pytest

from tests.documents.spread import credit_note, spread_invoice
from tests.documents.validation import fatal_assertions, schema_errors
from worker.documents.cii import cii_xml
from worker.documents.ubl import ubl_xml


@pytest.mark.parametrize("prices_include_tax", [False, True])
def test_a_note_of_shipping_alone_passes_the_schema_and_the_schematron(
    prices_include_tax: bool,
) -> None:
    invoice = spread_invoice(["S"], charged=True, prices_include_tax=prices_include_tax)
    note = credit_note(invoice, [], lambda left: [], ["shipping"])
    assert note.totals.charge_amount > 0

    for syntax, document in (
        ("ubl", ubl_xml(note, invoice.number)),
        ("cii", cii_xml(note, invoice.number)),
    ):
        assert schema_errors(document, syntax) is None
        assert fatal_assertions(document, syntax) == []
