"""The data of an `order-completed` event."""

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from worker.domain.amounts import TaxTreatment, default_tax_category
from worker.domain.invoice import Adjustment, AdjustmentKind
from worker.domain.money import minor_units
from worker.domain.parties import (
    SELLER_ID,
    Address,
    Customer,
    ElectronicAddress,
    Purchase,
    delivered_to,
)
from worker.domain.reason_codes import ALLOWANCE_REASON_CODES, CHARGE_REASON_CODES
from worker.domain.tax_categories import (
    Subject,
    TaxBreach,
    TaxedRow,
    tax_category_breaches,
)
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
    PaymentAmount,
    Percentage,
    PhoneNumber,
    Quantity,
    Text,
    UnitPrice,
    fraction_digits,
)

MAX_ROWS = 1000
SellerId = Annotated[str, StringConstraints(pattern=f"^{SELLER_ID.pattern}$")]
"""1..64 of A-Z a-z 0-9 . _ -"""
MAX_ADJUSTMENTS = 100

Delivery = Literal["email", "sms", "none"]
TaxCategory = Literal["S", "Z", "E", "AE", "K", "G", "O"]
"""UNCL5305, the VAT categories of EN 16931 an order may state."""
LanguageTag = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", max_length=35)
]
"""BCP 47, e.g. de or de-AT."""
ExemptionReasonCode = Annotated[str, StringConstraints(pattern=r"^VATEX-[A-Z0-9-]{1,30}$")]


class ElectronicAddressData(MessageModel):
    """Where the buyer receives e-invoices: an EAS scheme and an id (BT-49)."""

    model_config = ConfigDict(title="ElectronicAddress")

    scheme: EasScheme
    id: Annotated[str, StringConstraints(min_length=1, max_length=100)]

    def electronic_address(self) -> ElectronicAddress:
        return ElectronicAddress(self.scheme, self.id)


class BillingAddress(MessageModel):
    line1: Omittable[Text] = None
    line2: Omittable[Text] = None
    city: Omittable[Text] = None
    postal_code: Omittable[Text] = None
    region: Omittable[Text] = None
    country: Omittable[CountryCode] = None

    def address(self) -> Address:
        return Address(
            self.line1, self.line2, self.city, self.postal_code, self.region, self.country
        )


class CustomerDetails(MessageModel):
    """Any of a customer's details; an `update` command changes the ones it carries."""

    name: Omittable[Name] = None
    customer_id: Omittable[Text] = None
    email: Omittable[EmailStr] = None
    phone: Omittable[PhoneNumber] = None
    vat_id: Omittable[Text] = None
    billing_address: Omittable[BillingAddress] = None
    electronic_address: Omittable[ElectronicAddressData] = None
    language: Omittable[LanguageTag] = None

    def changes(self) -> dict[str, Any]:
        """The details it carries, by the domain's attribute names; None for one it clears."""
        return self._details(self.model_fields_set)

    def _details(self, names: Iterable[str]) -> dict[str, Any]:
        return {name: _domain_value(getattr(self, name)) for name in names}


def _domain_value(detail: object) -> object:
    if isinstance(detail, BillingAddress):
        return detail.address()
    if isinstance(detail, ElectronicAddressData):
        return detail.electronic_address()
    return detail


class CustomerData(CustomerDetails):
    model_config = ConfigDict(title="Customer")

    name: Name

    def customer(self) -> Customer:
        """The customer value: its attributes are this model's fields, by the same names."""
        return Customer(**self._details(type(self).model_fields))


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
        return default_tax_category(self.tax_rate)


def _coded(codes: frozenset[str], code_list: str) -> Callable[[str], str]:
    def check(code: str) -> str:
        if code not in codes:
            raise PydanticCustomError(
                "reason_code",
                "{code} is not a {code_list} code EN 16931 allows",
                {"code": code, "code_list": code_list},
            )
        return code

    return check


AllowanceReasonCode = Annotated[str, AfterValidator(_coded(ALLOWANCE_REASON_CODES, "UNCL5189"))]
ChargeReasonCode = Annotated[str, AfterValidator(_coded(CHARGE_REASON_CODES, "UNCL7161"))]


