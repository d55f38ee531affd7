"""The PDF's numbers and amounts are Babel's strings (worker/documents/numbers.py takes
CLDR's patterns apart once instead of having Babel apply them per number)."""

from __future__ import annotations

from copy import copy
from decimal import Decimal

import pytest
from babel import Locale
from babel.numbers import format_decimal
from hypothesis import example, given
from hypothesis import strategies as st

from worker.documents.labels import LABELS
from worker.documents.numbers import currency_format, decimal_format

# Currencies with 0, 2 and 3 ISO 4217 digits, and ones whose symbol is their code.
CURRENCIES = {"EUR": 2, "USD": 2, "GBP": 2, "SEK": 2, "CHF": 2, "JPY": 0, "HUF": 2, "BHD": 3}
# Digits up to 10^15, up to 12 of them after the point (trailing zeros kept: 1.250).
VALUES = st.builds(
    lambda digits, places: Decimal(digits).scaleb(-places),
    st.integers(-(10**15), 10**15),
    st.integers(0, 12),
)


@pytest.mark.parametrize("language", list(LABELS))
@given(value=VALUES)
def test_a_number_is_written_as_babel_writes_it(language: str, value: Decimal) -> None:
    assert decimal_format(language).format(value, all_digits=True) == format_decimal(
        value, locale=language, decimal_quantization=False
    )


@pytest.mark.parametrize("language", list(LABELS))
@pytest.mark.parametrize(("currency", "digits"), list(CURRENCIES.items()))
@given(value=VALUES)
@example(value=Decimal("-0.001"))  # rounds to zero, keeps its sign
@example(value=Decimal("2.5"))  # half to even
@example(value=Decimal("1234567.8950"))
def test_an_amount_and_a_price_are_written_as_babel_writes_them(
    language: str, currency: str, digits: int, value: Decimal
) -> None:
    locale = Locale.parse(language)
    pattern = copy(locale.currency_formats["standard"])
    pattern.frac_prec = (digits, digits)
    written = currency_format(language, currency, digits)

    assert written.format(value) == pattern.apply(
        value, locale, currency=currency, currency_digits=False
    )
    assert written.format(value, all_digits=True) == pattern.apply(
        value, locale, currency=currency, currency_digits=False, decimal_quantization=False
    )
