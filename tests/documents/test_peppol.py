"""The UBL claims Peppol BIS Billing 3.0 only where it keeps OpenPEPPOL's rules (release
3.0.19, run from tests/documents/rules), and every business buyer with an electronic address
gets the claim (docs/contract.md, "Documents")."""

from __future__ import annotations

import re
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.documents.spread import BUYER, PURCHASE, SELLER, credit_notes, spread_invoice
from tests.documents.validation import RULES, fatal_assertions
from worker.documents.labels import DocumentLanguage
from worker.documents.peppol import (
    CUSTOMIZATION,
    PEPPOL_SCHEMES,
    PROFILE,
    identifier_is_valid,
    peppol_refusal,
)
from worker.documents.ubl import EN16931, ubl_xml
from worker.domain.lifecycle import Invoice

_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"

GERMAN_SELLER: dict[str, Any] = {
    "name": "Müller Backwaren GmbH",
    "vatId": "DE123456789",
    "addressLine1": "Hauptstraße 5",
    "city": "Köln",
    "postalCode": "50667",
    "country": "DE",
    "email": "rechnung@mueller-backwaren.example",
    "phone": "+4922112345678",
    "electronicAddress": {"scheme": "9930", "id": "DE123456789"},
    "iban": "DE89370400440532013000",
}
FRENCH_SELLER: dict[str, Any] = {
    "name": "Boulangerie Dupont SARL",
    "vatId": "FR40303265045",
    "addressLine1": "1 rue de la Paix",
    "city": "Paris",
    "postalCode": "75002",
    "country": "FR",
    "electronicAddress": {"scheme": "0009", "id": "30326504500014"},
}
SELLERS = {"NL": SELLER, "DE": GERMAN_SELLER, "FR": FRENCH_SELLER}


def claims_peppol(ubl: bytes) -> bool:
    root = etree.fromstring(ubl)
    customization = root.findtext(f"{{{_CBC}}}CustomizationID")
    profile = root.findtext(f"{{{_CBC}}}ProfileID")
    if customization == CUSTOMIZATION:
        assert profile == PROFILE
        return True
    assert (customization, profile) == (EN16931, None)
    return False


def assert_valid(invoice: Invoice, reference: str | None) -> bool:
    """The UBL passes EN 16931's rules, and Peppol's where it claims Peppol; the claim."""
    ubl = ubl_xml(invoice, reference)
    assert fatal_assertions(ubl, "ubl") == []
    claimed = claims_peppol(ubl)
    if claimed:
        assert fatal_assertions(ubl, "ubl", "peppol") == []
    return claimed


