"""docs/contract.md, "Amounts": one test per rule, then the rules as properties."""

import json
import math
from collections.abc import Iterable
from decimal import Decimal, Inexact
from fractions import Fraction
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import EXAMPLES_DIR as EXAMPLES
from worker.domain.amounts import (
    InvoiceAmounts,
    PricedLine,
    TaxGroup,
    compute_amounts,
    line_amount,
    totals,
)
from worker.domain.money import UnknownCurrencyError, minor_units


def read_order(example: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / example).read_text(), parse_float=Decimal)["data"]
    return data


def priced_line(row: dict[str, Any]) -> PricedLine:
    return PricedLine(
        quantity=Decimal(row["quantity"]),
        unit_price=Decimal(row["unitPrice"]),
        discount_percent=Decimal(row.get("discountPercent", "0")),
        tax_rate=Decimal(row["taxRate"]),
    )


def amounts_of(example: str) -> InvoiceAmounts:
    order = read_order(example)
    return compute_amounts(
        [priced_line(row) for row in order["rows"]],
        order["currency"],
        order.get("pricesIncludeTax", False),
    )


def line(price: str, rate: str = "0", quantity: str = "1", discount: str = "0") -> PricedLine:
    return PricedLine(Decimal(quantity), Decimal(price), Decimal(discount), Decimal(rate))


def written(amounts: InvoiceAmounts) -> dict[str, object]:
    return {
        "lines": [
            (str(a.net_amount), None if a.gross_amount is None else str(a.gross_amount))
            for a in amounts.lines
        ],
        "tax_breakdown": [
            (str(g.tax_rate), str(g.taxable_amount), str(g.tax_amount))
            for g in amounts.tax_breakdown
        ],
        "totals": (str(amounts.net_amount), str(amounts.tax_amount), str(amounts.gross_amount)),
    }


class Expected(NamedTuple):
    example: str
    lines: list[tuple[str, str | None]]
    tax_breakdown: list[tuple[str, str, str]]
    totals: tuple[str, str, str]


# The figures of the contract's EXPECTED.md for the sample orders.
EXPECTED = [
    Expected(
        "order-completed.json",
        [("241.00", None), ("52.50", None)],
        [("0", "293.50", "0.00")],
        ("293.50", "0.00", "293.50"),
    ),
    Expected(
        "order-completed-vat.json",
        [("56.97", None), ("87.75", None), ("16.45", None)],
        [("9", "73.42", "6.61"), ("21", "87.75", "18.43")],
        ("161.17", "25.04", "186.21"),
    ),
    Expected(
        "order-completed-inclusive.json",
        [("46.54", "49.80"), ("28.56", "33.99"), ("12.59", "13.47"), ("4.16", "4.95")],
        [("7", "59.13", "4.14"), ("19", "32.72", "6.22")],
        ("91.85", "10.36", "102.21"),
    ),
    Expected(
        "order-completed-jpy.json",
        [("3840", None), ("4374", None)],
        [("8", "3840", "307"), ("10", "4374", "437")],
        ("8214", "744", "8958"),
    ),
]


@pytest.mark.parametrize("expected", EXPECTED, ids=[e.example for e in EXPECTED])
def test_examples_give_the_expected_figures(expected: Expected) -> None:
    assert written(amounts_of(expected.example)) == {
        "lines": expected.lines,
        "tax_breakdown": expected.tax_breakdown,
        "totals": expected.totals,
    }


def test_tax_inclusive_group_tax_is_spread_as_worked_through_for_7_percent() -> None:
    amounts = amounts_of("order-completed-inclusive.json")
    seven = amounts.tax_breakdown[0]
    assert (seven.tax_rate, seven.taxable_amount, seven.tax_amount) == (
        Decimal("7"),
        Decimal("59.13"),
        Decimal("4.14"),
    )
    row_10, row_30 = amounts.lines[0], amounts.lines[2]
    assert row_10.gross_amount is not None
    assert row_30.gross_amount is not None
    # Floors 3.25 (remainder .0086) and 0.88 (.0013): the left-over cent goes to row 10.
    assert row_10.gross_amount - row_10.net_amount == Decimal("3.26")
    assert row_30.gross_amount - row_30.net_amount == Decimal("0.88")
    assert row_10.net_amount + row_30.net_amount == seven.taxable_amount


