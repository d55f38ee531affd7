"""Credit notes: which invoice lines a note may credit, and amounts that add up.

A credit note credits whole lines of a closed, non-void invoice of its order, each line at
most once over all live credit notes. Its lines copy the credited lines' amounts; per tax
group its tax is rounded on its own (never more than is left of the group's tax), except
in the note that completes the group, which takes what is left: crediting an invoice in
full, in any number of notes, credits exactly its gross, and never more on the way.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from decimal import Decimal

from worker.domain.amounts import CreditedLine, GroupKey, credit_amounts
from worker.domain.invoice import InvoiceContent, InvoiceLine
from worker.domain.lifecycle import Invoice, InvoiceStatus, InvoiceType
from worker.domain.rules import RuleViolation


def credit_reference(reference: Invoice | None, order_id: str) -> Invoice:
    """The invoice a new credit note may credit: a closed, non-void invoice of the order."""
    if (
        reference is None
        or reference.order_id != order_id
        or reference.type is not InvoiceType.INVOICE
        or reference.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID)
    ):
        raise RuleViolation(
            "referenceInvoiceId", f"must be a closed, non-void invoice of order {order_id!r}"
        )
    return reference


def creditable_lines(
    reference: Invoice, other_notes: Collection[Invoice], row_ids: Sequence[str] | None
) -> list[InvoiceLine]:
    """Lines of the reference not credited by `other_notes` (its other credit notes): all
    of them by default, else the named ones."""
    credited = _credited_row_ids(other_notes)
    lines = {line.order_row_id: line for line in reference.content.lines}
    if row_ids is None:
        return [line for row_id, line in lines.items() if row_id not in credited]
    for index, row_id in enumerate(row_ids):
        if row_id not in lines:
            raise RuleViolation(
                f"rowIds.{index}", f"row {row_id!r} is not on the reference invoice"
            )
        if row_id in credited:
            raise RuleViolation(f"rowIds.{index}", f"row {row_id!r} is already credited")
    return [lines[row_id] for row_id in row_ids]


def credit_note_content(
    reference: Invoice, other_notes: Collection[Invoice], credited: Sequence[InvoiceLine]
) -> InvoiceContent:
    """The note's lines, numbered 1..n in the reference's order, and its amounts; its tax
    groups are the reference's (rates as the reference writes them)."""
    ordered = sorted(credited, key=lambda line: line.line_no)
    credited_after = _credited_row_ids(other_notes) | {line.order_row_id for line in ordered}
    tax_left: dict[GroupKey, Decimal] = {}
    completing: set[GroupKey] = set()
    group_rate: dict[GroupKey, Decimal] = {}
    for group in reference.content.amounts.tax_breakdown:
        key = group.key
        group_rate[key] = group.tax_rate
        tax_left[key] = group.tax_amount - sum(
            (
                note_group.tax_amount
                for note in other_notes
                for note_group in note.content.amounts.tax_breakdown
                if note_group.key == key
            ),
            Decimal(0),
        )
        if all(
            line.order_row_id in credited_after
            for line in reference.content.lines
            if line_group(line) == key
        ):
            completing.add(key)
    amounts = credit_amounts(
        [
            CreditedLine(
                line.net_amount, line.gross_amount, group_rate[line_group(line)], line.treatment
            )
            for line in ordered
        ],
        reference.currency,
        tax_left,
        completing,
    )
    lines = tuple(replace(line, line_no=line_no) for line_no, line in enumerate(ordered, start=1))
    return InvoiceContent(lines, amounts)


def line_group(line: InvoiceLine) -> GroupKey:
    """The tax group (category, rate) of an invoice line."""
    assert line.treatment is not None  # every line has one (InvoiceLine.__post_init__)
    return line.treatment.category, line.tax_rate


def live_credit_notes(reference: Invoice, invoices: Collection[Invoice]) -> list[Invoice]:
    """The reference's credit notes that hold their lines (draft, open or paid)."""
    return [
        invoice
        for invoice in invoices
        if invoice.reference_invoice_id == reference.invoice_id and invoice.holds_credit
    ]


def _credited_row_ids(notes: Collection[Invoice]) -> set[str]:
    return {line.order_row_id for note in notes for line in note.content.lines}
