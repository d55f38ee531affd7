"""Invoices, their lines and payments: loaded by order, inserted and updated a batch at a
time."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

from worker.domain.amounts import (
    InvoiceAmounts,
    LineAmount,
    TaxGroup,
    TaxTreatment,
    default_tax_category,
)
from worker.domain.invoice import InvoiceContent, InvoiceLine, row_fields_of
from worker.domain.lifecycle import Invoice, InvoiceStatus, InvoiceType, Payment
from worker.domain.money import plain
from worker.store.adjustments import invoice_adjustments_json, invoice_adjustments_of
from worker.store.parties import (
    customer_json,
    customer_of,
    purchase_json,
    purchase_of,
    seller_json,
    seller_of,
)
from worker.store.payments import load_payments, save_payments
from worker.store.pool import Executor

LINE_COLUMNS = (
    "invoice_id::text, line_no, order_row_id, sku, name, quantity, unit, unit_price,"
    " discount_percent, tax_rate, net_amount, gross_amount, tax_category,"
    " tax_exemption_reason, tax_exemption_reason_code"
)
HEADER_COLUMNS = (
    "invoice_id, order_id, type, reference_invoice_id, status, version, invoice_number,"
    " order_code, currency, prices_include_tax, customer, note, payment_terms_days,"
    " issue_date, due_date, closed_at, net_amount, tax_amount, gross_amount, paid_amount,"
    " credited_amount, tax_breakdown, purchase, seller, return_id, adjustments, seller_id"
)
_HEADER_ARRAYS = """
    unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::integer[],
           $7::text[], $8::text[], $9::text[], $10::boolean[], $11::text[], $12::text[],
           $13::integer[], $14::date[], $15::date[], $16::timestamptz[], $17::numeric[],
           $18::numeric[], $19::numeric[], $20::numeric[], $21::numeric[], $22::text[],
           $23::text[], $24::text[], $25::text[], $26::text[], $27::text[])
    AS t(invoice_id, order_id, type, reference_invoice_id, status, version, invoice_number,
         order_code, currency, prices_include_tax, customer, note, payment_terms_days,
         issue_date, due_date, closed_at, net_amount, tax_amount, gross_amount, paid_amount,
         credited_amount, tax_breakdown, purchase, seller, return_id, adjustments, seller_id)
