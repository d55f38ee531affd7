"""Who an invoice is between and what the buyer stated about the purchase: the customer it is
addressed to, the seller who issues it, their addresses. Values, as the invoice keeps them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address; an order may state any part of it, or none."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    country: str | None = None
    """ISO 3166-1 alpha-2."""


NO_ADDRESS = Address()
"""An address that states nothing."""


def delivered_to(delivery: Address | None, billing: Address | None) -> Address | None:
    """The address that names the country the goods went to (BR-IC-12): the delivery address
    when it names one, else the billing address."""
    if delivery is not None and delivery.country is not None:
        return delivery
    return billing


@dataclass(frozen=True, slots=True)
class ElectronicAddress:
    """Where a party receives e-invoices: a CEF EAS scheme and an id within it."""

    scheme: str
    identifier: str


@dataclass(frozen=True, slots=True)
class Customer:
    """The buyer an invoice is addressed to, as the order (or a later `update`) states it."""

    name: str
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    vat_id: str | None = None
    billing_address: Address | None = None
    electronic_address: ElectronicAddress | None = None
    language: str | None = None
    """BCP 47 (de, de-AT): the language of its documents."""


DEFAULT_SELLER_ID = "default"
"""The configured seller's id (INVOICER_SELLER_*) among the registered sellers."""
SELLER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""What a seller id is (docs/contract.md, "Many sellers in one worker")."""


@dataclass(frozen=True, slots=True)
class Seller:
    """Who issues an invoice, as it was when the invoice was made. Its address states at least
    line1, city, postal code and country; what a seller may add later has a default."""

    name: str
    vat_id: str
    address: Address
    registration_id: str | None = None
    email: str | None = None
    phone: str | None = None
    electronic_address: ElectronicAddress | None = None
    iban: str | None = None
    bic: str | None = None
    language: str | None = None
    """A registered seller's: its documents' language for customers that state none."""


@dataclass(frozen=True, slots=True)
class Purchase:
    """What the buyer stated about the purchase, for the documents."""

    buyer_reference: str | None = None
    purchase_order_reference: str | None = None
    delivery_date: date | None = None
    delivery_address: Address | None = None
    """None: the billing address is the delivery address."""
