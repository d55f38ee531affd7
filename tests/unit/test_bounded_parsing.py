"""A record's cost is bounded by its size: every record up to 1 MiB is decided (parsed or
rejected) within a fixed time and memory, whatever its numbers, strings, nesting or keys,
and parse_event never raises."""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.messages import (
    MAX_HEADER_BYTES,
    InvoiceCommandEvent,
    OrderCompletedEvent,
    Rejection,
    parse_event,
)

MEGABYTE = 2**20
BUDGET_SECONDS = 2.0
"""Of processor time per record (the work done, whatever else the machine runs): a megabyte
takes under 0.5 s."""
MEMORY_PER_BYTE = 64
"""At most this many bytes of Python memory (tracemalloc's peak) per byte of the record, and a
megabyte more."""
HOLE = "<hostile>"
_ROOM = MEGABYTE - 2048
"""What a hostile value may take of a megabyte: the event around it takes less than the rest."""


def _order() -> dict[str, Any]:
    row = {
        "rowId": "1",
        "name": "Tea",
        "quantity": "2",
        "unitPrice": "4.50",
        "taxRate": "9",
        "discountPercent": "0",
        "lineTotal": "9.81",
    }
    return {
        "specversion": "1.0",
        "id": "event-1",
        "source": "/shop",
        "type": "order-completed",
        "time": "2026-11-23T10:15:00Z",
        "correlationid": "req-1",
        "data": {
            "orderId": "SO-1",
            "currency": "EUR",
            "customer": {"name": "Tanya Lee", "billingAddress": {"country": "NL"}},
            "rows": [row],
            "invoicing": {"paymentTermsDays": 14, "note": "thanks"},
        },
    }


def _command(**data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "command-1",
        "source": "/backoffice",
        "type": "invoice-command",
        "data": {"invoiceId": "i", **data},
    }


# Where a hostile value goes: every numeric field, and the places around them.
NUMBER_PLACES: list[tuple[dict[str, Any], tuple[str | int, ...]]] = [
    *(
        (_order(), ("data", "rows", 0, field))
        for field in ("quantity", "unitPrice", "taxRate", "discountPercent", "lineTotal")
    ),
    (_order(), ("data", "invoicing", "paymentTermsDays")),
    (_command(action="update", expectedVersion=2), ("data", "expectedVersion")),
    (_command(action="record-payment", amount="1.00"), ("data", "amount")),
]
OTHER_PLACES: list[tuple[dict[str, Any], tuple[str | int, ...]]] = [
    (_order(), ("data", "rows", 0, "name")),
    (_order(), ("data", "invoicing", "note")),
    (_order(), ("data", "customer", "name")),
    (_order(), ("data", "customer", "billingAddress")),
    (_order(), ("data", "rows", 0)),
    (_order(), ("data", "rows")),
    (_order(), ("data", "orderId")),
    (_order(), ("data", "unknownField")),
    (_order(), ("data",)),
    *((_order(), (attribute,)) for attribute in ("id", "source", "type", "time", "correlationid")),
    (_order(), ("unknownattribute",)),
    (_command(action="update"), ("data", "dueDate")),
    (_command(action="close"), ("data", "action")),
    (_command(action="send"), ("data", "recipient")),
]


def _with_hole(event: dict[str, Any], path: tuple[str | int, ...]) -> str:
    event = json.loads(json.dumps(event))  # a copy
    *parents, last = path
    node: Any = event
    for part in parents:
        node = node[part]
    node[last] = HOLE
    return json.dumps(event)


NUMBER_TEMPLATES = [_with_hole(event, path) for event, path in NUMBER_PLACES]
TEMPLATES = NUMBER_TEMPLATES + [_with_hole(event, path) for event, path in OTHER_PLACES]


