"""Orders and their rows: locked, loaded and saved a whole batch at a time."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable

from worker.domain.invoice import AdjustmentKey, AdjustmentKind, OrderRow, row_fields_of
from worker.domain.order import Order, OrderDetails
from worker.store.adjustments import adjustment_json, adjustments_of
from worker.store.invoices import treatment_arrays, treatment_of
from worker.store.parties import customer_json, customer_of, purchase_json, purchase_of
from worker.store.pool import Executor, numeric_text

# Advisory lock namespace for orders. Taken in sorted order, so two transactions that
# touch the same orders wait for each other instead of deadlocking.
ORDER_LOCK_NAMESPACE = 0x1A70


async def lock_orders(connection: Executor, order_ids: Collection[str]) -> None:
    """Serializes all work on these orders, across replicas, until the transaction ends.
    Works for orders not stored yet too, which a row lock could not."""
    await connection.execute(
        "SELECT count(pg_advisory_xact_lock($1, hashtext(order_id)))"
        " FROM unnest($2::text[]) AS order_id",
        ORDER_LOCK_NAMESPACE,
        sorted(set(order_ids)),
    )


async def load_orders(connection: Executor, order_ids: Collection[str]) -> dict[str, Order]:
    ids = list(set(order_ids))
    records = await connection.fetch(
        "SELECT order_id, order_code, currency, prices_include_tax, customer, purchase,"
        " delivery, adjustments, seller_id, payment_terms_days"
        " FROM orders WHERE order_id = ANY($1::text[])",
        ids,
    )
    details = {
        record["order_id"]: OrderDetails(
            order_code=record["order_code"],
            currency=record["currency"],
            prices_include_tax=record["prices_include_tax"],
            customer=customer_of(record["customer"]),
            purchase=purchase_of(record["purchase"]),
            delivery=record["delivery"],
            seller_id=record["seller_id"],
            payment_terms_days=record["payment_terms_days"],
        )
        for record in records
    }
    adjustments = {
        record["order_id"]: {a.key: a for a in adjustments_of(record["adjustments"])}
        for record in records
    }
    known = list(details)
    rows: dict[str, dict[str, OrderRow]] = {order_id: {} for order_id in known}
    held: dict[str, set[str]] = {order_id: set() for order_id in known}
    if known:  # new orders have no rows and no invoices yet
        # Rows and invoice lines are looked up order by order through their indexes (a
        # LATERAL subquery, kept apart by OFFSET 0). `order_id = ANY($1)` lets the planner
        # guess how many rows match; while the tables are young and not analyzed yet it
        # guesses a large share, scans the whole table for every batch, and each batch
        # costs more than the one before.
        for record in await connection.fetch(
            "SELECT r.order_id, r.row_id, r.position, r.sku, r.name, r.quantity, r.unit,"
            " r.unit_price, r.discount_percent, r.tax_rate, r.tax_category,"
            " r.tax_exemption_reason, r.tax_exemption_reason_code"
            " FROM unnest($1::text[]) AS k(order_id) CROSS JOIN LATERAL"
            " (SELECT * FROM order_rows WHERE order_rows.order_id = k.order_id OFFSET 0) AS r"
            " ORDER BY r.order_id, r.position",
            known,
        ):
            rows[record["order_id"]][record["row_id"]] = OrderRow(
                row_id=record["row_id"],
                position=record["position"],
                **row_fields_of(record),
                treatment=treatment_of(record),
            )
        for record in await connection.fetch(
            "SELECT l.order_id, l.order_row_id"
            " FROM unnest($1::text[]) AS k(order_id) CROSS JOIN LATERAL"
            " (SELECT order_id, order_row_id FROM invoice_lines"
            "   WHERE invoice_lines.order_id = k.order_id AND holds_row OFFSET 0) AS l",
            known,
        ):
            held[record["order_id"]].add(record["order_row_id"])
    held_adjustments = await _held_adjustments(
        connection, [order_id for order_id in known if adjustments[order_id]]
    )
    return {
        order_id: Order(
            order_id,
            details[order_id],
            rows[order_id],
            frozenset(held[order_id]),
            adjustments[order_id],
            frozenset(held_adjustments.get(order_id, ())),
        )
        for order_id in known
    }


async def _held_adjustments(
    connection: Executor, order_ids: list[str]
) -> dict[str, set[AdjustmentKey]]:
    """The charges and allowances on a live invoice of each of these orders."""
    held: dict[str, set[AdjustmentKey]] = {}
    if not order_ids:
        return held
    for record in await connection.fetch(
        "SELECT i.order_id, a.kind, a.id"
        " FROM invoices AS i"
        " CROSS JOIN LATERAL jsonb_to_recordset(i.adjustments) AS a(kind text, id text)"
        " WHERE i.order_id = ANY($1::text[]) AND i.type = 'invoice'"
        "   AND i.status IN ('draft', 'open', 'paid')",
        order_ids,
    ):
        held.setdefault(record["order_id"], set()).add(
            (AdjustmentKind(record["kind"]), record["id"])
        )
    return held


async def save_orders(connection: Executor, orders: Iterable[Order]) -> None:
    batch = list(orders)
    if not batch:
        return
    await connection.execute(
        """
        INSERT INTO orders (order_id, order_code, currency, prices_include_tax, customer,
                            purchase, delivery, adjustments, seller_id, payment_terms_days)
        SELECT order_id, order_code, currency, prices_include_tax, customer::jsonb,
               purchase::jsonb, delivery, adjustments::jsonb, seller_id, payment_terms_days
          FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::text[],
                      $6::text[], $7::text[], $8::text[], $9::text[], $10::integer[])
               AS t(order_id, order_code, currency, prices_include_tax, customer, purchase,
                    delivery, adjustments, seller_id, payment_terms_days)
        ON CONFLICT (order_id) DO UPDATE SET
            order_code = EXCLUDED.order_code,
            currency = EXCLUDED.currency,
            prices_include_tax = EXCLUDED.prices_include_tax,
            customer = EXCLUDED.customer,
            purchase = EXCLUDED.purchase,
            delivery = EXCLUDED.delivery,
            adjustments = EXCLUDED.adjustments,
            seller_id = EXCLUDED.seller_id,
            payment_terms_days = EXCLUDED.payment_terms_days,
            updated_at = now()
        """,
        [order.order_id for order in batch],
        [order.details.order_code for order in batch],
        [order.details.currency for order in batch],
        [order.details.prices_include_tax for order in batch],
        [json.dumps(customer_json(order.details.customer)) for order in batch],
        [json.dumps(purchase_json(order.details.purchase)) for order in batch],
        [order.details.delivery for order in batch],
        [json.dumps([adjustment_json(a) for a in order.adjustments.values()]) for order in batch],
        [order.details.seller_id for order in batch],
        [order.details.payment_terms_days for order in batch],
    )


async def save_rows(connection: Executor, rows: Iterable[tuple[str, OrderRow]]) -> None:
    """Upserts rows by (order id, row id); a row keeps its first position."""
    batch = list(rows)
    if not batch:
        return
    await connection.execute(
        """
        INSERT INTO order_rows (order_id, row_id, position, sku, name, quantity, unit,
                                unit_price, discount_percent, tax_rate, tax_category,
                                tax_exemption_reason, tax_exemption_reason_code)
        SELECT order_id, row_id, position, sku, name, quantity::numeric, unit,
               unit_price::numeric, discount_percent::numeric, tax_rate::numeric,
               tax_category, tax_exemption_reason, tax_exemption_reason_code
          FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[],
                      $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                      $11::text[], $12::text[], $13::text[])
               AS t(order_id, row_id, position, sku, name, quantity, unit, unit_price,
                    discount_percent, tax_rate, tax_category, tax_exemption_reason,
                    tax_exemption_reason_code)
        ON CONFLICT (order_id, row_id) DO UPDATE SET
            sku = EXCLUDED.sku,
            name = EXCLUDED.name,
            quantity = EXCLUDED.quantity,
            unit = EXCLUDED.unit,
            unit_price = EXCLUDED.unit_price,
            discount_percent = EXCLUDED.discount_percent,
            tax_rate = EXCLUDED.tax_rate,
            tax_category = EXCLUDED.tax_category,
            tax_exemption_reason = EXCLUDED.tax_exemption_reason,
            tax_exemption_reason_code = EXCLUDED.tax_exemption_reason_code
        """,
        [order_id for order_id, _ in batch],
        [row.row_id for _, row in batch],
        [row.position for _, row in batch],
        [row.sku for _, row in batch],
        [row.name for _, row in batch],
        [numeric_text(row.quantity) for _, row in batch],
        [row.unit for _, row in batch],
        [numeric_text(row.unit_price) for _, row in batch],
        [numeric_text(row.discount_percent) for _, row in batch],
        [numeric_text(row.tax_rate) for _, row in batch],
        *treatment_arrays([row.treatment for _, row in batch]),
    )
