"""The message rules of docs/contract.md, one test each."""

import json
import tracemalloc
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.examples import EXAMPLES_DIR
from worker.messages import (
    MAX_HEADER_BYTES,
    CloseInvoice,
    CreateInvoice,
    CustomerData,
    InvoiceCommandEvent,
    InvoiceCommandResult,
    InvoiceLineData,
    InvoicePaidData,
    InvoiceSnapshot,
    InvoiceState,
    OrderCompletedEvent,
    OrderReturnedEvent,
    RecordPayment,
    Rejection,
    RejectReason,
    SellerUpdatedEvent,
    TotalsData,
    event_bytes,
    parse_event,
    stable_event_id,
)

EXAMPLES = sorted(EXAMPLES_DIR.glob("*.json"))


def order_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "orderId": "SO-1",
        "currency": "EUR",
        "customer": {"name": "Tanya Lee"},
        "rows": [
            {"rowId": "1", "name": "Tea", "quantity": "2", "unitPrice": "4.50", "taxRate": "9"}
        ],
    }
    return data | changes


def record(data: Any, **envelope: Any) -> bytes:
    event = {
        "specversion": "1.0",
        "id": "event-1",
        "source": "/shop",
        "type": "order-completed",
        "data": data,
    }
    return json.dumps(event | envelope).encode()


def command_record(**data: Any) -> bytes:
    return command_with_data(data)


def command_with_data(data: Any) -> bytes:
    return record(data, type="invoice-command", id="command-1")


def with_row_value(field: str, literal: str, **row: Any) -> bytes:
    """An order whose first row has `literal` (raw JSON text) as the value of `field`."""
    rows = [{"rowId": "1", "name": "Tea", "quantity": "1", "unitPrice": "1", "taxRate": "0"}]
    rows[0] |= row | {field: "<value>"}
    return record(order_data(rows=rows)).replace(b'"<value>"', literal.encode())


def parsed_order(value: bytes) -> OrderCompletedEvent:
    event = parse_event(value)
    assert isinstance(event, OrderCompletedEvent), event
    return event


def rejected(value: bytes | None) -> Rejection:
    rejection = parse_event(value)
    assert isinstance(rejection, Rejection), rejection
    return rejection


def totals() -> TotalsData:
    return TotalsData(
        net_amount="10.00",
        tax_amount="0.90",
        gross_amount="10.90",
        paid_amount="0.00",
        credited_amount="0.00",
        amount_due="10.90",
        refund_due="0.00",
    )


# --- incoming: what parses ---


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_sample_event_parses(path: Path) -> None:
    event = parse_event(path.read_bytes())

    assert isinstance(
        event,
        OrderCompletedEvent | OrderReturnedEvent | InvoiceCommandEvent | SellerUpdatedEvent,
    ), event
    assert event.type == json.loads(path.read_bytes())["type"]


def test_sample_events_are_typed_in_python_names() -> None:
    event = parsed_order((EXAMPLES_DIR / "order-completed.json").read_bytes())

    assert event.correlation == "req-5f2a"
    assert event.subject == "SO-2669"
    assert event.time == datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    assert event.data.rows[0].unit_price == Decimal("12.05")
    assert event.data.rows[0].line_total == Decimal("241.00")
    assert event.data.invoicing.payment_terms_days == 14


def test_a_return_names_each_row_once_with_a_quantity_above_zero() -> None:
    event = json.loads((EXAMPLES_DIR / "order-returned.json").read_bytes())
    event["data"]["rows"] = [
        {"rowId": "1", "quantity": "1"},
        {"rowId": "1", "quantity": "0"},
    ]
    event["data"]["returnId"] = "R" * 65

    rejection = parse_event(json.dumps(event).encode())

    assert isinstance(rejection, Rejection)
    assert rejection.reason is RejectReason.VALIDATION
    assert set(rejection.errors) == {"returnId", "rows.1.quantity"}


def test_json_numbers_are_read_exactly() -> None:
    value = with_row_value("quantity", "0.1", unitPrice="<price>")
    event = parsed_order(value.replace(b'"<price>"', b"12.050"))

    row = event.data.rows[0]
    assert row.quantity == Decimal("0.1")
    assert row.quantity.as_tuple() == Decimal("0.1").as_tuple()
    assert row.unit_price.as_tuple() == Decimal("12.050").as_tuple()


def test_json_integers_are_read_exactly() -> None:
    assert parsed_order(with_row_value("unitPrice", "123456789012")).data.rows[0].unit_price == (
        Decimal("123456789012")
    )