class AdjustmentData(MessageModel):
    """What an order-level allowance or charge states (docs/contract.md, "Order-level charges
    and allowances")."""

    kind: ClassVar[AdjustmentKind]
    reason: Name
    amount: PaymentAmount
    """Net, or gross when prices include tax; the currency's digits at most."""
    tax_rate: Omittable[Percentage] = None
    """None: split over the invoice's tax groups."""
    tax_category: Omittable[TaxCategory] = None
    tax_exemption_reason: Omittable[Text] = None
    tax_exemption_reason_code: Omittable[ExemptionReasonCode] = None

    @property
    def identifier(self) -> str:
        """Its chargeId or allowanceId."""
        raise NotImplementedError

    @property
    def code(self) -> str | None:
        """Its reasonCode."""
        raise NotImplementedError

    def adjustment(self, position: int) -> Adjustment:
        treatment = None
        if self.tax_rate is not None:
            treatment = TaxTreatment(
                self.tax_category or default_tax_category(self.tax_rate),
                self.tax_exemption_reason,
                self.tax_exemption_reason_code,
            )
        return Adjustment(
            self.kind,
            self.identifier,
            self.reason,
            self.amount,
            self.tax_rate,
            treatment,
            self.code,
            position,
        )


class AllowanceData(AdjustmentData):
    model_config = ConfigDict(title="Allowance")
    kind = AdjustmentKind.ALLOWANCE

    allowance_id: Identifier
    reason_code: Omittable[AllowanceReasonCode] = None

    @property
    def identifier(self) -> str:
        return self.allowance_id

    @property
    def code(self) -> str | None:
        return self.reason_code


class ChargeData(AdjustmentData):
    model_config = ConfigDict(title="Charge")
    kind = AdjustmentKind.CHARGE

    charge_id: Identifier
    reason_code: Omittable[ChargeReasonCode] = None

    @property
    def identifier(self) -> str:
        return self.charge_id

    @property
    def code(self) -> str | None:
        return self.reason_code


class Invoicing(MessageModel):
    auto_close: StrictBool = True
    delivery: Delivery = "email"
    payment_terms_days: Omittable[Annotated[int, Field(ge=0, le=365), NOT_ROUNDED]] = None
    """None: the configured default (INVOICER_PAYMENT_TERMS_DAYS)."""
    note: Omittable[Note] = None


