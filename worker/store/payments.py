"""The payment ledger: every payment of an invoice, with its refunds."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from worker.domain.lifecycle import Invoice, Payment, PaymentRefund
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
    await _save_refunds(connection, rows)


async def _save_refunds(
    connection: Executor, payments: Sequence[tuple[Invoice, int, Payment]]
) -> None:
    """Stores the refunds not stored yet (a refund never changes)."""
    rows = [
        (invoice, payment, position, refund)
        for invoice, _, payment in payments
        for position, refund in enumerate(payment.refunds, start=1)
    ]
    if not rows:
        return
    await connection.execute(
        """
        INSERT INTO payment_refunds (invoice_id, refund_id, payment_id, position, amount,
                                     refunded_at, reason)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::integer[], $5::numeric[],
                             $6::timestamptz[], $7::text[])
        ON CONFLICT (invoice_id, refund_id) DO NOTHING
        """,
        [invoice.invoice_id for invoice, _, _, _ in rows],
        [refund.refund_id for _, _, _, refund in rows],
        [payment.payment_id for _, payment, _, _ in rows],
        [position for _, _, position, _ in rows],
        [refund.amount for _, _, _, refund in rows],
        [refund.refunded_at for _, _, _, refund in rows],
        [refund.reason for _, _, _, refund in rows],
    )


async def load_payments(
    connection: Executor, invoice_ids: Collection[str]
) -> dict[str, tuple[Payment, ...]]:
    """invoice id → its payments in the order recorded, each with its refunds in the order
    given, for the invoices that have any."""
    ids = list(invoice_ids)
    refunds: dict[tuple[str, str], list[PaymentRefund]] = {}
    for record in await connection.fetch(
        "SELECT invoice_id::text, payment_id, refund_id, amount, refunded_at, reason"
        " FROM payment_refunds WHERE invoice_id = ANY($1::uuid[])"
        " ORDER BY invoice_id, payment_id, position",
        ids,
    ):
        refunds.setdefault((record["invoice_id"], record["payment_id"]), []).append(
            PaymentRefund(
                refund_id=record["refund_id"],
                amount=record["amount"],
                refunded_at=record["refunded_at"],
                reason=record["reason"],
            )
        )
    found: dict[str, list[Payment]] = {}
    for record in await connection.fetch(
        "SELECT invoice_id::text, payment_id, amount, paid_at, method, reference"
        " FROM payments WHERE invoice_id = ANY($1::uuid[]) ORDER BY invoice_id, position",
        ids,
    ):
        key = (record["invoice_id"], record["payment_id"])
        found.setdefault(record["invoice_id"], []).append(
            Payment(
                payment_id=record["payment_id"],
                amount=record["amount"],
                paid_at=record["paid_at"],
                method=record["method"],
                reference=record["reference"],
                refunds=tuple(refunds.get(key, ())),
            )
        )
    return {invoice_id: tuple(payments) for invoice_id, payments in found.items()}