def test_stated_line_total_must_equal_the_computed_line_amount() -> None:
    order = read_order("order-completed.json")
    row = order["rows"][0]
    amount = line_amount(
        Decimal(row["quantity"]), Decimal(row["unitPrice"]), Decimal("0"), order["currency"]
    )
    assert amount == Decimal(row["lineTotal"]) == Decimal("241.00")
    assert amount != Decimal("247.86")


def test_bhd_amounts_have_three_digits() -> None:
    amounts = compute_amounts([line("1.2345", rate="10")], "BHD", prices_include_tax=False)
    assert written(amounts) == {
        "lines": [("1.235", None)],
        "tax_breakdown": [("10", "1.235", "0.124")],
        "totals": ("1.235", "0.124", "1.359"),
    }


def test_jpy_amounts_have_no_fraction_digits() -> None:
    amounts = compute_amounts(
        [line("99.5", rate="10"), line("0.4", rate="10", quantity="3")],
        "JPY",
        prices_include_tax=True,
    )
    assert written(amounts) == {
        "lines": [("91", "100"), ("1", "1")],
        "tax_breakdown": [("10", "92", "9")],
        "totals": ("92", "9", "101"),
    }


def test_line_amount_rounds_half_up_at_exactly_half() -> None:
    assert line_amount(Decimal("1"), Decimal("0.125"), Decimal("0"), "EUR") == Decimal("0.13")
    assert line_amount(Decimal("3"), Decimal("0.05"), Decimal("50"), "EUR") == Decimal("0.08")
    assert line_amount(Decimal("1"), Decimal("2.5"), Decimal("0"), "JPY") == Decimal("3")


def test_group_tax_rounds_half_up_at_exactly_half() -> None:
    amounts = compute_amounts([line("0.50", rate="1")], "EUR", prices_include_tax=False)
    assert amounts.tax_amount == Decimal("0.01")


@pytest.mark.parametrize(
    ("quantity", "unit_price", "discount", "amount"),
    [
        (
            "999999999999.999999",
            "999999999999.999999",
            "33.333333",
            "666666669999999998666666.66",
        ),
        # 28 significant digits (Python's default) would give ….244995 and round up to ….25.
        ("996679982604.857450", "478266118294.604246", "0", "476678266462358855333476.24"),
    ],
)
def test_line_amount_is_exact_until_the_one_rounding(
    quantity: str, unit_price: str, discount: str, amount: str
) -> None:
    computed = line_amount(Decimal(quantity), Decimal(unit_price), Decimal(discount), "EUR")
    assert str(computed) == amount


def test_line_amount_never_rounds_silently() -> None:
    too_long = Decimal("1234567890123456789012345678901234567.1234567")
    with pytest.raises(Inexact):
        line_amount(too_long, too_long, Decimal("0"), "EUR")


def test_full_discount_makes_a_zero_line() -> None:
    assert line_amount(Decimal("3"), Decimal("19.99"), Decimal("100"), "EUR") == Decimal("0.00")


def test_tax_is_per_rate_never_a_sum_of_rounded_line_taxes() -> None:
    # Per line 0.005 would round to 0.01 three times; per rate 0.015 rounds to 0.02.
    lines = [line("0.05", rate="10")] * 3
    amounts = compute_amounts(lines, "EUR", prices_include_tax=False)
    assert amounts.tax_amount == Decimal("0.02")


def test_equal_rates_are_one_group_keeping_the_rate_as_first_given() -> None:
    lines = [line("10.00", rate="9"), line("5.00", rate="9.00"), line("1.00", rate="9.0")]
    (group,) = compute_amounts(lines, "EUR", prices_include_tax=False).tax_breakdown
    assert str(group.tax_rate) == "9"
    assert group.taxable_amount == Decimal("16.00")


def test_tax_breakdown_ascends_by_numeric_rate() -> None:
    lines = [line("1.00", rate=rate) for rate in ["21", "100", "5.5", "9", "0"]]
    breakdown = compute_amounts(lines, "EUR", prices_include_tax=False).tax_breakdown
    assert [str(g.tax_rate) for g in breakdown] == ["0", "5.5", "9", "21", "100"]


