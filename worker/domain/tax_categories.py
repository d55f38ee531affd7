"""EN 16931's rules for the VAT categories an order states: the rate each category allows,
the exemption reason it needs, what it needs of the buyer and the delivery, and what an
invoice of a category states. Pure functions over the domain's values; the order message
reports their breaches where its fields are (worker.messages.orders), the documents lay out
what these functions decide (worker.documents)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from iso3166 import countries_by_alpha2

NOT_SUBJECT_TO_VAT = "O"
"""Outside the scope of VAT: no other category beside it, no rate, no VAT identifiers."""
INTRA_COMMUNITY_SUPPLY = "K"
"""Needs the delivery's date and country (BR-IC-11, BR-IC-12)."""
EXEMPT_CATEGORIES = frozenset({"E", "AE", "K", "G", "O"})
"""Categories that need an exemption reason or code (BR-E-10, BR-AE-10, BR-IC-10, ...)."""
BUYER_VAT_CATEGORIES = frozenset({"AE", "K"})
"""Categories that need the buyer's VAT identifier (BR-AE-2, BR-IC-2)."""
_VAT_PREFIXES_BEYOND_ISO = frozenset({"EL", "XI"})  # Greece, Northern Ireland


def has_vat_prefix(vat_id: str) -> bool:
    """Whether a VAT identifier starts with its country's prefix, as EN 16931 needs it
    (BR-CO-9): DE123456789, EL123456789."""
    prefix = vat_id[:2]
    return len(vat_id) > 2 and (prefix in countries_by_alpha2 or prefix in _VAT_PREFIXES_BEYOND_ISO)


def stated_rate(category: str, tax_rate: Decimal) -> Decimal | None:
    """The rate an invoice states for a line or group of the category: none for one not
    subject to VAT (BR-O-05, BR-O-09)."""
    return None if category == NOT_SUBJECT_TO_VAT else tax_rate


def names_vat_identifiers(categories: Collection[str]) -> bool:
    """Whether an invoice of these categories may name VAT identifiers: not one not subject
    to VAT (BR-O-02)."""
    return NOT_SUBJECT_TO_VAT not in categories


def names_delivery_country(categories: Collection[str]) -> bool:
    """Whether an invoice of these categories must name where the goods went, the billing
    address when no other is stated: an intra-community supply (BR-IC-12)."""
    return INTRA_COMMUNITY_SUPPLY in categories


class Subject(StrEnum):
    """What a breach is about: a row's rate, exemption or category, or the order's buyer
    VAT identifier, delivery date or delivery country."""

    RATE = "rate"
    EXEMPTION = "exemption"
    CATEGORY = "category"
    BUYER_VAT_ID = "buyer-vat-id"
    DELIVERY_DATE = "delivery-date"
    DELIVERY_COUNTRY = "delivery-country"


@dataclass(frozen=True, slots=True)
class TaxedRow:
    """What a row states about its VAT."""

    category: str
    tax_rate: Decimal
    exemption_reason: str | None
    exemption_reason_code: str | None

    @property
    def exempt(self) -> bool:
        return self.exemption_reason is not None or self.exemption_reason_code is not None


@dataclass(frozen=True, slots=True)
class TaxBreach:
    subject: Subject
    message: str
    row: int | None = None
    """The row's index, for a breach of one row."""


def tax_category_breaches(
    rows: Sequence[TaxedRow],
    buyer_vat_id: str | None,
    delivery_date: date | None,
    delivery_country: str | None,
) -> Iterator[TaxBreach]:
    """Each row's category: the rate it allows, the exemption reason it needs (one per
    category in an order); then what the order's categories need of the buyer and the
    delivery."""
    exemptions: dict[str, tuple[int, str | None, str | None]] = {}
    for index, row in enumerate(rows):
        category = row.category
        if category == "S" and row.tax_rate == 0:
            yield TaxBreach(Subject.RATE, "must be above 0 for tax category S", index)
        elif category != "S" and row.tax_rate != 0:
            yield TaxBreach(Subject.RATE, f"must be 0 for tax category {category}", index)
        if category in EXEMPT_CATEGORIES and not row.exempt:
            yield TaxBreach(
                Subject.EXEMPTION,
                f"a reason or a taxExemptionReasonCode is required for tax category {category}",
                index,
            )
        elif category not in EXEMPT_CATEGORIES and row.exempt:
            yield TaxBreach(Subject.EXEMPTION, f"not allowed for tax category {category}", index)
        stated = (index, row.exemption_reason, row.exemption_reason_code)
        first = exemptions.setdefault(category, stated)
        if first[1:] != stated[1:]:
            yield TaxBreach(
                Subject.EXEMPTION,
                f"differs from row {first[0]}'s: one exemption per tax category",
                index,
            )
    categories = {row.category for row in rows}
    if NOT_SUBJECT_TO_VAT in categories and len(categories) > 1:
        index = next(i for i, row in enumerate(rows) if row.category != NOT_SUBJECT_TO_VAT)
        yield TaxBreach(
            Subject.CATEGORY,
            f"an order with tax category {NOT_SUBJECT_TO_VAT} can have no other category",
            index,
        )
    needing_vat_id = sorted(categories & BUYER_VAT_CATEGORIES)
    if needing_vat_id and buyer_vat_id is None:
        yield TaxBreach(Subject.BUYER_VAT_ID, f"required for tax category {needing_vat_id[0]}")
    elif needing_vat_id and not has_vat_prefix(buyer_vat_id or ""):
        yield TaxBreach(
            Subject.BUYER_VAT_ID,
            f"must start with its country prefix (DE123456789) for tax category "
            f"{needing_vat_id[0]}",
        )
    if INTRA_COMMUNITY_SUPPLY in categories:
        if delivery_date is None:
            yield TaxBreach(Subject.DELIVERY_DATE, "required for tax category K")
        if delivery_country is None:
            yield TaxBreach(
                Subject.DELIVERY_COUNTRY, "required for tax category K (or billingAddress.country)"
            )