def test_digits_are_echoed_as_given() -> None:
    row = parsed_order(with_row_value("unitPrice", '"12.050"')).data.rows[0]

    assert str(row.unit_price) == "12.050"
    assert '"unitPrice":"12.050"' in row.model_dump_json()


@pytest.mark.parametrize(
    ("literal", "expected"),
    [('"1E+2"', "100"), ("1E+2", "100"), ('"1.5e-2"', "0.015"), ('"-0.00"', "0.00")],
)
def test_plain_exponents_within_the_limits_are_written_out(literal: str, expected: str) -> None:
    row = parsed_order(with_row_value("unitPrice", literal)).data.rows[0]

    assert str(row.unit_price) == expected


def test_discount_percent_defaults_to_zero() -> None:
    assert parsed_order(record(order_data())).data.rows[0].discount_percent == Decimal(0)


def test_invoicing_defaults_apply_when_absent() -> None:
    invoicing = parsed_order(record(order_data())).data.invoicing

    assert invoicing.auto_close is True
    assert invoicing.delivery == "email"
    assert invoicing.payment_terms_days is None  # the configured default applies


def test_unknown_fields_are_ignored() -> None:
    data = order_data(futureField={"x": 1}, customer={"name": "A", "loyaltyTier": "gold"})

    assert parsed_order(record(data, futureattribute="x")).data.customer.name == "A"


def test_the_wire_uses_camel_case_names() -> None:
    data = order_data()
    data["order_id"] = data.pop("orderId")

    assert rejected(record(data)).errors == {"orderId": ["Field required"]}


def test_line_total_is_not_compared_here() -> None:
    """Comparing needs the rounding rule: the domain does it (EXPECTED.md: 247.86)."""
    value = with_row_value("lineTotal", '"247.86"', quantity="20", unitPrice="12.05")

    assert parsed_order(value).data.rows[0].line_total == Decimal("247.86")


# --- incoming: what is invalid, and where ---


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("NaN", "must be a finite number"),
        ("Infinity", "must be a finite number"),
        ("-Infinity", "must be a finite number"),
        ('"NaN"', 'must be a decimal number such as "12.05"'),
        ('"Infinity"', 'must be a decimal number such as "12.05"'),
        ("1e400", "at most 12 integer digits"),
        ('"1e400"', "at most 12 integer digits"),
        ("1234567890123", "at most 12 integer digits"),
        ('"1234567890123.5"', "at most 12 integer digits"),
        ("0.1234567", "at most 6 fraction digits"),
        ('"1.0000000"', "at most 6 fraction digits"),
        ('"1E-7"', "at most 6 fraction digits"),
        ("true", 'must be a decimal number such as "12.05"'),
        ('"12,05"', 'must be a decimal number such as "12.05"'),
        ('" 12.05"', 'must be a decimal number such as "12.05"'),
    ],
)
def test_decimals_beyond_the_limits_are_invalid(literal: str, message: str) -> None:
    rejection = rejected(with_row_value("unitPrice", literal))

    assert rejection.reason is RejectReason.VALIDATION
    assert rejection.errors == {"rows.0.unitPrice": [message]}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quantity", '"0"', "must be greater than 0"),
        ("quantity", '"-1"', "must be greater than 0"),
        ("unitPrice", '"-0.01"', "must be at least 0"),
        ("taxRate", '"100.01"', "must be at most 100"),
        ("taxRate", '"-1"', "must be at least 0"),
        ("discountPercent", '"101"', "must be at most 100"),
    ],
)
def test_decimal_ranges(field: str, value: str, message: str) -> None:
    assert rejected(with_row_value(field, value)).errors == {f"rows.0.{field}": [message]}


NUMBER_FIELDS = {
    "invoicing.paymentTermsDays": record(order_data(invoicing={"paymentTermsDays": "<value>"})),
    **{
        f"rows.0.{field}": with_row_value(field, '"<value>"')
        for field in ("quantity", "unitPrice", "taxRate", "discountPercent", "lineTotal")
    },
    "expectedVersion": command_record(action="update", invoiceId="i", expectedVersion="<value>"),
    "amount": command_record(action="record-payment", invoiceId="i", amount="<value>"),
}


