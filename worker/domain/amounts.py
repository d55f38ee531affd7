"""The one rule for every invoice amount (docs/contract.md, "Amounts"): EN 16931's tax per group of
VAT category and rate."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from worker.domain.money import from_minor_units, minor_units, round_half_up, to_minor_units

# A line's exact amount has at most 18 + 18 + 9 significant digits (quantity, unit price, the
# discount factor). Trapping Inexact makes any rounding before the one rounding step an error.
_LINE_ARITHMETIC = Context(prec=64, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])


def default_tax_category(tax_rate: Decimal) -> str:
    """The VAT category of a row that states none: standard rated above 0 %, else zero rated."""
    return "S" if tax_rate > 0 else "Z"


@dataclass(frozen=True, slots=True)
class TaxTreatment:
    """A line's VAT category (UNCL5305) and, for an exempt one, the reason (text or VATEX
    code) that goes with it."""

    category: str
    exemption_reason: str | None = None
    exemption_reason_code: str | None = None


GroupKey = tuple[str, Decimal]
"""A tax group: (VAT category, rate); "9" and "9.00" are one rate."""


@dataclass(frozen=True, slots=True)
class PricedLine:
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal
    treatment: TaxTreatment | None = None
    """None: the default category of its rate."""

    @property
    def group(self) -> GroupKey:
        return _group_of(self.treatment, self.tax_rate)


@dataclass(frozen=True, slots=True)
class LineAmount:
    net_amount: Decimal
    gross_amount: Decimal | None  # set only when prices include tax


def _group_of(treatment: TaxTreatment | None, tax_rate: Decimal) -> GroupKey:
    category = default_tax_category(tax_rate) if treatment is None else treatment.category
    return category, tax_rate


@dataclass(frozen=True, slots=True)
class TaxGroup:
    tax_rate: Decimal  # the rate as first given ("9" and "9.00" are one group)
    taxable_amount: Decimal
    tax_amount: Decimal
    treatment: TaxTreatment
    """The group's category and exemption reason (its first line's)."""

    @property
    def key(self) -> GroupKey:
        return self.treatment.category, self.tax_rate


@dataclass(frozen=True, slots=True)
class InvoiceAmounts:
    lines: tuple[LineAmount, ...]  # in the order of the priced lines
    tax_breakdown: tuple[TaxGroup, ...]  # ascending by rate, then category
    net_amount: Decimal
    tax_amount: Decimal
    gross_amount: Decimal


@dataclass(frozen=True, slots=True)
class Totals:
    net_amount: Decimal
    tax_amount: Decimal
    gross_amount: Decimal
    paid_amount: Decimal
    credited_amount: Decimal
    amount_due: Decimal
    refund_due: Decimal
    """What was paid and credited beyond the gross: owed back to the customer."""


def line_amount(
    quantity: Decimal, unit_price: Decimal, discount_percent: Decimal, currency: str
) -> Decimal:
    """q(quantity * unit price * (1 - discount/100)): net, or gross when prices include tax."""
    with localcontext(_LINE_ARITHMETIC):
        exact = quantity * unit_price * (1 - discount_percent / 100)
    return round_half_up(exact, minor_units(currency))


def compute_amounts(
    lines: Sequence[PricedLine], currency: str, prices_include_tax: bool
) -> InvoiceAmounts:
    """Line amounts, the tax per group (category and rate) and the invoice's net, tax and
    gross amounts."""
    digits = minor_units(currency)
    line_totals = [
        line_amount(line.quantity, line.unit_price, line.discount_percent, currency)
        for line in lines
    ]
    line_total_units = [to_minor_units(amount, digits) for amount in line_totals]
    net_units = list(line_total_units)
    lines_by_group: dict[GroupKey, list[int]] = {}
    for index, line in enumerate(lines):
        lines_by_group.setdefault(line.group, []).append(index)

    breakdown: list[TaxGroup] = []
    net_total = tax_total = 0
    for (_, rate), indices in sorted(lines_by_group.items(), key=_rate_then_category):
        # The rate as n/d: the tax in minor units is an exact ratio of whole numbers.
        n, d = rate.as_integer_ratio()
        group_units = [line_total_units[i] for i in indices]
        group_total = sum(group_units)
        if prices_include_tax:
            tax = _whole_units(group_total * n, 100 * d + n)  # total × r / (100 + r)
            taxable = group_total - tax
            for index, share in zip(indices, _tax_shares(tax, group_units), strict=True):
                net_units[index] -= share
        else:
            tax = _whole_units(group_total * n, 100 * d)  # total × r / 100
            taxable = group_total
        breakdown.append(
            TaxGroup(
                lines[indices[0]].tax_rate,
                from_minor_units(taxable, digits),
                from_minor_units(tax, digits),
                _treatment(lines[index] for index in indices),
            )
        )
        net_total += taxable
        tax_total += tax

    line_amounts = tuple(
        LineAmount(from_minor_units(net, digits), gross if prices_include_tax else None)
        for net, gross in zip(net_units, line_totals, strict=True)
    )
    return InvoiceAmounts(
        lines=line_amounts,
        tax_breakdown=tuple(breakdown),
        net_amount=from_minor_units(net_total, digits),
        tax_amount=from_minor_units(tax_total, digits),
        gross_amount=from_minor_units(net_total + tax_total, digits),
    )


def _rate_then_category(item: tuple[GroupKey, object]) -> tuple[Decimal, str]:
    (category, rate), _ = item
    return rate, category


def _treatment(lines: Iterable[PricedLine | CreditedLine]) -> TaxTreatment:
    """The group's: its first line's that states an exemption, else its first line's."""
    treatments = [_group_treatment(line.treatment, line.tax_rate) for line in lines]
    return next(
        (t for t in treatments if t.exemption_reason or t.exemption_reason_code), treatments[0]
    )


