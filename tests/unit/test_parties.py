"""The customer, the seller and the purchase are values inside the worker and the contract's
shape at its edges: as the order states them, as their columns store them (rows of every
release), and as every outgoing record shows them."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from tests.builders import closed_invoice
from worker.domain.customer import merge_customer
from worker.domain.parties import Address, Customer, ElectronicAddress, Purchase
from worker.domain.rules import RuleViolation
from worker.messages import CustomerData, CustomerDetails, OrderCompleted
from worker.publishing.snapshots import invoice_fields
from worker.store.parties import (
    customer_json,
    customer_of,
    purchase_json,
    purchase_of,
    seller_json,
    seller_of,
)

FULL_CUSTOMER: dict[str, Any] = {
    "name": "Müller Backwaren GmbH",
    "customerId": "C-1042",
    "email": "rechnung@mueller-backwaren.example",
    "phone": "+4915112345678",
    "vatId": "DE123456789",
    "billingAddress": {
        "line1": "Hauptstraße 5",
        "line2": "Hinterhaus",
        "city": "Köln",
        "postalCode": "50667",
        "region": "NRW",
        "country": "DE",
    },
    "electronicAddress": {"scheme": "9930", "id": "DE123456789"},
    "language": "de-AT",
}
STORED_CUSTOMERS = [
    {"name": "Customer"},
    {"name": "Ada", "billingAddress": {}},
    {"name": "Ada", "billingAddress": {"city": "Utrecht"}, "email": "ada@example.com"},
    FULL_CUSTOMER,
]
STORED_PURCHASES = [
    {},
    {"deliveryAddress": {}},
    {
        "buyerReference": "04011000-12345-03",
        "purchaseOrderReference": "PO-88121",
        "deliveryDate": "2026-11-28",
        "deliveryAddress": {"line1": "Weg 2", "city": "Bonn", "postalCode": "53111"},
    },
]
STORED_SELLERS = [
    {
        "name": "Bakkerij de Molen B.V.",
        "vatId": "NL123456789B01",
        "addressLine1": "Molenstraat 1",
        "city": "Utrecht",
        "postalCode": "3511 AA",
        "country": "NL",
    },
    {
        "name": "Bakkerij de Molen B.V.",
        "vatId": "NL123456789B01",
        "addressLine1": "Molenstraat 1",
        "city": "Utrecht",
        "postalCode": "3511 AA",
        "country": "NL",
        "registrationId": "30123456",
        "email": "facturen@demolen.example",
        "phone": "+31301234567",
        "electronicAddress": {"scheme": "0106", "id": "30123456"},
        "iban": "NL91ABNA0417164300",
        "bic": "ABNANL2A",
    },
]


@pytest.mark.parametrize("stored", STORED_CUSTOMERS)
def test_a_stored_customer_loads_and_is_stored_again_as_it_was(stored: dict[str, Any]) -> None:
    assert customer_json(customer_of(stored)) == stored


@pytest.mark.parametrize("stored", STORED_PURCHASES)
def test_a_stored_purchase_loads_and_is_stored_again_as_it_was(stored: dict[str, Any]) -> None:
    assert purchase_json(purchase_of(stored)) == stored


@pytest.mark.parametrize("stored", STORED_SELLERS)
def test_a_stored_seller_loads_and_is_stored_again_as_it_was(stored: dict[str, Any]) -> None:
    assert seller_json(seller_of(stored)) == stored


def test_a_stored_seller_has_its_address_as_one_value() -> None:
    seller = seller_of(STORED_SELLERS[1])

    assert seller.address == Address(
        line1="Molenstraat 1", city="Utrecht", postal_code="3511 AA", country="NL"
    )
    assert seller.electronic_address == ElectronicAddress("0106", "30123456")


@pytest.mark.parametrize("stated", STORED_CUSTOMERS)
def test_the_customer_an_order_states_is_stored_in_the_contracts_shape(
    stated: dict[str, Any],
) -> None:
    data = CustomerData.model_validate(stated)

    assert customer_json(data.customer()) == data.model_dump(mode="json", exclude_none=True)


def test_the_customer_an_order_states_is_the_customer_value() -> None:
    assert CustomerData.model_validate(FULL_CUSTOMER).customer() == Customer(
        name="Müller Backwaren GmbH",
        customer_id="C-1042",
        email="rechnung@mueller-backwaren.example",
        phone="+4915112345678",
        vat_id="DE123456789",
        billing_address=Address("Hauptstraße 5", "Hinterhaus", "Köln", "50667", "NRW", "DE"),
        electronic_address=ElectronicAddress("9930", "DE123456789"),
        language="de-AT",
    )


def test_the_purchase_an_order_states_is_the_purchase_value() -> None:
    order = OrderCompleted.model_validate(
        {
            "orderId": "O-1",
            "currency": "EUR",
            "customer": {"name": "Ada"},
            "rows": [
                {"rowId": "1", "name": "A", "quantity": "1", "unitPrice": "1", "taxRate": "0"}
            ],
            "purchaseOrderReference": "PO-1",
            "deliveryDate": "2026-11-28",
            "deliveryAddress": {"country": "DE"},
        }
    )

    assert order.purchase() == Purchase(
        purchase_order_reference="PO-1",
        delivery_date=date(2026, 11, 28),
        delivery_address=Address(country="DE"),
    )


def test_an_update_changes_the_details_it_carries_and_clears_those_it_sets_to_null() -> None:
    customer = customer_of(FULL_CUSTOMER)
    changes = CustomerDetails.model_validate(
        {"email": None, "billingAddress": {"city": "Bonn"}, "language": "fr"}
    ).changes()

    assert merge_customer(customer, changes) == dataclasses.replace(
        customer, email=None, billing_address=Address(city="Bonn"), language="fr"
    )


def test_an_update_cannot_clear_the_customers_name() -> None:
    changes = CustomerDetails.model_validate({"name": None}).changes()

    with pytest.raises(RuleViolation) as refused:
        merge_customer(Customer("Ada"), changes)
    assert refused.value.field == "customer.name"


@pytest.mark.parametrize("stored", STORED_CUSTOMERS)
def test_every_record_shows_the_customer_as_it_is_stored(stored: dict[str, Any]) -> None:
    invoice = dataclasses.replace(
        closed_invoice([("1", "10.00", "21")]), customer=customer_of(stored)
    )

    shown = invoice_fields(invoice)["customer"]

    assert isinstance(shown, CustomerData)
    assert shown.model_dump(mode="json") == stored
