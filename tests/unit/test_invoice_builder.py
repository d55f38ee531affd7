from datetime import date
from decimal import Decimal

import pytest

from tests.builders import order_row
from worker.domain.invoice import build_invoice_content
from worker.domain.numbering import due_date, invoice_number


def test_lines_are_numbered_in_the_order_the_rows_first_appeared() -> None:
    rows = [order_row("c", 2), order_row("a", 0), order_row("b", 1)]
    content = build_invoice_content(rows, "EUR", prices_include_tax=False)
    assert [(line.line_no, line.order_row_id) for line in content.lines] == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]


def test_line_numbers_start_at_one_whatever_the_positions() -> None:
    rows = [order_row("later", 7), order_row("added", 12)]
    content = build_invoice_content(rows, "EUR", prices_include_tax=False)
    assert [line.line_no for line in content.lines] == [1, 2]


def test_lines_echo_the_row_as_given() -> None:
    row = order_row(
        "a",
        0,
        sku=None,
        unit=None,
        quantity=Decimal("12.050"),
        unit_price=Decimal("1E+2"),
        discount_percent=Decimal("10.0"),
        tax_rate=Decimal("9.00"),
    )
    (line,) = build_invoice_content([row], "EUR", prices_include_tax=False).lines
    assert (line.sku, line.name, line.unit) == (None, "Item a", None)
    assert [
        str(value)
        for value in (line.quantity, line.unit_price, line.discount_percent, line.tax_rate)
    ] == ["12.050", "1E+2", "10.0", "9.00"]


def test_lines_carry_their_amounts_and_the_invoice_its_totals() -> None:
    rows = [order_row("a", 0), order_row("b", 1, tax_rate=Decimal("9"), unit_price=Decimal("3"))]
    content = build_invoice_content(rows, "EUR", prices_include_tax=False)
    assert [(line.net_amount, line.gross_amount) for line in content.lines] == [
        (Decimal("15.00"), None),
        (Decimal("4.50"), None),
    ]
    amounts = content.amounts
    assert (amounts.net_amount, amounts.tax_amount, amounts.gross_amount) == (
        Decimal("19.50"),
        Decimal("3.56"),
        Decimal("23.06"),
    )


def test_lines_carry_gross_amounts_when_prices_include_tax() -> None:
    rows = [order_row("a", 0)]
    (line,) = build_invoice_content(rows, "EUR", prices_include_tax=True).lines
    assert (line.net_amount, line.gross_amount) == (Decimal("12.40"), Decimal("15.00"))


@pytest.mark.parametrize(
    ("prefix", "year", "sequence", "number"),
    [
        ("INV", 2026, 1, "INV-2026-000001"),
        ("CN", 2026, 42, "CN-2026-000042"),
        ("INV", 2027, 999999, "INV-2027-999999"),
        ("INV", 2027, 1234567, "INV-2027-1234567"),
    ],
)
def test_invoice_numbers_are_prefix_year_and_six_digit_sequence(
    prefix: str, year: int, sequence: int, number: str
) -> None:
    assert invoice_number(prefix, year, sequence) == number


@pytest.mark.parametrize(
    ("issued", "terms", "due"),
    [
        (date(2026, 11, 23), 14, date(2026, 12, 7)),
        (date(2026, 12, 20), 14, date(2027, 1, 3)),
        (date(2028, 2, 15), 14, date(2028, 2, 29)),
        (date(2026, 11, 23), 0, date(2026, 11, 23)),
        (date(2026, 1, 1), 365, date(2027, 1, 1)),
    ],
)
def test_due_date_is_issue_date_plus_payment_terms(issued: date, terms: int, due: date) -> None:
    assert due_date(issued, terms) == due
