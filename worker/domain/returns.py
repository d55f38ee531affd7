"""Returns: what a return of quantities of an order's rows credits, or why it cannot.

A row's quantity is on at most one open or paid invoice of its order (a row is on one live
invoice at most). What can be returned of it is what the live credit notes of that invoice
have not taken yet (`lines_left`); a charge is refunded whole, from the open or paid
invoice that holds it. A return of more, of a row on no open or paid invoice, or of a
charge that is unknown, not invoiced or already credited is a conflict, and nothing of it
is applied. Each invoice that billed returned rows or charges gets one credit note, of the
quantities of its lines and its charges: the same credit as a `create` with `lines` and
`charges` (worker.domain.credit_notes).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

from worker.domain.credit_notes import LineLeft, charges_left, lines_left, live_credit_notes
from worker.domain.lifecycle import Invoice, InvoiceStatus, InvoiceType
from worker.domain.money import plain
from worker.domain.order import OrderConflict


@dataclass(frozen=True, slots=True)
class ReturnCredit:
    """What one credit note of a return credits: quantities of its reference's lines."""

    reference: Invoice
    lines: tuple[tuple[int, Decimal], ...]
    """(lineNo, quantity), in the order of the lines."""
    charges: tuple[str, ...] = ()
    """The chargeIds it refunds."""


def already_returned(invoices: Collection[Invoice], return_id: str) -> bool:
    """Whether a credit note of the order credits a return of this id."""
    return any(invoice.return_id == return_id for invoice in invoices)


def return_credits(
    invoices: Sequence[Invoice],
    rows: Sequence[tuple[str, Decimal]],
    charges: Sequence[str],
) -> list[ReturnCredit]:
    """The credit notes a return makes, one per invoice that billed returned rows, in the
    order of `invoices` (the order's, closed ones in the order of their numbers). `rows` are
    (rowId, quantity), each row once. Raises OrderConflict, naming every field in
    conflict, when any of it cannot be credited."""
    references = [
        invoice
        for invoice in invoices
        if invoice.type is InvoiceType.INVOICE
        and invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.PAID)
    ]
    left_by_row: dict[str, list[tuple[str, LineLeft]]] = {}
    for reference in references:
        for left in lines_left(reference, live_credit_notes(reference, invoices)):
            left_by_row.setdefault(left.line.order_row_id, []).append((reference.invoice_id, left))
    errors: dict[str, list[str]] = {}
    taken: dict[str, dict[int, Decimal]] = {}
    for index, (row_id, quantity) in enumerate(rows):
        billed = left_by_row.get(row_id)
        if billed is None:
            errors[f"rows.{index}.rowId"] = [f"row {row_id!r} is not on an open or paid invoice"]
            continue
        available = sum((left.quantity for _, left in billed), Decimal(0))
        if quantity > available:
            errors[f"rows.{index}.quantity"] = [
                f"at most {plain(available)} of row {row_id!r} is left to return"
            ]
            continue
        wanted = quantity
        for invoice_id, left in billed:
            quantity_taken = min(wanted, left.quantity)
            if quantity_taken > 0:
                taken.setdefault(invoice_id, {})[left.line.line_no] = quantity_taken
                wanted -= quantity_taken
    charged: dict[str, list[str]] = {}
    for index, charge_id in enumerate(charges):
        holder = _charge_holder(references, invoices, charge_id)
        if isinstance(holder, str):
            errors[f"charges.{index}"] = [holder]
        else:
            charged.setdefault(holder.invoice_id, []).append(charge_id)
    if errors:
        raise OrderConflict(errors)
    return [
        ReturnCredit(
            reference,
            tuple(sorted(taken.get(reference.invoice_id, {}).items())),
            tuple(charged.get(reference.invoice_id, ())),
        )
        for reference in references
        if reference.invoice_id in taken or reference.invoice_id in charged
    ]


def _charge_holder(
    references: Sequence[Invoice], invoices: Sequence[Invoice], charge_id: str
) -> Invoice | str:
    """The open or paid invoice whose charge of this id is left to credit, or why none is."""
    for reference in references:
        if charge_id in charges_left(reference, live_credit_notes(reference, invoices)):
            return reference
    if any(
        adjustment.is_charge and adjustment.adjustment_id == charge_id
        for reference in references
        for adjustment in reference.content.adjustments
    ):
        return f"charge {charge_id!r} is already credited"
    return f"charge {charge_id!r} is not on an open or paid invoice"
