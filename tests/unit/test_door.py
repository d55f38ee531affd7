"""The door holds (docs/contract.md, "The door"): whole Kafka records, whatever their header
names and values, keys and values, taken as the consumer takes them (`record_of`) and decided
by the worker's own parsing, handlers and batch (on the in-memory store): each ends in
exactly one outcome, nothing raises, each is decided within the contract's CPU and memory
bounds, and every output can be sent and stays within its size bound.

Short by default; `INVOICER_FUZZ_EXAMPLES=5000 ./scripts/test tests/unit/test_door.py` runs
longer.
"""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from typing import Any

from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.structs import ConsumerRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.memory_store import MemoryStore
from worker.consumer import record_of
from worker.decisions import Record
from worker.messages import Rejection
from worker.messages.dead_letter import ERROR, ORIGINAL_OFFSET
from worker.messages.error_report import MAX_FIELDS, MAX_SEGMENT_CHARACTERS
from worker.messages.text import refusal
from worker.processing import parse_items
from worker.settings import Settings

EXAMPLES = int(os.environ.get("INVOICER_FUZZ_EXAMPLES", "120"))
MEGABYTE = 2**20
CPU_SECONDS = 1.0
MEMORY_BYTES = 64 * MEGABYTE
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
        overrides = st.sampled_from(
            ["customer", "rows", "orderId", "invoicing", "currency", draw(hostile_text)]
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


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=records())
def test_every_record_ends_in_one_outcome_and_every_output_can_be_sent(
    batch: list[Record],
) -> None:
    store = MemoryStore(Settings())
    store.run(batch)  # nothing raises

    topics = store.settings.topics
    dead = [m for m in store.outbox if m.topic == topics.dead_letter]
    for item in parse_items(batch):
        offset = str(item.record.offset).encode()
        copies = [m for m in dead if dict(m.headers)[ORIGINAL_OFFSET] == offset]
        event = item.event
        key = None
        if isinstance(event, Rejection):
            if event.source is not None and event.event_id is not None:
                key = (event.source, event.event_id)
        else:
            key = (event.source, event.id)
        assert len(copies) <= 1
        assert copies or (key is not None and key in store.inbox), "a record without outcome"

    for message in store.outbox:
        # what the relay hands the producer: the library encodes it, or raises
        builder = DefaultRecordBatchBuilder(
            magic=2,
            compression_type=0,
            is_transactional=0,
            producer_id=-1,
            producer_epoch=-1,
            base_sequence=-1,
            batch_size=0,
        )
        assert (
            builder.append(
                0,
                timestamp=None,
                key=message.key,
                value=message.value,
                headers=list(message.headers),
            )
            is not None
        )
        if message.topic == topics.dead_letter:
            error = dict(message.headers)[ERROR]
            assert error is not None and len(error) <= MAX_ERROR_HEADER_BYTES
            _assert_bounded(json.loads(error)["errors"])
        if message.topic == topics.command_results:
            assert message.value is not None and len(message.value) <= MAX_RESULT_BYTES
            _assert_bounded(json.loads(message.value)["data"].get("errors") or {})
        elif message.topic != topics.dead_letter and message.value is not None:
            # what was accepted carries no text the door refuses (documents could not hold it)
            for text in _texts_of(json.loads(message.value)):
                assert refusal(text) is None, text


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


COMMAND = '{"specversion":"1.0","id":"c-1","source":"/b","type":"invoice-command","data":'
ORDER = '{"specversion":"1.0","id":"o-1","source":"/s","type":"order-completed","data":'
ROW = '{"rowId":"r1","name":"Tea","quantity":"1","unitPrice":"1","taxRate":"0"}'
MEGABYTE_RECORDS = {
    "update with empty rowIds": COMMAND + '{"action":"update","invoiceId":"i","rowIds":[<fill>]}}',
    "keys that are lone surrogates": COMMAND + '{"action":"void","reason":"x",<fill>"i":"1"}}',
    "a name of refused characters": ORDER
    + '{"orderId":"1","currency":"EUR","customer":{"name":"<fill>"},"rows":['
    + ROW
    + "]}}",
    "rows beyond the bound": ORDER
    + '{"orderId":"1","currency":"EUR","customer":{"name":"A"},"rows":[<fill>'
    + ROW
    + "]}}",
    "unknown action of a megabyte": COMMAND + '{"action":"<fill>"}}',
    "deep nesting": '{"data":' + "[" * 400_000 + "]" * 400_000 + "}",
}
FILLERS = {  # JSON text, repeated until the record is just under a megabyte
    "update with empty rowIds": '"",',
    "keys that are lone surrogates": '"\\udc80\\udc81":1,',
    "a name of refused characters": "\\u000b\\ufffe",
    "rows beyond the bound": ROW + ",",
    "unknown action of a megabyte": "\\u202e",
    "deep nesting": "",
}


def _megabyte_record(case: str, topic: str) -> Record:
    template, filler = MEGABYTE_RECORDS[case], FILLERS[case]
    room = MEGABYTE - len(template) - 64
    value = template.replace("<fill>", filler * (room // max(1, len(filler)))).encode()
    assert len(value) <= MEGABYTE
    return Record(topic=topic, partition=0, offset=0, key=b"k", value=value)


def _decided(record: Record) -> MemoryStore:
    store = MemoryStore(Settings())
    store.run([record])
    return store


@settings(max_examples=len(MEGABYTE_RECORDS) * 2, deadline=None)
@given(case=st.sampled_from(sorted(MEGABYTE_RECORDS)), topic=st.sampled_from([ORDERS, COMMANDS]))
def test_a_megabyte_record_is_decided_within_a_second_and_64_mib(case: str, topic: str) -> None:
    record = _megabyte_record(case, topic)
    started = time.process_time()
    store = _decided(record)
    cpu = time.process_time() - started
    tracemalloc.start()
    try:
        _decided(record)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cpu <= CPU_SECONDS, f"{case}: {cpu:.2f} s"
    assert peak <= MEMORY_BYTES, f"{case}: {peak / MEGABYTE:.0f} MiB"
    topics = store.settings.topics
    [outcome] = [m for m in store.outbox if m.topic in (topics.dead_letter, topics.command_results)]
    if outcome.topic == topics.command_results:
        assert outcome.value is not None and len(outcome.value) <= MAX_RESULT_BYTES