# Identifiers of the schemes whose format and check digit Peppol checks, made valid.
def _gln(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return digits + str((10 - total % 10) % 10)


def _belgian(digits: str) -> str:
    return digits + f"{97 - int(digits) % 97:02d}"


def _swedish(digits: str) -> str:
    total = sum(
        (2 * int(d) - 9 if 2 * int(d) > 9 else 2 * int(d)) if i % 2 == 0 else int(d)
        for i, d in enumerate(digits)
    )
    return digits + str((10 - total % 10) % 10)


def _digits(count: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=count, max_size=count).filter(lambda d: d[0] != "0")


ELECTRONIC_ADDRESSES = st.one_of(
    st.builds(lambda d: ("0088", _gln(d)), _digits(12)),
    st.builds(lambda d: ("0208", _belgian(d)), _digits(8)),
    st.builds(lambda d: ("0007", _swedish(d)), _digits(9)),
    st.builds(lambda d: ("0184", d), _digits(8)),
    st.builds(lambda d: ("0106", d), _digits(8)),
    st.builds(lambda d: ("0009", d), _digits(14)),
    st.builds(lambda d: ("9930", "DE" + d), _digits(9)),
    st.builds(lambda d: ("9944", "NL" + d + "B01"), _digits(9)),
)
COUNTRIES = ["DE", "NL", "FR", "BE", "AT", "IT", "ES", "FI", "PL", "IE"]
# A business buyer: a name, a postal address complete with street and post code, a VAT
# identifier, an electronic address; references as orders bring them or not.
BUSINESS_BUYERS = st.builds(
    lambda country, digits, address, language: {
        "name": "Acme " + country,
        "vatId": country + digits,
        "language": language,
        "electronicAddress": {"scheme": address[0], "id": address[1]},
        "billingAddress": {
            "line1": "Main Street 1",
            "city": "Capital",
            "postalCode": "1000",
            "country": country,
        },
    },
    st.sampled_from(COUNTRIES),
    _digits(9),
    ELECTRONIC_ADDRESSES,
    st.sampled_from(get_args(DocumentLanguage)),
)
PURCHASES = st.fixed_dictionaries(
    {"deliveryDate": st.just("2026-11-28")},
    optional={
        "buyerReference": st.just("04011000-12345-03"),
        "purchaseOrderReference": st.just("PO-88121"),
    },
)
CATEGORY_SETS = st.sampled_from([["S"], ["Z"], ["E"], ["AE"], ["K"], ["G"], ["S", "Z", "E"]])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customer=BUSINESS_BUYERS,
    seller=st.sampled_from(sorted(SELLERS)),
    categories=CATEGORY_SETS,
    purchase=PURCHASES,
    credit_note=st.booleans(),
    currency=st.sampled_from(["EUR", "JPY", "HUF", "USD"]),
    inclusive=st.booleans(),
    charged=st.booleans(),
)
def test_every_business_buyer_with_an_electronic_address_gets_a_valid_peppol_ubl(
    customer: dict[str, Any],
    seller: str,
    categories: list[str],
    purchase: dict[str, Any],
    credit_note: bool,
    currency: str,
    inclusive: bool,
    charged: bool,
) -> None:
    invoice = spread_invoice(
        categories,
        currency=currency,
        prices_include_tax=inclusive,
        lines=5,
        customer=customer,
        seller=SELLERS[seller],
        purchase=purchase,
        charged=charged,
    )
    reference = None
    if credit_note and not (seller == "DE" and customer["billingAddress"]["country"] == "DE"):
        # (a German credit note to a German buyer states no payment instructions, DE-R-001)
        invoice, reference = credit_notes(invoice)[0], invoice.number

    assert peppol_refusal(invoice, reference) is None
    assert assert_valid(invoice, reference)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customer=BUSINESS_BUYERS,
    seller=st.sampled_from(sorted(SELLERS)),
    categories=st.sampled_from([["S"], ["Z"], ["E"], ["G"], ["O"]]),
    purchase=PURCHASES,
    drop=st.sets(
        st.sampled_from(
            [
                "buyer:electronicAddress",
                "buyer:line1",
                "buyer:postalCode",
                "buyer:vatId",
                "seller:electronicAddress",
                "seller:phone",
                "seller:iban",
                "seller:email",
            ]
        )
    ),
    registration=st.sampled_from([None, "30123456", "00000001234567890123", "KVK-3012"]),
    scheme=st.one_of(st.none(), st.sampled_from(sorted(PEPPOL_SCHEMES))),
)
def test_a_ubl_claims_peppol_only_where_it_passes_peppols_rules(
    customer: dict[str, Any],
    seller: str,
    categories: list[str],
    purchase: dict[str, Any],
    drop: set[str],
    registration: str | None,
    scheme: str | None,
) -> None:
    """Invoices lacking what Peppol asks, here and there: whatever the UBL claims, it keeps."""
    issuer = dict(SELLERS[seller])
    if registration is not None:
        issuer["registrationId"] = registration
    customer = dict(customer, billingAddress=dict(customer["billingAddress"]))
    if scheme is not None:  # any scheme, with a made-up identifier
        customer["electronicAddress"] = {"scheme": scheme, "id": "12345678"}
    for item in drop:
        party, field = item.split(":")
        target = issuer if party == "seller" else customer
        target.pop(field, None)
        target.get("billingAddress", {}).pop(field, None)
    invoice = spread_invoice(
        categories, lines=2, customer=customer, seller=issuer, purchase=purchase
    )

    assert_valid(invoice, None)