@pytest.mark.parametrize("path", NUMBER_FIELDS)
@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("1e999999999", "at most 12 integer digits"),  # as an int: never done
        ("1e5000", "at most 12 integer digits"),
        ("-1e5000", "at most 12 integer digits"),
        pytest.param("1" * 5000, "at most 12 integer digits", id="5000 digits"),
        ("1000000000000", "at most 12 integer digits"),
        ("1e-999999999", "at most 6 fraction digits"),  # as an int: never done either
        pytest.param("0." + "1" * 5000, "at most 6 fraction digits", id="5000 fraction digits"),
        ("1.0000000", "at most 6 fraction digits"),
        ("1e99999999999999999999", "at most 12 integer digits"),  # beyond a Decimal too
        ("1e-99999999999999999999", "at most 6 fraction digits"),
    ],
)
def test_numbers_beyond_the_contract_are_refused_before_any_conversion(
    path: str, literal: str, message: str
) -> None:
    rejection = rejected(NUMBER_FIELDS[path].replace(b'"<value>"', literal.encode()))

    assert rejection.reason is RejectReason.VALIDATION
    assert rejection.errors == {path: [message]}


@pytest.mark.parametrize(
    "literal", ["1e999999999", pytest.param("1" * 5000, id="5000 digits"), "1e99999999999999999999"]
)
def test_numbers_beyond_the_contract_in_unknown_fields_are_ignored(literal: str) -> None:
    value = record(order_data(futureField="<value>")).replace(b'"<value>"', literal.encode())
    exactly = value.replace(b'"4.50"', b"4.50")  # a JSON number with a fraction: read exactly

    assert parsed_order(exactly).data.rows[0].unit_price == Decimal("4.50")


@pytest.mark.parametrize(("literal", "valid"), [("999999999999", True), ("1000000000000", False)])
def test_a_version_has_at_most_12_digits(literal: str, valid: bool) -> None:
    value = command_record(action="update", invoiceId="i", expectedVersion="<value>")

    event = parse_event(value.replace(b'"<value>"', f'"{literal}"'.encode()))

    assert isinstance(event, InvoiceCommandEvent) is valid


@pytest.mark.parametrize("code", ["XAU", "XDR", "XXX", "ABC", "eur"])
def test_currency_must_be_iso_4217_with_minor_units(code: str) -> None:
    rejection = rejected(record(order_data(currency=code)))

    assert rejection.errors == {
        "currency": [f"unknown currency '{code}' (an ISO 4217 code with minor units is required)"]
    }


@pytest.mark.parametrize("code", ["XX", "de", "DEU"])
def test_country_must_be_iso_3166_alpha_2(code: str) -> None:
    customer = {"name": "A", "billingAddress": {"city": "Köln", "country": code}}

    rejection = rejected(record(order_data(customer=customer)))

    assert list(rejection.errors) == ["customer.billingAddress.country"]
    assert rejection.errors["customer.billingAddress.country"][0].startswith(
        f"unknown country '{code}'"
    )


@pytest.mark.parametrize("email", ["tanya", "tanya@", "@example.com", "tanya lee@example.com"])
def test_email_must_be_a_valid_address(email: str) -> None:
    rejection = rejected(record(order_data(customer={"name": "A", "email": email})))

    assert list(rejection.errors) == ["customer.email"]


@pytest.mark.parametrize("phone", ["04915112345678", "+04915112345678", "+49 151 1234", "+1"])
def test_phone_must_be_e164(phone: str) -> None:
    rejection = rejected(record(order_data(customer={"name": "A", "phone": phone})))

    assert rejection.errors == {
        "customer.phone": ["must be an E.164 phone number such as +4915112345678"]
    }


@pytest.mark.parametrize(
    ("field", "length"),
    [("orderId", 65), ("orderCode", 21)],
)
def test_order_ids_are_bounded(field: str, length: int) -> None:
    assert list(rejected(record(order_data(**{field: "x" * length}))).errors) == [field]


def test_customer_texts_are_at_most_200_characters() -> None:
    customer = {"name": "x" * 201, "billingAddress": {"line1": "x" * 201}}

    rejection = rejected(record(order_data(customer=customer)))

    assert list(rejection.errors) == ["customer.name", "customer.billingAddress.line1"]


def test_duplicate_row_ids_are_reported_on_the_later_rows() -> None:
    rows = [
        {"rowId": row_id, "name": "Tea", "quantity": "1", "unitPrice": "1", "taxRate": "0"}
        for row_id in ["a", "b", "a", "a"]
    ]

    rejection = rejected(record(order_data(rows=rows)))

    assert rejection.errors == {
        "rows.2.rowId": ["duplicate rowId 'a'"],
        "rows.3.rowId": ["duplicate rowId 'a'"],
    }


