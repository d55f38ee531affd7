"""Invoices and their lines."""

from __future__ import annotations

import json
from collections.abc import Sequence

from worker.domain.lifecycle import Invoice
from worker.domain.money import plain
from worker.store.pool import Executor


def _tax_breakdown_json(invoice: Invoice) -> str:
    return json.dumps(
        [
            {
                "taxRate": plain(group.tax_rate),
                "taxableAmount": plain(group.taxable_amount),
                "taxAmount": plain(group.tax_amount),
            }
            for group in invoice.content.amounts.tax_breakdown
        ]
    )


async def insert_invoices(connection: Executor, invoices: Sequence[Invoice]) -> None:
    if not invoices:
        return
    await connection.execute(
        """
        INSERT INTO invoices (invoice_id, order_id, type, reference_invoice_id, status, version,
                              invoice_number, order_code, currency, prices_include_tax,
                              customer, note, payment_terms_days, issue_date, due_date,
                              closed_at, net_amount, tax_amount, gross_amount, paid_amount,
                              credited_amount, tax_breakdown)
        SELECT invoice_id, order_id, type, reference_invoice_id, status, version,
               invoice_number, order_code, currency, prices_include_tax, customer::jsonb,
               note, payment_terms_days, issue_date, due_date, closed_at, net_amount,
               tax_amount, gross_amount, paid_amount, credited_amount, tax_breakdown::jsonb
          FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[],
                      $6::integer[], $7::text[], $8::text[], $9::text[], $10::boolean[],
                      $11::text[], $12::text[], $13::integer[], $14::date[], $15::date[],
                      $16::timestamptz[], $17::numeric[], $18::numeric[], $19::numeric[],
                      $20::numeric[], $21::numeric[], $22::text[])
            AS t(invoice_id, order_id, type, reference_invoice_id, status, version,
                 invoice_number, order_code, currency, prices_include_tax, customer, note,
                 payment_terms_days, issue_date, due_date, closed_at, net_amount, tax_amount,
                 gross_amount, paid_amount, credited_amount, tax_breakdown)
        """,
        [invoice.invoice_id for invoice in invoices],
        [invoice.order_id for invoice in invoices],
        [invoice.type.value for invoice in invoices],
        [invoice.reference_invoice_id for invoice in invoices],
        [invoice.status.value for invoice in invoices],
        [invoice.version for invoice in invoices],
        [invoice.number for invoice in invoices],
        [invoice.order_code for invoice in invoices],
        [invoice.currency for invoice in invoices],
        [invoice.prices_include_tax for invoice in invoices],
        [json.dumps(invoice.customer) for invoice in invoices],
        [invoice.note for invoice in invoices],
        [invoice.payment_terms_days for invoice in invoices],
        [invoice.issue_date for invoice in invoices],
        [invoice.due_date for invoice in invoices],
        [invoice.closed_at for invoice in invoices],
        [invoice.content.amounts.net_amount for invoice in invoices],
        [invoice.content.amounts.tax_amount for invoice in invoices],
        [invoice.content.amounts.gross_amount for invoice in invoices],
        [invoice.paid_amount for invoice in invoices],
        [invoice.credited_amount for invoice in invoices],
        [_tax_breakdown_json(invoice) for invoice in invoices],
    )
    lines = [(invoice, line) for invoice in invoices for line in invoice.content.lines]
    await connection.execute(
        """
        INSERT INTO invoice_lines (invoice_id, line_no, order_id, order_row_id, holds_row, sku,
                                   name, quantity, unit, unit_price, discount_percent,
                                   tax_rate, net_amount, gross_amount)
        SELECT * FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::text[], $5::boolean[],
                             $6::text[], $7::text[], $8::numeric[], $9::text[], $10::numeric[],
                             $11::numeric[], $12::numeric[], $13::numeric[], $14::numeric[])
        """,
        [invoice.invoice_id for invoice, _ in lines],
        [line.line_no for _, line in lines],
        [invoice.order_id for invoice, _ in lines],
        [line.order_row_id for _, line in lines],
        [invoice.holds_rows for invoice, _ in lines],
        [line.sku for _, line in lines],
        [line.name for _, line in lines],
        [line.quantity for _, line in lines],
        [line.unit for _, line in lines],
        [line.unit_price for _, line in lines],
        [line.discount_percent for _, line in lines],
        [line.tax_rate for _, line in lines],
        [line.net_amount for _, line in lines],
        [line.gross_amount for _, line in lines],
    )
