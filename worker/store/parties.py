"""The customer, the seller and the purchase as their jsonb columns hold them: the contract's
camelCase names, a part without a value left out. Rows of every release load."""

from __future__ import annotations

from datetime import date
from typing import Any

from worker.domain.parties import Address, Customer, ElectronicAddress, Purchase, Seller


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _address_json(address: Address) -> dict[str, Any]:
    return _present(
        {
            "line1": address.line1,
            "line2": address.line2,
            "city": address.city,
            "postalCode": address.postal_code,
            "region": address.region,
            "country": address.country,
        }
    )


def _address_of(stored: dict[str, Any] | None) -> Address | None:
    if stored is None:
        return None
    return Address(
        stored.get("line1"),
        stored.get("line2"),
        stored.get("city"),
        stored.get("postalCode"),
        stored.get("region"),
        stored.get("country"),
    )


def _electronic_address_json(address: ElectronicAddress | None) -> dict[str, str] | None:
    return None if address is None else {"scheme": address.scheme, "id": address.identifier}


def _electronic_address_of(stored: dict[str, str] | None) -> ElectronicAddress | None:
    return None if stored is None else ElectronicAddress(stored["scheme"], stored["id"])


def customer_json(customer: Customer) -> dict[str, Any]:
    billing = customer.billing_address
    return _present(
        {
            "name": customer.name,
            "customerId": customer.customer_id,
            "email": customer.email,
            "phone": customer.phone,
            "vatId": customer.vat_id,
            "billingAddress": None if billing is None else _address_json(billing),
            "electronicAddress": _electronic_address_json(customer.electronic_address),
            "language": customer.language,
        }
    )


def customer_of(stored: dict[str, Any]) -> Customer:
    return Customer(
        name=stored["name"],
        customer_id=stored.get("customerId"),
        email=stored.get("email"),
        phone=stored.get("phone"),
        vat_id=stored.get("vatId"),
        billing_address=_address_of(stored.get("billingAddress")),
        electronic_address=_electronic_address_of(stored.get("electronicAddress")),
        language=stored.get("language"),
    )


def purchase_json(purchase: Purchase) -> dict[str, Any]:
    delivered = purchase.delivery_date
    address = purchase.delivery_address
    return _present(
        {
            "buyerReference": purchase.buyer_reference,
            "purchaseOrderReference": purchase.purchase_order_reference,
            "deliveryDate": None if delivered is None else delivered.isoformat(),
            "deliveryAddress": None if address is None else _address_json(address),
        }
    )


def purchase_of(stored: dict[str, Any]) -> Purchase:
    delivered = stored.get("deliveryDate")
    return Purchase(
        buyer_reference=stored.get("buyerReference"),
        purchase_order_reference=stored.get("purchaseOrderReference"),
        delivery_date=None if delivered is None else date.fromisoformat(delivered),
        delivery_address=_address_of(stored.get("deliveryAddress")),
    )


def seller_json(seller: Seller) -> dict[str, Any]:
    """The seller's address is stored flat, as the configured seller's settings name it."""
    return _present(
        {
            "name": seller.name,
            "vatId": seller.vat_id,
            "addressLine1": seller.address.line1,
            "city": seller.address.city,
            "postalCode": seller.address.postal_code,
            "country": seller.address.country,
            "registrationId": seller.registration_id,
            "email": seller.email,
            "phone": seller.phone,
            "iban": seller.iban,
            "bic": seller.bic,
            "electronicAddress": _electronic_address_json(seller.electronic_address),
            "language": seller.language,
        }
    )


def seller_of(stored: dict[str, Any]) -> Seller:
    return Seller(
        name=stored["name"],
        vat_id=stored["vatId"],
        address=Address(
            line1=stored["addressLine1"],
            city=stored["city"],
            postal_code=stored["postalCode"],
            country=stored["country"],
        ),
        registration_id=stored.get("registrationId"),
        email=stored.get("email"),
        phone=stored.get("phone"),
        electronic_address=_electronic_address_of(stored.get("electronicAddress")),
        iban=stored.get("iban"),
        bic=stored.get("bic"),
        language=stored.get("language"),
    )
