"""The one rule for every invoice amount (docs/contract.md, "Amounts"): EN 16931's tax per group of
VAT category and rate."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
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
class PricedAdjustment:
    """An order-level charge or allowance as an invoice takes it: its amount (net, or gross
    when prices include tax) and, when it states one, its rate; without a rate it is split
    over the invoice's tax groups."""

    is_charge: bool
    amount: Decimal
    tax_rate: Decimal | None = None
    treatment: TaxTreatment | None = None
    """With a rate: None is the rate's default category."""


@dataclass(frozen=True, slots=True)
class AdjustmentPart:
    """The share of a charge or allowance in one tax group: the amount as given (net, or
    gross when prices include tax) and its net."""

    tax_rate: Decimal
    treatment: TaxTreatment
    amount: Decimal
    net_amount: Decimal

    @property
    def key(self) -> GroupKey:
        return self.treatment.category, self.tax_rate


@dataclass(frozen=True, slots=True)
class AdjustmentAmounts:
    """A charge or allowance on an invoice: its parts, one per tax group it falls in."""

    is_charge: bool
    parts: tuple[AdjustmentPart, ...]

    @property
    def net_amount(self) -> Decimal:
        return sum((part.net_amount for part in self.parts), Decimal(0))

    @property
    def amount(self) -> Decimal:
        """As given: net, or gross when prices include tax."""
        return sum((part.amount for part in self.parts), Decimal(0))


class NegativeBase(ValueError):
    """A tax group's allowances exceed its lines and charges."""

    def __init__(self, group: GroupKey) -> None:
        category, rate = group
        super().__init__(
            f"the allowances exceed the lines and charges taxed {category} at {rate} %"
        )
        self.group = group


@dataclass(frozen=True, slots=True)
class InvoiceAmounts:
    lines: tuple[LineAmount, ...]  # in the order of the priced lines
    tax_breakdown: tuple[TaxGroup, ...]  # ascending by rate, then category
    net_amount: Decimal
    tax_amount: Decimal
    gross_amount: Decimal
    adjustments: tuple[AdjustmentAmounts, ...] = ()
    """The charges and allowances it takes, in the order given."""

    @property
    def allowance_amount(self) -> Decimal:
        """The allowances' net (BT-107)."""
        return sum((a.net_amount for a in self.adjustments if not a.is_charge), Decimal(0))

    @property
    def charge_amount(self) -> Decimal:
        """The charges' net (BT-108)."""
        return sum((a.net_amount for a in self.adjustments if a.is_charge), Decimal(0))

    @property
    def line_net_amount(self) -> Decimal:
        """Σ line net (BT-106): the net without the charges and allowances."""
        return self.net_amount + self.allowance_amount - self.charge_amount


@dataclass(frozen=True, slots=True)
class Totals:
    line_net_amount: Decimal
    allowance_amount: Decimal
    charge_amount: Decimal
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
    lines: Sequence[PricedLine],
    currency: str,
    prices_include_tax: bool,
    adjustments: Sequence[PricedAdjustment] = (),
) -> InvoiceAmounts:
    """Line amounts, the charges' and allowances' parts, the tax per group (category and
    rate) and the invoice's net, tax and gross amounts. Raises NegativeBase when a group's
    allowances exceed its lines and charges."""
    digits = minor_units(currency)
    line_units = [
        to_minor_units(
            line_amount(line.quantity, line.unit_price, line.discount_percent, currency), digits
        )
        for line in lines
    ]
    return _grouped_amounts(
        lines,
        line_units,
        _adjustment_parts(adjustments, lines, line_units, digits),
        len(adjustments),
        digits,
        prices_include_tax,
        lambda _, rate, base: _v1_tax(base, rate, prices_include_tax),
    )


@dataclass(frozen=True, slots=True)
class GroupShare:
    """An amount (net, or gross when prices include tax) in one tax group."""

    tax_rate: Decimal
    treatment: TaxTreatment
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CreditedAdjustment:
    """What a credit note takes of a charge or allowance, per tax group."""

    is_charge: bool
    shares: tuple[GroupShare, ...]


@dataclass(frozen=True, slots=True)
class _Part:
    """A charge's or allowance's amount in one tax group, in minor units."""

    adjustment: int  # its index among the adjustments
    is_charge: bool
    tax_rate: Decimal
    treatment: TaxTreatment
    units: int

    @property
    def group(self) -> GroupKey:
        return self.treatment.category, self.tax_rate


def _v1_tax(base: int, rate: Decimal, prices_include_tax: bool) -> int:
    """The v1 rule in minor units: q(base × r/100), or q(base × r/(100 + r)) of a gross."""
    n, d = rate.as_integer_ratio()
    return _whole_units(base * n, 100 * d + n if prices_include_tax else 100 * d)


