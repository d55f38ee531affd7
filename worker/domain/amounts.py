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
from fractions import Fraction

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
    """An invoice line a credit note credits: its amounts are copied, not computed again."""

    net_amount: Decimal
    gross_amount: Decimal | None
    tax_rate: Decimal
    treatment: TaxTreatment | None = None

    @property
    def group(self) -> GroupKey:
        return _group_of(self.treatment, self.tax_rate)


def credit_amounts(
    lines: Sequence[CreditedLine],
    currency: str,
    tax_left: Mapping[GroupKey, Decimal],
    completing: Collection[GroupKey],
) -> InvoiceAmounts:
    """A credit note's amounts (docs/contract.md, "Credit notes add up"). Per group its tax is
    q(taxable × rate/100); in a group the note completes, what is left of the group's tax
    (`tax_left[group]`: the invoice's tax minus what earlier credit notes took). Never more
    than is left, nor below zero: where notes rounded on their own would together take more
    than the group's tax, the later ones take what is left, so no invoice is ever
    credited more than its gross, nor a note less than nothing."""
    digits = minor_units(currency)
    lines_by_group: dict[GroupKey, list[CreditedLine]] = {}
    for line in lines:
        lines_by_group.setdefault(line.group, []).append(line)
    breakdown: list[TaxGroup] = []
    for key, group in sorted(lines_by_group.items(), key=_rate_then_category):
        rate = group[0].tax_rate
        taxable = sum((line.net_amount for line in group), Decimal(0))
        left = tax_left[key]
        own = round_half_up(Fraction(taxable) * Fraction(rate) / 100, digits)
        tax = max(Decimal(0), left if key in completing else min(own, left))
        breakdown.append(
            TaxGroup(
                rate,
                round_half_up(taxable, digits),
                round_half_up(tax, digits),
                _treatment(group),
            )
        )
    net = sum((group.taxable_amount for group in breakdown), Decimal(0))
    tax_total = sum((group.tax_amount for group in breakdown), Decimal(0))
    return InvoiceAmounts(
        lines=tuple(LineAmount(line.net_amount, line.gross_amount) for line in lines),
        tax_breakdown=tuple(breakdown),
        net_amount=round_half_up(net, digits),
        tax_amount=round_half_up(tax_total, digits),
        gross_amount=round_half_up(net + tax_total, digits),
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