@pytest.mark.parametrize(("count", "valid"), [(0, False), (1, True), (1000, True), (1001, False)])
def test_an_order_has_1_to_1000_rows(count: int, valid: bool) -> None:
    rows = [
        {"rowId": str(n), "name": "Tea", "quantity": "1", "unitPrice": "1", "taxRate": "0"}
        for n in range(count)
    ]

    event = parse_event(record(order_data(rows=rows)))

    assert isinstance(event, OrderCompletedEvent) is valid
    if not valid:
        assert isinstance(event, Rejection)
        assert list(event.errors) == ["rows"]


@pytest.mark.parametrize(
    ("currency", "line_total", "valid"),
    [
        ("EUR", "241.00", True),
        ("EUR", "241", True),
        ("EUR", "241.000", False),
        ("JPY", "241", True),
        ("JPY", "241.0", False),
        ("BHD", "241.000", True),
    ],
)
def test_line_total_has_at_most_the_currency_digits(
    currency: str, line_total: str, valid: bool
) -> None:
    rows = [
        {
            "rowId": "1",
            "name": "Tea",
            "quantity": "1",
            "unitPrice": "241",
            "taxRate": "0",
            "lineTotal": line_total,
        }
    ]

    event = parse_event(record(order_data(currency=currency, rows=rows)))

    if valid:
        assert isinstance(event, OrderCompletedEvent)
    else:
        assert isinstance(event, Rejection)
        assert list(event.errors) == ["rows.0.lineTotal"]
        assert event.errors["rows.0.lineTotal"][0].endswith(f"fraction digits for {currency}")


# --- rejections: reason, paths, ids ---


@pytest.mark.parametrize("value", [None, b"", b"{", b'{"id": 1,}', b"\xff\xfe{}", b"[" * 100_000])
def test_unparseable_records_are_invalid_json(value: bytes | None) -> None:
    rejection = rejected(value)

    assert rejection.reason is RejectReason.INVALID_JSON
    assert list(rejection.errors) == [""]
    assert rejection.event_id is None


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (b"[]", ""),
        (b'"order-completed"', ""),
        (record(order_data(), specversion="0.3"), "specversion"),
        (record(order_data(), id=""), "id"),
        (record(order_data(), source=None), "source"),
        (record(order_data(), type=7), "type"),
        (record(order_data(), time="yesterday"), "time"),
        (record(order_data(), time="2026-11-23T10:15:00"), "time"),  # RFC 3339 needs an offset
        (record(order_data(), datacontenttype="text/plain"), "datacontenttype"),
        (record(order_data(), correlationid=5), "correlationid"),
    ],
)
def test_records_without_a_valid_envelope_are_not_cloudevents(value: bytes, path: str) -> None:
    rejection = rejected(value)

    assert rejection.reason is RejectReason.NOT_CLOUDEVENT
    assert list(rejection.errors) == [path]
    assert rejection.event_id is None


@pytest.mark.parametrize("attribute", ["id", "source", "correlationid"])
@pytest.mark.parametrize(
    "event", [record(order_data()), command_record(action="close", invoiceId="i")]
)
def test_ids_are_at_most_256_characters(event: bytes, attribute: str) -> None:
    at_most = json.loads(event) | {attribute: "x" * 256}
    beyond = at_most | {attribute: "x" * 4096}

    assert not isinstance(parse_event(json.dumps(at_most).encode()), Rejection)
    rejection = rejected(json.dumps(beyond).encode())
    assert rejection.reason is RejectReason.NOT_CLOUDEVENT
    assert rejection.errors == {attribute: ["String should have at most 256 characters"]}


def test_missing_envelope_attributes_are_named() -> None:
    rejection = rejected(b'{"data": {}}')

    assert rejection.reason is RejectReason.NOT_CLOUDEVENT
    assert set(rejection.errors) == {"specversion", "id", "source", "type"}


def test_the_envelope_is_checked_before_the_type() -> None:
    rejection = rejected(record({}, type="order-cancelled", specversion="0.3"))

    assert rejection.reason is RejectReason.NOT_CLOUDEVENT


def test_an_unknown_type_is_rejected_with_the_event_ids() -> None:
    rejection = rejected(record({"x": 1}, type="order-cancelled", correlationid="req-1"))

    assert rejection.reason is RejectReason.UNKNOWN_TYPE
    assert rejection.errors == {"type": ["unknown event type 'order-cancelled'"]}
    assert (rejection.event_id, rejection.source, rejection.event_type) == (
        "event-1",
        "/shop",
        "order-cancelled",
    )
    assert rejection.correlation_id == "req-1"