def _adjustment_parts(
    adjustments: Sequence[PricedAdjustment],
    lines: Sequence[PricedLine],
    line_units: Sequence[int],
    digits: int,
) -> list[_Part]:
    """Each adjustment's parts: with a rate, all of it in that group; without one, split
    over the lines' groups in proportion to their line amounts (largest remainders, ties to
    the group whose first line comes first); none when the line amounts sum to zero."""
    groups: dict[GroupKey, list[int]] = {}
    for index, line in enumerate(lines):
        groups.setdefault(line.group, []).append(index)  # in the order of their first line
    weights = [sum(line_units[i] for i in indices) for indices in groups.values()]
    treatments = [_treatment(lines[i] for i in indices) for indices in groups.values()]
    rates = [lines[indices[0]].tax_rate for indices in groups.values()]
    parts = []
    for index, adjustment in enumerate(adjustments):
        units = to_minor_units(adjustment.amount, digits)
        if adjustment.tax_rate is not None:
            treatment = _group_treatment(adjustment.treatment, adjustment.tax_rate)
            parts.append(_Part(index, adjustment.is_charge, adjustment.tax_rate, treatment, units))
            continue
        for rate, treatment, share in zip(rates, treatments, _spread(units, weights), strict=True):
            if share:
                parts.append(_Part(index, adjustment.is_charge, rate, treatment, share))
    return parts


def _grouped_amounts(
    lines: Sequence[PricedLine | CreditedLine],
    line_units: Sequence[int],
    parts: Sequence[_Part],
    adjustment_count: int,
    digits: int,
    prices_include_tax: bool,
    tax_of: Callable[[GroupKey, Decimal, int], int],
) -> InvoiceAmounts:
    """The amounts of lines and parts grouped by tax group: per group base = Σ line amounts
    + Σ charges − Σ allowances and its tax `tax_of(group, rate, base)`. With tax-inclusive
    prices each part's own tax is taken from it, and the rest of the group's tax is spread
    over its lines (over its charges when its lines sum to zero), so lines, charges and
    allowances add up to the group's taxable amount exactly."""
    line_net = list(line_units)
    part_net = [part.units for part in parts]
    lines_by_group: dict[GroupKey, list[int]] = {}
    for index, line in enumerate(lines):
        lines_by_group.setdefault(line.group, []).append(index)
    parts_by_group: dict[GroupKey, list[int]] = {}
    for index, part in enumerate(parts):
        parts_by_group.setdefault(part.group, []).append(index)

    breakdown: list[TaxGroup] = []
    net_total = tax_total = 0
    for key in sorted(lines_by_group.keys() | parts_by_group.keys(), key=_rate_then_category):
        in_lines = lines_by_group.get(key, [])
        in_parts = parts_by_group.get(key, [])
        group_lines = [line_units[i] for i in in_lines]
        base = sum(group_lines) + sum(
            parts[i].units if parts[i].is_charge else -parts[i].units for i in in_parts
        )
        if base < 0:
            raise NegativeBase(key)
        rate = lines[in_lines[0]].tax_rate if in_lines else parts[in_parts[0]].tax_rate
        tax = tax_of(key, rate, base)
        if prices_include_tax:
            own = {i: _v1_tax(parts[i].units, rate, True) for i in in_parts}
            rest = tax - sum(own[i] if parts[i].is_charge else -own[i] for i in in_parts)
            # A line's share is at most its gross (BR-27: no negative net); what lines cannot
            # take (all of it where they sum to zero) goes to the group's charges.
            shares = [
                min(share, gross)
                for share, gross in zip(_spread(rest, group_lines), group_lines, strict=True)
            ]
            charges = [i for i in in_parts if parts[i].is_charge]
            if charges:
                charge_units = [parts[i].units for i in charges]
                for index, share in zip(
                    charges, _spread(rest - sum(shares), charge_units), strict=True
                ):
                    own[index] += share
            else:
                shares = _spread(rest, group_lines)
            for index, share in zip(in_lines, shares, strict=True):
                line_net[index] -= share
            for index in in_parts:
                part_net[index] -= own[index]
            taxable = base - tax
        else:
            taxable = base
        breakdown.append(
            TaxGroup(
                rate,
                from_minor_units(taxable, digits),
                from_minor_units(tax, digits),
                _treatment([*(lines[i] for i in in_lines), *(parts[i] for i in in_parts)]),
            )
        )
        net_total += taxable
        tax_total += tax

    return InvoiceAmounts(
        lines=tuple(
            LineAmount(
                from_minor_units(net, digits),
                from_minor_units(units, digits) if prices_include_tax else None,
            )
            for net, units in zip(line_net, line_units, strict=True)
        ),
        tax_breakdown=tuple(breakdown),
        net_amount=from_minor_units(net_total, digits),
        tax_amount=from_minor_units(tax_total, digits),
        gross_amount=from_minor_units(net_total + tax_total, digits),
        adjustments=_adjustment_amounts(parts, part_net, adjustment_count, digits),
    )


