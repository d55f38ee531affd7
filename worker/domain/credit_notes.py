"""Credit notes: what of an invoice's lines a note may credit, and amounts that add up.

A credit note credits quantities of the lines of a closed, non-void invoice of its order:
of each line at most what live credit notes (draft, open or paid) have not taken yet, so
several notes may credit one line in parts. Its lines copy the credited lines' item fields
with the credited quantity; its amounts never take more than is left of a line or a tax
group, and the note that completes a line or a group takes exactly what is left: crediting
an invoice in full, in any number of notes, credits exactly its gross.

A `create` names lines by number and a return names rows by id: both find the `LineLeft`
they mean in `lines_left`, make a `LineCredit` of it with `credit_of`, and give the credits
to `credit_note_content`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from worker.domain.amounts import (
    CreditedLine,
    GroupKey,
    GroupLeft,
    credit_amounts,
    credited_line_amount,
)
from worker.domain.invoice import InvoiceContent, InvoiceLine
from worker.domain.lifecycle import Invoice, InvoiceStatus, InvoiceType
from worker.domain.money import plain
from worker.domain.rules import RuleViolation


@dataclass(frozen=True, slots=True)
class LineLeft:
    """What live credit notes have not taken yet of an invoice line."""

    line: InvoiceLine
    quantity: Decimal
    amount: Decimal
    """Of its line amount: net, or gross when prices include tax."""


@dataclass(frozen=True, slots=True)
class LineCredit:
    """A quantity of an invoice line that a credit note credits."""

    left: LineLeft
    quantity: Decimal

    @property
    def completes_line(self) -> bool:
        """After it, all of the line's quantity is credited."""
        return self.quantity == self.left.quantity


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


def live_credit_notes(reference: Invoice, invoices: Collection[Invoice]) -> list[Invoice]:
    """The reference's credit notes that hold what they credit (draft, open or paid)."""
    return [
        invoice
        for invoice in invoices
        if invoice.reference_invoice_id == reference.invoice_id and invoice.holds_credit
    ]


def lines_left(reference: Invoice, notes: Collection[Invoice]) -> tuple[LineLeft, ...]:
    """Every line of the reference, in its order, with what `notes` (its live credit notes)
    left of it."""
    gross = reference.prices_include_tax
    quantity_taken: dict[str, Decimal] = {}
    amount_taken: dict[str, Decimal] = {}
    for note in notes:
        for line in note.content.lines:
            row_id = line.order_row_id
            quantity_taken[row_id] = quantity_taken.get(row_id, Decimal(0)) + line.quantity
            amount_taken[row_id] = amount_taken.get(row_id, Decimal(0)) + _amount_of(line, gross)
    return tuple(
        LineLeft(
            line,
            line.quantity - quantity_taken.get(line.order_row_id, Decimal(0)),
            _amount_of(line, gross) - amount_taken.get(line.order_row_id, Decimal(0)),
        )
        for line in reference.content.lines
    )


def credit_of(left: LineLeft, quantity: Decimal, field: str) -> LineCredit:
    """`quantity` of the line; refused on `field` when more than is left of it."""
    if left.quantity <= 0:
        raise RuleViolation(field, f"line {left.line.line_no} is already credited in full")
    if quantity > left.quantity:
        raise RuleViolation(
            field,
            f"at most {plain(left.quantity)} of line {left.line.line_no} is left to credit",
        )
    return LineCredit(left, quantity)


def whole_lines(
    reference: Invoice, notes: Collection[Invoice], row_ids: Sequence[str] | None
) -> list[LineCredit]:
    """What is left of each line named by its row id (`rowIds`), by default of every line
    that has something left."""
    left = lines_left(reference, notes)
    if row_ids is None:
        return [LineCredit(line, line.quantity) for line in left if line.quantity > 0]
    by_row_id = {line.line.order_row_id: line for line in left}
    credits = []
    for index, row_id in enumerate(row_ids):
        line = by_row_id.get(row_id)
        if line is None:
            raise RuleViolation(
                f"rowIds.{index}", f"row {row_id!r} is not on the reference invoice"
            )
        credits.append(credit_of(line, line.quantity, f"rowIds.{index}"))
    return credits


def lines_by_quantity(
    reference: Invoice, notes: Collection[Invoice], quantities: Sequence[tuple[int, Decimal]]
) -> list[LineCredit]:
    """The given quantities of the lines with the given numbers (`lines`: lineNo, quantity)."""
    by_line_no = {line.line.line_no: line for line in lines_left(reference, notes)}
    credits = []
    for index, (line_no, quantity) in enumerate(quantities):
        line = by_line_no.get(line_no)
        if line is None:
            raise RuleViolation(
                f"lines.{index}.lineNo", f"line {line_no} is not on the reference invoice"
            )
        credits.append(credit_of(line, quantity, f"lines.{index}.quantity"))
    return credits


def credit_note_content(
    reference: Invoice, notes: Collection[Invoice], credits: Sequence[LineCredit]
) -> InvoiceContent:
    """The note's lines, numbered 1..n in the reference's order, and its amounts; `credits`
    are of what `notes` (the reference's other live credit notes) left. Its tax groups are
    the reference's (rates as the reference writes them)."""
    ordered = sorted(credits, key=lambda credit: credit.left.line.line_no)
    groups = {group.key: group for group in reference.content.amounts.tax_breakdown}
    taken = {credit.left.line.line_no: credit.quantity for credit in ordered}
    completing = set(groups)
    for left in lines_left(reference, notes):
        if left.quantity != taken.get(left.line.line_no, Decimal(0)):
            completing.discard(line_group(left.line))
    line_amounts = [_credited_amount(credit, reference.currency) for credit in ordered]
    amounts = credit_amounts(
        [
            CreditedLine(
                amount, groups[line_group(credit.left.line)].tax_rate, credit.left.line.treatment
            )
            for credit, amount in zip(ordered, line_amounts, strict=True)
        ],
        reference.currency,
        reference.prices_include_tax,
        _groups_left(reference, notes),
        completing,
    )
    lines = tuple(
        replace(
            credit.left.line,
            line_no=line_no,
            quantity=credit.quantity,
            net_amount=amount.net_amount,
            gross_amount=amount.gross_amount,
        )
        for line_no, (credit, amount) in enumerate(zip(ordered, amounts.lines, strict=True), 1)
    )
    return InvoiceContent(lines, amounts)


def line_group(line: InvoiceLine) -> GroupKey:
    """The tax group (category, rate) of an invoice line."""
    assert line.treatment is not None  # every line has one (InvoiceLine.__post_init__)
    return line.treatment.category, line.tax_rate


def _credited_amount(credit: LineCredit, currency: str) -> Decimal:
    line = credit.left.line
    return credited_line_amount(
        credit.quantity,
        line.unit_price,
        line.discount_percent,
        credit.left.quantity,
        credit.left.amount,
        currency,
    )


def _amount_of(line: InvoiceLine, gross: bool) -> Decimal:
    """Its line amount: net, or gross when prices include tax."""
    if gross:
        assert line.gross_amount is not None  # set on every line when prices include tax
        return line.gross_amount
    return line.net_amount


def _groups_left(reference: Invoice, notes: Collection[Invoice]) -> dict[GroupKey, GroupLeft]:
    left = {
        group.key: GroupLeft(group.taxable_amount, group.tax_amount)
        for group in reference.content.amounts.tax_breakdown
    }
    for note in notes:
        for group in note.content.amounts.tax_breakdown:
            was = left[group.key]
            left[group.key] = GroupLeft(
                was.taxable_amount - group.taxable_amount, was.tax_amount - group.tax_amount
            )
    return left
