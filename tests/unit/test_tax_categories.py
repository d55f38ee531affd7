"""Sellers, buyers and tax categories (docs/contract.md): the order's new fields, EN 16931's
rules for them (each breach a validation error naming the field), and tax groups of
(category, rate)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.unit.test_messages import order_data, parsed_order, record, rejected
from worker.domain.amounts import (
    CreditedLine,
    GroupLeft,
    PricedLine,
    TaxTreatment,
    compute_amounts,
    credit_amounts,
)
from worker.settings import Settings
from worker.startup import invalid_settings
from worker.store.parties import seller_json


def row(rate: str = "0", **fields: Any) -> dict[str, Any]:
    return {
        "rowId": "1",
        "name": "Flour",
        "quantity": "2",
        "unitPrice": "10",
        "taxRate": rate,
    } | fields


BUYER = {"name": "Müller GmbH", "vatId": "DE123456789", "billingAddress": {"country": "DE"}}


def test_the_new_order_fields_parse() -> None:
    event = parsed_order(
        record(
            order_data(
                buyerReference="04011000-12345-03",
                purchaseOrderReference="PO-88121",
                deliveryDate="2026-11-28",
                deliveryAddress={"line1": "Dock 4", "city": "Köln", "country": "DE"},
                customer=BUYER
                | {"language": "de", "electronicAddress": {"scheme": "9930", "id": "DE1"}},
                rows=[row(taxCategory="K", taxExemptionReasonCode="VATEX-EU-IC")],
            )
        )
    )

    data = event.data
    assert (data.buyer_reference, data.purchase_order_reference) == (
        "04011000-12345-03",
        "PO-88121",
    )
    assert str(data.delivery_date) == "2026-11-28"
    assert data.delivery_country == "DE"
    assert data.customer.language == "de"
    assert data.rows[0].category == "K"


@pytest.mark.parametrize(("rate", "category"), [("19", "S"), ("0", "Z"), ("0.00", "Z")])
def test_a_row_without_category_has_its_rates_default(rate: str, category: str) -> None:
    assert parsed_order(record(order_data(rows=[row(rate)]))).data.rows[0].category == category


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"taxCategory": "S"}, "rows.0.taxRate", "must be above 0 for tax category S"),
        ({"taxRate": "7", "taxCategory": "Z"}, "rows.0.taxRate", "must be 0 for tax category Z"),
        (
            {"taxRate": "7", "taxCategory": "E", "taxExemptionReason": "Exempt"},
            "rows.0.taxRate",
            "must be 0 for tax category E",
        ),
        (
            {"taxCategory": "E"},
            "rows.0.taxExemptionReason",
            "a reason or a taxExemptionReasonCode is required for tax category E",
        ),
        (
            {"taxCategory": "G"},
            "rows.0.taxExemptionReason",
            "a reason or a taxExemptionReasonCode is required for tax category G",
        ),
        (
            {"taxExemptionReason": "Exempt"},
            "rows.0.taxExemptionReason",
            "not allowed for tax category Z",
        ),
        (
            {"taxCategory": "X"},
            "rows.0.taxCategory",
            "Input should be 'S', 'Z', 'E', 'AE', 'K', 'G' or 'O'",
        ),
        (
            {"taxCategory": "E", "taxExemptionReasonCode": "EU-IC"},
            "rows.0.taxExemptionReasonCode",
            "String should match pattern '^VATEX-[A-Z0-9-]{1,30}$'",
        ),
    ],
)
def test_category_rate_and_exemption_follow_en16931(
    fields: dict[str, Any], path: str, message: str
) -> None:
    rejection = rejected(record(order_data(customer=BUYER, rows=[row(**fields)])))

    assert rejection.errors == {path: [message]}


def test_reverse_charge_and_intra_community_need_the_buyers_vat_id() -> None:
    rows = [row(taxCategory="AE", taxExemptionReason="Reverse charge")]

    rejection = rejected(record(order_data(customer={"name": "Jane"}, rows=rows)))

    assert rejection.errors == {"customer.vatId": ["required for tax category AE"]}


def test_intra_community_needs_a_delivery_date_and_country() -> None:
    rows = [row(taxCategory="K", taxExemptionReasonCode="VATEX-EU-IC")]

    rejection = rejected(record(order_data(customer={"name": "J", "vatId": "DE1"}, rows=rows)))

    assert rejection.errors == {
        "deliveryDate": ["required for tax category K"],
        "deliveryAddress.country": ["required for tax category K (or billingAddress.country)"],
    }


def test_not_subject_to_vat_is_alone_on_an_order() -> None:
    rows = [
        row(taxCategory="O", taxExemptionReason="Not subject"),
        row(rowId="2") | {"rowId": "2"},
    ]

    rejection = rejected(record(order_data(rows=rows)))

    assert rejection.errors == {
        "rows.1.taxCategory": ["an order with tax category O can have no other category"]
    }


def test_a_category_has_one_exemption_in_an_order() -> None:
    rows = [
        row(taxCategory="E", taxExemptionReason="Medical"),
        row(taxCategory="E", taxExemptionReason="Education") | {"rowId": "2"},
    ]

    rejection = rejected(record(order_data(rows=rows)))

    assert rejection.errors == {
        "rows.1.taxExemptionReason": ["differs from row 0's: one exemption per tax category"]
    }


def test_a_buyer_language_is_a_bcp47_tag() -> None:
    rejection = rejected(record(order_data(customer={"name": "J", "language": "German!"})))

    assert list(rejection.errors) == ["customer.language"]


# --- tax groups are (category, rate) ---

EXEMPT = TaxTreatment("E", "Medical care", None)


def test_one_rate_in_two_categories_is_two_groups() -> None:
    lines = [
        PricedLine(Decimal(1), Decimal("10.00"), Decimal(0), Decimal(0)),
        PricedLine(Decimal(1), Decimal("5.00"), Decimal(0), Decimal(0), EXEMPT),
        PricedLine(Decimal(1), Decimal("2.00"), Decimal(0), Decimal("0.0")),
    ]

    amounts = compute_amounts(lines, "EUR", prices_include_tax=False)

    assert [(g.key, str(g.taxable_amount)) for g in amounts.tax_breakdown] == [
        (("E", Decimal(0)), "5.00"),
        (("Z", Decimal(0)), "12.00"),
    ]
    assert amounts.tax_breakdown[0].treatment == EXEMPT


def test_a_credit_note_completes_a_group_of_its_category() -> None:
    lines = [
        CreditedLine(Decimal("5.00"), Decimal(0), EXEMPT),
        CreditedLine(Decimal("3.00"), Decimal(0)),
    ]

    left = {
        ("E", Decimal(0)): GroupLeft(Decimal("5.00"), Decimal("0.01")),
        ("Z", Decimal(0)): GroupLeft(Decimal("3.00"), Decimal("0.00")),
    }
    amounts = credit_amounts(lines, "EUR", False, left, completing={("E", Decimal(0))})

    assert [(g.key, str(g.tax_amount)) for g in amounts.tax_breakdown] == [
        (("E", Decimal(0)), "0.01"),
        (("Z", Decimal(0)), "0.00"),
    ]


# --- the seller ---

SELLER = {
    "INVOICER_SELLER_NAME": "Bakkerij de Molen B.V.",
    "INVOICER_SELLER_VAT_ID": "NL123456789B01",
    "INVOICER_SELLER_ADDRESS_LINE1": "Molenstraat 1",
    "INVOICER_SELLER_CITY": "Utrecht",
    "INVOICER_SELLER_POSTAL_CODE": "3511 AA",
    "INVOICER_SELLER_COUNTRY": "NL",
}


def stored_seller() -> dict[str, Any] | None:
    """The configured seller as each invoice stores it; None: no seller."""
    seller = Settings().seller.as_seller()
    return None if seller is None else seller_json(seller)


def test_without_a_seller_name_there_are_no_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICER_SELLER_CITY", "Utrecht")

    assert stored_seller() is None


def test_a_complete_seller_is_stored_with_the_contracts_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SELLER.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("INVOICER_SELLER_ELECTRONIC_ADDRESS", "0106:12345678")
    monkeypatch.setenv("INVOICER_SELLER_IBAN", "NL91 ABNA 0417 1643 00")

    assert stored_seller() == {
        "name": "Bakkerij de Molen B.V.",
        "vatId": "NL123456789B01",
        "addressLine1": "Molenstraat 1",
        "city": "Utrecht",
        "postalCode": "3511 AA",
        "country": "NL",
        "iban": "NL91ABNA0417164300",
        "electronicAddress": {"scheme": "0106", "id": "12345678"},
    }


@pytest.mark.parametrize(
    ("unset", "changed", "named"),
    [
        (
            "INVOICER_SELLER_VAT_ID",
            {},
            "INVOICER_SELLER_VAT_ID=None is not valid: required when INVOICER_SELLER_NAME is set",
        ),
        (
            "",
            {"INVOICER_SELLER_VAT_ID": "123456789"},
            "INVOICER_SELLER_VAT_ID='123456789' is not valid: must start with its country prefix",
        ),
        (
            "",
            {"INVOICER_SELLER_COUNTRY": "XX"},
            "INVOICER_SELLER_COUNTRY='XX' is not valid: unknown country 'XX'",
        ),
        (
            "",
            {"INVOICER_SELLER_IBAN": "NL00ABNA0417164300"},
            "INVOICER_SELLER_IBAN='NL00ABNA0417164300' is not valid: not a valid IBAN",
        ),
        (
            "",
            {"INVOICER_SELLER_ELECTRONIC_ADDRESS": "gln"},
            "INVOICER_SELLER_ELECTRONIC_ADDRESS='gln' is not valid: expected scheme:id",
        ),
    ],
)
def test_an_incomplete_or_invalid_seller_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, unset: str, changed: dict[str, str], named: str
) -> None:
    for name, value in (SELLER | changed).items():
        if name != unset:
            monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError) as error:
        Settings()

    assert named in str(invalid_settings(error.value))


def test_an_electronic_address_has_a_known_eas_scheme() -> None:
    customer = {"name": "J", "electronicAddress": {"scheme": "1234", "id": "x"}}

    rejection = rejected(record(order_data(customer=customer)))

    assert rejection.errors == {
        "customer.electronicAddress.scheme": [
            "unknown electronic address scheme '1234' (a CEF EAS code such as 0088)"
        ]
    }


def test_reverse_charge_needs_a_vat_id_with_its_country_prefix() -> None:
    rows = [row(taxCategory="AE", taxExemptionReason="Reverse charge")]

    rejection = rejected(
        record(order_data(customer={"name": "J", "vatId": "123456789"}, rows=rows))
    )

    assert rejection.errors == {
        "customer.vatId": ["must start with its country prefix (DE123456789) for tax category AE"]
    }


_ADDRESSES = st.sampled_from(
    [None, {}, {"line1": "Dock 4", "city": "Köln"}, {"country": "DE"}, {"country": "FR"}]
)


@given(delivery=_ADDRESSES, billing=_ADDRESSES)
def test_intra_community_takes_the_country_from_either_address(
    delivery: dict[str, str] | None, billing: dict[str, str] | None
) -> None:
    """BR-IC-12 as the documents read it: the delivery address's country, else the billing
    address's; an order is refused only when neither names one."""
    customer: dict[str, Any] = {"name": "J", "vatId": "DE1"}
    if billing is not None:
        customer["billingAddress"] = billing
    data = order_data(
        customer=customer,
        deliveryDate="2026-11-28",
        rows=[row(taxCategory="K", taxExemptionReasonCode="VATEX-EU-IC")],
    )
    if delivery is not None:
        data["deliveryAddress"] = delivery
    value = record(data)
    named = any(address and "country" in address for address in (delivery, billing))

    if named:
        assert parsed_order(value).data.order_id == data["orderId"]
    else:
        assert rejected(value).errors == {
            "deliveryAddress.country": ["required for tax category K (or billingAddress.country)"]
        }