def test_lines_keep_the_order_they_were_given() -> None:
    lines = [line("3.00", rate="21"), line("1.00", rate="9"), line("2.00", rate="21")]
    amounts = compute_amounts(lines, "EUR", prices_include_tax=False)
    assert [a.net_amount for a in amounts.lines] == [
        Decimal("3.00"),
        Decimal("1.00"),
        Decimal("2.00"),
    ]


def test_left_over_tax_unit_goes_to_the_earlier_line_on_equal_remainders() -> None:
    # G = 2.00, T = q(2.00 * 7/107) = 0.13: exact shares 6.5 cents each, the cent to line 1.
    amounts = compute_amounts([line("1.00", rate="7")] * 2, "EUR", prices_include_tax=True)
    assert [a.net_amount for a in amounts.lines] == [Decimal("0.93"), Decimal("0.94")]


def test_zero_gross_group_has_no_tax_and_no_shares() -> None:
    lines = [line("0.00", rate="19"), line("5.00", rate="19", discount="100")]
    amounts = compute_amounts(lines, "EUR", prices_include_tax=True)
    assert written(amounts) == {
        "lines": [("0.00", "0.00"), ("0.00", "0.00")],
        "tax_breakdown": [("19", "0.00", "0.00")],
        "totals": ("0.00", "0.00", "0.00"),
    }


def test_gross_amount_is_given_only_when_prices_include_tax() -> None:
    exclusive = compute_amounts([line("1.00", rate="7")], "EUR", prices_include_tax=False)
    inclusive = compute_amounts([line("1.00", rate="7")], "EUR", prices_include_tax=True)
    assert exclusive.lines[0].gross_amount is None
    assert inclusive.lines[0].gross_amount == Decimal("1.00")


def test_an_unknown_currency_has_no_amounts() -> None:
    with pytest.raises(UnknownCurrencyError):
        compute_amounts([line("1.00")], "XXX", prices_include_tax=False)


def test_amount_due_is_gross_minus_paid_and_credited() -> None:
    amounts = amounts_of("order-completed-vat.json")
    result = totals(amounts, paid=Decimal("100"), credited=Decimal("6.2"), currency="EUR")
    assert (
        str(result.net_amount),
        str(result.tax_amount),
        str(result.gross_amount),
        str(result.paid_amount),
        str(result.credited_amount),
        str(result.amount_due),
    ) == ("161.17", "25.04", "186.21", "100.00", "6.20", "80.01")


def test_amount_due_never_falls_below_zero() -> None:
    amounts = amounts_of("order-completed-jpy.json")
    result = totals(amounts, paid=Decimal("8000"), credited=Decimal("1000"), currency="JPY")
    assert str(result.amount_due) == "0"


def test_payments_must_be_in_the_currency_digits() -> None:
    amounts = amounts_of("order-completed-jpy.json")
    with pytest.raises(ValueError, match="fraction digits"):
        totals(amounts, paid=Decimal("0.5"), credited=Decimal("0"), currency="JPY")


# Properties. Decimals as the contract allows them: ≤ 12 integer and ≤ 6 fraction digits.


@st.composite
def contract_decimals(
    draw: st.DrawFn, at_least: int = 0, at_most: Decimal | None = None
) -> Decimal:
    fraction_digits = draw(st.integers(0, 6))
    if at_most is None:
        largest = 10 ** (draw(st.integers(0, 12)) + fraction_digits) - 1
    else:
        largest = int(at_most.scaleb(fraction_digits))
    return Decimal(draw(st.integers(at_least, max(at_least, largest)))).scaleb(-fraction_digits)


percents = contract_decimals(at_most=Decimal(100))
tax_rates = st.one_of(
    st.sampled_from([Decimal(r) for r in ["0", "5.5", "7", "9", "9.00", "19", "21", "100"]]),
    percents,
)
priced_lines = st.builds(
    PricedLine,
    quantity=contract_decimals(at_least=1),
    unit_price=contract_decimals(),
    discount_percent=st.one_of(st.just(Decimal(0)), percents),
    tax_rate=tax_rates,
)
invoices = st.tuples(
    st.lists(priced_lines, min_size=1, max_size=20),
    st.sampled_from(["JPY", "KRW", "EUR", "USD", "BHD", "KWD", "CLF"]),
    st.booleans(),
)
properties = settings(deadline=None, max_examples=200)


