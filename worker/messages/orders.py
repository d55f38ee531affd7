"""The data of an `order-completed` event."""

from collections.abc import Callable, Iterable, Iterator
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
)

MAX_ROWS = 1000

Delivery = Literal["email", "sms", "none"]


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


class Customer(CustomerDetails):
    name: Name


class OrderRow(MessageModel):
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
    rows: list[OrderRow] = Field(min_length=1, max_length=MAX_ROWS)
    invoicing: Invoicing = Field(default_factory=Invoicing)

    @model_validator(mode="after")
    def _check_rows(self) -> Self:
        errors = [
            *duplicate_row_ids(
                (row.row_id for row in self.rows), lambda index: ("rows", index, "rowId")
            ),
            *self._line_totals_beyond_currency(),
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
