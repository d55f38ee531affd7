"""b. The database's limit: the writes the worker makes per order (the order, its rows, the
invoice, its lines, the number, the inbox entry and two outbox rows) issued directly with
asyncpg, a batch per transaction, in the best batched forms we can write:

- `unnest`: one INSERT ... SELECT FROM unnest($1::text[], ...) per table, upserting orders
  and rows as the worker must;
- `copy`: binary COPY per table (plain inserts: every order is new here, so this is the
  upper bound), on one connection, and on two connections side by side.

Everything the statements carry is computed before the clock starts: what is timed is the
driver and the server. The worker additionally locks and reads per batch (advisory locks,
the inbox, the orders); the limit leaves those out, so it is an upper bound.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import asyncpg

from bench.orders import BenchOrder
from bench.services import Services, fresh_scenario

_MINOR_DIGITS = {"JPY": 0}
NUMBER_PREFIX = "INV"
ORDER_COLUMNS = ("order_id", "order_code", "currency", "prices_include_tax", "customer")
ROW_COLUMNS = (
    "order_id",
    "row_id",
    "position",
    "sku",
    "name",
    "quantity",
    "unit",
    "unit_price",
    "discount_percent",
    "tax_rate",
)
INVOICE_COLUMNS = (
    "invoice_id",
    "order_id",
    "type",
    "status",
    "version",
    "invoice_number",
    "order_code",
    "currency",
    "prices_include_tax",
    "customer",
    "payment_terms_days",
    "issue_date",
    "due_date",
    "closed_at",
    "net_amount",
    "tax_amount",
    "gross_amount",
    "tax_breakdown",
)
LINE_COLUMNS = (
    "invoice_id",
    "line_no",
    "order_id",
    "order_row_id",
    "holds_row",
    "sku",
    "name",
    "quantity",
    "unit",
    "unit_price",
    "discount_percent",
    "tax_rate",
    "net_amount",
    "gross_amount",
)
INBOX_COLUMNS = ("source", "event_id", "event_type", "outcome")
OUTBOX_COLUMNS = ("topic", "key", "value", "headers", "event_time")


@dataclass(frozen=True, slots=True)
class OrderWrites:
    """Every row one order adds, but the invoice's number (taken in the transaction)."""

    order: tuple[Any, ...]
    rows: list[tuple[Any, ...]]
    invoice: tuple[Any, ...]  # invoice_number (index 5) is filled in when numbered
    lines: list[tuple[Any, ...]]
    inbox: tuple[Any, ...]
    outbox: list[tuple[Any, ...]]


def _quantize(value: Decimal, currency: str) -> Decimal:
    digits = _MINOR_DIGITS.get(currency, 2)
    return value.quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)


def order_writes(order: BenchOrder, topics: tuple[str, str], now: datetime) -> OrderWrites:
    event = order.event
    data = event["data"]
    currency = data["currency"]
    customer = json.dumps(data["customer"])
    invoice_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{event['source']}/{event['id']}")
    rows = []
    lines = []
    by_rate: dict[Decimal, Decimal] = {}
    for position, row in enumerate(data["rows"]):
        quantity = Decimal(row["quantity"])
        unit_price = Decimal(row["unitPrice"])
        discount = Decimal(row.get("discountPercent", "0"))
        rate = Decimal(row["taxRate"])
        amount = _quantize(quantity * unit_price * (1 - discount / 100), currency)
        by_rate[rate] = by_rate.get(rate, Decimal(0)) + amount
        values = (row.get("sku"), row["name"], quantity, row.get("unit"), unit_price)
        rows.append((order.order_id, row["rowId"], position, *values, discount, rate))
        line_key = (invoice_id, position + 1, order.order_id, row["rowId"], True)
        lines.append((*line_key, *values, discount, rate, amount, None))
    breakdown = [
        {"taxRate": str(rate), "taxableAmount": str(net), "taxAmount": str(tax)}
        for rate, net in sorted(by_rate.items())
        for tax in [_quantize(net * rate / 100, currency)]
    ]
    net_total = sum(by_rate.values(), Decimal(0))
    tax_total = sum((Decimal(group["taxAmount"]) for group in breakdown), Decimal(0))
    issue_date = now.date()
    invoice = (
        invoice_id,
        order.order_id,
        "invoice",
        "open",
        1,
        None,
        data.get("orderCode"),
        currency,
        data["pricesIncludeTax"],
        customer,
        14,
        issue_date,
        issue_date + timedelta(days=14),
        now,
        net_total,
        tax_total,
        net_total + tax_total,
        json.dumps(breakdown),
    )
    # Outbox values of the sizes the worker writes: the invoice-closed event carries the
    # whole invoice, the notification a summary.
    closed_value = json.dumps({"type": "invoice-closed", "data": data, "taxBreakdown": breakdown})
    notification_value = json.dumps(
        {"type": "notification-requested", "invoiceId": str(invoice_id), "orderId": order.order_id}
    )
    event_time = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    key = order.key
    return OrderWrites(
        order=(order.order_id, data.get("orderCode"), currency, data["pricesIncludeTax"], customer),
        rows=rows,
        invoice=invoice,
        lines=lines,
        inbox=(event["source"], event["id"], "order-completed", "applied"),
        outbox=[
            (topics[0], key, closed_value.encode(), "[]", event_time),
            (topics[1], key, notification_value.encode(), "[]", event_time),
        ],
    )