def test_invalid_data_is_a_validation_rejection_with_dotted_paths() -> None:
    rows = [
        {"rowId": "1", "name": "Tea", "quantity": "1", "unitPrice": "1", "taxRate": "0"},
        {"rowId": "2", "name": "", "quantity": "0", "unitPrice": "1", "taxRate": "0"},
    ]

    rejection = rejected(record(order_data(rows=rows)))

    assert rejection.reason is RejectReason.VALIDATION
    assert set(rejection.errors) == {"rows.1.name", "rows.1.quantity"}
    assert rejection.errors["rows.1.quantity"] == ["must be greater than 0"]
    assert rejection.details.startswith("The order-completed data is invalid: rows.1.")
    assert rejection.event_id == "event-1"
    assert rejection.correlation_id == "event-1"  # no correlationid: the event's id


@pytest.mark.parametrize("data", [[], None, "order"])
def test_data_that_is_no_object_is_invalid(data: Any) -> None:
    for value in (record(data), command_with_data(data)):
        rejection = rejected(value)

        assert rejection.reason is RejectReason.VALIDATION
        assert rejection.errors == {"": ["must be a JSON object"]}


def test_an_event_without_data_is_invalid() -> None:
    event = json.loads(record(order_data()))
    del event["data"]

    rejection = rejected(json.dumps(event).encode())

    assert rejection.reason is RejectReason.VALIDATION
    assert rejection.errors == {"": ["the event has no data"]}


# --- invoice commands ---


def test_command_validation_failure_keeps_id_and_action() -> None:
    rejection = rejected(command_record(action="close", send="maybe"))

    assert rejection.reason is RejectReason.VALIDATION
    assert set(rejection.errors) == {"invoiceId", "send"}
    assert (rejection.event_id, rejection.event_type, rejection.action) == (
        "command-1",
        "invoice-command",
        "close",
    )


@pytest.mark.parametrize("data", [{}, {"action": 5}, {"action": "archive", "invoiceId": "i"}])
def test_a_command_needs_a_known_action(data: dict[str, Any]) -> None:
    rejection = rejected(command_record(**data))

    assert rejection.reason is RejectReason.VALIDATION
    assert list(rejection.errors) == ["action"]
    assert rejection.event_id == "command-1"


def test_an_unknown_action_names_the_known_ones() -> None:
    message = rejected(command_record(action="archive")).errors["action"][0]

    assert message.startswith("unknown action 'archive'; expected one of: create, update")


def test_command_defaults() -> None:
    create = parse_event(command_record(action="create", orderId="SO-1"))
    close = parse_event(command_record(action="close", invoiceId="i", orderId="SO-1"))

    assert isinstance(create, InvoiceCommandEvent)
    assert isinstance(create.data, CreateInvoice)
    assert (create.data.type, create.data.close, create.data.row_ids) == ("invoice", False, None)
    assert isinstance(close, InvoiceCommandEvent)
    assert isinstance(close.data, CloseInvoice)
    assert (close.data.send, close.data.order_id) == (False, "SO-1")