def test_the_spread_claims_peppol() -> None:
    """The spread of test_documents (a Dutch seller, a German buyer) claims Peppol: its
    UBLs there are checked against Peppol's rules as well."""
    invoice = spread_invoice(["S", "Z", "E", "AE", "K", "G"], lines=7)

    assert peppol_refusal(invoice, None) is None
    assert all(peppol_refusal(note, invoice.number) is None for note in credit_notes(invoice))


def test_peppols_rules_catch_a_claim_without_the_buyers_electronic_address() -> None:
    ubl = etree.fromstring(ubl_xml(spread_invoice(["S"]), None))
    customer = ubl.find(f"{{{_CAC}}}AccountingCustomerParty/{{{_CAC}}}Party")
    assert customer is not None
    customer.remove(customer.find(f"{{{_CBC}}}EndpointID"))

    failures = fatal_assertions(etree.tostring(ubl), "ubl", "peppol")

    assert any("[PEPPOL-EN16931-R010]" in failure for failure in failures)


@pytest.mark.parametrize(
    ("customer", "reason"),
    [
        ({k: v for k, v in BUYER.items() if k != "electronicAddress"}, "buyer has no electronic"),
        (BUYER | {"electronicAddress": {"scheme": "0088", "id": "5790000435976"}}, "not one"),
        (BUYER | {"electronicAddress": {"scheme": "EM", "id": "a@b.example"}}, "not one"),
    ],
)
def test_without_a_routable_electronic_address_the_ubl_is_plain_en16931(
    customer: dict[str, Any], reason: str
) -> None:
    invoice = spread_invoice(["S"], customer=customer)

    refusal = peppol_refusal(invoice, None)

    assert refusal is not None and reason in refusal
    assert not assert_valid(invoice, None)


def test_a_german_seller_to_a_german_buyer_needs_a_telephone() -> None:
    german_buyer = BUYER | {"vatId": "DE987654321"}
    without_phone = {k: v for k, v in GERMAN_SELLER.items() if k != "phone"}

    assert (
        peppol_refusal(spread_invoice(["S"], seller=GERMAN_SELLER, customer=german_buyer), None)
        is None
    )
    invoice = spread_invoice(["S"], seller=without_phone, customer=german_buyer)
    assert "telephone" in (peppol_refusal(invoice, None) or "")
    assert not assert_valid(invoice, None)


def test_the_buyer_reference_is_the_order_id_without_one() -> None:
    without = {k: v for k, v in PURCHASE.items() if k != "buyerReference"}
    invoice = spread_invoice(["S"], purchase=without)

    ubl = etree.fromstring(ubl_xml(invoice, None))

    assert ubl.findtext(f"{{{_CBC}}}BuyerReference") == invoice.order_id
    assert ubl.findtext(f"{{{_CAC}}}OrderReference/{{{_CBC}}}ID") == "PO-88121"


def test_the_schemes_peppol_routes_are_its_code_list() -> None:
    rules = (RULES / "PEPPOL-EN16931-UBL.sch").read_text()
    listed = re.search(r'<let name="eaid" value="tokenize\(\'([^\']*)\'', rules)

    assert listed is not None
    assert set(listed[1].split()) == PEPPOL_SCHEMES


@pytest.mark.parametrize(
    ("scheme", "identifier", "valid"),
    [
        ("0088", "5790000435975", True),
        ("0088", "5790000435976", False),
        ("0192", "974760673", True),
        ("0192", "974760674", False),
        ("0208", "0203430576", True),
        ("0208", "0203430577", False),
        ("0007", "5560360793", True),
        ("0007", "5560360794", False),
        ("0151", "51824753556", True),
        ("0151", "51824753557", False),
        ("0184", "DK12345678", True),
        ("0184", "1234567", False),
        ("9930", "anything", True),
    ],
)
def test_identifiers_are_checked_as_peppol_checks_them(
    scheme: str, identifier: str, valid: bool
) -> None:
    assert identifier_is_valid(scheme, identifier) is valid
