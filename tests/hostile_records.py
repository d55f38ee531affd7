"""Hostile Kafka records, whole (header names and values, keys, values), and what every
output the worker makes of them must be: sendable by the producer and within its bounds."""

from __future__ import annotations

import json
from typing import Any

from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.structs import ConsumerRecord
from hypothesis import strategies as st

from worker.consumer import record_of
from worker.decisions import Record
from worker.messages.dead_letter import ERROR
from worker.messages.error_report import MAX_FIELDS, MAX_SEGMENT_CHARACTERS
from worker.messages.text import text_refusal
from worker.settings import Topics

MEGABYTE = 2**20
MAX_RESULT_BYTES = 64 * 1024
MAX_ERROR_HEADER_BYTES = 4096
ORDERS, COMMANDS = "orders.completed", "invoices.commands"
ACTIONS = (
    "create",
    "update",
    "delete",
    "close",
    "send",
    "void",
    "record-payment",
    "refund-payment",
)

# Every character, lone surrogates and the controls XML refuses among them.
any_text = st.text(st.characters(exclude_categories=()), max_size=12)
hostile_text = st.one_of(
    any_text,
    st.sampled_from(["\x00", "\x0b", "\ufffe", "\uffff", "\ud800", "\udcff", "\u202e", "\x1b[2J"]),
    st.builds(lambda text, n: text * n, any_text, st.integers(1, 300)),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(hostile_text, inner, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def event_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A CloudEvent that is valid but for what the fuzz puts in: hostile text in a value or
    a key, long lists, other types."""
    kind = draw(st.sampled_from(["order-completed", "invoice-command", draw(hostile_text)]))
    if kind == "order-completed":
        row = {"rowId": "r1", "name": "Tea", "quantity": "2", "unitPrice": "4.5", "taxRate": "9"}
        if draw(st.booleans()):
            row["name"] = draw(hostile_text)
        data: Any = {
            "orderId": "SO-1",
            "currency": "EUR",
            "customer": {"name": "Ada", "email": "ada@example.com"},
            "rows": [row] * draw(st.sampled_from([1, 1, 0, 1001, 1500])),
        }
        if draw(st.booleans()):
            voucher = {"allowanceId": "v", "reason": draw(hostile_text), "amount": "1.00"}
            shipping = {"chargeId": draw(hostile_text), "reason": "Shipping", "amount": "4.90"}
            data["allowances"] = [voucher] * draw(st.sampled_from([1, 100, 101, 3000]))
            data["charges"] = [shipping] * draw(st.sampled_from([1, 2, 101]))
        overrides = st.sampled_from(
            [
                "customer",
                "rows",
                "orderId",
                "invoicing",
                "currency",
                "allowances",
                "charges",
                draw(hostile_text),
            ]
        )
        data |= draw(st.dictionaries(overrides, json_values, max_size=3))
    else:
        data = {"action": draw(st.one_of(st.sampled_from(ACTIONS), hostile_text))}
        data |= draw(
            st.dictionaries(
                st.sampled_from(
                    [
                        "invoiceId",
                        "orderId",
                        "rowIds",
                        "note",
                        "customer",
                        "amount",
                        "reason",
                        "expectedVersion",
                        draw(hostile_text),
                    ]
                ),
                json_values,
                max_size=4,
            )
        )
        if draw(st.booleans()):
            data["rowIds"] = [draw(any_text)] * draw(st.integers(0, 3000))
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": draw(st.one_of(st.sampled_from(["e-1", "e-2"]), hostile_text)),
        "source": draw(st.one_of(st.just("/shop"), hostile_text)),
        "type": kind,
        "data": data,
    }
    if draw(st.booleans()):
        event[draw(hostile_text)] = draw(json_values)
    return event


def _as_bytes(document: Any, ascii_only: bool) -> bytes:
    # surrogatepass: a lone surrogate written raw is bytes that are not UTF-8
    return json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def values(draw: st.DrawFn) -> bytes | None:
    choice = draw(st.integers(0, 6))
    if choice == 0:
        return draw(st.none() | st.binary(max_size=200))
    if choice == 1:  # duplicate keys: the last one counts
        first, second = draw(event_documents()), draw(event_documents())
        return b"{" + _as_bytes(first, True)[1:-1] + b"," + _as_bytes(second, True)[1:-1] + b"}"
    if choice == 2:  # deep nesting
        depth = draw(st.integers(1, 200_000))
        return b'{"data": ' + b"[" * depth + b"]" * depth + b"}"
    if choice == 3:
        return _as_bytes(draw(json_values), draw(st.booleans()))
    return _as_bytes(draw(event_documents()), draw(st.booleans()))


header_names = st.one_of(
    st.sampled_from(
        [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_time",
            "CE_ID",
            "content-type",
            "traceparent",
            "ce_correlationid",
            "x-other",
        ]
    ),
    # bytes a broker may hold as a name, as worker.kafka_records hands them on
    st.binary(max_size=12).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
)
header_values = st.one_of(
    st.none(),
    st.sampled_from(
        [
            b"1.0",
            b"e-1",
            b"/shop",
            b"order-completed",
            b"invoice-command",
            b"application/json",
            b"bad-\xff",
        ]
    ),
    st.binary(max_size=40),
)


@st.composite
def records(draw: st.DrawFn) -> list[Record]:
    """A few records as the consumer takes them (`record_of`), of any bytes."""
    drawn = []
    for offset in range(draw(st.integers(1, 6))):
        headers = draw(st.lists(st.tuples(header_names, header_values), max_size=6))
        if draw(st.booleans()):  # binary mode: attributes in headers, the data alone
            headers.insert(0, ("ce_specversion", b"1.0"))
        value = draw(values())
        value = None if value is None else value[:MEGABYTE]  # the contract's bound
        drawn.append(
            record_of(
                ConsumerRecord(
                    topic=draw(st.sampled_from([ORDERS, COMMANDS])),
                    partition=0,
                    offset=offset,
                    timestamp=0,
                    timestamp_type=0,
                    key=draw(st.none() | st.binary(max_size=20)),
                    value=value,
                    checksum=None,
                    serialized_key_size=-1,
                    serialized_value_size=-1 if value is None else len(value),
                    headers=headers,
                )
            )
        )
    return drawn


def check_output(
    topics: Topics, topic: str, key: bytes | None, value: bytes | None, headers: Any
) -> None:
    """An output the worker made: the producer's own encoding takes it (header names that are
    text, sizes), and a report is bounded; an accepted event carries no refused text."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=0,
    )
    assert builder.append(0, timestamp=None, key=key, value=value, headers=list(headers))
    if topic == topics.dead_letter:
        error = dict(headers)[ERROR]
        assert error is not None and len(error) <= MAX_ERROR_HEADER_BYTES
        _assert_bounded(json.loads(error)["errors"])
    elif topic == topics.command_results:
        assert value is not None and len(value) <= MAX_RESULT_BYTES
        _assert_bounded(json.loads(value)["data"].get("errors") or {})
    elif value is not None:
        # what was accepted carries no text the door refuses (documents could not hold it)
        for text in _texts_of(json.loads(value)):
            assert text_refusal(text) is None, text


def _assert_bounded(errors: dict[str, list[str]]) -> None:
    assert len(errors) <= MAX_FIELDS
    for path in errors:
        for segment in path.split("."):
            assert len(segment) <= MAX_SEGMENT_CHARACTERS
            assert segment.isprintable()


def _texts_of(document: Any) -> list[str]:
    if isinstance(document, str):
        return [document]
    if isinstance(document, dict):
        return [t for key, value in document.items() for t in (key, *_texts_of(value))]
    if isinstance(document, list):
        return [t for value in document for t in _texts_of(value)]
    return []