def _digits(count: int) -> str:
    """`count` digits, the first not 0."""
    return ("1234567890" * (count // 10 + 1))[:count]


sizes = st.one_of(st.integers(1, _ROOM), st.just(_ROOM))  # a megabyte often
huge_exponents = st.builds(
    "{}e{}{}".format,
    st.sampled_from(["1", "-1", "0", "9.5", "-0.000001", "123456789012"]),
    st.sampled_from(["", "+", "-"]),
    st.one_of(st.integers(0, 10**30), st.sampled_from([5000, 400_000, 40_000_000, 999_999_999])),
)
many_digits = st.one_of(
    sizes.map(lambda n: "9" * n),
    sizes.map(lambda n: "-" + _digits(n)),
    sizes.map(lambda n: "0." + _digits(n)),
    sizes.map(lambda n: _digits(n // 2) + "7." + _digits(n // 2) + "e-3"),
)
long_strings = st.one_of(
    sizes.map(lambda n: json.dumps("x" * n)),
    sizes.map(lambda n: json.dumps("ü" * (n // 2), ensure_ascii=False)),
    sizes.map(lambda n: '"' + "\\u0000" * (n // 6) + '"'),
    sizes.map(lambda n: '"' + "\\ud800" * (n // 6) + '"'),
    sizes.map(lambda n: json.dumps(_digits(n))),
)
deep_nesting = st.one_of(
    sizes.map(lambda n: "[" * (n // 2) + "]" * (n // 2)),
    sizes.map(lambda n: '{"a":' * (n // 6) + '"\\u0000"' + "}" * (n // 6)),
    st.integers(1, 2000).map(lambda n: '{"rows":' * n + "1e999999999" + "}" * n),
)


def _repeated(item: str, share: float) -> str:
    """`item` in an array, as many times as fit in `share` of a megabyte."""
    return "[" + ",".join([item] * int(share * _ROOM / (len(item) + 1))) + "]"


many_values = st.builds(
    _repeated,
    st.sampled_from(
        [
            "1e999999999",
            "1" * 13,
            "0.5",
            "0",
            "{}",
            "[]",
            '""',
            json.dumps(_order()["data"]["rows"][0]),
            '{"rowId":"1","quantity":1e999999999,"unitPrice":1e-999999999}',
        ]
    ),
    st.one_of(st.floats(0, 1), st.just(1.0)),
)
many_keys = st.one_of(st.integers(0, _ROOM // 26), st.just(_ROOM // 26)).map(
    lambda n: "{" + ",".join(f'"k{i}":1e9999999{i}' for i in range(n)) + "}"
)
hostile_values = st.one_of(
    huge_exponents, many_digits, long_strings, deep_nesting, many_values, many_keys
)


def _filled(template: str, hostile: str) -> bytes:
    value = template.replace(json.dumps(HOLE), hostile).encode()
    assert len(value) <= MEGABYTE
    return value


records = st.one_of(
    st.builds(_filled, st.sampled_from(NUMBER_TEMPLATES), st.one_of(huge_exponents, many_digits)),
    st.builds(_filled, st.sampled_from(TEMPLATES), hostile_values),
)


def _decide(value: bytes) -> OrderCompletedEvent | InvoiceCommandEvent | Rejection:
    """What the worker does with a record before anything else: parse it, and for a rejection
    write the dead-letter header."""
    outcome = parse_event(value)
    if isinstance(outcome, Rejection):
        assert len(outcome.header_value()) <= MAX_HEADER_BYTES
    return outcome


@settings(max_examples=150, deadline=None)
@given(records)
def test_every_record_up_to_a_megabyte_is_decided_within_a_fixed_processor_time(
    value: bytes,
) -> None:
    start = time.process_time()
    outcome = _decide(value)
    elapsed = time.process_time() - start

    assert isinstance(outcome, OrderCompletedEvent | InvoiceCommandEvent | Rejection)
    assert elapsed < BUDGET_SECONDS, f"{elapsed:.2f} s for {len(value)} bytes"


# An invalid order (so read exactly, number by number) with room for a megabyte of anything.
_INVALID_ORDER = _with_hole(_order(), ("data", "unknownField")).replace('"EUR"', '"XXX"')
_PAYMENT_TERMS = _with_hole(_order(), ("data", "invoicing", "paymentTermsDays"))


@pytest.mark.parametrize(
    "value",
    [
        _filled(_PAYMENT_TERMS, "1e2000000"),  # as an int: 2 million digits, megabytes
        _filled(_INVALID_ORDER, _repeated("1e999999999", 1)),
        _filled(_INVALID_ORDER, _repeated("0.5", 1)),
        _filled(_INVALID_ORDER, _repeated("1" * 13, 1)),
        _filled(_INVALID_ORDER, _repeated("{}", 1)),
        _filled(_INVALID_ORDER, "{" + ",".join(f'"k{i}":{i}' for i in range(_ROOM // 16)) + "}"),
        _filled(_INVALID_ORDER, '"' + "\\u0000" * (_ROOM // 6) + '"'),
    ],
    ids=["a bomb", "huge exponents", "decimals", "long integers", "objects", "keys", "NULs"],
)
def test_a_record_is_decided_in_memory_bounded_by_its_size(value: bytes) -> None:
    tracemalloc.start()
    try:
        _decide(value)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < MEMORY_PER_BYTE * len(value) + MEGABYTE, f"{peak / MEGABYTE:.1f} MiB"
