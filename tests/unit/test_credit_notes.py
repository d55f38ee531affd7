"""Credit notes add up (docs/contract.md): crediting an invoice in full, in any number of
notes, credits exactly its gross."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.builders import closed_invoice
from worker.domain.credit_notes import (
    credit_note_content,
    credit_reference,
    creditable_lines,
    live_credit_notes,
)
from worker.domain.lifecycle import (
    Invoice,
    InvoiceStatus,
    InvoiceType,
    close_draft,
)
from worker.domain.rules import RuleViolation


def credit_in_notes(
    reference: Invoice, parts: list[list[str]], closing_order: list[int] | None = None
) -> tuple[Invoice, list[Invoice]]:
    """Credits `parts` (row ids), one draft note after the other, then closes them in
    `closing_order` (by default each as soon as it is made); returns the reference as they
    left it and the notes. Checks after every close that the reference is never credited
    more than its gross."""
    drafts = _drafts(reference, parts)
    notes: list[Invoice] = []
    for index in closing_order or range(len(drafts)):
        note, reference = close_draft(drafts[index], reference, date(2026, 11, 23)).invoices
        assert reference.credited_amount <= reference.totals.gross_amount
        notes.append(note)
    return reference, notes


def _drafts(reference: Invoice, parts: list[list[str]]) -> list[Invoice]:
    notes: list[Invoice] = []
    for n, row_ids in enumerate(parts):
        others = live_credit_notes(reference, notes)
        lines = creditable_lines(reference, others, row_ids)
        draft = Invoice(
            invoice_id=f"cn-{n}",
            order_id=reference.order_id,
            type=InvoiceType.CREDIT_NOTE,
            order_code=None,
            currency=reference.currency,
            prices_include_tax=reference.prices_include_tax,
            customer=reference.customer,
            content=credit_note_content(reference, others, lines),
            payment_terms_days=14,
            reference_invoice_id=reference.invoice_id,
        )
        assert draft.totals.tax_amount >= 0
        notes.append(draft)
    return notes


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


def test_a_line_is_credited_at_most_once() -> None:
    invoice = closed_invoice([("1", "10.00", "21")])
    _, notes = credit_in_notes(invoice, [["r0"]])
    with pytest.raises(RuleViolation) as refused:
        creditable_lines(invoice, notes, ["r0"])
    assert refused.value.field == "rowIds.0"


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


def test_a_note_groups_its_lines_by_the_rate_its_invoice_writes() -> None:
    invoice = closed_invoice([("1", "10.00", "9"), ("1", "5.00", "9.00")])
    [note] = _drafts(invoice, [["r1"]])

    [group] = note.content.amounts.tax_breakdown
    assert str(group.tax_rate) == "9"
    assert str(note.content.lines[0].tax_rate) == "9.00"


@st.composite
def credited_invoices(draw: st.DrawFn) -> tuple[Invoice, list[list[str]]]:
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
    case: tuple[Invoice, list[list[str]]], rnd: Random
) -> None:
    invoice, parts = case
    closing_order = list(range(len(parts)))
    rnd.shuffle(closing_order)

    credited, notes = credit_in_notes(invoice, parts, closing_order)

    assert sum(note.totals.gross_amount for note in notes) == invoice.totals.gross_amount
    assert sum(note.totals.net_amount for note in notes) == invoice.totals.net_amount
    assert credited.totals.credited_amount == invoice.totals.gross_amount
    assert credited.totals.amount_due == 0