async def _reserve_numbers(connection: asyncpg.Connection, year: int, count: int) -> int:
    """The first of `count` numbers taken from the series: the worker's statement."""
    last: int = await connection.fetchval(
        """
        INSERT INTO number_series AS series (prefix, year, last_number) VALUES ($1, $2, $3)
        ON CONFLICT (prefix, year) DO UPDATE
            SET last_number = series.last_number + EXCLUDED.last_number
        RETURNING last_number
        """,
        NUMBER_PREFIX,
        year,
        count,
    )
    return last - count + 1


def _numbered(batch: Sequence[OrderWrites], first: int, year: int) -> list[tuple[Any, ...]]:
    return [
        (*writes.invoice[:5], f"{NUMBER_PREFIX}-{year}-{first + index:06d}", *writes.invoice[6:])
        for index, writes in enumerate(batch)
    ]


def _columns(records: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    if not records:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*records, strict=True)]


_UNNEST_ORDERS = """
INSERT INTO orders (order_id, order_code, currency, prices_include_tax, customer)
SELECT order_id, order_code, currency, prices_include_tax, customer::jsonb
  FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::text[])
       AS t(order_id, order_code, currency, prices_include_tax, customer)
ON CONFLICT (order_id) DO UPDATE SET
    order_code = EXCLUDED.order_code, currency = EXCLUDED.currency,
    prices_include_tax = EXCLUDED.prices_include_tax, customer = EXCLUDED.customer,
    updated_at = now()
"""
_UNNEST_ROWS = """
INSERT INTO order_rows (order_id, row_id, position, sku, name, quantity, unit, unit_price,
                        discount_percent, tax_rate)
SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[],
                     $6::numeric[], $7::text[], $8::numeric[], $9::numeric[], $10::numeric[])
ON CONFLICT (order_id, row_id) DO UPDATE SET
    sku = EXCLUDED.sku, name = EXCLUDED.name, quantity = EXCLUDED.quantity,
    unit = EXCLUDED.unit, unit_price = EXCLUDED.unit_price,
    discount_percent = EXCLUDED.discount_percent, tax_rate = EXCLUDED.tax_rate
"""
_UNNEST_INVOICES = """
INSERT INTO invoices (invoice_id, order_id, type, status, version, invoice_number, order_code,
                      currency, prices_include_tax, customer, payment_terms_days, issue_date,
                      due_date, closed_at, net_amount, tax_amount, gross_amount, tax_breakdown)
SELECT invoice_id, order_id, type, status, version, invoice_number, order_code, currency,
       prices_include_tax, customer::jsonb, payment_terms_days, issue_date, due_date,
       closed_at, net_amount, tax_amount, gross_amount, tax_breakdown::jsonb
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[],
              $7::text[], $8::text[], $9::boolean[], $10::text[], $11::integer[],
              $12::date[], $13::date[], $14::timestamptz[], $15::numeric[], $16::numeric[],
              $17::numeric[], $18::text[])
    AS t(invoice_id, order_id, type, status, version, invoice_number, order_code, currency,
         prices_include_tax, customer, payment_terms_days, issue_date, due_date, closed_at,
         net_amount, tax_amount, gross_amount, tax_breakdown)
"""
_UNNEST_LINES = """
INSERT INTO invoice_lines (invoice_id, line_no, order_id, order_row_id, holds_row, sku, name,
                           quantity, unit, unit_price, discount_percent, tax_rate, net_amount,
                           gross_amount)
SELECT * FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::text[], $5::boolean[],
                     $6::text[], $7::text[], $8::numeric[], $9::text[], $10::numeric[],
                     $11::numeric[], $12::numeric[], $13::numeric[], $14::numeric[])
"""
_UNNEST_OUTBOX = """
INSERT INTO outbox (topic, key, value, headers, event_time)
SELECT topic, key, value, headers::jsonb, event_time
  FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[], $5::timestamptz[])
       WITH ORDINALITY AS m(topic, key, value, headers, event_time, n)
 ORDER BY n
"""
_UNNEST_INBOX = """
INSERT INTO inbox (source, event_id, event_type, outcome)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
"""


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    writes: list[OrderWrites]
    orders: list[tuple[Any, ...]]
    rows: list[tuple[Any, ...]]
    lines: list[tuple[Any, ...]]
    inbox: list[tuple[Any, ...]]
    outbox: list[tuple[Any, ...]]