CREDIT_NOTE = {
    "action": "create",
    "orderId": "o",
    "type": "credit-note",
    "referenceInvoiceId": "i",
}


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"action": "create"}, "orderId"),
        ({"action": "create", "orderId": "o", "type": "credit-note"}, "referenceInvoiceId"),
        ({"action": "create", "orderId": "o", "referenceInvoiceId": "i"}, "referenceInvoiceId"),
        ({"action": "create", "orderId": "o", "type": "receipt"}, "type"),
        ({"action": "create", "orderId": "o", "rowIds": []}, "rowIds"),
        ({"action": "create", "orderId": "o", "rowIds": ["1", "2", "1"]}, "rowIds.2"),
        ({"action": "create", "orderId": "o", "rowIds": ["x" * 65]}, "rowIds.0"),
        ({**CREDIT_NOTE, "lines": []}, "lines"),
        ({**CREDIT_NOTE, "lines": [{"lineNo": 1, "quantity": "0"}]}, "lines.0.quantity"),
        ({**CREDIT_NOTE, "lines": [{"lineNo": 0, "quantity": "1"}]}, "lines.0.lineNo"),
        ({**CREDIT_NOTE, "lines": [{"lineNo": 1.5, "quantity": "1"}]}, "lines.0.lineNo"),
        ({**CREDIT_NOTE, "lines": [{"lineNo": 1}]}, "lines.0.quantity"),
        (
            {**CREDIT_NOTE, "lines": [{"lineNo": 2, "quantity": "1"}] * 2},
            "lines.1.lineNo",
        ),
        (
            {**CREDIT_NOTE, "lines": [{"lineNo": n, "quantity": "1"} for n in range(1, 1002)]},
            "lines",
        ),
        ({**CREDIT_NOTE, "lines": [{"lineNo": 1, "quantity": "1"}], "rowIds": ["1"]}, "lines"),
        ({"action": "create", "orderId": "o", "lines": [{"lineNo": 1, "quantity": "1"}]}, "lines"),
        ({"action": "create", "orderId": "o", "dueDate": "23.11.2026"}, "dueDate"),
        ({"action": "create", "orderId": "o", "note": "x" * 1001}, "note"),
        ({"action": "update", "invoiceId": "i", "expectedVersion": 0}, "expectedVersion"),
        ({"action": "update", "invoiceId": "i", "customer": {"phone": "0151"}}, "customer.phone"),
        ({"action": "update", "invoiceId": "i", "customer": {"name": ""}}, "customer.name"),
        ({"action": "delete", "invoiceId": ""}, "invoiceId"),
        ({"action": "close", "invoiceId": "x" * 65}, "invoiceId"),
        ({"action": "send", "invoiceId": "i", "channel": "fax"}, "channel"),
        ({"action": "send", "invoiceId": "i", "recipient": "+4915112345678"}, "recipient"),
        (
            {"action": "send", "invoiceId": "i", "channel": "sms", "recipient": "a@b.de"},
            "recipient",
        ),
        ({"action": "void", "invoiceId": "i"}, "reason"),
        ({"action": "void", "invoiceId": "i", "reason": ""}, "reason"),
        ({"action": "void", "invoiceId": "i", "reason": "x" * 501}, "reason"),
        ({"action": "record-payment", "invoiceId": "i", "amount": "0"}, "amount"),
        ({"action": "record-payment", "invoiceId": "i", "amount": 1e400}, "amount"),
        (
            {"action": "record-payment", "invoiceId": "i", "amount": "1", "paidAt": "2026-11-23"},
            "paidAt",
        ),
        (
            {"action": "record-payment", "invoiceId": "i", "amount": "1", "method": "x" * 65},
            "method",
        ),
    ],
)
def test_command_fields_are_validated(data: dict[str, Any], path: str) -> None:
    rejection = rejected(command_record(**data))

    assert rejection.reason is RejectReason.VALIDATION
    assert list(rejection.errors) == [path]
    assert rejection.action == data["action"]


@pytest.mark.parametrize(
    "data",
    [
        {
            "action": "create",
            "orderId": "o",
            "type": "credit-note",
            "referenceInvoiceId": "i",
            "rowIds": ["1"],
            "dueDate": "2026-12-07",
            "close": True,
        },
        {**CREDIT_NOTE, "lines": [{"lineNo": 2, "quantity": "0.5"}, {"lineNo": 1, "quantity": 3}]},
        {"action": "update", "invoiceId": "i", "expectedVersion": 3, "customer": {"vatId": "NL1"}},
        {"action": "delete", "invoiceId": "i", "orderId": "o"},
        {"action": "send", "invoiceId": "i", "channel": "sms", "recipient": "+4915112345678"},
        {"action": "send", "invoiceId": "i", "recipient": "tanya.lee@example.com"},
        {"action": "void", "invoiceId": "i", "reason": "wrong customer"},
        {
            "action": "record-payment",
            "invoiceId": "i",
            "amount": 10.50,
            "paidAt": "2026-11-23T12:00:00+01:00",
            "method": "sepa",
            "reference": "R-1",
        },
    ],
    ids=lambda data: data["action"],
)
def test_valid_commands_parse(data: dict[str, Any]) -> None:
    event = parse_event(command_record(**data))

    assert isinstance(event, InvoiceCommandEvent), event
    assert event.data.action == data["action"]


def test_payment_amounts_are_exact() -> None:
    value = command_record(action="record-payment", invoiceId="i", amount="<amount>")

    event = parse_event(value.replace(b'"<amount>"', b"10.50"))

    assert isinstance(event, InvoiceCommandEvent)
    assert isinstance(event.data, RecordPayment)
    assert str(event.data.amount) == "10.50"


# --- the dead-letter header ---


def test_header_value_is_the_errors_and_details_as_json() -> None:
    rejection = Rejection(RejectReason.CONFLICT, {"rows.0.quantity": ["cannot change"]}, "No.")

    assert json.loads(rejection.header_value()) == {
        "errors": {"rows.0.quantity": ["cannot change"]},
        "details": "No.",
    }


def test_header_value_is_at_most_4_kib_with_a_huge_error() -> None:
    errors = {f"rows.{n}.quantity": ["must be greater than 0 " * 30] * 5 for n in range(1000)}
    rejection = Rejection(RejectReason.VALIDATION, errors, "The data is invalid. " * 500)

    header = rejection.header_value()

    assert len(header) <= MAX_HEADER_BYTES
    shortened = json.loads(header)
    assert 0 < len(shortened["errors"]) < 1000
    assert next(iter(shortened["errors"])) == "rows.0.quantity"
    assert "more fields with errors not shown" in shortened["details"]


