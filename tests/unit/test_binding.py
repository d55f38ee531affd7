"""The CloudEvents Kafka binding (docs/contract.md, "Running it"): binary and structured
records in, structured records with `content-type` out."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tests.examples import example
from worker.messages import OrderCompletedEvent, Rejection, RejectReason, parse_event, parse_record
from worker.messages.binding import STRUCTURED_CONTENT_TYPE, binary_event


def binary(event: dict[str, object]) -> tuple[bytes, list[tuple[str, bytes | None]]]:
    """The event in binary mode, as a producer using the binding writes it."""
    headers: list[tuple[str, bytes | None]] = [
        (f"ce_{name}", str(value).encode())
        for name, value in event.items()
        if name not in ("data", "datacontenttype")
    ]
    headers.append(("content-type", b"application/json"))
    return json.dumps(event["data"]).encode(), headers


def test_a_binary_mode_record_is_the_event_its_headers_and_data_make() -> None:
    event = example("order-completed-vat.json")
    value, headers = binary(event)

    parsed = parse_record(value, headers)

    assert parsed == parse_event(json.dumps(event).encode())
    assert isinstance(parsed, OrderCompletedEvent)


def test_binary_data_keeps_its_numbers_exact() -> None:
    event = example("order-completed.json")
    value, headers = binary(event)
    exact = value.replace(b'"12.05"', b"12.050")

    parsed = parse_record(exact, headers)

    assert isinstance(parsed, OrderCompletedEvent)
    assert str(parsed.data.rows[0].unit_price) == "12.050"


def test_a_structured_record_is_read_as_it_is_whatever_its_headers() -> None:
    value = json.dumps(example("order-completed.json")).encode()
    headers = [("content-type", STRUCTURED_CONTENT_TYPE), ("traceparent", b"00-x")]

    assert binary_event(value, headers) is None


def test_a_binary_record_without_a_required_attribute_is_not_a_cloudevent() -> None:
    event = example("order-completed.json")
    value, headers = binary(event)
    without_id = [(name, header) for name, header in headers if name != "ce_id"]

    rejected = parse_record(value, without_id)

    assert isinstance(rejected, Rejection)
    assert rejected.reason is RejectReason.NOT_CLOUDEVENT
    assert "id" in rejected.errors


def test_a_json_media_type_may_carry_parameters() -> None:
    event = {
        **example("order-completed.json"),
        "datacontenttype": "application/json; charset=utf-8",
    }

    assert isinstance(parse_event(json.dumps(event).encode()), OrderCompletedEvent)


def test_another_media_type_is_not_a_cloudevent_of_this_contract() -> None:
    event = {**example("order-completed.json"), "datacontenttype": "text/plain"}

    rejected = parse_event(json.dumps(event).encode())

    assert isinstance(rejected, Rejection)
    assert rejected.reason is RejectReason.NOT_CLOUDEVENT


attribute_names = st.sampled_from(["id", "source", "type", "specversion", "subject", "data"])
injected = st.dictionaries(attribute_names | st.text(max_size=8), st.text(max_size=8), min_size=1)


@given(attributes=injected)
def test_binary_data_that_is_not_one_json_value_is_invalid_json(attributes: dict[str, str]) -> None:
    """The value is the data, one JSON value: a value that goes on past it (here with
    attributes of its own, which would override the headers' `id` or `type`) is no event."""
    value, headers = binary(example("order-completed.json"))
    spliced = value + b", " + json.dumps(attributes).encode()[1:-1]

    rejected = parse_record(spliced, headers)

    assert isinstance(rejected, Rejection)
    assert rejected.reason is RejectReason.INVALID_JSON


@given(
    extra=st.lists(
        st.tuples(st.sampled_from(["ce_specversion", "ce_id", "CE_TYPE", "ce_data"]), st.binary()),
        min_size=1,
    ),
    content_type=st.sampled_from(
        [STRUCTURED_CONTENT_TYPE, b"application/cloudevents+json", b"Application/CloudEvents+JSON"]
    ),
)
def test_a_record_with_the_structured_content_type_is_structured_whatever_its_ce_headers(
    extra: list[tuple[str, bytes]], content_type: bytes
) -> None:
    """The binding decides the mode by `content-type` first: `application/cloudevents…` is
    structured mode, and only then do `ce_*` headers make a record binary."""
    value = json.dumps(example("order-completed.json")).encode()
    headers: list[tuple[str, bytes | None]] = [("content-type", content_type), *extra]

    assert parse_record(value, headers) == parse_event(value)
