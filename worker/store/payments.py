"""The payment ledger: every payment of an invoice, with what was refunded of it."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from worker.domain.lifecycle import Invoice, Payment
from worker.store.pool import Executor


async def save_payments(connection: Executor, invoices: Sequence[Invoice]) -> None:
    """Stores the invoices' payments: new ones, and what was refunded of known ones."""
    rows = [
        (invoice, position, payment)
        for invoice in invoices
        for position, payment in enumerate(invoice.payments, start=1)
    ]
    if not rows:
        return
    await connection.execute(
        """
        INSERT INTO payments (invoice_id, payment_id, position, amount, paid_at, method,
                              reference, refunded_amount)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::numeric[],
                             $5::timestamptz[], $6::text[], $7::text[], $8::numeric[])
        ON CONFLICT (invoice_id, payment_id)
            DO UPDATE SET refunded_amount = EXCLUDED.refunded_amount
             WHERE payments.refunded_amount IS DISTINCT FROM EXCLUDED.refunded_amount
        """,
        [invoice.invoice_id for invoice, _, _ in rows],
        [payment.payment_id for _, _, payment in rows],
        [position for _, position, _ in rows],
        [payment.amount for _, _, payment in rows],
        [payment.paid_at for _, _, payment in rows],
        [payment.method for _, _, payment in rows],
        [payment.reference for _, _, payment in rows],
        [payment.refunded_amount for _, _, payment in rows],
    )


async def load_payments(
    connection: Executor, invoice_ids: Collection[str]
) -> dict[str, tuple[Payment, ...]]:
    """invoice id → its payments in the order recorded, for the invoices that have any."""
    found: dict[str, list[Payment]] = {}
    for record in await connection.fetch(
        "SELECT invoice_id::text, payment_id, amount, paid_at, method, reference,"
        " refunded_amount FROM payments WHERE invoice_id = ANY($1::uuid[])"
        " ORDER BY invoice_id, position",
        list(invoice_ids),
    ):
        found.setdefault(record["invoice_id"], []).append(
            Payment(
                payment_id=record["payment_id"],
                amount=record["amount"],
                paid_at=record["paid_at"],
                method=record["method"],
                reference=record["reference"],
                refunded_amount=record["refunded_amount"],
            )
        )
    return {invoice_id: tuple(payments) for invoice_id, payments in found.items()}
