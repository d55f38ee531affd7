"""Credit notes: what of an invoice's lines a note may credit, and amounts that add up.

A credit note credits quantities of the lines of a closed, non-void invoice of its order:
of each line at most what live credit notes (draft, open or paid) have not taken yet, so
several notes may credit one line in parts. Its lines copy the credited lines' item fields
with the credited quantity; its amounts never take more than is left of a line or a tax
group, and the note that completes a line or a group takes exactly what is left: crediting
an invoice in full, in any number of notes, credits exactly its gross.

A `create` names lines by number and a return names rows by id: both find the `LineLeft`
they mean in `lines_left`, make a `LineCredit` of it with `credit_of`, and give the credits
to `credit_note_content`, with the charges it credits (`charges_to_credit`).

Order-level charges are credited whole, when named. Of each allowance part a note credits
q(part × L / Lg) (L: the line amount it credits in the part's tax group; Lg: the group's
line amount on the invoice), never more than L nor than is left of the part; the note that
completes the group (all its lines and charges) takes what is left of its allowances.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

from worker.domain.amounts import (
    AdjustmentPart,
    CreditedAdjustment,
    CreditedLine,
    GroupKey,
    GroupLeft,
    GroupShare,
    credit_amounts,
    credited_line_amount,
)
from worker.domain.invoice import Adjustment, AdjustmentKey, InvoiceContent, InvoiceLine
from worker.domain.lifecycle import Invoice, InvoiceStatus, InvoiceType
from worker.domain.money import minor_units, plain, round_half_up
from worker.domain.rules import RuleViolation

_K = TypeVar("_K")


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


def charges_left(reference: Invoice, notes: Collection[Invoice]) -> dict[str, Adjustment]:
    """The reference's charges that none of `notes` (its live credit notes) credits yet, by
    chargeId, in the reference's order."""
    credited = {
        adjustment.adjustment_id
        for note in notes
        for adjustment in note.content.adjustments
        if adjustment.is_charge
    }
    return {
        adjustment.adjustment_id: adjustment
        for adjustment in reference.content.adjustments
        if adjustment.is_charge and adjustment.adjustment_id not in credited
    }


def charges_to_credit(
    reference: Invoice, notes: Collection[Invoice], charge_ids: Sequence[str] | None
) -> list[str]:
    """The named charges of the reference (`charges`), each refused when it is not on the
    reference or already credited; None: every charge not credited yet."""
    left = charges_left(reference, notes)
    if charge_ids is None:
        return list(left)
    on_reference = {a.adjustment_id for a in reference.content.adjustments if a.is_charge}
    for index, charge_id in enumerate(charge_ids):
        if charge_id not in on_reference:
            raise RuleViolation(
                f"charges.{index}", f"charge {charge_id!r} is not on the reference invoice"
            )
        if charge_id not in left:
            raise RuleViolation(f"charges.{index}", f"charge {charge_id!r} is already credited")
    return list(charge_ids)