def q(exact: Fraction, digits: int) -> Fraction:
    """Half up, for the non-negative values of these properties, independent of the domain."""
    return Fraction(math.floor(exact * 10**digits + Fraction(1, 2)), 10**digits)


def exact_line_total(line: PricedLine) -> Fraction:
    return (
        Fraction(line.quantity)
        * Fraction(line.unit_price)
        * (1 - Fraction(line.discount_percent) / 100)
    )


def group_members(lines: list[PricedLine], rate: Decimal) -> list[int]:
    return [i for i, line in enumerate(lines) if line.tax_rate == rate]


def gross_amounts(amounts: InvoiceAmounts, members: list[int]) -> list[Decimal]:
    grosses = [amounts.lines[i].gross_amount for i in members]
    assert all(gross is not None for gross in grosses)
    return [gross for gross in grosses if gross is not None]


def exact_sum(values: Iterable[Decimal]) -> Fraction:
    return sum((Fraction(value) for value in values), Fraction(0))


def all_amounts(amounts: InvoiceAmounts) -> list[Decimal]:
    found = [amounts.net_amount, amounts.tax_amount, amounts.gross_amount]
    for a in amounts.lines:
        found.append(a.net_amount)
        if a.gross_amount is not None:
            found.append(a.gross_amount)
    for g in amounts.tax_breakdown:
        found += [g.taxable_amount, g.tax_amount]
    return found


@properties
@given(invoices)
def test_property_line_total_is_the_exact_product_rounded_once(
    invoice: tuple[list[PricedLine], str, bool],
) -> None:
    lines, currency, prices_include_tax = invoice
    amounts = compute_amounts(lines, currency, prices_include_tax)
    for line, amount in zip(lines, amounts.lines, strict=True):
        total = amount.gross_amount if prices_include_tax else amount.net_amount
        assert total is not None
        assert Fraction(total) == q(exact_line_total(line), minor_units(currency))


@properties
@given(invoices)
def test_property_sum_of_line_nets_is_sum_of_taxable_amounts(
    invoice: tuple[list[PricedLine], str, bool],
) -> None:
    amounts = compute_amounts(*invoice)
    assert exact_sum(a.net_amount for a in amounts.lines) == exact_sum(
        g.taxable_amount for g in amounts.tax_breakdown
    )
    for group in amounts.tax_breakdown:
        members = group_members(invoice[0], group.tax_rate)
        assert exact_sum(amounts.lines[i].net_amount for i in members) == group.taxable_amount


@properties
@given(invoices)
def test_property_gross_is_net_plus_tax(invoice: tuple[list[PricedLine], str, bool]) -> None:
    amounts = compute_amounts(*invoice)
    assert amounts.net_amount == exact_sum(g.taxable_amount for g in amounts.tax_breakdown)
    assert amounts.tax_amount == exact_sum(g.tax_amount for g in amounts.tax_breakdown)
    assert amounts.gross_amount == Fraction(amounts.net_amount) + Fraction(amounts.tax_amount)


@properties
@given(invoices)
def test_property_tax_exclusive_group_tax_is_rounded_taxable_times_rate(
    invoice: tuple[list[PricedLine], str, bool],
) -> None:
    lines, currency, _ = invoice
    amounts = compute_amounts(lines, currency, prices_include_tax=False)
    for group in amounts.tax_breakdown:
        exact = Fraction(group.taxable_amount) * Fraction(group.tax_rate) / 100
        assert group.tax_amount == q(exact, minor_units(currency))


@properties
@given(invoices)
def test_property_tax_inclusive_group_tax_is_rounded_gross_times_rate_over_100_plus_rate(
    invoice: tuple[list[PricedLine], str, bool],
) -> None:
    lines, currency, _ = invoice
    amounts = compute_amounts(lines, currency, prices_include_tax=True)
    for group in amounts.tax_breakdown:
        group_gross = exact_sum(gross_amounts(amounts, group_members(lines, group.tax_rate)))
        rate = Fraction(group.tax_rate)
        assert group.tax_amount == q(group_gross * rate / (100 + rate), minor_units(currency))
        assert Fraction(group.taxable_amount) + Fraction(group.tax_amount) == group_gross


