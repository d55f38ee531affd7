"""The hostile corpus: bad records, one line each, with how docs/contract.md ("Bad input") says
each must end.

An order case is dead-lettered unchanged with `reason`, and for validation and conflict
its `x-dead-letter-error` names `path` (a dotted path inside `data`; "" is `data` or the
whole record). A command case with a usable id gets a result with ok false naming `path`
(None: any error, for rules such as an unknown invoice) and is not dead-lettered; one too
broken to answer is dead-lettered. `before` and `after` are valid events of the same order
sent around the bad one (applied, and checked like the rest of the stream).

To add a case, add a line.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from tests.faults.stream import SOURCE, command_event
from tests.integration import flows

DELETE = object()
"""As a value: remove the attribute."""
RAW = "\x00raw:"
"""A string value starting with this is written into the JSON as the raw text after it
(JSON that json.dumps would not write: 1e400)."""

MEGABYTE = "x" * (1024 * 1024)


@dataclass(frozen=True)
class Case:
    name: str
    value: dict[str, Any] | bytes | None
    reason: str
    """"validation", "conflict", "invalid-json", "not-cloudevent", "unknown-type"; for a
    command answered with a result: "rejected"; "duplicate": ignored, nothing changes."""
    path: str | None = None
    kind: str = "orders"
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def _valid_order(order_id: str) -> dict[str, Any]:
    return flows.order_event(
        order_id,
        [
            {"rowId": "1", "name": "Item", "quantity": "2", "unitPrice": "10.00", "taxRate": "21"},
            {"rowId": "2", "name": "Other", "quantity": "1", "unitPrice": "5.00", "taxRate": "9"},
        ],
        event_id=f"{order_id}-event",
        source=SOURCE,
        customer={
            "name": "Hostile Customer",
            "email": "hostile@example.com",
            "billingAddress": {"country": "NL"},
        },
    )


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is DELETE:
        del node[last]
    else:
        node[last] = value


def corpus_order(order_id: str, **changes: Any) -> dict[str, Any]:
    """A valid order event with changes at dotted paths ("data__rows__0__quantity")."""
    event = _valid_order(order_id)
    for path, value in changes.items():
        _set(event, path.replace("__", "."), value)
    return event


def corpus_command(command_id: str, **data: Any) -> dict[str, Any]:
    return command_event(command_id, None, **data)


def _dumps(value: dict[str, Any] | bytes | None) -> bytes | None:
    """The record value: JSON, with RAW strings written as the raw text they carry."""
    if not isinstance(value, dict):
        return value
    text = json.dumps(value)
    marker = json.dumps(RAW)[1:-1]  # how the marker looks inside a JSON string
    while marker in text:
        start = text.index('"' + marker)
        end = text.index('"', start + 1 + len(marker))
        text = text[:start] + text[start + 1 + len(marker) : end] + text[end + 1 :]
    return text.encode()


def with_rows(order_id: str, count: int) -> dict[str, Any]:
    event = corpus_order(order_id)
    event["data"]["rows"] = [
        {"rowId": str(n), "name": "Row", "quantity": "1", "unitPrice": "1", "taxRate": "0"}
        for n in range(count)
    ]
    return event


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_in_data(order_id: str, depth: int) -> bytes:
    event = json.dumps(corpus_order(order_id, data__customer__name="__NEST__"))
    return event.replace('"__NEST__"', "[" * depth + "]" * depth).encode()


_GARBAGE = bytes(random.Random(7).getrandbits(8) for _ in range(512))

# fmt: off
ORDER_CASES: list[Case] = [
    Case('truncated JSON', b'{"specversion": "1.0", "id": "t-1", "data": {', 'invalid-json', ''),
    Case('binary garbage', _GARBAGE, 'invalid-json', ''),
    Case('empty value', b'', 'invalid-json', ''),
    Case('no value (tombstone)', None, 'invalid-json', ''),
    Case('invalid UTF-8 inside a string', b'{"specversion": "1.0", "id": "\xff\xfe"}', 'invalid-json', ''),
    Case('UTF-16 JSON', json.dumps(corpus_order('h-utf16')).encode('utf-16'), 'invalid-json', ''),
    Case('JSON with trailing garbage', json.dumps(corpus_order('h-trail')).encode() + b' }{', 'invalid-json', ''),
    Case('nesting 100,000 deep', nested(100000), 'invalid-json', ''),
    Case('nesting 50,000 deep inside data', nested_in_data('h-deep', 50000), 'invalid-json', ''),
    # JSON, but not a CloudEvent.
    Case('JSON array', b'[1, 2, 3]', 'not-cloudevent', ''),
    Case('JSON string', b'"order-completed"', 'not-cloudevent', ''),
    Case('JSON number', b'42', 'not-cloudevent', ''),
    Case('JSON null', b'null', 'not-cloudevent', ''),
    Case('empty object', b'{}', 'not-cloudevent'),
    Case('no specversion', corpus_order('h-nospec', specversion=DELETE), 'not-cloudevent', 'specversion'),
    Case('specversion 0.3', corpus_order('h-spec03', specversion='0.3'), 'not-cloudevent', 'specversion'),
    Case('empty id', corpus_order('h-noid', id=''), 'not-cloudevent', 'id'),
    Case('id a number', corpus_order('h-numid', id=42), 'not-cloudevent', 'id'),
    Case('no source', corpus_order('h-nosource', source=DELETE), 'not-cloudevent', 'source'),
    Case('no type', corpus_order('h-notype', type=DELETE), 'not-cloudevent', 'type'),
    Case('time not RFC 3339', corpus_order('h-time', time='yesterday'), 'not-cloudevent', 'time'),
    Case('XML content type', corpus_order('h-xml', datacontenttype='application/xml'), 'not-cloudevent', 'datacontenttype'),
    Case('correlationid an object', corpus_order('h-corr', correlationid={'a': 1}), 'not-cloudevent', 'correlationid'),
    # A CloudEvent of a type nobody handles.
    Case('unknown type', corpus_order('h-type', type='order-cancelled'), 'unknown-type', 'type'),
    Case('empty type', corpus_order('h-etype', type=''), 'unknown-type', 'type'),
    Case('type in capitals', corpus_order('h-ctype', type='ORDER-COMPLETED'), 'unknown-type', 'type'),
    # order-completed that fails validation.
    Case('no data', corpus_order('h-nodata', data=DELETE), 'validation', ''),
    Case('data a string', corpus_order('h-sdata', data='order'), 'validation', ''),
    Case('data null', corpus_order('h-ndata', data=None), 'validation', ''),
    Case('no orderId', corpus_order('h-1', data__orderId=DELETE), 'validation', 'orderId'),
    Case('empty orderId', corpus_order('h-2', data__orderId=''), 'validation', 'orderId'),
    Case('orderId of 65 characters', corpus_order('h-3', data__orderId='o' * 65), 'validation', 'orderId'),
    Case('orderId a number', corpus_order('h-4', data__orderId=12345), 'validation', 'orderId'),
    Case('currency XXX', corpus_order('h-5', data__currency='XXX'), 'validation', 'currency'),
    Case('currency XAU (no minor units)', corpus_order('h-6', data__currency='XAU'), 'validation', 'currency'),
    Case('currency in lower case', corpus_order('h-7', data__currency='eur'), 'validation', 'currency'),
    Case('currency EURO', corpus_order('h-8', data__currency='EURO'), 'validation', 'currency'),
    Case('currency a number', corpus_order('h-9', data__currency=978), 'validation', 'currency'),
    Case('no customer', corpus_order('h-10', data__customer=DELETE), 'validation', 'customer'),
    Case('empty customer name', corpus_order('h-11', data__customer__name=''), 'validation', 'customer.name'),
    Case('megabyte customer name', corpus_order('h-12', data__customer__name=MEGABYTE), 'validation', 'customer.name'),
    Case('invalid email', corpus_order('h-13', data__customer__email='not-an-email'), 'validation', 'customer.email'),
    Case('email without a domain', corpus_order('h-14', data__customer__email='someone@'), 'validation', 'customer.email'),
    Case('phone not E.164', corpus_order('h-15', data__customer__phone='0612345678'), 'validation', 'customer.phone'),
    Case('country XX', corpus_order('h-16', data__customer__billingAddress__country='XX'), 'validation', 'customer.billingAddress.country'),
    Case('country in lower case', corpus_order('h-17', data__customer__billingAddress__country='nl'), 'validation', 'customer.billingAddress.country'),
    Case('no rows', corpus_order('h-18', data__rows=[]), 'validation', 'rows'),
    Case('10,000 rows', with_rows('h-19', 10000), 'validation', 'rows'),
    Case('rows an object', corpus_order('h-20', data__rows={'rowId': '1'}), 'validation', 'rows'),
    Case('negative quantity', corpus_order('h-21', data__rows__0__quantity='-1'), 'validation', 'rows.0.quantity'),
    Case('zero quantity', corpus_order('h-22', data__rows__0__quantity='0'), 'validation', 'rows.0.quantity'),
    Case('negative unit price', corpus_order('h-23', data__rows__1__unitPrice='-0.01'), 'validation', 'rows.1.unitPrice'),
    Case('tax rate over 100', corpus_order('h-24', data__rows__0__taxRate='100.5'), 'validation', 'rows.0.taxRate'),
    Case('negative discount', corpus_order('h-25', data__rows__0__discountPercent='-5'), 'validation', 'rows.0.discountPercent'),
    Case('quantity NaN as a string', corpus_order('h-26', data__rows__0__quantity='NaN'), 'validation', 'rows.0.quantity'),
    Case('quantity NaN as a JSON literal', corpus_order('h-27', data__rows__0__quantity=RAW + 'NaN'), 'validation', 'rows.0.quantity'),
    Case('unit price 1e400 as a JSON number', corpus_order('h-28', data__rows__0__unitPrice=RAW + '1e400'), 'validation', 'rows.0.unitPrice'),
    Case('unit price Infinity', corpus_order('h-29', data__rows__0__unitPrice='Infinity'), 'validation', 'rows.0.unitPrice'),
    Case('unit price of 13 integer digits', corpus_order('h-30', data__rows__0__unitPrice='1000000000000'), 'validation', 'rows.0.unitPrice'),
    Case('quantity of 7 fraction digits', corpus_order('h-31', data__rows__0__quantity='0.0000001'), 'validation', 'rows.0.quantity'),
    Case('unit price 1e-400', corpus_order('h-32', data__rows__0__unitPrice='1e-400'), 'validation', 'rows.0.unitPrice'),
    Case('quantity true', corpus_order('h-33', data__rows__0__quantity=True), 'validation', 'rows.0.quantity'),
    Case('quantity an object', corpus_order('h-34', data__rows__0__quantity={'value': 1}), 'validation', 'rows.0.quantity'),
    Case('unit price with a decimal comma', corpus_order('h-35', data__rows__0__unitPrice='12,50'), 'validation', 'rows.0.unitPrice'),
    Case('duplicate row ids', corpus_order('h-36', data__rows__1__rowId='1'), 'validation', 'rows.1.rowId'),
    Case('empty row id', corpus_order('h-37', data__rows__0__rowId=''), 'validation', 'rows.0.rowId'),
    Case('megabyte row name', corpus_order('h-38', data__rows__0__name=MEGABYTE), 'validation', 'rows.0.name'),
    Case('note of 2,000 characters', corpus_order('h-39', data__invoicing={'note': 'n' * 2000}), 'validation', 'invoicing.note'),
    Case('payment terms of 366 days', corpus_order('h-40', data__invoicing={'paymentTermsDays': 366}), 'validation', 'invoicing.paymentTermsDays'),
    Case('payment terms a word', corpus_order('h-41', data__invoicing={'paymentTermsDays': 'soon'}), 'validation', 'invoicing.paymentTermsDays'),
    Case('delivery by fax', corpus_order('h-42', data__invoicing={'delivery': 'fax'}), 'validation', 'invoicing.delivery'),
    Case('pricesIncludeTax a word', corpus_order('h-43', data__pricesIncludeTax='yes'), 'validation', 'pricesIncludeTax'),
    Case('pricesIncludeTax a number', corpus_order('h-57', data__pricesIncludeTax=1), 'validation', 'pricesIncludeTax'),
    Case('autoClose a word', corpus_order('h-56', data__invoicing={'autoClose': 'no'}), 'validation', 'invoicing.autoClose'),
    Case('line total that does not match', corpus_order('h-44', data__rows__0__lineTotal='99.99'), 'validation', 'rows.0.lineTotal'),
    Case('line total with more digits than EUR has', corpus_order('h-45', data__rows__0__lineTotal='20.000'), 'validation', 'rows.0.lineTotal'),
    Case('JPY line total with a fraction', corpus_order('h-46', data__currency='JPY', data__rows__0__unitPrice='10', data__rows__1__unitPrice='5', data__rows__0__lineTotal='20.5'), 'validation', 'rows.0.lineTotal'),
    Case('lone surrogate in a name', corpus_order('h-47', data__customer__name='Bad \ud800 name'), 'validation', 'customer.name'),
    Case('NUL character in the order id', corpus_order('h-48', data__orderId='h-48\x00'), 'validation', 'orderId'),
    Case('NUL character in the customer name', corpus_order('h-49', data__customer__name='A\x00B'), 'validation', 'customer.name'),
    Case('NUL character in the event id', corpus_order('h-50', id='h-50\x00'), 'not-cloudevent', 'id'),
    # Bombs: cheap to send, endless to convert (1e999999999 as an int) or to index.
    Case('payment terms 1e999999999', corpus_order('h-58', data__invoicing={'paymentTermsDays': RAW + '1e999999999'}), 'validation', 'invoicing.paymentTermsDays'),
    Case('quantity 1e999999999', corpus_order('h-59', data__rows__0__quantity=RAW + '1e999999999'), 'validation', 'rows.0.quantity'),
    Case('unit price 1e999999999', corpus_order('h-60', data__rows__1__unitPrice=RAW + '1e999999999'), 'validation', 'rows.1.unitPrice'),
    Case('event id of 4 KiB', corpus_order('h-61', id='h-61-' + 'i' * 4091), 'not-cloudevent', 'id'),
    Case('source of 4 KiB', corpus_order('h-62', source='/' + 's' * 4095), 'not-cloudevent', 'source'),
    # A later message that would change what is invoiced: nothing of it applied.
    Case('changed quantity of an invoiced row', corpus_order('h-51', id='h-51-change', data__rows__0__quantity='3'), 'conflict', 'rows.0.quantity', before=corpus_order('h-51')),
    Case('changed currency of an invoiced order', corpus_order('h-52', id='h-52-change', data__currency='USD'), 'conflict', 'currency', before=corpus_order('h-52')),
    # An event id seen before is a duplicate, whatever this copy says: nothing changes.
    Case("invalid record reusing an applied event's id", corpus_order('h-55', data__currency='XXX'), 'duplicate', before=corpus_order('h-55')),
    # A dead-lettered event sent again, fixed, with the same id: processed afresh.
    Case('invalid, then sent again fixed', corpus_order('h-53', data__currency=DELETE), 'validation', 'currency', after=corpus_order('h-53')),
]
# fmt: on


def _command_cases() -> list[Case]:
    unknown = "0b7f3e55-5b4f-4c5e-9d1e-6f0c2b7a0001"
    # An invoice the stream makes: the event of order h-54 (its id is stable).
    from worker.messages import stable_event_id

    made = stable_event_id("invoice", SOURCE, "h-54-event")
    before = corpus_order("h-54")
    return [
        Case(
            "unknown action",
            corpus_command("c-1", action="explode", invoiceId=unknown),
            "rejected",
            "action",
            kind="commands",
        ),
        Case(
            "no action",
            corpus_command("c-2", invoiceId=unknown),
            "rejected",
            "action",
            kind="commands",
        ),
        Case(
            "close without invoiceId",
            corpus_command("c-3", action="close"),
            "rejected",
            "invoiceId",
            kind="commands",
        ),
        Case(
            "close of an unknown invoice",
            corpus_command("c-4", action="close", invoiceId=unknown),
            "rejected",
            kind="commands",
        ),
        Case(
            "close of an id that is no uuid",
            corpus_command("c-5", action="close", invoiceId="INV-1"),
            "rejected",
            kind="commands",
        ),
        Case(
            "negative payment",
            corpus_command("c-6", action="record-payment", invoiceId=made, amount="-5"),
            "rejected",
            "amount",
            kind="commands",
        ),
        Case(
            "payment NaN",
            corpus_command("c-7", action="record-payment", invoiceId=made, amount="NaN"),
            "rejected",
            "amount",
            kind="commands",
        ),
        Case(
            "payment 1e400",
            corpus_command("c-8", action="record-payment", invoiceId=made, amount=RAW + "1e400"),
            "rejected",
            "amount",
            kind="commands",
        ),
        Case(
            "payment on an unknown invoice",
            corpus_command("c-9", action="record-payment", invoiceId=unknown, amount="1"),
            "rejected",
            kind="commands",
        ),
        Case(
            "payment over the amount due",
            corpus_command(
                "c-10", orderId="h-54", action="record-payment", invoiceId=made, amount="100000"
            ),
            "rejected",
            "amount",
            kind="commands",
            before=before,
        ),
        Case(
            "void with an empty reason",
            corpus_command("c-11", action="void", invoiceId=made, reason=""),
            "rejected",
            "reason",
            kind="commands",
        ),
        Case(
            "void with a megabyte reason",
            corpus_command("c-12", action="void", invoiceId=made, reason=MEGABYTE),
            "rejected",
            "reason",
            kind="commands",
        ),
        Case(
            "send to an invalid email",
            corpus_command("c-13", action="send", invoiceId=made, recipient="nobody"),
            "rejected",
            "recipient",
            kind="commands",
        ),
        Case(
            "send by fax",
            corpus_command("c-14", action="send", invoiceId=made, channel="fax"),
            "rejected",
            "channel",
            kind="commands",
        ),
        Case(
            "create for an unknown order",
            corpus_command("c-15", action="create", orderId="h-nowhere"),
            "rejected",
            kind="commands",
        ),
        Case(
            "create with duplicate row ids",
            corpus_command("c-16", action="create", orderId="h-54", rowIds=["1", "1"]),
            "rejected",
            "rowIds.1",
            kind="commands",
        ),
        Case(
            "update with expectedVersion 0",
            corpus_command("c-17", action="update", invoiceId=made, expectedVersion=0),
            "rejected",
            "expectedVersion",
            kind="commands",
        ),
        Case(
            "update with expectedVersion 1e5000",
            corpus_command("c-22", action="update", invoiceId=made, expectedVersion=RAW + "1e5000"),
            "rejected",
            "expectedVersion",
            kind="commands",
        ),
        Case(
            "command id of 4 KiB",
            corpus_command("c-23-" + "i" * 4092, action="close", invoiceId=made),
            "not-cloudevent",
            "id",
            kind="commands",
        ),
        Case(
            "delete of a closed invoice",
            corpus_command("c-18", orderId="h-54", action="delete", invoiceId=made),
            "rejected",
            kind="commands",
        ),
        Case(
            "due date that is no date",
            corpus_command("c-19", action="update", invoiceId=made, dueDate="2026-13-45"),
            "rejected",
            "dueDate",
            kind="commands",
        ),
        Case(
            "command data a string",
            {**corpus_command("c-20"), "data": "close it"},
            "rejected",
            "",
            kind="commands",
        ),
        Case(
            "command without an id",
            {
                k: v
                for k, v in corpus_command("c-21", action="close", invoiceId=made).items()
                if k != "id"
            },
            "not-cloudevent",
            "id",
            kind="commands",
        ),
        Case("command that is not JSON", b"close INV-1", "invalid-json", "", kind="commands"),
    ]
    # fmt: on


COMMAND_CASES = _command_cases()
CORPUS = [*ORDER_CASES, *COMMAND_CASES]


def record_value(case: Case) -> bytes | None:
    return _dumps(case.value) if isinstance(case.value, dict) else case.value


def event_id(value: dict[str, Any] | bytes | None) -> str | None:
    found = value.get("id") if isinstance(value, dict) else None
    return found if isinstance(found, str) else None
