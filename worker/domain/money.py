"""Money: a currency's minor units, the one rounding rule, and how amounts are written."""

from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from functools import cache

from iso4217 import Currency

# Holds a value of any length, so quantize and scaleb in it never cut a digit. Only for
# operations with an exact result: a division like 1/3 here would exhaust memory.
_UNBOUNDED = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


class UnknownCurrencyError(ValueError):
    """A code that is not an ISO 4217 currency with defined minor units."""


@cache
def minor_units(currency: str) -> int:
    """Digits after the decimal point in the currency's amounts: EUR 2, JPY 0, BHD 3."""
    try:
        exponent = Currency(currency).exponent
    except ValueError:
        raise UnknownCurrencyError(f"{currency!r} is not an ISO 4217 currency") from None
    if exponent is None:
        raise UnknownCurrencyError(f"{currency!r} has no minor units")
    return exponent


def is_invoicing_currency(code: str) -> bool:
    try:
        minor_units(code)
    except UnknownCurrencyError:
        return False
    return True


def round_half_up(value: Decimal | Fraction | int, digits: int) -> Decimal:
    """`value` rounded half away from zero to exactly `digits` fraction digits, and only there."""
    if isinstance(value, Fraction):
        magnitude, remainder = divmod(abs(value.numerator) * 10**digits, value.denominator)
        if 2 * remainder >= value.denominator:
            magnitude += 1
        return from_minor_units(-magnitude if value < 0 else magnitude, digits)
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError(f"cannot round {value}")
    return value.quantize(Decimal((0, (1,), -digits)), ROUND_HALF_UP, _UNBOUNDED)


def to_minor_units(amount: Decimal, digits: int) -> int:
    """The amount as a whole number of minor units; ValueError if it has more digits."""
    scaled = amount.scaleb(digits, _UNBOUNDED)
    units = int(scaled)
    if units != scaled:
        raise ValueError(f"{amount} has more than {digits} fraction digits")
    return units


def from_minor_units(units: int, digits: int) -> Decimal:
    """A whole number of minor units as an amount with exactly `digits` fraction digits."""
    return Decimal(units).scaleb(-digits, _UNBOUNDED)


def format_amount(value: Decimal, currency: str) -> str:
    """The amount with exactly the currency's minor digits ("293.50", "8958", "1.250")."""
    digits = minor_units(currency)
    text = plain(value)
    # What the domain computes has these digits already: as it is, quickly.
    if digits == 0:
        if text.isdigit():
            return text
    elif text[-digits - 1 : -digits] == "." and text[0] != "-":
        return text
    return plain(from_minor_units(to_minor_units(value, digits), digits))


def plain(value: Decimal) -> str:
    """Plain notation keeping the given digits: "12.050" stays "12.050", 1E+2 becomes "100"."""
    return format(value, "f")
