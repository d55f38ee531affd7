"""Numbers and amounts as a language writes them: CLDR's patterns (Babel's), taken apart
once per language and currency. Babel's `NumberPattern.apply` gives the same strings but
looks the locale's symbols up and parses its arguments on every call (~10 µs a number);
a table row has four numbers."""

from __future__ import annotations

import re
from copy import copy
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.numbers import NumberPattern, get_currency_symbol


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """One CLDR number pattern of one language, its currency (if any) filled in."""

    prefixes: tuple[str, str]
    """Before the digits: positive, negative."""
    suffixes: tuple[str, str]
    fraction_digits: tuple[int, int]
    """Fewest and most digits after the decimal symbol."""
    grouping: tuple[int, int]
    """The first group's size (from the right), then every other's."""
    group_symbol: str
    decimal_symbol: str

    def format(self, value: Decimal, *, all_digits: bool = False) -> str:
        """`value` rounded to the pattern's most fraction digits, or with as many as it has
        where `all_digits` (Babel's `decimal_quantization=False`)."""
        negative = int(value.is_signed())
        value = abs(value).normalize()
        fewest, most = self.fraction_digits
        if all_digits:
            exponent = value.as_tuple().exponent
            assert isinstance(exponent, int)
            most = max(most, -exponent)
        whole, _, fraction = f"{value.quantize(Decimal(1).scaleb(-most)):f}".partition(".")
        first, other = self.grouping
        size = first
        groups = ""
        while len(whole) > size:
            groups = self.group_symbol + whole[-size:] + groups
            whole = whole[:-size]
            size = other
        fraction = fraction.ljust(fewest, "0") or "0"
        if most == 0 or (fewest == 0 and int(fraction) == 0):
            fraction = ""
        else:
            fraction = self.decimal_symbol + (fraction[:fewest] + fraction[fewest:].rstrip("0"))
        return self.prefixes[negative] + whole + groups + fraction + self.suffixes[negative]


@cache
def decimal_format(language: str) -> NumberFormat:
    """The language's decimal format (Babel's `format_decimal`)."""
    return _taken_apart(Locale.parse(language), Locale.parse(language).decimal_formats[None])


@cache
def currency_format(language: str, currency: str, digits: int) -> NumberFormat:
    """The language's standard currency format for `currency`, with exactly `digits`
    fraction digits (`currency_digits=False`: the caller's digits, not CLDR's)."""
    locale = Locale.parse(language)
    pattern: NumberPattern = copy(locale.currency_formats["standard"])
    pattern.frac_prec = (digits, digits)
    return _taken_apart(locale, pattern, currency)


def _taken_apart(
    locale: Locale, pattern: NumberPattern, currency: str | None = None
) -> NumberFormat:
    symbols = locale.number_symbols["latn"]

    def affix(text: str) -> str:
        if currency is not None:
            text = text.replace("¤¤", currency.upper())
            text = text.replace("¤", get_currency_symbol(currency, locale))
        return re.sub(r"'([^']*)'", lambda match: match.group(1) or "'", text)

    assert not pattern.scale and not pattern.exp_prec and "@" not in pattern.pattern
    assert pattern.int_prec[0] <= 1
    return NumberFormat(
        prefixes=(affix(pattern.prefix[0]), affix(pattern.prefix[1])),
        suffixes=(affix(pattern.suffix[0]), affix(pattern.suffix[1])),
        fraction_digits=pattern.frac_prec,
        grouping=pattern.grouping,
        group_symbol=symbols["group"],
        decimal_symbol=symbols["decimal"],
    )
