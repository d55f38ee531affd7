"""The EN 16931 category rules as the domain holds them: pure, over any rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from worker.domain.tax_categories import (
    BUYER_VAT_CATEGORIES,
    EXEMPT_CATEGORIES,
    Subject,
    TaxedRow,
    names_delivery_country,
    names_vat_identifiers,
    stated_rate,
    tax_category_breaches,
)

CATEGORIES = ["S", "Z", "E", "AE", "K", "G", "O"]

rows = st.lists(
    st.builds(
        TaxedRow,
        category=st.sampled_from(CATEGORIES),
        tax_rate=st.sampled_from([Decimal(0), Decimal(7), Decimal(19)]),
        exemption_reason=st.sampled_from([None, "Intra-community supply"]),
        exemption_reason_code=st.sampled_from([None, "VATEX-EU-IC"]),
    ),
    min_size=1,
    max_size=6,
)


@given(
    rows,
    st.sampled_from([None, "DE123456789", "123456789"]),
    st.sampled_from([None, date(2026, 11, 23)]),
    st.sampled_from([None, "AT"]),
)
def test_rows_without_breaches_keep_every_rule(
    taxed: list[TaxedRow], vat_id: str | None, delivered: date | None, country: str | None
) -> None:
    breaches = list(tax_category_breaches(taxed, vat_id, delivered, country))
    if breaches:
        return
    categories = {row.category for row in taxed}
    for row in taxed:
        assert (row.tax_rate > 0) == (row.category == "S")
        assert row.exempt == (row.category in EXEMPT_CATEGORIES)
    assert "O" not in categories or categories == {"O"}
    assert not categories & BUYER_VAT_CATEGORIES or (vat_id or "").startswith("DE")
    assert "K" not in categories or (delivered is not None and country is not None)


@given(rows)
def test_a_row_breach_names_its_row_and_an_order_breach_none(taxed: list[TaxedRow]) -> None:
    for breach in tax_category_breaches(taxed, None, None, None):
        row_subjects = {Subject.RATE, Subject.EXEMPTION, Subject.CATEGORY}
        assert (breach.row is not None) == (breach.subject in row_subjects)
        assert breach.row is None or 0 <= breach.row < len(taxed)


@given(st.sampled_from(CATEGORIES), st.sampled_from([Decimal(0), Decimal(19)]))
def test_an_invoice_states_every_rate_but_one_not_subject_to_vat(
    category: str, rate: Decimal
) -> None:
    assert stated_rate(category, rate) == (None if category == "O" else rate)


@given(st.sets(st.sampled_from(CATEGORIES), min_size=1))
def test_vat_identifiers_are_named_unless_not_subject_to_vat(categories: set[str]) -> None:
    assert names_vat_identifiers(categories) == ("O" not in categories)


@given(st.sets(st.sampled_from(CATEGORIES), min_size=1))
def test_an_intra_community_supply_names_its_delivery_country(categories: set[str]) -> None:
    assert names_delivery_country(categories) == ("K" in categories)
