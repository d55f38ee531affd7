"""docs/contract.md, "Order-level charges and allowances": vouchers, shipping and fees, worked
out by hand in both price modes and in 0-, 2- and 3-digit currencies, then as properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.domain.amounts import (
    InvoiceAmounts,
    NegativeBase,
    PricedAdjustment,
    PricedLine,
    compute_amounts,
)
from worker.domain.money import from_minor_units, minor_units


def line(quantity: str, price: str, rate: str) -> PricedLine:
    return PricedLine(Decimal(quantity), Decimal(price), Decimal(0), Decimal(rate))


def allowance(amount: str, rate: str | None = None) -> PricedAdjustment:
    return PricedAdjustment(False, Decimal(amount), None if rate is None else Decimal(rate))


def charge(amount: str, rate: str | None = None) -> PricedAdjustment:
    return PricedAdjustment(True, Decimal(amount), None if rate is None else Decimal(rate))


def groups(amounts: InvoiceAmounts) -> list[tuple[str, str, str]]:
    """(rate, taxable, tax) per group, as written."""
    return [
        (str(group.tax_rate), str(group.taxable_amount), str(group.tax_amount))
        for group in amounts.tax_breakdown
    ]


def parts(amounts: InvoiceAmounts) -> list[list[tuple[str, str, str]]]:
    """(rate, amount as given, net) of each part, per adjustment."""
    return [
        [(str(p.tax_rate), str(p.amount), str(p.net_amount)) for p in adjustment.parts]
        for adjustment in amounts.adjustments
    ]


def test_a_voucher_over_two_rates_and_shipping_at_one_with_prices_excluding_tax() -> None:
    # 15.00 over lines of 100.00 (19 %) and 50.00 (7 %): 10.00 and 5.00.
    amounts = compute_amounts(
        [line("1", "100.00", "19"), line("2", "25.00", "7")],
        "EUR",
        False,
        [allowance("15.00"), charge("4.90", "19")],
    )
    assert parts(amounts) == [
        [("19", "10.00", "10.00"), ("7", "5.00", "5.00")],
        [("19", "4.90", "4.90")],
    ]
    # 19 %: 100.00 + 4.90 − 10.00 = 94.90, tax q(18.031) = 18.03; 7 %: 45.00, tax 3.15.
    assert groups(amounts) == [("7", "45.00", "3.15"), ("19", "94.90", "18.03")]
    assert (amounts.line_net_amount, amounts.allowance_amount, amounts.charge_amount) == (
        Decimal("150.00"),
        Decimal("15.00"),
        Decimal("4.90"),
    )
    assert (amounts.net_amount, amounts.tax_amount, amounts.gross_amount) == (
        Decimal("139.90"),
        Decimal("21.18"),
        Decimal("161.08"),
    )


def test_a_voucher_and_shipping_with_prices_including_tax() -> None:
    amounts = compute_amounts(
        [line("1", "119.00", "19"), line("1", "107.00", "7")],
        "EUR",
        True,
        [allowance("22.60"), charge("5.95", "19")],
    )
    # 22.60 over 119.00 and 107.00: 11.90 and 10.70; each part's net is its gross less
    # q(p × r/(100 + r)): 11.90 − 1.90, 10.70 − 0.70, 5.95 − 0.95.
    assert parts(amounts) == [
        [("19", "11.90", "10.00"), ("7", "10.70", "10.00")],
        [("19", "5.95", "5.00")],
    ]
    # 19 %: G = 119.00 + 5.95 − 11.90 = 113.05, tax q(113.05 × 19/119) = 18.05; the line
    # takes 18.05 − 0.95 + 1.90 = 19.00 of it: net 100.00. 7 %: G = 96.30, tax 6.30.
    assert groups(amounts) == [("7", "90.00", "6.30"), ("19", "95.00", "18.05")]
    assert [line.net_amount for line in amounts.lines] == [Decimal("100.00"), Decimal("100.00")]
    assert (amounts.line_net_amount, amounts.allowance_amount, amounts.charge_amount) == (
        Decimal("200.00"),
        Decimal("20.00"),
        Decimal("5.00"),
    )
    assert amounts.gross_amount == Decimal("209.35")  # 119 + 107 + 5.95 − 22.60


def test_the_units_left_over_go_to_the_largest_remainders_in_yen() -> None:
    # 100 over 1000 and 333: 75.01.. and 24.98..; the one unit left goes to the larger
    # remainder, 8 %'s.
    amounts = compute_amounts(
        [line("1", "1000", "10"), line("1", "333", "8")], "JPY", False, [allowance("100")]
    )
    assert parts(amounts) == [[("10", "75", "75"), ("8", "25", "25")]]
    assert groups(amounts) == [("8", "308", "25"), ("10", "925", "93")]
    assert amounts.gross_amount == Decimal("1351")


def test_a_voucher_and_shipping_in_yen_with_prices_including_tax() -> None:
    amounts = compute_amounts(
        [line("1", "1100", "10"), line("1", "540", "8")],
        "JPY",
        True,
        [allowance("164"), charge("550", "10")],
    )
    # 164 over 1100 and 540: 110 and 54. 10 %: G = 1540, tax 140, of which shipping's 50
    # and the voucher's −10 leave the line 100. 8 %: G = 486, tax 36, the line's 40.
    assert parts(amounts) == [[("10", "110", "100"), ("8", "54", "50")], [("10", "550", "500")]]
    assert groups(amounts) == [("8", "450", "36"), ("10", "1400", "140")]
    assert [line.net_amount for line in amounts.lines] == [Decimal(1000), Decimal(500)]
    assert amounts.gross_amount == Decimal(2026)


def test_a_fee_in_a_three_digit_currency_with_prices_including_tax() -> None:
    amounts = compute_amounts([line("1", "11.000", "10")], "BHD", True, [charge("1.100")])
    assert parts(amounts) == [[("10", "1.100", "1.000")]]
    assert groups(amounts) == [("10", "11.000", "1.100")]
    assert amounts.lines[0].net_amount == Decimal("10.000")


def test_equal_remainders_go_to_the_group_whose_first_line_comes_first() -> None:
    amounts = compute_amounts(
        [line("1", "1.00", "7"), line("1", "1.00", "19")], "EUR", False, [allowance("0.01")]
    )
    assert parts(amounts) == [[("7", "0.01", "0.01")]]


def test_a_fee_in_a_three_digit_currency() -> None:
    amounts = compute_amounts([line("1", "10.000", "10")], "BHD", False, [charge("1.234")])
    assert groups(amounts) == [("10", "11.234", "1.123")]
    assert amounts.gross_amount == Decimal("12.357")


def test_a_charge_with_a_rate_no_line_has_forms_a_group_of_its_own() -> None:
    amounts = compute_amounts(
        [line("1", "100.00", "19")],
        "EUR",
        True,
        [charge("2.00", "0"), charge("1.07", "7"), charge("2.14", "7")],
    )
    # 7 %: G = 3.21, tax q(0.21) = 0.21; the charges' own taxes 0.07 + 0.14 are all of it.
    assert groups(amounts) == [
        ("0", "2.00", "0.00"),
        ("7", "3.00", "0.21"),
        ("19", "84.03", "15.97"),
    ]
    assert amounts.charge_amount == Decimal("5.00")


def test_without_line_amounts_no_adjustment_without_a_rate_is_taken() -> None:
    amounts = compute_amounts(
        [line("1", "0", "19")], "EUR", False, [allowance("5.00"), charge("3.00")]
    )
    assert parts(amounts) == [[], []]
    assert amounts.gross_amount == Decimal("0.00")


def test_allowances_beyond_a_groups_lines_and_charges_are_refused() -> None:
    with pytest.raises(NegativeBase) as refused:
        compute_amounts([line("1", "10.00", "19")], "EUR", False, [allowance("10.01", "19")])
    assert refused.value.group == ("S", Decimal(19))


_CURRENCIES = ["EUR", "JPY", "BHD"]


@st.composite
def invoices(draw: st.DrawFn) -> tuple[list[PricedLine], list[PricedAdjustment], str, bool]:
    currency = draw(st.sampled_from(_CURRENCIES))
    digits = minor_units(currency)
    lines = draw(
        st.lists(
            st.builds(
                PricedLine,
                st.sampled_from([Decimal(1), Decimal(2), Decimal("0.5"), Decimal(3)]),
                st.integers(0, 100_000).map(lambda units: from_minor_units(units, digits)),
                st.just(Decimal(0)),
                st.sampled_from([Decimal(0), Decimal(7), Decimal(19), Decimal("9.5")]),
            ),
            min_size=1,
            max_size=6,
        )
    )
    adjustments = draw(
        st.lists(
            st.builds(
                PricedAdjustment,
                st.booleans(),
                st.integers(1, 20_000).map(lambda units: from_minor_units(units, digits)),
                st.sampled_from([None, None, Decimal(19), Decimal(7), Decimal(5)]),
            ),
            max_size=4,
        )
    )
    return lines, adjustments, currency, draw(st.booleans())


@given(invoices())
def test_the_parts_of_a_split_sum_to_the_amount_and_everything_adds_up(
    case: tuple[list[PricedLine], list[PricedAdjustment], str, bool],
) -> None:
    lines, adjustments, currency, prices_include_tax = case
    try:
        amounts = compute_amounts(lines, currency, prices_include_tax, adjustments)
    except NegativeBase:
        return
    line_sum = sum((line.gross_amount or line.net_amount for line in amounts.lines), Decimal(0))
    for given_, taken in zip(adjustments, amounts.adjustments, strict=True):
        if taken.parts:
            assert taken.amount == given_.amount
        else:
            assert given_.tax_rate is None and line_sum == 0
        assert all(part.amount > 0 for part in taken.parts)
    for group in amounts.tax_breakdown:
        assert group.taxable_amount >= 0 and group.tax_amount >= 0
        lines_net = sum(
            (
                a.net_amount
                for a, p in zip(amounts.lines, lines, strict=True)
                if p.group == group.key
            ),
            Decimal(0),
        )
        parts_net = sum(
            (
                part.net_amount if adjustment.is_charge else -part.net_amount
                for adjustment in amounts.adjustments
                for part in adjustment.parts
                if part.key == group.key
            ),
            Decimal(0),
        )
        assert lines_net + parts_net == group.taxable_amount
    assert amounts.net_amount == sum(
        (group.taxable_amount for group in amounts.tax_breakdown), Decimal(0)
    )
    assert amounts.line_net_amount == sum((line.net_amount for line in amounts.lines), Decimal(0))
    assert amounts.gross_amount == amounts.net_amount + amounts.tax_amount
    signed = sum((a.amount if a.is_charge else -a.amount for a in amounts.adjustments), Decimal(0))
    assert amounts.gross_amount == (
        line_sum + signed if prices_include_tax else line_sum + signed + amounts.tax_amount
    )
    assert {group.key for group in amounts.tax_breakdown} >= {line.group for line in lines}