def _adjustment_amounts(
    parts: Sequence[_Part], part_net: Sequence[int], count: int, digits: int
) -> tuple[AdjustmentAmounts, ...]:
    """Each adjustment's parts in the order of its groups' first lines (or as stated);
    an adjustment that took nothing has none."""
    by_adjustment: list[list[AdjustmentPart]] = [[] for _ in range(count)]
    is_charge = [False] * count
    for part, net in zip(parts, part_net, strict=True):
        is_charge[part.adjustment] = part.is_charge
        by_adjustment[part.adjustment].append(
            AdjustmentPart(
                part.tax_rate,
                part.treatment,
                from_minor_units(part.units, digits),
                from_minor_units(net, digits),
            )
        )
    return tuple(
        AdjustmentAmounts(charge, tuple(found))
        for charge, found in zip(is_charge, by_adjustment, strict=True)
    )


def _rate_then_category(key: GroupKey) -> tuple[Decimal, str]:
    category, rate = key
    return rate, category


def _treatment(lines: Iterable[PricedLine | CreditedLine | _Part]) -> TaxTreatment:
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
    adjustments: Sequence[CreditedAdjustment] = (),
) -> InvoiceAmounts:
    """A credit note's amounts (docs/contract.md, "Credit by quantity"). Per group its tax is
    the v1 rule's on the note's own lines, charges and allowances (with tax-inclusive prices
    spread as on an invoice), kept within what is left of the group (`left[group]`: the
    invoice's taxable amount and tax minus what earlier credit notes took) and never below
    zero; in a group the note completes, it is what is left of the group's tax. So notes
    rounded on their own never take more than the invoice, and the last one takes exactly
    the rest."""
    digits = minor_units(currency)
    parts = [
        _Part(
            index,
            adjustment.is_charge,
            share.tax_rate,
            share.treatment,
            to_minor_units(share.amount, digits),
        )
        for index, adjustment in enumerate(adjustments)
        for share in adjustment.shares
    ]

    def tax_of(key: GroupKey, rate: Decimal, base: int) -> int:
        taxable_left = to_minor_units(left[key].taxable_amount, digits)
        tax_left = to_minor_units(left[key].tax_amount, digits)
        if prices_include_tax:
            # The note's taxable amount (its gross less the tax) is within what is left too.
            low, high = base - taxable_left, min(base, tax_left)
        else:
            low, high = 0, tax_left
        wanted = tax_left if key in completing else _v1_tax(base, rate, prices_include_tax)
        return max(0, min(max(wanted, low), high))

    return _grouped_amounts(
        lines,
        [to_minor_units(line.amount, digits) for line in lines],
        parts,
        len(adjustments),
        digits,
        prices_include_tax,
        tax_of,
    )


def totals(amounts: InvoiceAmounts, paid: Decimal, credited: Decimal, currency: str) -> Totals:
    """The invoice's totals: amount due is gross - paid - credited, and refund due
    paid + credited - gross, neither below zero."""
    digits = minor_units(currency)
    gross = to_minor_units(amounts.gross_amount, digits)
    paid_units = to_minor_units(paid, digits)
    credited_units = to_minor_units(credited, digits)
    return Totals(
        line_net_amount=from_minor_units(to_minor_units(amounts.line_net_amount, digits), digits),
        allowance_amount=from_minor_units(to_minor_units(amounts.allowance_amount, digits), digits),
        charge_amount=from_minor_units(to_minor_units(amounts.charge_amount, digits), digits),
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


def _spread(total: int, weights: Sequence[int]) -> list[int]:
    """`total` spread in proportion to `weights`, summing to it (the largest remainder rule).

    Each share is rounded down; the units left over go one each to the weights with the
    largest cut-off remainders, ties to the earlier one. All weights zero: all shares zero.
    """
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [0] * len(weights)
    shares = []
    remainders = []
    for weight in weights:
        share, remainder = divmod(total * weight, weight_sum)
        shares.append(share)
        remainders.append(remainder)
    leftover = total - sum(shares)
    # sorted is stable: among equal remainders the earlier one comes first.
    for index in sorted(range(len(shares)), key=remainders.__getitem__, reverse=True)[:leftover]:
        shares[index] += 1
    return shares
