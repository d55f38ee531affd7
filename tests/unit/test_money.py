from decimal import Decimal
from fractions import Fraction

import pytest

from worker.domain.money import (
    UnknownCurrencyError,
    format_amount,
    from_minor_units,
    is_invoicing_currency,
    minor_units,
    plain,
    round_half_up,
    to_minor_units,
)


@pytest.mark.parametrize(
    ("currency", "digits"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("BHD", 3), ("CLF", 4)]
)
def test_minor_units_come_from_iso_4217(currency: str, digits: int) -> None:
    assert minor_units(currency) == digits
    assert is_invoicing_currency(currency)


@pytest.mark.parametrize("code", ["XAU", "XDR", "XXX", "XTS"])
def test_codes_without_minor_units_are_not_invoicing_currencies(code: str) -> None:
    assert not is_invoicing_currency(code)
    with pytest.raises(UnknownCurrencyError):
        minor_units(code)


@pytest.mark.parametrize("code", ["ZZZ", "", "EURO", "eur"])
def test_unknown_codes_are_not_invoicing_currencies(code: str) -> None:
    assert not is_invoicing_currency(code)
    with pytest.raises(UnknownCurrencyError):
        minor_units(code)


@pytest.mark.parametrize(
    ("value", "digits", "rounded"),
    [
        (Decimal("2.345"), 2, "2.35"),
        (Decimal("2.5"), 0, "3"),
        (Decimal("-2.5"), 0, "-3"),
        (Decimal("0.0005"), 3, "0.001"),
        (Fraction(5, 1000), 2, "0.01"),
        (Fraction(-5, 1000), 2, "-0.01"),
    ],
)
def test_half_up_at_exactly_half_rounds_away_from_zero(
    value: Decimal | Fraction, digits: int, rounded: str
) -> None:
    assert str(round_half_up(value, digits)) == rounded


@pytest.mark.parametrize(
    ("value", "digits", "rounded"),
    [
        (Decimal("2.3449999"), 2, "2.34"),
        (Fraction(1, 3), 2, "0.33"),
        (Fraction(2, 3), 2, "0.67"),
        (Fraction(-2, 3), 2, "-0.67"),
    ],
)
def test_below_half_rounds_down_and_above_half_rounds_up(
    value: Decimal | Fraction, digits: int, rounded: str
) -> None:
    assert str(round_half_up(value, digits)) == rounded


@pytest.mark.parametrize(
    ("value", "digits", "rounded"),
    [
        (Decimal("3.2"), 2, "3.20"),
        (Decimal("1E+2"), 2, "100.00"),
        (3840, 0, "3840"),
        (7, 2, "7.00"),
        (Fraction(5, 4), 3, "1.250"),
        (Decimal("3839.6"), 0, "3840"),
    ],
)
def test_rounded_value_has_exactly_the_requested_fraction_digits(
    value: Decimal | Fraction | int, digits: int, rounded: str
) -> None:
    result = round_half_up(value, digits)
    assert str(result) == rounded
    assert result.as_tuple().exponent == -digits


def test_rounding_is_exact_beyond_the_default_decimal_precision() -> None:
    # 28 significant digits would first make this 0.005000…, and then round it up.
    value = Decimal("0.004999999999999999999999999999999999999")
    assert round_half_up(value, 2) == Decimal("0.00")
    long_value = Decimal("123456789012345678901234567890.125")
    assert str(round_half_up(long_value, 2)) == "123456789012345678901234567890.13"


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_only_finite_values_are_rounded(value: Decimal) -> None:
    with pytest.raises(ValueError, match="cannot round"):
        round_half_up(value, 2)


@pytest.mark.parametrize(
    ("value", "currency", "written"),
    [
        (Decimal("293.5"), "USD", "293.50"),
        (Decimal("293.50"), "EUR", "293.50"),
        (Decimal("8958"), "JPY", "8958"),
        (Decimal("1.25"), "BHD", "1.250"),
        (Decimal("1.000"), "EUR", "1.00"),
        (Decimal("0"), "EUR", "0.00"),
        (Decimal("1E+2"), "EUR", "100.00"),
    ],
)
def test_amounts_are_written_with_exactly_the_currency_digits(
    value: Decimal, currency: str, written: str
) -> None:
    assert format_amount(value, currency) == written


@pytest.mark.parametrize(
    ("value", "currency"), [(Decimal("1.005"), "EUR"), (Decimal("1.5"), "JPY")]
)
def test_an_unrounded_amount_cannot_be_written(value: Decimal, currency: str) -> None:
    with pytest.raises(ValueError, match="fraction digits"):
        format_amount(value, currency)


def test_writing_an_amount_in_an_unknown_currency_fails() -> None:
    with pytest.raises(UnknownCurrencyError):
        format_amount(Decimal("1.00"), "XXX")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (Decimal("12.050"), "12.050"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.5"), "0.5"),
        (Decimal("9.00"), "9.00"),
        (Decimal("0.000001"), "0.000001"),
    ],
)
def test_quantities_prices_and_percentages_keep_their_digits_in_plain_notation(
    value: Decimal, written: str
) -> None:
    assert plain(value) == written


@pytest.mark.parametrize(
    ("amount", "digits", "units"),
    [
        (Decimal("293.50"), 2, 29350),
        (Decimal("8958"), 0, 8958),
        (Decimal("1.25"), 3, 1250),
        (Decimal("123456789012345678901234567890.12"), 2, 12345678901234567890123456789012),
    ],
)
def test_minor_units_convert_both_ways_exactly(amount: Decimal, digits: int, units: int) -> None:
    assert to_minor_units(amount, digits) == units
    back = from_minor_units(units, digits)
    assert back == amount
    assert back.as_tuple().exponent == -digits


def test_an_amount_with_more_digits_has_no_whole_minor_units() -> None:
    with pytest.raises(ValueError, match="fraction digits"):
        to_minor_units(Decimal("0.001"), 2)