def test_header_value_of_a_real_rejection_of_1000_bad_rows_fits() -> None:
    rows = [
        {"rowId": "ü" * 64, "name": "Tea", "quantity": "0", "unitPrice": "x", "taxRate": "0"}
        for _ in range(1000)
    ]

    header = rejected(record(order_data(rows=rows))).header_value()

    assert len(header) <= MAX_HEADER_BYTES
    assert json.loads(header)["errors"]


# --- outgoing ---


def test_outgoing_models_omit_absent_optional_fields_but_keep_null_invoice() -> None:
    result = InvoiceCommandResult(command_id="c-1", action="create", ok=True, invoice=None)
    draft = InvoiceSnapshot(
        invoice_id="i-1", status="draft", version=1, invoice_number=None, totals=totals()
    )
    line = InvoiceLineData(
        line_no=1,
        order_row_id="1",
        name="Tea",
        quantity="2",
        unit_price="4.50",
        discount_percent="0",
        tax_rate="9",
        net_amount="9.00",
    )
    invoice = InvoiceState(
        invoice_id="i-1",
        type="invoice",
        order_id="SO-1",
        status="paid",
        currency="EUR",
        prices_include_tax=False,
        customer=CustomerData(name="Tanya Lee"),
        lines=[line],
        tax_breakdown=[],
        totals=totals(),
        version=2,
        invoice_number="INV-2026-000001",
        issue_date=None,
        due_date=None,
        closed_at=None,
        payments=[],
        payment_status="paid",
    )
    paid = InvoicePaidData(
        invoice_id="i-1",
        invoice_number="INV-2026-000001",
        order_id="SO-1",
        status="paid",
        totals=totals(),
        invoice=invoice,
    )

    assert json.loads(result.model_dump_json()) == {
        "commandId": "c-1",
        "action": "create",
        "ok": True,
        "invoice": None,
        "warnings": [],
    }
    assert json.loads(draft.model_dump_json())["invoiceNumber"] is None
    assert set(json.loads(line.model_dump_json())).isdisjoint({"sku", "unit", "grossAmount"})
    assert "payment" not in json.loads(paid.model_dump_json())


def test_a_failed_command_result_carries_errors_and_details() -> None:
    result = InvoiceCommandResult(
        command_id="c-1",
        action=None,
        ok=False,
        invoice=None,
        errors={"action": ["Field required"]},
        details="The invoice-command data is invalid.",
    )

    assert json.loads(result.model_dump_json()) == {
        "commandId": "c-1",
        "action": None,
        "ok": False,
        "invoice": None,
        "warnings": [],
        "errors": {"action": ["Field required"]},
        "details": "The invoice-command data is invalid.",
    }


def test_outgoing_amounts_are_decimal_strings() -> None:
    with pytest.raises(ValueError, match="pattern"):
        TotalsData.model_validate(totals().model_dump() | {"amountDue": "1e2"})


def test_event_bytes_is_a_compact_structured_cloudevent() -> None:
    result = InvoiceCommandResult(command_id="c-1", action="close", ok=True, invoice=None)

    value = event_bytes(
        event_type="invoice-command-result",
        source="/invoicer",
        event_id="e-1",
        data=result,
        correlation_id="req-1",
        time=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
    )

    assert b" " not in value
    assert json.loads(value) == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/invoicer",
        "type": "invoice-command-result",
        "time": "2026-11-23T12:00:00Z",
        "datacontenttype": "application/json",
        "dataschema": "https://invoicer.example.com/schemas/v3/invoice-command-result.json",
        "correlationid": "req-1",
        "data": json.loads(result.model_dump_json()),
    }


def test_event_bytes_carries_the_subject_when_given() -> None:
    value = event_bytes(
        event_type="invoice-command-result",
        source="/invoicer",
        event_id="e-1",
        data=InvoiceCommandResult(command_id="c-1", action="close", ok=True, invoice=None),
        correlation_id="req-1",
        subject="SO-1",
        time=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
    )

    assert json.loads(value)["subject"] == "SO-1"


def test_event_bytes_refuses_data_of_another_event_type() -> None:
    result = InvoiceCommandResult(command_id="c-1", action="close", ok=True, invoice=None)

    with pytest.raises(TypeError):
        event_bytes(
            event_type="invoice-paid",
            source="/invoicer",
            event_id="e-1",
            data=result,
            correlation_id="req-1",
            time=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
        )