def _group_treatment(treatment: TaxTreatment | None, tax_rate: Decimal) -> TaxTreatment:
    return TaxTreatment(default_tax_category(tax_rate)) if treatment is None else treatment


@dataclass(frozen=True, slots=True)
class CreditedLine:
    """What a credit note takes of an invoice line: its line amount (net, or gross when prices
    include tax), in the line's tax group."""

    amount: Decimal
    tax_rate: Decimal
    treatment: TaxTreatment | None = None

    @property
    def group(self) -> GroupKey:
        return _group_of(self.treatment, self.tax_rate)


@dataclass(frozen=True, slots=True)
class GroupLeft:
    """What earlier credit notes left of an invoice's tax group: its taxable amount and its
    tax."""

    taxable_amount: Decimal
    tax_amount: Decimal


def credited_line_amount(
    quantity: Decimal,
    unit_price: Decimal,
    discount_percent: Decimal,
    quantity_left: Decimal,
    amount_left: Decimal,
    currency: str,
) -> Decimal:
    """What crediting `quantity` of an invoice line takes of its amount (docs/contract.md,
    "Credit by quantity"): its own line amount, never more than is left of the line; the
    credit that completes the line takes exactly what is left."""
    if quantity == quantity_left:
        return amount_left
    return min(line_amount(quantity, unit_price, discount_percent, currency), amount_left)


