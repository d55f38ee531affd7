"""The data of a `seller-updated` event: a seller registered, or changed, by its id."""

import unicodedata
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from worker.domain.parties import DEFAULT_SELLER_ID, Address, Seller
from worker.domain.sellers import RegisteredSeller
from worker.domain.tax_categories import has_vat_prefix
from worker.messages.orders import ElectronicAddressData, LanguageTag, SellerId
from worker.messages.values import (
    NOT_ROUNDED,
    CountryCode,
    MessageModel,
    Name,
    Omittable,
    PhoneNumber,
    check_bic,
    check_iban,
)


def _not_the_configured_seller(seller_id: str) -> str:
    if seller_id == DEFAULT_SELLER_ID:
        raise ValueError(
            f"{DEFAULT_SELLER_ID!r} is the configured seller (INVOICER_SELLER_*): register"
            " another id"
        )
    return seller_id


def _with_country_prefix(vat_id: str) -> str:
    if not has_vat_prefix(vat_id):
        raise ValueError("must start with its country prefix, e.g. NL123456789B01")
    return vat_id


_Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _readable_prefix(prefix: str) -> str:
    """Of an invoice number as people read it: no spaces, controls or format characters (a
    bidi override would show another number than the one stated)."""
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in prefix):
        raise ValueError("must have no space, control or format character")
    return prefix


_Prefix = Annotated[
    str, StringConstraints(min_length=1, max_length=20), AfterValidator(_readable_prefix)
]


class SellerAddress(MessageModel):
    line1: _Text
    city: _Text
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: CountryCode


class SellerUpdated(MessageModel):
    """A seller as the sellers topic registers it (docs/contract.md, "Many sellers in one
    worker"), checked as the configured seller is."""

    model_config = ConfigDict(title="SellerUpdatedData")

    seller_id: Annotated[SellerId, AfterValidator(_not_the_configured_seller)]
    name: Name
    vat_id: Annotated[
        str, StringConstraints(min_length=3, max_length=30), AfterValidator(_with_country_prefix)
    ]
    address: SellerAddress
    registration_id: Omittable[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = (
        None
    )
    email: Omittable[EmailStr] = None
    phone: Omittable[PhoneNumber] = None
    electronic_address: Omittable[ElectronicAddressData] = None
    iban: Omittable[Annotated[str, AfterValidator(check_iban)]] = None
    bic: Omittable[Annotated[str, AfterValidator(check_bic)]] = None
    language: Omittable[LanguageTag] = None
    """The documents' language for its customers that state none."""
    payment_terms_days: Omittable[Annotated[int, Field(ge=0, le=365), NOT_ROUNDED]] = None
    """Its invoices' payment terms where the order states none."""
    invoice_number_prefix: _Prefix = "INV"
    credit_note_number_prefix: _Prefix = "CN"

    @model_validator(mode="after")
    def _prefixes_apart(self) -> Self:
        # A seller's invoices and credit notes are numbered in two series (per type): with
        # one prefix they would give the same number twice.
        if self.credit_note_number_prefix == self.invoice_number_prefix:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "same_prefix",
                            "must differ from invoiceNumberPrefix: the credit notes' series"
                            " would repeat the invoices' numbers",
                        ),
                        loc=("creditNoteNumberPrefix",),
                        input=self.credit_note_number_prefix,
                    )
                ],
            )
        return self

    @property
    def order_id(self) -> None:
        """A seller belongs to no order."""
        return None

    def registered(self) -> RegisteredSeller:
        address = self.address
        return RegisteredSeller(
            seller_id=self.seller_id,
            seller=Seller(
                name=self.name,
                vat_id=self.vat_id,
                address=Address(
                    line1=address.line1,
                    city=address.city,
                    postal_code=address.postal_code,
                    country=address.country,
                ),
                registration_id=self.registration_id,
                email=self.email,
                phone=self.phone,
                electronic_address=None
                if self.electronic_address is None
                else self.electronic_address.electronic_address(),
                iban=self.iban,
                bic=self.bic,
                language=self.language,
            ),
            payment_terms_days=self.payment_terms_days,
            invoice_number_prefix=self.invoice_number_prefix,
            credit_note_number_prefix=self.credit_note_number_prefix,
        )
