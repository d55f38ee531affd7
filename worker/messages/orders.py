"""The data of an `order-completed` event."""

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import (
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from worker.domain.money import minor_units
from worker.messages.values import (
    NOT_ROUNDED,
    CountryCode,
    CurrencyCode,
    EasScheme,
    Identifier,
    LineTotal,
    MessageModel,
    Name,
    Note,
    Omittable,
    Percentage,
    PhoneNumber,
    Quantity,
    Text,
    UnitPrice,
    fraction_digits,
    has_vat_prefix,
)

MAX_ROWS = 1000

Delivery = Literal["email", "sms", "none"]
TaxCategory = Literal["S", "Z", "E", "AE", "K", "G", "O"]
"""UNCL5305, the VAT categories of EN 16931 an order may state."""
EXEMPT_CATEGORIES = frozenset({"E", "AE", "K", "G", "O"})
"""Categories that need an exemption reason or code (BR-E-10, BR-AE-10, BR-IC-10, ...)."""
BUYER_VAT_CATEGORIES = frozenset({"AE", "K"})
LanguageTag = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", max_length=35)
]
"""BCP 47, e.g. de or de-AT."""
ExemptionReasonCode = Annotated[str, StringConstraints(pattern=r"^VATEX-[A-Z0-9-]{1,30}$")]


class ElectronicAddress(MessageModel):
    """Where the buyer receives e-invoices: an EAS scheme and an id (BT-49)."""

    scheme: EasScheme
    id: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class BillingAddress(MessageModel):
    line1: Omittable[Text] = None
    line2: Omittable[Text] = None
    city: Omittable[Text] = None
    postal_code: Omittable[Text] = None
    region: Omittable[Text] = None
    country: Omittable[CountryCode] = None


class CustomerDetails(MessageModel):
    """Any of a customer's details; an `update` command changes the ones it carries."""

    name: Omittable[Name] = None
    customer_id: Omittable[Text] = None
    email: Omittable[EmailStr] = None
    phone: Omittable[PhoneNumber] = None
    vat_id: Omittable[Text] = None
    billing_address: Omittable[BillingAddress] = None
    electronic_address: Omittable[ElectronicAddress] = None
    language: Omittable[LanguageTag] = None


class Customer(CustomerDetails):
    name: Name


class OrderRowData(MessageModel):
    row_id: Identifier
    name: Name
    quantity: Quantity
    unit_price: UnitPrice
    tax_rate: Percentage
    sku: Omittable[Annotated[str, StringConstraints(max_length=64)]] = None
    unit: Omittable[Annotated[str, StringConstraints(max_length=16)]] = None
    discount_percent: Percentage = Decimal(0)
    line_total: Omittable[LineTotal] = None
    """Its digits are checked here (the currency's); its value by the domain, which rounds."""
    tax_category: Omittable[TaxCategory] = None
    """None: S when the rate is above 0, else Z."""
    tax_exemption_reason: Omittable[Text] = None
    tax_exemption_reason_code: Omittable[ExemptionReasonCode] = None

    @property
    def category(self) -> str:
        """The stated tax category, else the default for its rate."""
        if self.tax_category is not None:
            return self.tax_category
        return "S" if self.tax_rate > 0 else "Z"

    @property
    def exempt(self) -> bool:
        return self.tax_exemption_reason is not None or self.tax_exemption_reason_code is not None


class Invoicing(MessageModel):
    auto_close: StrictBool = True
    delivery: Delivery = "email"
    payment_terms_days: Omittable[Annotated[int, Field(ge=0, le=365), NOT_ROUNDED]] = None
    """None: the configured default (INVOICER_PAYMENT_TERMS_DAYS)."""
    note: Omittable[Note] = None