class OrderCompleted(MessageModel):
    order_id: Identifier
    order_code: Omittable[Annotated[str, StringConstraints(max_length=20)]] = None
    seller_id: Omittable[SellerId] = None
    """Who issues its invoices (a registered seller, or "default"); None: the configured
    seller, if any."""
    currency: CurrencyCode
    prices_include_tax: StrictBool = False
    customer: CustomerData
    rows: list[OrderRowData] = Field(min_length=1, max_length=MAX_ROWS)
    allowances: list[AllowanceData] = Field(default_factory=list, max_length=MAX_ADJUSTMENTS)
    charges: list[ChargeData] = Field(default_factory=list, max_length=MAX_ADJUSTMENTS)
    invoicing: Invoicing = Field(default_factory=Invoicing)
    buyer_reference: Omittable[Text] = None
    purchase_order_reference: Omittable[Text] = None
    delivery_date: Omittable[date] = None
    delivery_address: Omittable[BillingAddress] = None
    """None: the billing address is the delivery address."""

    def purchase(self) -> Purchase:
        return Purchase(
            buyer_reference=self.buyer_reference,
            purchase_order_reference=self.purchase_order_reference,
            delivery_date=self.delivery_date,
            delivery_address=None
            if self.delivery_address is None
            else self.delivery_address.address(),
        )

    @model_validator(mode="after")
    def _check_rows(self) -> Self:
        errors = [
            *duplicate_ids(
                (row.row_id for row in self.rows), lambda index: ("rows", index, "rowId")
            ),
            *duplicate_ids(
                (allowance.allowance_id for allowance in self.allowances),
                lambda index: ("allowances", index, "allowanceId"),
                "allowanceId",
            ),
            *duplicate_ids(
                (charge.charge_id for charge in self.charges),
                lambda index: ("charges", index, "chargeId"),
                "chargeId",
            ),
            *self._line_totals_beyond_currency(),
            *self._adjustments_beyond_currency(),
            *self._categories_without_rate(),
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
    def stated_adjustments(self) -> list[tuple[str, int, AdjustmentData]]:
        """Its allowances and charges, each with where it is in the message."""
        return [
            *(("allowances", index, a) for index, a in enumerate(self.allowances)),
            *(("charges", index, c) for index, c in enumerate(self.charges)),
        ]

    def adjustments(self) -> list[Adjustment]:
        """Its allowances and charges, each at its position in its list."""
        return [stated.adjustment(index) for _, index, stated in self.stated_adjustments]

    def _adjustments_beyond_currency(self) -> Iterator[InitErrorDetails]:
        digits = minor_units(self.currency)
        for field, index, stated in self.stated_adjustments:
            if fraction_digits(stated.amount) > digits:
                yield InitErrorDetails(
                    type=PydanticCustomError(
                        "amount_digits",
                        "at most {digits} fraction digits for {currency}",
                        {"digits": digits, "currency": self.currency},
                    ),
                    loc=(field, index, "amount"),
                    input=str(stated.amount),
                )

    def _categories_without_rate(self) -> Iterator[InitErrorDetails]:
        """Without a rate an adjustment is split over the invoice's groups: it has no
        category of its own."""
        for field, index, stated in self.stated_adjustments:
            if stated.tax_rate is not None:
                continue
            for name in ("tax_category", "tax_exemption_reason", "tax_exemption_reason_code"):
                if getattr(stated, name) is not None:
                    yield InitErrorDetails(
                        type=PydanticCustomError(
                            "needs_tax_rate",
                            "only with a taxRate: without one the amount is split over the "
                            "invoice's tax groups",
                        ),
                        loc=(field, index, to_camel(name)),
                        input=getattr(stated, name),
                    )

    @property
    def delivery_country(self) -> str | None:
        billing = self.customer.billing_address
        address = delivered_to(
            None if self.delivery_address is None else self.delivery_address.address(),
            None if billing is None else billing.address(),
        )
        return None if address is None else address.country

    def _tax_category_breaches(self) -> Iterator[InitErrorDetails]:
        """The domain's EN 16931 rules for the rows' VAT categories, each breach at its field."""
        rows = [
            TaxedRow(
                row.category, row.tax_rate, row.tax_exemption_reason, row.tax_exemption_reason_code
            )
            for row in self.rows
        ]
        rated = [
            (field, index, stated)
            for field, index, stated in self.stated_adjustments
            if stated.tax_rate is not None
        ]
        rows.extend(
            TaxedRow(
                stated.tax_category or default_tax_category(stated.tax_rate),
                stated.tax_rate,
                stated.tax_exemption_reason,
                stated.tax_exemption_reason_code,
            )
            for _, _, stated in rated
            if stated.tax_rate is not None
        )
        for breach in tax_category_breaches(
            rows, self.customer.vat_id, self.delivery_date, self.delivery_country
        ):
            loc, value = self._place(breach, rated)
            yield InitErrorDetails(
                type=PydanticCustomError("tax_category", breach.message), loc=loc, input=value
            )

    def _place(
        self, breach: TaxBreach, rated: list[tuple[str, int, AdjustmentData]]
    ) -> tuple[tuple[str | int, ...], object]:
        """Where a breach is in the message (its rows, then its rated adjustments), and the
        value it reports."""
        if breach.row is not None and breach.row >= len(self.rows):
            field, index, _ = rated[breach.row - len(self.rows)]
            return (field, index, _ROW_FIELDS[breach.subject]), None
        if breach.row is not None:
            return ("rows", breach.row, _ROW_FIELDS[breach.subject]), None
        if breach.subject is Subject.BUYER_VAT_ID:
            return ("customer", "vatId"), self.customer.vat_id
        if breach.subject is Subject.DELIVERY_DATE:
            return ("deliveryDate",), None
        return ("deliveryAddress", "country"), None


_ROW_FIELDS = {
    Subject.RATE: "taxRate",
    Subject.EXEMPTION: "taxExemptionReason",
    Subject.CATEGORY: "taxCategory",
}


def duplicate_ids(
    ids: Iterable[str], location: Callable[[int], tuple[str | int, ...]], name: str = "rowId"
) -> Iterator[InitErrorDetails]:
    """An error for every id already seen earlier in the list, at its own location."""
    seen: set[str] = set()
    for index, identifier in enumerate(ids):
        if identifier in seen:
            yield InitErrorDetails(
                type=PydanticCustomError(
                    "duplicate_id", "duplicate {name} '{id}'", {"name": name, "id": identifier}
                ),
                loc=location(index),
                input=identifier,
            )
        seen.add(identifier)


def _unique_charge_ids(charge_ids: list[str]) -> list[str]:
    errors = list(duplicate_ids(charge_ids, lambda index: (index,), "chargeId"))
    if errors:
        raise ValidationError.from_exception_data("charges", errors)
    return charge_ids


ChargeIds = Annotated[
    list[Identifier], Field(max_length=MAX_ADJUSTMENTS), AfterValidator(_unique_charge_ids)
]
"""Order-level charges to credit whole (e.g. shipping), by chargeId, each once."""