def credit_note_content(
    reference: Invoice,
    notes: Collection[Invoice],
    credits: Sequence[LineCredit],
    charge_ids: Collection[str] = (),
) -> InvoiceContent:
    """The note's lines, numbered 1..n in the reference's order, its charges and allowances,
    and its amounts; `credits` and `charge_ids` are of what `notes` (the reference's other
    live credit notes) left. Its tax groups are the reference's (rates as the reference
    writes them)."""
    ordered = sorted(credits, key=lambda credit: credit.left.line.line_no)
    groups = {group.key: group for group in reference.content.amounts.tax_breakdown}
    taken = {credit.left.line.line_no: credit.quantity for credit in ordered}
    completing = set(groups)
    for left in lines_left(reference, notes):
        if left.quantity != taken.get(left.line.line_no, Decimal(0)):
            completing.discard(line_group(left.line))
    charges = charges_left(reference, notes)
    for charge_id, charge in charges.items():
        if charge_id not in charge_ids:
            completing.difference_update(part.key for part in _parts(reference, charge.key))
    line_amounts = [_credited_amount(credit, reference.currency) for credit in ordered]
    credited_lines = [
        CreditedLine(
            amount, groups[line_group(credit.left.line)].tax_rate, credit.left.line.treatment
        )
        for credit, amount in zip(ordered, line_amounts, strict=True)
    ]
    adjustments = [
        *_credited_allowances(reference, notes, credited_lines, charge_ids, completing),
        *(
            (charge, _whole(_parts(reference, charge.key)))
            for charge_id, charge in charges.items()
            if charge_id in charge_ids
        ),
    ]
    amounts = credit_amounts(
        credited_lines,
        reference.currency,
        reference.prices_include_tax,
        _groups_left(reference, notes),
        completing,
        [credited for _, credited in adjustments],
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
    return InvoiceContent(
        lines,
        amounts,
        tuple(
            replace(adjustment, amount=credited.amount)
            for (adjustment, _), credited in zip(adjustments, amounts.adjustments, strict=True)
        ),
    )


def _parts(invoice: Invoice, key: AdjustmentKey) -> tuple[AdjustmentPart, ...]:
    """The parts of one of the invoice's charges or allowances."""
    content = invoice.content
    for adjustment, amounts in zip(content.adjustments, content.amounts.adjustments, strict=True):
        if adjustment.key == key:
            return amounts.parts
    return ()


def _whole(parts: Sequence[AdjustmentPart]) -> CreditedAdjustment:
    return CreditedAdjustment(
        True, tuple(GroupShare(part.tax_rate, part.treatment, part.amount) for part in parts)
    )


def _credited_allowances(
    reference: Invoice,
    notes: Collection[Invoice],
    credited_lines: Sequence[CreditedLine],
    charge_ids: Collection[str],
    completing: Collection[GroupKey],
) -> list[tuple[Adjustment, CreditedAdjustment]]:
    """What the note credits of each of the reference's allowances that it credits any of:
    of a part q(part × L / Lg), never more than is left of it; in a group the note completes,
    what is left. Per group the sum is then kept where both the note and what it leaves have
    a base of zero or more: at most the lines and charges it credits there, and at least what
    is left of the group's allowances beyond the lines and charges it leaves."""
    digits = minor_units(reference.currency)
    invoiced: dict[GroupKey, Decimal] = {}
    for invoice_line in reference.content.lines:
        _add(
            invoiced,
            line_group(invoice_line),
            _amount_of(invoice_line, reference.prices_include_tax),
        )
    credited: dict[GroupKey, Decimal] = {}  # lines and charges this note credits
    for credited_line in credited_lines:
        _add(credited, credited_line.group, credited_line.amount)
    lines_credited = dict(credited)
    remaining: dict[GroupKey, Decimal] = {}  # lines and charges left before this note
    for line_left in lines_left(reference, notes):
        _add(remaining, line_group(line_left.line), line_left.amount)
    for charge_id, charge in charges_left(reference, notes).items():
        for part in _parts(reference, charge.key):
            _add(remaining, part.key, part.amount)
            if charge_id in charge_ids:
                _add(credited, part.key, part.amount)
    taken: dict[tuple[AdjustmentKey, GroupKey], Decimal] = {}
    for note in notes:
        content = note.content
        for adjustment, amounts in zip(
            content.adjustments, content.amounts.adjustments, strict=True
        ):
            for part in amounts.parts:
                _add(taken, (adjustment.key, part.key), part.amount)

    # (allowance, part, what is left of it, its share) in the reference's order
    shares: list[tuple[Adjustment, AdjustmentPart, Decimal, Decimal]] = []
    for allowance in reference.content.adjustments:
        if allowance.is_charge:
            continue
        for part in _parts(reference, allowance.key):
            left = part.amount - taken.get((allowance.key, part.key), Decimal(0))
            group_lines = invoiced.get(part.key, Decimal(0))
            if part.key in completing:
                share = left
            elif group_lines == 0:
                share = Decimal(0)
            else:
                in_group = lines_credited.get(part.key, Decimal(0))
                proportional = Fraction(part.amount) * Fraction(in_group) / Fraction(group_lines)
                share = min(round_half_up(proportional, digits), in_group, left)
            shares.append((allowance, part, left, share))
    shares = _within_bases(shares, credited, remaining)

    found: dict[AdjustmentKey, tuple[Adjustment, list[GroupShare]]] = {}
    for allowance, part, _, share in shares:
        if share > 0:
            found.setdefault(allowance.key, (allowance, []))[1].append(
                GroupShare(part.tax_rate, part.treatment, share)
            )
    return [
        (allowance, CreditedAdjustment(False, tuple(group_shares)))
        for allowance, group_shares in found.values()
    ]


def _within_bases(
    shares: list[tuple[Adjustment, AdjustmentPart, Decimal, Decimal]],
    credited: dict[GroupKey, Decimal],
    remaining: dict[GroupKey, Decimal],
) -> list[tuple[Adjustment, AdjustmentPart, Decimal, Decimal]]:
    """The shares with each group's sum moved into [what is left of its allowances beyond
    the lines and charges the note leaves, the lines and charges it credits]: raised part
    by part in order up to what is left of each, or lowered from the last part down."""
    allowances_left: dict[GroupKey, Decimal] = {}
    total: dict[GroupKey, Decimal] = {}
    for _, part, left, share in shares:
        _add(allowances_left, part.key, left)
        _add(total, part.key, share)
    moved = list(shares)
    for key, summed in total.items():
        low = allowances_left[key] - (
            remaining.get(key, Decimal(0)) - credited.get(key, Decimal(0))
        )
        high = credited.get(key, Decimal(0))
        change = max(low, min(summed, high)) - summed
        indices = [i for i, (_, part, _, _) in enumerate(moved) if part.key == key]
        for index in indices if change > 0 else reversed(indices):
            allowance, part, left, share = moved[index]
            step = min(change, left - share) if change > 0 else max(change, -share)
            moved[index] = (allowance, part, left, share + step)
            change -= step
    return moved


def _add(sums: dict[_K, Decimal], key: _K, amount: Decimal) -> None:
    sums[key] = sums.get(key, Decimal(0)) + amount


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
