"""The door holds (docs/contract.md, "The door"): whole Kafka records, whatever their header
names and values, keys and values, taken as the consumer takes them (`record_of`) and decided
by the worker's own parsing, handlers and batch (on the in-memory store): each ends in
exactly one outcome, nothing raises, each is decided within the contract's CPU and memory
bounds, and every output can be sent and stays within its size bound.

Short by default; `INVOICER_FUZZ_EXAMPLES=5000 ./scripts/test tests/unit/test_door.py` runs
longer.
"""

from __future__ import annotations

import os
import time
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile_records import (
    COMMANDS,
    MAX_RESULT_BYTES,
    MEGABYTE,
    ORDERS,
    check_output,
    records,
)
from tests.memory_store import MemoryStore
from worker.decisions import Record
from worker.messages import Rejection
from worker.messages.dead_letter import ORIGINAL_OFFSET
from worker.processing import parse_items
from worker.settings import Settings

EXAMPLES = int(os.environ.get("INVOICER_FUZZ_EXAMPLES", "120"))
CPU_GUARD_SECONDS = 3.0
"""The contract's bound is 1 s of CPU, shown by `python -m bench.door` on a quiet machine; a
timed test on a shared one only guards against a class costing several times that."""
MEMORY_BYTES = 64 * MEGABYTE


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
        check_output(topics, message.topic, message.key, message.value, message.headers)


COMMAND = '{"specversion":"1.0","id":"c-1","source":"/b","type":"invoice-command","data":'
ORDER = '{"specversion":"1.0","id":"o-1","source":"/s","type":"order-completed","data":'
ROW = '{"rowId":"r1","name":"Tea","quantity":"1","unitPrice":"1","taxRate":"0"}'
MEGABYTE_RECORDS = {
    "update with empty rowIds": COMMAND
    + '{"action":"update","invoiceId":"i","rowIds":[<fill>""]}}',
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


def megabyte_record(case: str, topic: str) -> Record:
    template, filler = MEGABYTE_RECORDS[case], FILLERS[case]
    room = MEGABYTE - len(template) - 64
    value = template.replace("<fill>", filler * (room // max(1, len(filler)))).encode()
    assert len(value) <= MEGABYTE
    return Record(topic=topic, partition=0, offset=0, key=b"k", value=value)


def decided(record: Record) -> MemoryStore:
    store = MemoryStore(Settings())
    store.run([record])
    return store


@settings(max_examples=len(MEGABYTE_RECORDS) * 2, deadline=None)
@given(case=st.sampled_from(sorted(MEGABYTE_RECORDS)), topic=st.sampled_from([ORDERS, COMMANDS]))
def test_a_megabyte_record_is_decided_within_a_second_and_64_mib(case: str, topic: str) -> None:
    _assert_decided_within_bounds(megabyte_record(case, topic), case)


def _assert_decided_within_bounds(record: Record, case: str) -> None:
    started = time.process_time()
    store = decided(record)
    cpu = time.process_time() - started
    tracemalloc.start()
    try:
        decided(record)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cpu <= CPU_GUARD_SECONDS, f"{case}: {cpu:.2f} s"
    assert peak <= MEMORY_BYTES, f"{case}: {peak / MEGABYTE:.0f} MiB"
    topics = store.settings.topics
    [outcome] = [m for m in store.outbox if m.topic in (topics.dead_letter, topics.command_results)]
    if outcome.topic == topics.command_results:
        assert outcome.value is not None and len(outcome.value) <= MAX_RESULT_BYTES


OPENERS = {"{": ('{"":', "{}", "}"), "[": ("[", "[]", "]")}
DATA_LISTS = {  # an event's data up to where a list in it begins
    COMMANDS: '{"action":"update","invoiceId":"i","rowIds":[',
    ORDERS: '{"orderId":"1","currency":"EUR","customer":{"name":"A"},"rows":[',
}
ENVELOPES = {COMMANDS: COMMAND, ORDERS: ORDER}
BINARY_HEADERS = {  # the same envelopes in binary mode
    COMMANDS: (("ce_specversion", b"1.0"), ("ce_id", b"c-1"), ("ce_source", b"/b")),
    ORDERS: (("ce_specversion", b"1.0"), ("ce_id", b"o-1"), ("ce_source", b"/s")),
}
BINARY_TYPES = {COMMANDS: b"invoice-command", ORDERS: b"order-completed"}


@settings(max_examples=16, deadline=None)
@given(
    opener=st.sampled_from(sorted(OPENERS)),
    depth=st.integers(0, 60),
    where=st.sampled_from([COMMANDS, ORDERS]),
    binary=st.booleans(),
)
def test_a_megabyte_of_small_nested_containers_is_decided_within_a_second_and_64_mib(
    opener: str, depth: int, where: str, binary: bool
) -> None:
    """The densest JSON for memory: each byte of `{"":{"":{}}}` is dozens of bytes of
    Python objects once read, so a record may be read only once, and held read once."""
    record = nested_containers(opener, depth, where, binary)
    _assert_decided_within_bounds(record, f"{opener} {depth} {'binary' if binary else ''}")


def nested_containers(opener: str, depth: int, where: str, binary: bool) -> Record:
    """A megabyte record whose data holds a list of small containers nested `depth` deep."""
    head, leaf, tail = OPENERS[opener]
    item = head * depth + leaf + tail * depth
    prefix = DATA_LISTS[where] if binary else ENVELOPES[where] + DATA_LISTS[where]
    end = "]}" if binary else "]}}"
    room = MEGABYTE - len(prefix) - len(end)
    value = (prefix + ",".join([item] * (room // (len(item) + 1))) + end).encode()
    assert len(value) <= MEGABYTE
    headers = (*BINARY_HEADERS[where], ("ce_type", BINARY_TYPES[where])) if binary else ()
    return Record(topic=where, partition=0, offset=0, key=b"k", value=value, headers=headers)


@settings(max_examples=20, deadline=None)
@given(
    segments=st.integers(1, 300_000),
    segment=st.sampled_from(["a", "\\u000b", "\\u202e" * 70]),
    action=st.sampled_from(["void", "update", "record-payment"]),
)
def test_a_command_result_is_at_most_64_kib_whatever_the_dots_in_a_key(
    segments: int, segment: str, action: str
) -> None:
    """An object key is a path of as many segments as it has dots; refused text in it is
    reported under that path, each segment cut, but the result stays within 64 KiB."""
    key = "\\u000b" + ("." + segment) * segments
    value = (COMMAND + f'{{"action":"{action}","invoiceId":"i","{key}":1}}}}').encode()
    record = Record(topic=COMMANDS, partition=0, offset=0, key=b"k", value=value[:MEGABYTE])
    store = decided(record)
    for message in store.outbox:
        check_output(
            store.settings.topics, message.topic, message.key, message.value, message.headers
        )