class OrderCompleted(MessageModel):
    order_id: Identifier
    order_code: Omittable[Annotated[str, StringConstraints(max_length=20)]] = None
    currency: CurrencyCode
    prices_include_tax: StrictBool = False
    customer: Customer
    rows: list[OrderRowData] = Field(min_length=1, max_length=MAX_ROWS)
    invoicing: Invoicing = Field(default_factory=Invoicing)
    buyer_reference: Omittable[Text] = None
    purchase_order_reference: Omittable[Text] = None
    delivery_date: Omittable[date] = None
    delivery_address: Omittable[BillingAddress] = None
    """None: the billing address is the delivery address."""

    @model_validator(mode="after")
    def _check_rows(self) -> Self:
        errors = [
            *duplicate_row_ids(
                (row.row_id for row in self.rows), lambda index: ("rows", index, "rowId")
            ),
            *self._line_totals_beyond_currency(),
            *self._tax_category_breaches(),
        ]
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    def _line_totals_beyond_currency(self) -> Iterator[InitErrorDetails]:
        digits = minor_units(self.currency)
        for index, row in enumerate(self.rows):
            if row.line_total is not None and fraction_digits(row.line_total) > digits:
                yield InitErrorDetails(
                    type=PydanticCustomError(
                        "line_total_digits",
                        "at most {digits} fraction digits for {currency}",
                        {"digits": digits, "currency": self.currency},
                    ),
                    loc=("rows", index, "lineTotal"),
                    input=str(row.line_total),
                )

    @property
    def delivery_country(self) -> str | None:
        address = self.delivery_address or self.customer.billing_address
        return None if address is None else address.country

    def _tax_category_breaches(self) -> Iterator[InitErrorDetails]:
        """EN 16931's rules for each row's VAT category: the rate it allows, the exemption
        reason it needs (one per category in an order), what it needs of the buyer."""
        exemptions: dict[str, tuple[int, str | None, str | None]] = {}
        for index, row in enumerate(self.rows):
            category = row.category
            if category == "S" and row.tax_rate == 0:
                yield _breach(index, "taxRate", "must be above 0 for tax category S")
            elif category != "S" and row.tax_rate != 0:
                yield _breach(index, "taxRate", f"must be 0 for tax category {category}")
            if category in EXEMPT_CATEGORIES and not row.exempt:
                yield _breach(
                    index,
                    "taxExemptionReason",
                    f"a reason or a taxExemptionReasonCode is required for tax category {category}",
                )
            elif category not in EXEMPT_CATEGORIES and row.exempt:
                yield _breach(
                    index, "taxExemptionReason", f"not allowed for tax category {category}"
                )
            stated = (index, row.tax_exemption_reason, row.tax_exemption_reason_code)
            first = exemptions.setdefault(category, stated)
            if first[1:] != stated[1:]:
                yield _breach(
                    index,
                    "taxExemptionReason",
                    f"differs from row {first[0]}'s: one exemption per tax category",
                )
        categories = {row.category for row in self.rows}
        if "O" in categories and len(categories) > 1:
            index = next(i for i, row in enumerate(self.rows) if row.category != "O")
            yield _breach(
                index, "taxCategory", "an order with tax category O can have no other category"
            )
        needing_vat_id = sorted(categories & BUYER_VAT_CATEGORIES)
        if needing_vat_id and self.customer.vat_id is None:
            yield _error(
                ("customer", "vatId"), f"required for tax category {needing_vat_id[0]}", None
            )
        elif needing_vat_id and not has_vat_prefix(self.customer.vat_id or ""):
            yield _error(
                ("customer", "vatId"),
                f"must start with its country prefix (DE123456789) for tax category "
                f"{needing_vat_id[0]}",
                self.customer.vat_id,
            )
        if "K" in categories:
            if self.delivery_date is None:
                yield _error(("deliveryDate",), "required for tax category K", None)
            if self.delivery_country is None:
                yield _error(
                    ("deliveryAddress", "country"),
                    "required for tax category K (or billingAddress.country)",
                    None,
                )


def _error(loc: tuple[str | int, ...], message: str, value: object) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("tax_category", message), loc=loc, input=value)


def _breach(index: int, field: str, message: str) -> InitErrorDetails:
    return _error(("rows", index, field), message, None)


def duplicate_row_ids(
    row_ids: Iterable[str], location: Callable[[int], tuple[str | int, ...]]
) -> Iterator[InitErrorDetails]:
    """An error for every row id already seen earlier in the list, at its own location."""
    seen: set[str] = set()
    for index, row_id in enumerate(row_ids):
        if row_id in seen:
            yield InitErrorDetails(
                type=PydanticCustomError(
                    "duplicate_row_id", "duplicate rowId '{row_id}'", {"row_id": row_id}
                ),
                loc=location(index),
                input=row_id,
            )
        seen.add(row_id)
