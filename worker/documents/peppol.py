"""Whether an invoice's UBL may claim Peppol BIS Billing 3.0: the worker's own reading of
OpenPEPPOL's rules (release 3.0.19), checked in the tests against the rules themselves
(tests/documents/rules). A UBL that does not claim it is a plain EN 16931 UBL."""

from __future__ import annotations

import re

from worker.domain.en16931 import (
    buyer,
    buyer_address,
    delivery_address,
    invoice_seller,
    seller,
)
from worker.domain.lifecycle import Invoice, InvoiceType
from worker.domain.tax_categories import stated_rate
from worker.messages.values import EAS_SCHEMES

CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

PEPPOL_SCHEMES = EAS_SCHEMES - {
    "0219", "0220", "0242", "0244", "0245", "0246", "0248", "AN", "AQ", "AS", "AU", "EM"
}  # fmt: skip
"""The electronic address schemes Peppol accepts (its code list "eaid"): EN 16931's less
those it does not route."""

# Seller countries whose national rules ask for what the worker does not state (Norway's
# "Foretaksregisteret" and VAT format, Denmark's and Sweden's identifiers, Greece's invoice
# numbering, Iceland's): their invoices get a plain EN 16931 UBL.
_UNSUPPORTED_SELLER_COUNTRIES = frozenset({"NO", "DK", "SE", "IS", "GR", "EL"})
KVK = re.compile(r"[0-9]{8}")
OIN = re.compile(r"[0-9]{20}")


def registration_scheme(country: str, registration_id: str) -> str | None:
    """The ICD scheme of a Dutch seller's registration (NL-R-003): 0106 for a KvK number,
    0190 for an OIN; None for another country's or an unrecognised one."""
    if country != "NL":
        return None
    if KVK.fullmatch(registration_id):
        return "0106"
    if OIN.fullmatch(registration_id):
        return "0190"
    return None


def peppol_refusal(invoice: Invoice, reference_number: str | None) -> str | None:
    """Why the UBL cannot claim Peppol BIS Billing 3.0, or None when it can."""
    issuer, customer = seller(invoice), buyer(invoice)
    for role, party in (("seller", issuer), ("buyer", customer)):
        if party.electronic_address is None:
            return f"the {role} has no electronic address (PEPPOL-EN16931-R010, R020)"
        scheme, identifier = party.electronic_address.scheme, party.electronic_address.identifier
        if scheme not in PEPPOL_SCHEMES or not identifier_is_valid(scheme, identifier):
            return f"the {role}'s electronic address {scheme}:{identifier} is not one Peppol routes"
    seller_country = issuer.address.country
    vat_prefix = invoice_seller(invoice).vat_id[:2]
    if {seller_country, vat_prefix} & _UNSUPPORTED_SELLER_COUNTRIES:
        return f"the national rules of the seller's country ({seller_country}) are not met"
    buyer_country = customer.address.country
    if seller_country == "DE" and buyer_country == "DE":
        return _german_refusal(invoice)
    if seller_country == "NL":
        return _dutch_refusal(invoice, reference_number, buyer_country)
    return None


def _german_refusal(invoice: Invoice) -> str | None:
    """DE-R-*: payment instructions, a seller contact with telephone and email, a rate for
    every VAT group, city and post code of every address."""
    issuer = invoice_seller(invoice)
    if invoice.type is not InvoiceType.INVOICE or not issuer.iban:
        return "a German invoice needs payment instructions (DE-R-001)"
    if not issuer.phone or not issuer.email:
        return "a German seller needs a contact telephone and email (DE-R-006, DE-R-007)"
    groups = invoice.content.amounts.tax_breakdown
    if any(stated_rate(group.treatment.category, group.tax_rate) is None for group in groups):
        return "a German invoice states a VAT rate for every group (DE-R-014)"
    addresses = [buyer_address(invoice), delivery_address(invoice)]
    if any(a is not None and not (a.city and a.postal_code) for a in addresses):
        return "a German invoice's addresses need a city and post code (DE-R-008 to 011)"
    return None


def _dutch_refusal(
    invoice: Invoice, reference_number: str | None, buyer_country: str | None
) -> str | None:
    """NL-R-*: a registration as KvK or OIN, payment means for what is payable, a credit
    note's invoice, a Dutch buyer's full address."""
    issuer = invoice_seller(invoice)
    registration = issuer.registration_id
    if registration and registration_scheme("NL", registration) is None:
        return "a Dutch seller's registration id is neither a KvK nor an OIN number (NL-R-003)"
    if invoice.type is InvoiceType.INVOICE and not issuer.iban:
        return "a Dutch invoice needs payment means (NL-R-007)"
    if invoice.type is InvoiceType.CREDIT_NOTE and reference_number is None:
        return "a Dutch credit note names its invoice (NL-R-001)"
    address = buyer_address(invoice)
    complete = address is not None and address.line1 and address.city and address.postal_code
    if buyer_country == "NL" and not complete:
        return "a Dutch buyer's address needs street, city and post code (NL-R-004)"
    return None


def identifier_is_valid(scheme: str, identifier: str) -> bool:
    """The format and check digit Peppol's rules check for a few identifier schemes
    (PEPPOL-COMMON-R040 to R050); any identifier of another scheme."""
    check = _CHECKS.get(scheme)
    return check is None or check(identifier)


def _gln(value: str) -> bool:
    """GS1: weights 3 and 1 from the right, the check digit completing a multiple of 10."""
    if not value.isascii() or not value.isdigit() or len(value) < 2:
        return False
    digits = [int(d) for d in reversed(value[:-1])]
    total = sum(d * (3 if index % 2 == 0 else 1) for index, d in enumerate(digits))
    return (10 - total % 10) % 10 == int(value[-1])


def _norwegian(value: str) -> bool:
    if not re.fullmatch(r"[0-9]{9}", value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:8], (3, 2, 7, 6, 5, 4, 3, 2), strict=True))
    check = 11 - total % 11
    return check != 10 and check % 11 == int(value[8])


def _danish(value: str) -> bool:
    return re.fullmatch(r"(DK)?[0-9]{8}", value) is not None


def _belgian(value: str) -> bool:
    return re.fullmatch(r"[0-9]{10}", value) is not None and (
        97 - int(value[:8]) % 97 == int(value[8:])
    )


def _swedish(value: str) -> bool:
    """Luhn over the ten digits."""
    if not re.fullmatch(r"[0-9]{10}", value):
        return False
    total = 0
    for index, digit in enumerate(int(d) for d in value):
        doubled = digit * 2 if index % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def _australian(value: str) -> bool:
    if not re.fullmatch(r"[0-9]{11}", value):
        return False
    digits = [int(d) for d in value]
    digits[0] -= 1
    weights = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)
    return sum(d * w for d, w in zip(digits, weights, strict=True)) % 89 == 0


_CHECKS = {
    "0088": _gln,
    "0192": _norwegian,
    "0184": _danish,
    "0208": _belgian,
    "0007": _swedish,
    "0151": _australian,
}