def test_stable_event_ids_depend_only_on_their_cause() -> None:
    first = stable_event_id("invoice-closed", "4f163819")

    assert first == stable_event_id("invoice-closed", "4f163819")
    assert uuid.UUID(first).version == 5
    assert stable_event_id("a", "b/c") != stable_event_id("a/b", "c")
    assert first != stable_event_id("invoice-closed", "4f16381")


# --- NUL characters (PostgreSQL text cannot hold them) and strict booleans ---


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (record(order_data(), id="event\u00001"), "id"),
        (record(order_data(), correlationid="c\u0000"), "correlationid"),
        (record(order_data(), **{"extra\u0000": 1}), "extra\u0000"),
    ],
)
def test_a_nul_character_in_the_envelope_is_not_a_cloudevent(value: bytes, path: str) -> None:
    rejection = rejected(value)

    assert rejection.reason is RejectReason.NOT_CLOUDEVENT
    assert rejection.errors == {path: ["must not contain a NUL character"]}
    assert rejection.event_id is None


@pytest.mark.parametrize(
    ("value", "paths"),
    [
        (record(order_data(orderId="SO\u00001")), ["orderId"]),
        (record(order_data(customer={"name": "A\u0000B"})), ["customer.name"]),
        (record(order_data(ignored=["x", {"y": "\u0000"}])), ["ignored.1.y"]),
        (record(order_data(currency="XXX", orderId="\u0000")), ["currency", "orderId"]),
        (command_record(action="delete", invoiceId="inv\u0000"), ["invoiceId"]),
    ],
)
def test_a_nul_character_in_data_is_a_validation_error_at_its_path(
    value: bytes, paths: list[str]
) -> None:
    rejection = rejected(value)

    assert rejection.reason is RejectReason.VALIDATION
    assert sorted(rejection.errors) == sorted(paths)
    assert rejection.errors[paths[-1]][-1] == "must not contain a NUL character"
    assert rejection.event_id is not None


def test_an_escaped_backslash_before_u0000_is_no_nul_character() -> None:
    event = parsed_order(record(order_data(customer={"name": "C:\\u0000"})))

    assert event.data.customer.name == "C:\\u0000"


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (record(order_data(pricesIncludeTax="yes")), "pricesIncludeTax"),
        (record(order_data(pricesIncludeTax=1)), "pricesIncludeTax"),
        (record(order_data(invoicing={"autoClose": "no"})), "invoicing.autoClose"),
        (command_record(action="close", invoiceId="i-1", send="true"), "send"),
        (command_record(action="create", orderId="o-1", close=0), "close"),
    ],
)
def test_booleans_are_json_true_or_false_only(value: bytes, path: str) -> None:
    rejection = rejected(value)

    assert rejection.reason is RejectReason.VALIDATION
    assert list(rejection.errors) == [path]


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (b'{"specversion": "1.0", "id": "e-1", "source": "/s", "type": "x\\ud800"}', "type"),
        (record(order_data(), id="e\udfff"), "id"),
    ],
)
def test_a_lone_surrogate_in_the_envelope_is_not_a_cloudevent(value: bytes, path: str) -> None:
    rejection = rejected(value)

    assert rejection.reason is RejectReason.NOT_CLOUDEVENT
    assert rejection.errors == {path: ["must not contain a lone surrogate (not Unicode text)"]}


def test_a_lone_surrogate_in_data_is_a_validation_error() -> None:
    rejection = rejected(command_record(action="delete", invoiceId="inv-\ud800"))

    assert rejection.reason is RejectReason.VALIDATION
    assert "must not contain a lone surrogate (not Unicode text)" in rejection.errors["invoiceId"]


def test_an_escaped_surrogate_pair_is_the_character_it_encodes() -> None:
    event = parsed_order(record(order_data(customer={"name": "Ann \U0001f600"})))

    assert event.data.customer.name == "Ann \U0001f600"


def test_a_deep_and_wide_document_is_searched_for_nul_characters_in_little_memory() -> None:
    deep = "[" * 900 + ",".join(["0"] * 100_000) + "]" * 900
    value = record(order_data(), id="e-1").replace(b'"event-1"', b'"e-1"')
    value = value[:-1] + b', "extra": ' + deep.encode() + b', "x": "\\u0000"}'

    tracemalloc.start()
    try:
        rejection = rejected(value)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert rejection.reason is RejectReason.NOT_CLOUDEVENT
    assert rejection.errors == {"x": ["must not contain a NUL character"]}
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB"
