"""Credit notes add up (docs/contract.md, "Credit notes add up" and "Credit by quantity"):
invoice lines are credited by quantity, in any number of notes, and crediting an invoice in
full credits exactly its gross, never more on the way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from itertools import pairwise
from random import Random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.builders import closed_invoice, closed_invoice_of
from worker.domain.amounts import NegativeBase, TaxTreatment
from worker.domain.credit_notes import (
    LineCredit,
    charges_left,
    credit_note_content,
    credit_reference,
    line_group,
    lines_by_quantity,
    lines_left,
    live_credit_notes,
    whole_lines,
)
from worker.domain.invoice import Adjustment, AdjustmentKind, OrderRow
from worker.domain.lifecycle import (
    Invoice,
    InvoiceStatus,
    InvoiceType,
    close_draft,
)
from worker.domain.money import from_minor_units, minor_units
from worker.domain.rules import RuleViolation

Credit = Sequence[str | tuple[int, str]] | None
"""Row ids (whole lines), (lineNo, quantity) pairs, or None: everything left."""


def credits_of(reference: Invoice, notes: Sequence[Invoice], credit: Credit) -> list[LineCredit]:
    """What a `create` with `rowIds`, with `lines`, or with neither credits."""
    if credit is None:
        return whole_lines(reference, notes, None)
    row_ids = [part for part in credit if isinstance(part, str)]
    if row_ids:
        return whole_lines(reference, notes, row_ids)
    quantities = [(part[0], Decimal(part[1])) for part in credit if isinstance(part, tuple)]
    return lines_by_quantity(reference, notes, quantities)


def draft_note(
    reference: Invoice,
    notes: Sequence[Invoice],
    credit: Credit,
    charge_ids: Sequence[str] | None = None,
) -> Invoice:
    """A draft note of `credit` and the charges named (None: with `credit` None, every
    charge left, as a `create` that names nothing)."""
    others = live_credit_notes(reference, notes)
    if charge_ids is None:
        charge_ids = list(charges_left(reference, others)) if credit is None else []
    return Invoice(
        invoice_id=f"cn-{len(notes)}",
        order_id=reference.order_id,
        type=InvoiceType.CREDIT_NOTE,
        order_code=None,
        currency=reference.currency,
        prices_include_tax=reference.prices_include_tax,
        customer=reference.customer,
        content=credit_note_content(
            reference, others, credits_of(reference, others, credit), charge_ids
        ),
        payment_terms_days=14,
        reference_invoice_id=reference.invoice_id,
    )


def drafts(reference: Invoice, credits: Sequence[Credit]) -> list[Invoice]:
    notes: list[Invoice] = []
    for credit in credits:
        notes.append(draft_note(reference, notes, credit))
    return notes


def credit_in_notes(
    reference: Invoice, credits: Sequence[Credit], closing_order: list[int] | None = None
) -> tuple[Invoice, list[Invoice]]:
    """Credits `credits`, one draft note after the other, then closes them in
    `closing_order` (by default each as soon as it is made); returns the reference as they
    left it and the notes. Checks after every close that the reference is never credited
    more than its gross."""
    made = drafts(reference, credits)
    notes: list[Invoice] = []
    for index in closing_order or range(len(made)):
        note, reference = close_draft(made[index], reference, date(2026, 11, 23)).invoices
        assert reference.credited_amount <= reference.totals.gross_amount
        notes.append(note)
    return reference, notes


@pytest.mark.parametrize(
    ("price", "gross", "notes"),
    [("0.29", "0.61", ["0.30", "0.31"]), ("0.10", "0.21", ["0.11", "0.10"])],
)
def test_crediting_two_lines_in_two_notes_credits_exactly_the_gross(
    price: str, gross: str, notes: list[str]
) -> None:
    invoice = closed_invoice([("1", price, "5"), ("1", price, "5")])
    credited, made = credit_in_notes(invoice, [["r0"], ["r1"]])

    assert invoice.totals.gross_amount == Decimal(gross)
    assert [note.totals.gross_amount for note in made] == [Decimal(n) for n in notes]
    assert credited.totals.credited_amount == Decimal(gross)
    assert credited.totals.amount_due == 0
    assert credited.status is InvoiceStatus.PAID


def test_a_credit_note_copies_the_credited_lines_amounts() -> None:
    invoice = closed_invoice([("1", "49.80", "7"), ("1", "13.47", "7")], prices_include_tax=True)
    _, [note] = credit_in_notes(invoice, [["r1"]])

    [line] = note.content.lines
    assert (line.line_no, line.order_row_id) == (1, "r1")
    assert (line.net_amount, line.gross_amount) == (Decimal("12.59"), Decimal("13.47"))


def test_a_partial_credit_copies_the_lines_item_with_the_credited_quantity() -> None:
    invoice = closed_invoice([("1", "5.00", "21"), ("3", "10.00", "21")])
    [note] = drafts(invoice, [[(2, "1.0")]])

    [line] = note.content.lines
    original = invoice.content.lines[1]
    assert (line.line_no, line.order_row_id, line.name, line.unit_price, line.tax_rate) == (
        1,
        "r1",
        original.name,
        original.unit_price,
        original.tax_rate,
    )
    assert str(line.quantity) == "1.0"
    assert (line.net_amount, note.totals.tax_amount) == (Decimal("10.00"), Decimal("2.10"))


def test_a_second_note_credits_the_rest_of_a_partly_credited_line() -> None:
    invoice = closed_invoice([("3", "10.00", "21")])
    credited, [first, rest] = credit_in_notes(invoice, [[(1, "1")], None])

    assert [str(line.quantity) for line in rest.content.lines] == ["2"]
    assert (first.totals.gross_amount, rest.totals.gross_amount) == (
        Decimal("12.10"),
        Decimal("24.20"),
    )
    assert credited.totals.credited_amount == invoice.totals.gross_amount == Decimal("36.30")


def test_with_prices_including_tax_a_partial_note_takes_the_tax_of_its_gross() -> None:
    invoice = closed_invoice([("2", "12.10", "21")], prices_include_tax=True)
    [note] = drafts(invoice, [[(1, "1")]])

    [line] = note.content.lines
    assert (line.gross_amount, line.net_amount) == (Decimal("12.10"), Decimal("10.00"))
    assert (note.totals.tax_amount, note.totals.gross_amount) == (Decimal("2.10"), Decimal("12.10"))


def test_the_credit_that_completes_a_line_takes_exactly_what_is_left() -> None:
    # 3 × 0.333 is 1.00; a third of it rounds to 0.33, so the last third takes 0.34.
    invoice = closed_invoice([("3", "0.333", "0")])
    notes = drafts(invoice, [[(1, "1")], [(1, "1")], [(1, "1")]])

    assert [note.content.lines[0].net_amount for note in notes] == [
        Decimal("0.33"),
        Decimal("0.33"),
        Decimal("0.34"),
    ]


def test_a_credit_never_takes_more_than_is_left_of_its_line() -> None:
    # 3 × 0.005 is 0.02; a third of it rounds to 0.01, so the last third takes nothing.
    invoice = closed_invoice([("3", "0.005", "0")])
    notes = drafts(invoice, [[(1, "1")], [(1, "1")], [(1, "1")]])

    assert [note.content.lines[0].net_amount for note in notes] == [
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal("0.00"),
    ]


def test_row_ids_credit_what_is_left_of_each_line() -> None:
    invoice = closed_invoice([("3", "10.00", "21"), ("1", "5.00", "21")])
    notes = drafts(invoice, [[(1, "0.5")]])

    credits = whole_lines(invoice, notes, ["r0"])

    assert [(credit.left.line.line_no, str(credit.quantity)) for credit in credits] == [(1, "2.5")]


def test_a_line_not_on_the_reference_is_refused_on_its_line_no() -> None:
    invoice = closed_invoice([("3", "10.00", "21")])

    with pytest.raises(RuleViolation) as refused:
        lines_by_quantity(invoice, [], [(1, Decimal(1)), (2, Decimal(1))])

    assert refused.value.field == "lines.1.lineNo"
    assert refused.value.message == "line 2 is not on the reference invoice"


def test_more_than_is_left_of_a_line_is_refused_on_its_quantity() -> None:
    invoice = closed_invoice([("3", "10.00", "21")])
    notes = drafts(invoice, [[(1, "2")]])

    with pytest.raises(RuleViolation) as refused:
        lines_by_quantity(invoice, notes, [(1, Decimal("1.5"))])

    assert refused.value.field == "lines.0.quantity"
    assert refused.value.message == "at most 1 of line 1 is left to credit"


def test_a_line_credited_in_full_in_parts_is_refused_by_quantity_and_by_row_id() -> None:
    invoice = closed_invoice([("3", "10.00", "21"), ("1", "5.00", "21")])
    notes = drafts(invoice, [[(1, "2")], [(1, "1")]])

    with pytest.raises(RuleViolation) as by_quantity:
        lines_by_quantity(invoice, notes, [(2, Decimal(1)), (1, Decimal("0.1"))])
    with pytest.raises(RuleViolation) as by_row_id:
        whole_lines(invoice, notes, ["r0"])

    assert by_quantity.value.field == "lines.1.quantity"
    assert by_row_id.value.field == "rowIds.0"
    assert by_row_id.value.message == "line 1 is already credited in full"
    assert [credit.left.line.line_no for credit in whole_lines(invoice, notes, None)] == [2]


def test_a_line_is_credited_at_most_once_in_full() -> None:
    invoice = closed_invoice([("1", "10.00", "21")])
    _, notes = credit_in_notes(invoice, [["r0"]])
    with pytest.raises(RuleViolation) as refused:
        whole_lines(invoice, notes, ["r0"])
    assert refused.value.field == "rowIds.0"


def test_a_row_not_on_the_reference_is_refused_on_its_row_id() -> None:
    invoice = closed_invoice([("1", "10.00", "21")])
    with pytest.raises(RuleViolation) as refused:
        whole_lines(invoice, [], ["r0", "r9"])
    assert refused.value.field == "rowIds.1"


def test_only_a_closed_invoice_of_the_order_can_be_credited() -> None:
    invoice = closed_invoice([("1", "10.00", "21")])
    with pytest.raises(RuleViolation) as refused:
        credit_reference(invoice, "another-order")
    assert refused.value.field == "referenceInvoiceId"


def test_notes_rounded_on_their_own_never_take_more_than_the_groups_tax() -> None:
    # Ten rows of 2 yen at 25 %: 0.5 yen of tax each, 3 yen a note rounded on its own, but
    # the group's tax is 5 yen (gross 25): the later notes take what is left, never less
    # than nothing, and the invoice is never credited more than its gross.
    invoice = closed_invoice([("1", "2", "25")] * 10, currency="JPY")
    credited, notes = credit_in_notes(invoice, [[f"r{n}"] for n in range(10)])

    assert [note.totals.tax_amount for note in notes] == [Decimal(1)] * 5 + [Decimal(0)] * 5
    assert credited.totals.credited_amount == Decimal(25)


def test_with_prices_including_tax_a_note_never_takes_more_than_the_groups_taxable_amount() -> None:
    # Gross 2 yen at 25 % has 0.4 yen of tax: notes rounded on their own take none, but the
    # group's tax is 1 yen of its 6, so the third note, leaving a free line, takes it.
    invoice = closed_invoice([("1", "2", "25")] * 3 + [("1", "0", "25")], "JPY", True)
    notes = drafts(invoice, [["r0"], ["r1"], ["r2"]])

    assert [note.totals.tax_amount for note in notes] == [Decimal(0), Decimal(0), Decimal(1)]
    assert [note.totals.net_amount for note in notes] == [Decimal(2), Decimal(2), Decimal(1)]


def test_a_note_groups_its_lines_by_the_rate_its_invoice_writes() -> None:
    invoice = closed_invoice([("1", "10.00", "9"), ("1", "5.00", "9.00")])
    [note] = drafts(invoice, [["r1"]])

    [group] = note.content.amounts.tax_breakdown
    assert str(group.tax_rate) == "9"
    assert str(note.content.lines[0].tax_rate) == "9.00"


@st.composite
def credited_invoices(draw: st.DrawFn) -> tuple[Invoice, list[Credit]]:
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["1", "2", "3", "0.5", "7"]),
                st.sampled_from(["0.01", "0.10", "0.29", "0.99", "13.47", "49.80", "100"]),
                st.sampled_from(["0", "5", "7", "9.5", "19", "21"]),
            ),
            min_size=1,
            max_size=12,
        )
    )
    invoice = closed_invoice(
        rows,
        currency=draw(st.sampled_from(["EUR", "JPY", "BHD"])),
        prices_include_tax=draw(st.booleans()),
    )
    row_ids = draw(st.permutations([f"r{n}" for n in range(len(rows))]))
    cuts = sorted(draw(st.sets(st.integers(1, len(rows) - 1))) if len(rows) > 1 else set())
    bounds = [0, *cuts, len(rows)]
    return invoice, [list(row_ids[a:b]) for a, b in pairwise(bounds)]


@given(credited_invoices(), st.randoms(use_true_random=False))
def test_an_invoice_credited_in_full_in_any_notes_owes_nothing_and_is_not_over_credited(
    case: tuple[Invoice, list[Credit]], rnd: Random
) -> None:
    invoice, parts = case
    closing_order = list(range(len(parts)))
    rnd.shuffle(closing_order)

    credited, notes = credit_in_notes(invoice, parts, closing_order)

    assert sum(note.totals.gross_amount for note in notes) == invoice.totals.gross_amount
    assert sum(note.totals.net_amount for note in notes) == invoice.totals.net_amount
    assert credited.totals.credited_amount == invoice.totals.gross_amount
    assert credited.totals.amount_due == 0


# --- credit by quantity, any invoice and any sequence of credits ---

_CURRENCIES = ["EUR", "JPY", "BHD", "CLF"]  # 2, 0, 3 and 4 minor digits


@st.composite
def any_invoices(draw: st.DrawFn) -> Invoice:
    currency = draw(st.sampled_from(_CURRENCIES))
    rows = []
    for n in range(draw(st.integers(1, 8))):
        rate = draw(st.sampled_from(["0", "5", "7", "9.5", "19", "21", "25"]))
        category = draw(st.sampled_from(["S"] if rate != "0" else ["Z", "E", "AE", "K"]))
        rows.append(
            OrderRow(
                f"r{n}",
                n,
                None,
                f"Item {n}",
                Decimal(draw(st.sampled_from(["1", "2", "3", "0.5", "7", "1.25", "0.333", "12"]))),
                None,
                Decimal(
                    draw(
                        st.sampled_from(
                            ["0", "0.005", "0.01", "0.29", "0.99", "1.005", "13.47", "49.80", "100"]
                        )
                    )
                ),
                Decimal(draw(st.sampled_from(["0", "0", "2.5", "10", "33.333", "100"]))),
                Decimal(rate),
                TaxTreatment(category),
            )
        )
    adjustments = [
        Adjustment(
            draw(st.sampled_from(AdjustmentKind), label="kind"),
            f"a{n}",
            "Voucher or shipping",
            from_minor_units(
                draw(st.sampled_from([1, 100, 495, 1000, 3333, 15000])), minor_units(currency)
            ),
            *draw(
                st.sampled_from(
                    [(None, None), (None, None), (Decimal(19), None), (Decimal(0), "Z")]
                ).map(lambda rated: (rated[0], None if rated[1] is None else TaxTreatment("Z")))
            ),
            position=n,
        )
        for n in range(draw(st.integers(0, 3), label="charges and allowances"))
    ]
    try:
        return closed_invoice_of(rows, currency, draw(st.booleans()), adjustments)
    except NegativeBase:
        assume(False)
        raise


def _quantities(left: Decimal) -> st.SearchStrategy[Decimal]:
    """Quantities up to `left`: all of it, a half, a third cut to three digits, a unit."""
    choices = [left, left / 2, (left / 3).quantize(Decimal("0.001")), Decimal(1), Decimal("0.001")]
    return st.sampled_from([q for q in choices if 0 < q <= left])


def _taken_per_line(
    invoice: Invoice, notes: Sequence[Invoice]
) -> dict[str, tuple[Decimal, Decimal]]:
    """Row id → (quantity, line amount) the notes credit of it."""
    taken = {line.order_row_id: (Decimal(0), Decimal(0)) for line in invoice.content.lines}
    for note in notes:
        for line in note.content.lines:
            amount = line.gross_amount if invoice.prices_include_tax else line.net_amount
            assert amount is not None
            assert line.quantity > 0 and amount >= 0 and line.net_amount >= 0
            quantity, total = taken[line.order_row_id]
            taken[line.order_row_id] = (quantity + line.quantity, total + amount)
    return taken


def _taken_per_group(
    invoice: Invoice, notes: Sequence[Invoice]
) -> dict[object, tuple[Decimal, Decimal]]:
    """Tax group → (taxable amount, tax) the notes credit of it."""
    taken = {group.key: (Decimal(0), Decimal(0)) for group in invoice.content.amounts.tax_breakdown}
    for note in notes:
        for group in note.content.amounts.tax_breakdown:
            assert group.taxable_amount >= 0 and group.tax_amount >= 0
            taxable, tax = taken[group.key]
            taken[group.key] = (taxable + group.taxable_amount, tax + group.tax_amount)
    return taken


def _invoice_per_line(invoice: Invoice) -> dict[str, tuple[Decimal, Decimal]]:
    return {
        line.order_row_id: (
            line.quantity,
            line.gross_amount if line.gross_amount is not None else line.net_amount,
        )
        for line in invoice.content.lines
    }


def _invoice_per_group(invoice: Invoice) -> dict[object, tuple[Decimal, Decimal]]:
    return {
        group.key: (group.taxable_amount, group.tax_amount)
        for group in invoice.content.amounts.tax_breakdown
    }


def _parts_of(invoices: Sequence[Invoice]) -> dict[object, Decimal]:
    """(kind, id, tax group) → the amount of the charges' and allowances' parts."""
    parts: dict[object, Decimal] = {}
    for invoice in invoices:
        content = invoice.content
        for adjustment, amounts in zip(
            content.adjustments, content.amounts.adjustments, strict=True
        ):
            for part in amounts.parts:
                key = (*adjustment.key, part.key)
                parts[key] = parts.get(key, Decimal(0)) + part.amount
    return parts


def _check_never_more(invoice: Invoice, notes: Sequence[Invoice]) -> None:
    billed = _invoice_per_line(invoice)
    for row_id, (quantity, amount) in _taken_per_line(invoice, notes).items():
        assert quantity <= billed[row_id][0] and amount <= billed[row_id][1], row_id
    grouped = _invoice_per_group(invoice)
    for key, (taxable, tax) in _taken_per_group(invoice, notes).items():
        assert taxable <= grouped[key][0] and tax <= grouped[key][1], key
    billed_parts = _parts_of([invoice])
    for key, amount in _parts_of(notes).items():
        assert amount <= billed_parts[key], key
    for note in notes:
        amounts = note.content.amounts
        assert amounts.net_amount >= 0 and amounts.tax_amount >= 0
        assert amounts.gross_amount == amounts.net_amount + amounts.tax_amount
        assert amounts.line_net_amount == sum(line.net_amount for line in note.content.lines)
        assert all(part.amount > 0 for a in amounts.adjustments for part in a.parts)
        written = [amounts.net_amount, amounts.tax_amount, amounts.gross_amount]
        written += [line.net_amount for line in note.content.lines]
        assert {amount.as_tuple().exponent for amount in written} == {
            -minor_units(invoice.currency)
        }


@given(any_invoices(), st.data())
def test_any_credits_by_quantity_that_credit_everything_credit_exactly_the_invoice(
    invoice: Invoice, data: st.DataObject
) -> None:
    notes: list[Invoice] = []
    for _ in range(data.draw(st.integers(0, 6), label="credits")):
        left = [line for line in lines_left(invoice, notes) if line.quantity > 0]
        if not left:
            break
        chosen = data.draw(
            st.lists(st.sampled_from(left), min_size=1, unique_by=lambda line: line.line.line_no),
            label="lines",
        )
        credit: Credit
        if data.draw(st.booleans(), label="whole lines"):
            credit = [line.line.order_row_id for line in chosen]
        else:
            credit = [
                (line.line.line_no, str(data.draw(_quantities(line.quantity), label="quantity")))
                for line in chosen
            ]
        charges = list(charges_left(invoice, live_credit_notes(invoice, notes)))
        charge_ids = (
            data.draw(st.lists(st.sampled_from(charges), unique=True), label="charges")
            if charges
            else []
        )
        notes.append(draft_note(invoice, notes, credit, charge_ids))
        _check_never_more(invoice, notes)
        if data.draw(st.integers(0, 5), label="delete a draft") == 0:
            del notes[data.draw(st.integers(0, len(notes) - 1), label="deleted")]
    others = live_credit_notes(invoice, notes)
    if any(line.quantity > 0 for line in lines_left(invoice, notes)) or charges_left(
        invoice, others
    ):
        notes.append(draft_note(invoice, notes, None))
        _check_never_more(invoice, notes)

    reference = invoice
    for index in data.draw(st.permutations(range(len(notes))), label="closing order"):
        _, reference = close_draft(notes[index], reference, date(2026, 11, 23)).invoices
        assert reference.credited_amount <= reference.totals.gross_amount
    assert reference.totals.amount_due == 0
    assert reference.totals.credited_amount == invoice.totals.gross_amount
    assert _taken_per_line(invoice, notes) == _invoice_per_line(invoice)
    assert _taken_per_group(invoice, notes) == _invoice_per_group(invoice)
    assert _parts_of(notes) == _parts_of([invoice])
    assert sum(note.totals.gross_amount for note in notes) == invoice.totals.gross_amount
    assert sum(note.totals.net_amount for note in notes) == invoice.totals.net_amount
    assert sum(note.totals.tax_amount for note in notes) == invoice.totals.tax_amount
    assert {line_group(line) for note in notes for line in note.content.lines} <= set(
        _invoice_per_group(invoice)
    )