"""


def _tax_breakdown_json(invoice: Invoice) -> str:
    return json.dumps(
        [
            {
                "taxRate": plain(group.tax_rate),
                "taxableAmount": plain(group.taxable_amount),
                "taxAmount": plain(group.tax_amount),
                "taxCategory": group.treatment.category,
                "taxExemptionReason": group.treatment.exemption_reason,
                "taxExemptionReasonCode": group.treatment.exemption_reason_code,
            }
            for group in invoice.content.amounts.tax_breakdown
        ]
    )


def _header_arrays(invoices: Sequence[Invoice]) -> list[list[Any]]:
    return [
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
        [json.dumps(customer_json(invoice.customer)) for invoice in invoices],
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
        [json.dumps(purchase_json(invoice.purchase)) for invoice in invoices],
        [
            None if invoice.seller is None else json.dumps(seller_json(invoice.seller))
            for invoice in invoices
        ],
        [invoice.return_id for invoice in invoices],
        [json.dumps(invoice_adjustments_json(invoice.content)) for invoice in invoices],
        [invoice.seller_id for invoice in invoices],
    ]


async def _insert_lines(connection: Executor, invoices: Sequence[Invoice]) -> None:
    lines = [(invoice, line) for invoice in invoices for line in invoice.content.lines]
    if not lines:
        return
    await connection.execute(
        """
        INSERT INTO invoice_lines (invoice_id, line_no, order_id, order_row_id, holds_row,
                                   credited_invoice_id, holds_credit, sku, name, quantity,
                                   unit, unit_price, discount_percent, tax_rate, net_amount,
                                   gross_amount, tax_category, tax_exemption_reason,
                                   tax_exemption_reason_code)
        SELECT * FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::text[], $5::boolean[],
                             $6::uuid[], $7::boolean[], $8::text[], $9::text[],
                             $10::numeric[], $11::text[], $12::numeric[], $13::numeric[],
                             $14::numeric[], $15::numeric[], $16::numeric[], $17::text[],
                             $18::text[], $19::text[])
        """,
        [invoice.invoice_id for invoice, _ in lines],
        [line.line_no for _, line in lines],
        [invoice.order_id for invoice, _ in lines],
        [line.order_row_id for _, line in lines],
        [invoice.holds_rows for invoice, _ in lines],
        [invoice.reference_invoice_id for invoice, _ in lines],
        [invoice.holds_credit for invoice, _ in lines],
        [line.sku for _, line in lines],
        [line.name for _, line in lines],
        [line.quantity for _, line in lines],
        [line.unit for _, line in lines],
        [line.unit_price for _, line in lines],
        [line.discount_percent for _, line in lines],
        [line.tax_rate for _, line in lines],
        [line.net_amount for _, line in lines],
        [line.gross_amount for _, line in lines],
        *treatment_arrays([line.treatment for _, line in lines]),
    )


def treatment_arrays(treatments: Sequence[TaxTreatment | None]) -> list[list[str | None]]:
    """Category, exemption reason and code of each row or line, as three columns."""
    known = [treatment or TaxTreatment("") for treatment in treatments]
    return [
        [treatment.category or None for treatment in known],
        [treatment.exemption_reason for treatment in known],
        [treatment.exemption_reason_code for treatment in known],
    ]


def treatment_of(record: Any) -> TaxTreatment | None:
    """A stored row's or line's VAT category; None (its rate's default) when stored before
    categories were."""
    if record["tax_category"] is None:
        return None
    return TaxTreatment(
        record["tax_category"],
        record["tax_exemption_reason"],
        record["tax_exemption_reason_code"],
    )


async def insert_invoices(connection: Executor, invoices: Sequence[Invoice]) -> None:
    if not invoices:
        return
    await connection.execute(
        f"""
        INSERT INTO invoices ({HEADER_COLUMNS})
        SELECT invoice_id, order_id, type, reference_invoice_id, status, version,
               invoice_number, order_code, currency, prices_include_tax, customer::jsonb,
               note, payment_terms_days, issue_date, due_date, closed_at, net_amount,
               tax_amount, gross_amount, paid_amount, credited_amount, tax_breakdown::jsonb,
               purchase::jsonb, seller::jsonb, return_id, adjustments::jsonb, seller_id
          FROM {_HEADER_ARRAYS}
        """,
        *_header_arrays(invoices),
    )
    await _insert_lines(connection, invoices)
    await save_payments(connection, invoices)


async def update_invoices(connection: Executor, invoices: Sequence[Invoice]) -> None:
    """Saves invoices that changed, lines included (a draft's rows may have changed, and
    a void or deleted invoice no longer holds its rows)."""
    if not invoices:
        return
    await connection.execute(
        f"""
        UPDATE invoices AS i SET
            status = t.status, version = t.version, invoice_number = t.invoice_number,
            customer = t.customer::jsonb, note = t.note, issue_date = t.issue_date,
            due_date = t.due_date, closed_at = t.closed_at, net_amount = t.net_amount,
            tax_amount = t.tax_amount, gross_amount = t.gross_amount,
            paid_amount = t.paid_amount, credited_amount = t.credited_amount,
            tax_breakdown = t.tax_breakdown::jsonb, adjustments = t.adjustments::jsonb,
            seller = t.seller::jsonb, updated_at = now()
          FROM {_HEADER_ARRAYS}
         WHERE i.invoice_id = t.invoice_id
        """,
        *_header_arrays(invoices),
    )
    await connection.execute(
        "DELETE FROM invoice_lines WHERE invoice_id = ANY($1::uuid[])",
        [invoice.invoice_id for invoice in invoices],
    )
    await _insert_lines(connection, invoices)
    await save_payments(connection, invoices)


async def orders_of_invoices(connection: Executor, invoice_ids: Collection[str]) -> dict[str, str]:
    """invoice id → order id, for the ids that name an invoice."""
    ids = [invoice_id for invoice_id in set(invoice_ids) if _is_uuid(invoice_id)]
    if not ids:
        return {}
    records = await connection.fetch(
        "SELECT invoice_id::text, order_id FROM invoices WHERE invoice_id = ANY($1::uuid[])", ids
    )
    return {record["invoice_id"]: record["order_id"] for record in records}


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


async def load_invoices(connection: Executor, order_ids: Collection[str]) -> list[Invoice]:
    """Every invoice of these orders, in the order they were made."""
    ids = list(set(order_ids))
    if not ids:
        return []
    headers = await connection.fetch(
        f"SELECT {HEADER_COLUMNS} FROM invoices WHERE order_id = ANY($1::text[])"
        " ORDER BY created_at, invoice_id",
        ids,
    )
    line_records = await connection.fetch(
        f"SELECT {LINE_COLUMNS} FROM invoice_lines"
        " WHERE order_id = ANY($1::text[]) ORDER BY invoice_id, line_no",
        ids,
    )
    return await assemble_invoices(connection, headers, line_records)


async def assemble_invoices(
    connection: Executor, headers: Sequence[Any], line_records: Sequence[Any]
) -> list[Invoice]:
    """The invoices of `headers` (HEADER_COLUMNS), in their order, from their lines
    (LINE_COLUMNS, by line_no) and their payments."""
    lines: dict[str, list[Any]] = {}
    for record in line_records:
        lines.setdefault(record["invoice_id"], []).append(record)
    payments = await load_payments(connection, [str(header["invoice_id"]) for header in headers])
    return [
        invoice_from_rows(
            header,
            lines.get(str(header["invoice_id"]), []),
            payments.get(str(header["invoice_id"]), ()),
        )
        for header in headers
    ]


def invoice_from_rows(
    header: Any, line_records: list[Any], payments: tuple[Payment, ...]
) -> Invoice:
    invoice_lines = tuple(
        InvoiceLine(
            line_no=line["line_no"],
            order_row_id=line["order_row_id"],
            **row_fields_of(line),
            net_amount=line["net_amount"],
            gross_amount=line["gross_amount"],
            treatment=treatment_of(line),
        )
        for line in line_records
    )
    adjustments, adjustment_amounts = invoice_adjustments_of(header["adjustments"])
    amounts = InvoiceAmounts(
        lines=tuple(LineAmount(line.net_amount, line.gross_amount) for line in invoice_lines),
        tax_breakdown=tuple(
            TaxGroup(
                Decimal(group["taxRate"]),
                Decimal(group["taxableAmount"]),
                Decimal(group["taxAmount"]),
                TaxTreatment(
                    group.get("taxCategory") or default_tax_category(Decimal(group["taxRate"])),
                    group.get("taxExemptionReason"),
                    group.get("taxExemptionReasonCode"),
                ),
            )
            for group in header["tax_breakdown"]
        ),
        net_amount=header["net_amount"],
        tax_amount=header["tax_amount"],
        gross_amount=header["gross_amount"],
        adjustments=adjustment_amounts,
    )
    reference = header["reference_invoice_id"]
    return Invoice(
        invoice_id=str(header["invoice_id"]),
        order_id=header["order_id"],
        type=InvoiceType(header["type"]),
        order_code=header["order_code"],
        currency=header["currency"],
        prices_include_tax=header["prices_include_tax"],
        customer=customer_of(header["customer"]),
        content=InvoiceContent(invoice_lines, amounts, adjustments),
        payment_terms_days=header["payment_terms_days"],
        reference_invoice_id=None if reference is None else str(reference),
        return_id=header["return_id"],
        note=header["note"],
        status=InvoiceStatus(header["status"]),
        version=header["version"],
        number=header["invoice_number"],
        issue_date=header["issue_date"],
        due_date=header["due_date"],
        closed_at=header["closed_at"],
        credited_amount=header["credited_amount"],
        purchase=purchase_of(header["purchase"]),
        seller_id=header["seller_id"],
        seller=None if header["seller"] is None else seller_of(header["seller"]),
        payments=payments,
    )