def credit_amounts(
    lines: Sequence[CreditedLine],
    currency: str,
    prices_include_tax: bool,
    left: Mapping[GroupKey, GroupLeft],
    completing: Collection[GroupKey],
) -> InvoiceAmounts:
    """A credit note's amounts (docs/contract.md, "Credit by quantity"). Per group its tax is
    the v1 rule's on the note's own lines (with tax-inclusive prices spread over them as on an
    invoice), kept within what is left of the group (`left[group]`: the invoice's taxable
    amount and tax minus what earlier credit notes took) and never below zero; in a group the
    note completes, it is what is left of the group's tax. So notes rounded on their own never
    take more than the invoice, and the last one takes exactly the rest."""
    digits = minor_units(currency)
    amount_units = [to_minor_units(line.amount, digits) for line in lines]
    net_units = list(amount_units)
    lines_by_group: dict[GroupKey, list[int]] = {}
    for index, line in enumerate(lines):
        lines_by_group.setdefault(line.group, []).append(index)

    breakdown: list[TaxGroup] = []
    net_total = tax_total = 0
    for key, indices in sorted(lines_by_group.items(), key=_rate_then_category):
        rate = lines[indices[0]].tax_rate
        n, d = rate.as_integer_ratio()
        group_units = [amount_units[i] for i in indices]
        group_total = sum(group_units)
        taxable_left = to_minor_units(left[key].taxable_amount, digits)
        tax_left = to_minor_units(left[key].tax_amount, digits)
        if prices_include_tax:
            own = _whole_units(group_total * n, 100 * d + n)  # total × r / (100 + r)
            # The note's taxable amount (its gross less the tax) is within what is left too.
            low, high = group_total - taxable_left, min(group_total, tax_left)
        else:
            own = _whole_units(group_total * n, 100 * d)  # total × r / 100
            low, high = 0, tax_left
        wanted = tax_left if key in completing else own
        tax = max(0, min(max(wanted, low), high))
        if prices_include_tax:
            for index, share in zip(indices, _tax_shares(tax, group_units), strict=True):
                net_units[index] -= share
            taxable = group_total - tax
        else:
            taxable = group_total
        breakdown.append(
            TaxGroup(
                rate,
                from_minor_units(taxable, digits),
                from_minor_units(tax, digits),
                _treatment(lines[index] for index in indices),
            )
        )
        net_total += taxable
        tax_total += tax

    line_amounts = tuple(
        LineAmount(
            from_minor_units(net, digits),
            from_minor_units(amount, digits) if prices_include_tax else None,
        )
        for net, amount in zip(net_units, amount_units, strict=True)
    )
    return InvoiceAmounts(
        lines=line_amounts,
        tax_breakdown=tuple(breakdown),
        net_amount=from_minor_units(net_total, digits),
        tax_amount=from_minor_units(tax_total, digits),
        gross_amount=from_minor_units(net_total + tax_total, digits),
    )


def totals(amounts: InvoiceAmounts, paid: Decimal, credited: Decimal, currency: str) -> Totals:
    """The invoice's totals: amount due is gross - paid - credited, and refund due
    paid + credited - gross, neither below zero."""
    digits = minor_units(currency)
    gross = to_minor_units(amounts.gross_amount, digits)
    paid_units = to_minor_units(paid, digits)
    credited_units = to_minor_units(credited, digits)
    return Totals(
        net_amount=amounts.net_amount,
        tax_amount=amounts.tax_amount,
        gross_amount=amounts.gross_amount,
        paid_amount=from_minor_units(paid_units, digits),
        credited_amount=from_minor_units(credited_units, digits),
        amount_due=from_minor_units(max(0, gross - paid_units - credited_units), digits),
        refund_due=from_minor_units(max(0, paid_units + credited_units - gross), digits),
    )


def _whole_units(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero, as round_half_up rounds."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    magnitude, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        magnitude += 1
    return -magnitude if numerator < 0 else magnitude


def _tax_shares(tax: int, gross_units: list[int]) -> list[int]:
    """The group's tax spread over its lines in proportion to their gross, summing to `tax`.

    Each share is rounded down; the units left over go one each to the lines with the largest
    cut-off remainders, ties to the earlier line.
    """
    group_gross = sum(gross_units)
    if group_gross == 0:
        return [0] * len(gross_units)
    shares = []
    remainders = []
    for gross in gross_units:
        share, remainder = divmod(tax * gross, group_gross)
        shares.append(share)
        remainders.append(remainder)
    leftover = tax - sum(shares)
    # sorted is stable: among equal remainders the earlier line comes first.
    for index in sorted(range(len(shares)), key=remainders.__getitem__, reverse=True)[:leftover]:
        shares[index] += 1
    return shares