def tax_shares_in_units(
    amounts: InvoiceAmounts, lines: list[PricedLine], group: TaxGroup, digits: int
) -> list[tuple[Fraction, Fraction]]:
    """Each group line's share of the group's tax, and its exact proportional share."""
    members = group_members(lines, group.tax_rate)
    grosses = [Fraction(gross) for gross in gross_amounts(amounts, members)]
    group_gross = sum(grosses)
    group_tax = Fraction(group.tax_amount) * 10**digits
    return [
        (
            (gross - Fraction(amounts.lines[i].net_amount)) * 10**digits,
            group_tax * gross / group_gross if group_gross else Fraction(0),
        )
        for i, gross in zip(members, grosses, strict=True)
    ]


@properties
@given(invoices)
def test_property_tax_inclusive_line_share_is_within_one_minor_unit_of_its_exact_share(
    invoice: tuple[list[PricedLine], str, bool],
) -> None:
    lines, currency, _ = invoice
    digits = minor_units(currency)
    amounts = compute_amounts(lines, currency, prices_include_tax=True)
    for group in amounts.tax_breakdown:
        for share, exact in tax_shares_in_units(amounts, lines, group, digits):
            assert abs(share - exact) < 1


@properties
@given(invoices)
def test_property_left_over_tax_units_go_to_the_largest_remainders_ties_to_the_earlier_line(
    invoice: tuple[list[PricedLine], str, bool],
) -> None:
    lines, currency, _ = invoice
    digits = minor_units(currency)
    amounts = compute_amounts(lines, currency, prices_include_tax=True)
    for group in amounts.tax_breakdown:
        shares = tax_shares_in_units(amounts, lines, group, digits)
        floors = [math.floor(exact) for _, exact in shares]
        left_over = Fraction(group.tax_amount) * 10**digits - sum(floors)
        by_remainder = sorted(range(len(shares)), key=lambda k: (floors[k] - shares[k][1], k))
        receivers = set(by_remainder[: int(left_over)])
        assert [share for share, _ in shares] == [
            floor + (k in receivers) for k, floor in enumerate(floors)
        ]


@properties
@given(invoices)
def test_property_every_amount_has_exactly_the_currency_digits(
    invoice: tuple[list[PricedLine], str, bool],
) -> None:
    amounts = compute_amounts(*invoice)
    digits = minor_units(invoice[1])
    assert all(a.as_tuple().exponent == -digits for a in all_amounts(amounts))


@properties
@given(invoices, st.integers(0, 10**20), st.integers(0, 10**20))
def test_property_amount_due_is_never_negative(
    invoice: tuple[list[PricedLine], str, bool], paid_units: int, credited_units: int
) -> None:
    amounts = compute_amounts(*invoice)
    digits = minor_units(invoice[1])
    paid = Decimal(paid_units).scaleb(-digits)
    credited = Decimal(credited_units).scaleb(-digits)
    result = totals(amounts, paid, credited, invoice[1])
    assert result.amount_due >= 0
    exact_due = Fraction(result.gross_amount) - Fraction(paid) - Fraction(credited)
    assert result.amount_due == max(Fraction(0), exact_due)
    assert result.amount_due.as_tuple().exponent == -digits


@properties
@given(invoices, st.integers(0, 10**20), st.integers(0, 10**20))
def test_property_refund_due_is_what_was_paid_and_credited_beyond_the_gross(
    invoice: tuple[list[PricedLine], str, bool], paid_units: int, credited_units: int
) -> None:
    amounts = compute_amounts(*invoice)
    digits = minor_units(invoice[1])
    paid = Decimal(paid_units).scaleb(-digits)
    credited = Decimal(credited_units).scaleb(-digits)
    result = totals(amounts, paid, credited, invoice[1])
    assert result.refund_due >= 0
    beyond = Fraction(paid) + Fraction(credited) - Fraction(result.gross_amount)
    assert result.refund_due == max(Fraction(0), beyond)
    assert result.refund_due.as_tuple().exponent == -digits
    assert result.refund_due == 0 or result.amount_due == 0


def test_a_credit_note_after_payment_in_full_owes_its_amount_back() -> None:
    amounts = amounts_of("order-completed-vat.json")
    result = totals(amounts, paid=Decimal("186.21"), credited=Decimal("50"), currency="EUR")
    assert (str(result.amount_due), str(result.refund_due)) == ("0.00", "50.00")