def prepare_batches(writes: Sequence[OrderWrites], batch_size: int) -> list[PreparedBatch]:
    batches = []
    for start in range(0, len(writes), batch_size):
        chunk = list(writes[start : start + batch_size])
        batches.append(
            PreparedBatch(
                writes=chunk,
                orders=[w.order for w in chunk],
                rows=[row for w in chunk for row in w.rows],
                lines=[line for w in chunk for line in w.lines],
                inbox=[w.inbox for w in chunk],
                outbox=[message for w in chunk for message in w.outbox],
            )
        )
    return batches


async def _write_unnest(connection: asyncpg.Connection, batch: PreparedBatch, year: int) -> None:
    async with connection.transaction():
        await connection.execute(_UNNEST_ORDERS, *_columns(batch.orders, len(ORDER_COLUMNS)))
        await connection.execute(_UNNEST_ROWS, *_columns(batch.rows, len(ROW_COLUMNS)))
        first = await _reserve_numbers(connection, year, len(batch.writes))
        invoices = _numbered(batch.writes, first, year)
        await connection.execute(_UNNEST_INVOICES, *_columns(invoices, len(INVOICE_COLUMNS)))
        await connection.execute(_UNNEST_LINES, *_columns(batch.lines, len(LINE_COLUMNS)))
        await connection.execute(_UNNEST_OUTBOX, *_columns(batch.outbox, len(OUTBOX_COLUMNS)))
        await connection.execute(_UNNEST_INBOX, *_columns(batch.inbox, len(INBOX_COLUMNS)))


async def _write_copy(connection: asyncpg.Connection, batch: PreparedBatch, year: int) -> None:
    async with connection.transaction():
        await connection.copy_records_to_table(
            "orders", records=batch.orders, columns=ORDER_COLUMNS
        )
        await connection.copy_records_to_table(
            "order_rows", records=batch.rows, columns=ROW_COLUMNS
        )
        first = await _reserve_numbers(connection, year, len(batch.writes))
        await connection.copy_records_to_table(
            "invoices", records=_numbered(batch.writes, first, year), columns=INVOICE_COLUMNS
        )
        await connection.copy_records_to_table(
            "invoice_lines", records=batch.lines, columns=LINE_COLUMNS
        )
        await connection.copy_records_to_table(
            "outbox", records=batch.outbox, columns=OUTBOX_COLUMNS
        )
        await connection.copy_records_to_table("inbox", records=batch.inbox, columns=INBOX_COLUMNS)


_WRITERS = {"unnest": _write_unnest, "copy": _write_copy}


@dataclass(frozen=True, slots=True)
class DatabaseVariant:
    form: str
    connections: int
    orders: int
    seconds: float
    rows_written: int

    @property
    def name(self) -> str:
        return f"{self.form}, {self.connections} connection{'s' if self.connections > 1 else ''}"

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds


@dataclass(frozen=True, slots=True)
class DatabaseResult:
    batch_size: int
    variants: list[DatabaseVariant]

    @property
    def best(self) -> DatabaseVariant:
        return max(self.variants, key=lambda variant: variant.orders_per_second)

    @property
    def orders_per_second(self) -> float:
        return self.best.orders_per_second


async def _count_rows(connection: asyncpg.Connection) -> int:
    total: int = await connection.fetchval(
        "SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM order_rows)"
        " + (SELECT count(*) FROM invoices) + (SELECT count(*) FROM invoice_lines)"
        " + (SELECT count(*) FROM inbox) + (SELECT count(*) FROM outbox)"
    )
    return total


async def _run_variant(
    services: Services,
    orders: Sequence[BenchOrder],
    form: str,
    connections: int,
    batch_size: int,
    seconds_allowed: float,
) -> DatabaseVariant:
    async with fresh_scenario(services, f"db_{form}_{connections}", 1) as scenario:
        topics = scenario.settings.topics
        now = datetime.now(UTC)
        writes = [
            order_writes(order, (topics.invoices_closed, topics.notifications_requested), now)
            for order in orders
        ]
        batches = prepare_batches(writes, batch_size)
        opened = [await asyncpg.connect(scenario.settings.database_url) for _ in range(connections)]
        try:
            write = _WRITERS[form]
            # Each connection takes every n-th batch, as partitions side by side would.
            lanes = [batches[lane::connections] for lane in range(connections)]

            async def run_lane(connection: asyncpg.Connection, lane: list[PreparedBatch]) -> None:
                for batch in lane:
                    await write(connection, batch, now.year)

            started = time.perf_counter()
            async with asyncio.timeout(seconds_allowed):
                await asyncio.gather(*itertools.starmap(run_lane, zip(opened, lanes, strict=True)))
            seconds = time.perf_counter() - started
            rows_written = await _count_rows(opened[0])
        finally:
            for connection in opened:
                await connection.close()
    return DatabaseVariant(form, connections, len(orders), seconds, rows_written)


VARIANTS = (("unnest", 1), ("copy", 1), ("copy", 2))


async def measure_database(
    services: Services, orders: Sequence[BenchOrder], batch_size: int, seconds_allowed: float
) -> DatabaseResult:
    variants = [
        await _run_variant(services, orders, form, connections, batch_size, seconds_allowed)
        for form, connections in VARIANTS
    ]
    return DatabaseResult(batch_size, variants)
