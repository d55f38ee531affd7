"""The value types shared by the messages: exact decimals, codes, phone numbers, bounded texts."""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from iso3166 import countries_by_alpha2
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from worker.domain.money import is_invoicing_currency


class MessageModel(BaseModel):
    """Base of every message body: camelCase on the wire, snake_case in Python, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=True,
        # In the serialization schema a field with a default is always written, so required.
        json_schema_serialization_defaults_required=True,
    )


_T = TypeVar("_T")


def is_omitted(value: object) -> bool:
    """Whether an optional field is left out of the JSON: it is when it has no value."""
    return value is None


Omittable = Annotated[_T | None, Field(exclude_if=is_omitted)]
"""An optional field (`?` in the contract): absent from the JSON rather than null."""


MAX_INTEGER_DIGITS = 12
MAX_FRACTION_DIGITS = 6
MAX_WHOLE_NUMBER = 10**MAX_INTEGER_DIGITS - 1
"""The largest whole number a message carries (a version, a number of days)."""
_DECIMAL_TEXT = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_ONE = Decimal(1)


def _exponent(value: Decimal) -> int:
    """The exponent as written: -3 for 12.050, 2 for 1E+2 (finite values). Read from its text,
    which takes half the time of as_tuple(): this runs for every number of a record."""
    mantissa, _, power = str(value).partition("E")
    return int(power or 0) - len(mantissa.partition(".")[2])


def fraction_digits(value: Decimal) -> int:
    """Digits after the decimal point as written: 3 for 12.050, 0 for 100 (finite values)."""
    return max(0, -_exponent(value))


def _as_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        try:
            return Decimal(value)
        except InvalidOperation:  # an exponent beyond what Decimal can hold
            pass
    # A JSON number with a fraction or an exponent arrives here as a float from pydantic's
    # own parser; parse_event then reads the record again, exactly (see parsing.py).
    raise PydanticCustomError("decimal_parsing", 'must be a decimal number such as "12.05"')


_NOT_FINITE = "must be a finite number"
TOO_MANY_INTEGER_DIGITS = f"at most {MAX_INTEGER_DIGITS} integer digits"
TOO_MANY_FRACTION_DIGITS = f"at most {MAX_FRACTION_DIGITS} fraction digits"


def beyond_range(number: Decimal) -> str | None:
    """Why a number is beyond the contract's range (at most 12 integer and 6 fraction
    digits), or None when it is within. Quick whatever the value: 1e999999999 is."""
    if not number.is_finite():
        return _NOT_FINITE
    if number and number.adjusted() >= MAX_INTEGER_DIGITS:  # adjusted: 2 for 123.4
        return TOO_MANY_INTEGER_DIGITS
    if fraction_digits(number) > MAX_FRACTION_DIGITS:
        return TOO_MANY_FRACTION_DIGITS
    return None


@dataclass(frozen=True, slots=True)
class ExactDecimal:
    """A decimal read exactly as given, a string ("12.050") or a JSON number, never a float.

    At most 12 integer and 6 fraction digits; the digits given are kept ("12.050" stays
    12.050), an exponent is written out (1E+2 becomes 100), and the bounds are checked.
    """

    gt: Decimal | None = None
    ge: Decimal | None = None
    le: Decimal | None = None

    def validate(self, value: object) -> Decimal:
        number = _as_decimal(value)
        if (problem := beyond_range(number)) is not None:
            raise PydanticCustomError("decimal_range", problem)
        if _exponent(number) > 0:
            number = number.quantize(_ONE)  # plain notation: 1E+2 becomes 100
        if not number:
            number = number.copy_abs()  # "-0.00" is 0.00
        self._check_bounds(number)
        return number

    def _check_bounds(self, number: Decimal) -> None:
        if self.gt is not None and not number > self.gt:
            raise PydanticCustomError("greater_than", f"must be greater than {self.gt}")
        if self.ge is not None and not number >= self.ge:
            raise PydanticCustomError("greater_than_equal", f"must be at least {self.ge}")
        if self.le is not None and not number <= self.le:
            raise PydanticCustomError("less_than_equal", f"must be at most {self.le}")

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate,
            serialization=core_schema.to_string_ser_schema(when_used="json-unless-none"),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        number: dict[str, Any] = {"type": "number"}
        if self.gt is not None:
            number["exclusiveMinimum"] = int(self.gt)
        if self.ge is not None:
            number["minimum"] = int(self.ge)
        if self.le is not None:
            number["maximum"] = int(self.le)
        return {
            "anyOf": [{"type": "string", "pattern": f"^{_DECIMAL_TEXT.pattern}$"}, number],
            "description": (
                "A decimal, preferably as a string; JSON numbers are read exactly. At most "
                f"{MAX_INTEGER_DIGITS} integer and {MAX_FRACTION_DIGITS} fraction digits."
            ),
        }


def _not_rounded(value: object) -> object:
    # pydantic's own parser reads a JSON number with a fraction or an exponent as a float,
    # rounded (1e-999999999 is 0.0); parse_event then reads the record again, exactly.
    if isinstance(value, float):
        raise PydanticCustomError("whole_number", "must be a whole number")
    return value


NOT_ROUNDED = BeforeValidator(_not_rounded)
"""For a whole number (a version, a number of days), after its bounds (which then stay in its
JSON Schema): `Annotated[int, Field(ge=0), NOT_ROUNDED]`."""

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)

Quantity = Annotated[Decimal, ExactDecimal(gt=_ZERO)]
UnitPrice = Annotated[Decimal, ExactDecimal(ge=_ZERO)]
Percentage = Annotated[Decimal, ExactDecimal(ge=_ZERO, le=_HUNDRED)]
LineTotal = Annotated[Decimal, ExactDecimal()]
PaymentAmount = Annotated[Decimal, ExactDecimal(gt=_ZERO)]


def _check_currency(code: str) -> str:
    if not is_invoicing_currency(code):
        raise PydanticCustomError(
            "currency",
            "unknown currency '{code}' (an ISO 4217 code with minor units is required)",
            {"code": code},
        )
    return code


def _check_country(code: str) -> str:
    if code not in countries_by_alpha2:
        raise PydanticCustomError(
            "country",
            "unknown country '{code}' (an ISO 3166-1 alpha-2 code is required)",
            {"code": code},
        )
    return code


_E164 = re.compile(r"\+[1-9]\d{1,14}")


def check_phone(number: str) -> str:
    if not _E164.fullmatch(number):
        raise PydanticCustomError("phone", "must be an E.164 phone number such as +4915112345678")
    return number


CurrencyCode = Annotated[
    str,
    AfterValidator(_check_currency),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[A-Z]{3}$",
            "description": "ISO 4217 currency code with minor units (not XAU, XDR, XXX, ...)",
        }
    ),
]
CountryCode = Annotated[
    str,
    AfterValidator(_check_country),
    WithJsonSchema(
        {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"}
    ),
]
PhoneNumber = Annotated[
    str,
    AfterValidator(check_phone),
    WithJsonSchema({"type": "string", "pattern": f"^{_E164.pattern}$", "description": "E.164"}),
]

# The CEF Electronic Address Scheme codes EN 16931 accepts for an electronic address
# (BR-CL-25), as the CEN/TC 434 validation artefacts list them.
EAS_SCHEMES = frozenset(
    {
        "0002",
        "0007",
        "0009",
        "0037",
        "0060",
        "0088",
        "0096",
        "0097",
        "0106",
        "0130",
        "0135",
        "0142",
        "0147",
        "0151",
        "0154",
        "0158",
        "0170",
        "0177",
        "0183",
        "0184",
        "0188",
        "0190",
        "0191",
        "0192",
        "0193",
        "0194",
        "0195",
        "0196",
        "0198",
        "0199",
        "0200",
        "0201",
        "0202",
        "0203",
        "0204",
        "0205",
        "0208",
        "0209",
        "0210",
        "0211",
        "0212",
        "0213",
        "0215",
        "0216",
        "0217",
        "0218",
        "0219",
        "0220",
        "0221",
        "0225",
        "0230",
        "0235",
        "0240",
        "0244",
        "0242",
        "0245",
        "0246",
        "0248",
        "9910",
        "9913",
        "9914",
        "9915",
        "9918",
        "9919",
        "9920",
        "9922",
        "9923",
        "9924",
        "9925",
        "9926",
        "9927",
        "9928",
        "9929",
        "9930",
        "9931",
        "9932",
        "9933",
        "9934",
        "9935",
        "9936",
        "9937",
        "9938",
        "9939",
        "9940",
        "9941",
        "9942",
        "9943",
        "9944",
        "9945",
        "9946",
        "9947",
        "9948",
        "9949",
        "9950",
        "9951",
        "9952",
        "9953",
        "9957",
        "9959",
        "AN",
        "AQ",
        "AS",
        "AU",
        "EM",
    }
)


def check_eas_scheme(scheme: str) -> str:
    if scheme not in EAS_SCHEMES:
        raise PydanticCustomError(
            "eas_scheme",
            "unknown electronic address scheme '{scheme}' (a CEF EAS code such as 0088)",
            {"scheme": scheme},
        )
    return scheme


EasScheme = Annotated[
    str,
    AfterValidator(check_eas_scheme),
    WithJsonSchema({"type": "string", "description": "CEF EAS code, e.g. 0088 or 9930"}),
]

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MAX_ID_LENGTH = 256
"""Of a CloudEvent's `id`, `source` and `correlationid`: the inbox's key is (`source`,
`id`), and a btree index entry holds at most about 2.7 KB."""
PaymentId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH)]
"""As long as the command id a payment's id defaults to."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=200)]
Note = Annotated[str, StringConstraints(max_length=1000)]


_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")


def check_iban(value: str) -> str:
    """The IBAN without spaces, in capitals, when its form and check digits are right."""
    iban = value.replace(" ", "").upper()
    if (
        not _IBAN.fullmatch(iban)
        or int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4])) % 97 != 1
    ):
        raise ValueError("not a valid IBAN")
    return iban


def check_bic(value: str) -> str:
    if not _BIC.fullmatch(value):
        raise ValueError("not a valid BIC (8 or 11 letters and digits)")
    return value
