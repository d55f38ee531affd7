"""Returns under attack (docs/contract.md, "order-returned"; the shared contract's "Returns
and credit by quantity"): bad input, money, batching, notifications and the change log."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import change_log
from tests.builders import SOURCE, command, order, returned
from tests.memory_store import MemoryStore, dead_letters, records_of, results
from tests.sellers import SELLER
from tests.unit.test_batching import invoice_of, run
from worker.domain.lifecycle import Invoice, InvoiceStatus, InvoiceType
from worker.messages import stable_event_id
from worker.settings import Settings


def events(store: MemoryStore, event_type: str | None = None) -> list[dict[str, Any]]:
    parsed = [json.loads(message.value) for message in store.outbox if message.value]
    return [event for event in parsed if event_type is None or event.get("type") == event_type]


def data_of(store: MemoryStore, event_type: str) -> list[dict[str, Any]]:
    return [event["data"] for event in events(store, event_type)]


def credit_notes(store: MemoryStore) -> list[Invoice]:
    return [i for i in store.invoices.values() if i.type is InvoiceType.CREDIT_NOTE]


def customer_order(
    event_id: str, order_id: str, rows: list[tuple[str, str, str]], customer: dict[str, Any]
) -> dict[str, Any]:
    event = order(event_id, order_id, rows)
    event["data"]["customer"] = customer
    return event


# Input the return may not carry: a validation dead letter, nothing applied.


def _billed() -> MemoryStore:
    store = MemoryStore(Settings())
    store.run(records_of([order("e-1", "o-1", [("r1", "3", "10.00")])]))
    return store


def test_bad_returns_are_validation_dead_letters_on_their_field() -> None:
    store = _billed()
    bad = [
        returned("b-1", "o-1", "R1", [("r1", "1"), ("r1", "1")]),
        returned("b-2", "o-1", "R2", [("r1", "0")]),
        returned("b-3", "o-1", "R3", [("r1", "-1")]),
        returned("b-4", "o-1", "R4", [("r1", "0.0000001")]),
        returned("b-5", "o-1", "R" * 65, [("r1", "1")]),
        returned("b-6", "o-1", "R6", []),
        returned("b-7", "o-1", "R7", [("r1", "1")], reason="x" * 201),
        returned("b-8", "o-1", "R8", [("r1", "1")], charges=[f"c{n}" for n in range(101)]),
        returned("b-9", "o-1", "", [("r1", "1")]),
    ]

    store.run(records_of(bad))

    letters = dead_letters(store)
    assert [reason for reason, _ in letters] == ["validation"] * len(bad)
    assert [sorted(errors) for _, errors in letters] == [
        ["rows.1.rowId"],
        ["rows.0.quantity"],
        ["rows.0.quantity"],
        ["rows.0.quantity"],
        ["returnId"],
        ["rows"],
        ["reason"],
        ["charges"],
        ["returnId"],
    ]
    assert credit_notes(store) == []


def test_a_return_of_a_thousand_rows_makes_one_note_of_a_thousand_lines() -> None:
    rows = [(f"r{n}", "2", "0.99") for n in range(1000)]
    store = MemoryStore(Settings())
    store.run(records_of([order("e-1", "o-1", rows)]))

    store.run(records_of([returned("ret-1", "o-1", "R1", [(f"r{n}", "2") for n in range(1000)])]))

    [note] = credit_notes(store)
    assert len(note.content.lines) == 1000
    reference = store.invoices[invoice_of("e-1")]
    assert note.content.amounts.gross_amount == reference.content.amounts.gross_amount
    assert reference.status is InvoiceStatus.PAID


def test_a_return_of_a_thousand_and_one_rows_is_refused() -> None:
    store = _billed()

    store.run(records_of([returned("ret-1", "o-1", "R1", [(f"r{n}", "1") for n in range(1001)])]))

    assert [reason for reason, _ in dead_letters(store)] == ["validation"]


# What a return may credit.


def test_a_row_invoiced_again_after_a_void_is_returned_from_its_new_invoice_only() -> None:
    store = _billed()
    store.run(
        records_of(
            [
                command("v-1", "void", invoiceId=invoice_of("e-1"), reason="wrong"),
                order("e-2", "o-1", [("r1", "3", "10.00")]),
            ]
        )
    )

    store.run(records_of([returned("ret-1", "o-1", "R1", [("r1", "3")])]))
    store.run(records_of([returned("ret-2", "o-1", "R2", [("r1", "1")])]))

    [note] = credit_notes(store)
    assert note.reference_invoice_id == invoice_of("e-2")
    assert dead_letters(store) == [
        ("conflict", {"rows.0.quantity": ["at most 0 of row 'r1' is left to return"]})
    ]


def test_rows_of_a_deleted_draft_or_a_void_invoice_are_not_returned() -> None:
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [
                order("e-1", "o-1", [("r1", "1", "10.00")], autoClose=False),
                order("e-2", "o-2", [("r2", "1", "10.00")]),
            ]
        )
    )
    store.run(
        records_of(
            [
                command("d-1", "delete", invoiceId=invoice_of("e-1")),
                command("v-1", "void", invoiceId=invoice_of("e-2"), reason="wrong"),
                returned("ret-1", "o-1", "R1", [("r1", "1")]),
                returned("ret-2", "o-2", "R1", [("r2", "1")]),
            ]
        )
    )

    assert dead_letters(store) == [
        ("conflict", {"rows.0.rowId": ["row 'r1' is not on an open or paid invoice"]}),
        ("conflict", {"rows.0.rowId": ["row 'r2' is not on an open or paid invoice"]}),
    ]


def test_a_return_id_is_the_orders_own_and_reused_with_other_rows_changes_nothing() -> None:
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [
                order("e-1", "o-1", [("r1", "3", "10.00")]),
                order("e-2", "o-2", [("r1", "3", "10.00")]),
            ]
        )
    )

    store.run(
        records_of(
            [
                returned("ret-1", "o-1", "SAME", [("r1", "1")]),
                returned("ret-2", "o-2", "SAME", [("r1", "2")]),
                returned("ret-3", "o-1", "SAME", [("r1", "2")]),
                returned("ret-4", "o-2", "SAME", [("r1", "99")]),
            ]
        )
    )

    notes = sorted((n.order_id, n.content.lines[0].quantity) for n in credit_notes(store))
    assert notes == [("o-1", Decimal(1)), ("o-2", Decimal(2))]
    assert dead_letters(store) == []


def test_a_void_after_a_return_in_one_batch_is_refused_and_one_before_it_conflicts() -> None:
    store = _billed()
    store.run(records_of([order("e-2", "o-2", [("r1", "3", "10.00")])]))

    store.run(
        records_of(
            [
                returned("ret-1", "o-1", "R1", [("r1", "1")]),
                command("v-1", "void", invoiceId=invoice_of("e-1"), reason="x"),
                command("v-2", "void", invoiceId=invoice_of("e-2"), reason="x"),
                returned("ret-2", "o-2", "R1", [("r1", "1")]),
            ]
        )
    )

    assert [r["ok"] for r in results(store)] == [False, True]
    assert store.invoices[invoice_of("e-1")].status is InvoiceStatus.OPEN
    assert [n.order_id for n in credit_notes(store)] == ["o-1"]
    assert [reason for reason, _ in dead_letters(store)] == ["conflict"]


def test_a_create_after_a_return_in_one_batch_credits_only_what_the_return_left() -> None:
    store = _billed()
    reference = invoice_of("e-1")

    store.run(
        records_of(
            [
                returned("ret-1", "o-1", "R1", [("r1", "1")]),
                command(
                    "c-1",
                    "create",
                    orderId="o-1",
                    type="credit-note",
                    referenceInvoiceId=reference,
                    close=True,
                ),
            ]
        )
    )

    quantities = sorted(n.content.lines[0].quantity for n in credit_notes(store))
    assert quantities == [Decimal(1), Decimal(2)]
    invoice = store.invoices[reference]
    assert invoice.credited_amount == invoice.content.amounts.gross_amount


def test_a_draft_credit_note_deleted_gives_its_quantity_back_to_return() -> None:
    store = _billed()
    reference = invoice_of("e-1")
    store.run(
        records_of(
            [
                command(
                    "c-1",
                    "create",
                    orderId="o-1",
                    type="credit-note",
                    referenceInvoiceId=reference,
                    lines=[{"lineNo": 1, "quantity": "2"}],
                ),
                returned("ret-1", "o-1", "R1", [("r1", "1")]),
            ]
        )
    )
    draft = stable_event_id("invoice", "/backoffice", "c-1")

    store.run(
        records_of(
            [
                returned("ret-2", "o-1", "R2", [("r1", "1")]),
                command("d-1", "delete", invoiceId=draft),
                returned("ret-3", "o-1", "R3", [("r1", "2")]),
            ]
        )
    )

    assert dead_letters(store) == [
        ("conflict", {"rows.0.quantity": ["at most 0 of row 'r1' is left to return"]})
    ]
    invoice = store.invoices[reference]
    assert invoice.credited_amount == invoice.content.amounts.gross_amount


# The notes are made out as the invoices they credit, and sent as the order says.


def test_a_returns_credit_note_is_made_out_to_the_customer_its_invoice_billed() -> None:
    """An invoice is billed to the customer its draft was given (an `update` may change it);
    its credit note corrects that invoice and goes to the same buyer. The return's note
    takes the order's customer instead, and is sent to the order's address."""
    store = MemoryStore(Settings())
    store.run(records_of([order("e-1", "o-1", [("r1", "2", "10.00")], autoClose=False)]))
    draft = invoice_of("e-1")
    store.run(
        records_of(
            [
                command(
                    "u-1",
                    "update",
                    invoiceId=draft,
                    customer={"name": "Ada Corp", "email": "billing@ada.example"},
                ),
                command("c-1", "close", invoiceId=draft),
            ]
        )
    )
    assert store.invoices[draft].customer.email == "billing@ada.example"

    store.run(records_of([returned("ret-1", "o-1", "R1", [("r1", "1")])]))

    [note] = credit_notes(store)
    assert (note.customer.name, note.customer.email) == ("Ada Corp", "billing@ada.example")
    [notification] = data_of(store, "notification-requested")
    assert notification["recipient"] == "billing@ada.example"


def test_a_returns_credit_note_keeps_the_buyer_of_its_invoice_when_the_order_changes() -> None:
    """The order told again with another customer (allowed: only currency and tax mode are
    fixed once invoiced) bills the next invoice to it, not the one already issued."""
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [
                customer_order(
                    "e-1",
                    "o-1",
                    [("r1", "2", "10.00")],
                    {"name": "Ada", "email": "ada@example.com"},
                )
            ]
        )
    )
    store.run(
        records_of(
            [
                customer_order(
                    "e-2", "o-1", [("r2", "1", "5.00")], {"name": "Bob", "email": "bob@example.com"}
                )
            ]
        )
    )
    assert store.invoices[invoice_of("e-1")].customer.name == "Ada"

    store.run(records_of([returned("ret-1", "o-1", "R1", [("r1", "1")])]))

    [note] = credit_notes(store)
    assert note.customer.name == "Ada"
    notification = data_of(store, "notification-requested")[-1]
    assert (notification["recipient"], notification["customerName"]) == ("ada@example.com", "Ada")


def test_a_returns_credit_note_is_issued_by_the_seller_of_its_invoice() -> None:
    """Each invoice keeps the seller configured when it was made; the note that corrects it
    is the same seller's, not the one configured when the goods came back."""
    store = MemoryStore(Settings(seller=SELLER))
    store.run(records_of([order("e-1", "o-1", [("r1", "2", "10.00")])]))
    moved = SELLER.model_copy(update={"name": "De Molen Holding B.V.", "city": "Amersfoort"})
    store.settings = Settings(seller=moved)

    store.run(records_of([returned("ret-1", "o-1", "R1", [("r1", "1")])]))

    [note] = credit_notes(store)
    assert note.seller == store.invoices[invoice_of("e-1")].seller


def test_a_return_is_notified_by_sms_and_not_without_an_address_or_with_none() -> None:
    with_phone = {"name": "Ada", "email": "ada@example.com", "phone": "+4912345"}
    without = {"name": "Bob", "email": "bob@example.com"}
    orders = [
        customer_order("e-1", "o-1", [("r1", "2", "10.00")], with_phone),
        customer_order("e-2", "o-2", [("r1", "2", "10.00")], without),
        customer_order("e-3", "o-3", [("r1", "2", "10.00")], with_phone),
    ]
    for event, delivery in zip(orders, ["sms", "sms", "none"], strict=True):
        event["data"]["invoicing"] = {"delivery": delivery}
    store = MemoryStore(Settings())
    store.run(records_of(orders))

    store.run(records_of([returned(f"ret-{n}", f"o-{n}", "R1", [("r1", "1")]) for n in (1, 2, 3)]))

    assert len(credit_notes(store)) == 3
    sent = [
        (d["orderId"], d["channel"], d["recipient"])
        for d in data_of(store, "notification-requested")
        if d["template"] == "credit-note-issued"
    ]
    assert sent == [("o-1", "sms", "+4912345")]


# The change log: each change once, the reference's event carries what is owed back.


def test_a_return_on_a_part_paid_invoice_tells_what_is_owed_back_on_the_references_event() -> None:
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [
                order("e-1", "o-1", [("r1", "2", "10.00")]),
                order("e-2", "o-2", [("r1", "2", "10.00")]),
            ]
        )
    )
    store.run(
        records_of(
            [
                command("p-1", "record-payment", invoiceId=invoice_of("e-1"), amount="21.00"),
                command("p-2", "record-payment", invoiceId=invoice_of("e-2"), amount="15.00"),
                returned("ret-1", "o-1", "R1", [("r1", "1")]),
                returned("ret-2", "o-2", "R1", [("r1", "1")]),
            ]
        )
    )

    credited = {d["invoiceId"]: d for d in data_of(store, "invoice-credited")}
    paid = {d["invoiceId"]: d for d in data_of(store, "invoice-paid")}
    assert credited[invoice_of("e-1")]["invoice"]["totals"]["refundDue"] == "10.50"
    # 21.00 gross, 15.00 paid, 10.50 credited: settled by the credit, 4.50 owed back.
    assert paid[invoice_of("e-2")]["invoice"]["totals"]["refundDue"] == "4.50"
    notification = [d for d in data_of(store, "notification-requested") if d["orderId"] == "o-2"][
        -1
    ]
    assert (notification["amountDue"], notification["refundDue"]) == ("0.00", "4.50")


def test_a_return_over_two_invoices_announces_each_change_once() -> None:
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [
                order("e-1", "o-1", [("r1", "2", "10.00")]),
                order("e-2", "o-1", [("r2", "3", "4.00")]),
            ]
        )
    )
    store.run(
        records_of(
            [
                returned("ret-1", "o-1", "R1", [("r2", "1"), ("r1", "1")]),
                returned("ret-2", "o-1", "R2", [("r2", "2"), ("r1", "1")]),
            ]
        )
    )

    topics = store.settings.topics
    logged = [
        json.loads(m.value)
        for m in store.outbox
        if m.value and m.topic in (topics.invoices_closed, topics.invoice_events)
    ]
    folded = change_log.fold(logged)
    assert change_log.differences(folded, change_log.stored(store.invoices.values())) == []
    assert change_log.missing_changes(change_log.changes(logged), store.invoices.values()) == []
    numbers = [
        (d["invoiceNumber"], d["referenceInvoiceId"], d["returnId"])
        for d in data_of(store, "invoice-closed")
        if d["type"] == "credit-note"
    ]
    assert numbers == [
        ("CN-2026-000001", invoice_of("e-1"), "R1"),
        ("CN-2026-000002", invoice_of("e-2"), "R1"),
        ("CN-2026-000003", invoice_of("e-1"), "R2"),
        ("CN-2026-000004", invoice_of("e-2"), "R2"),
    ]


def test_notes_follow_the_invoices_numbers_past_the_sixth_digit() -> None:
    """Numbers grow a seventh digit after INV-2026-999999; "INV-2026-1000000" sorts before
    "INV-2026-999999" as text, not as a number."""
    store = MemoryStore(Settings())
    store.series[("INV", 2026)] = 999_998
    store.run(
        records_of(
            [
                order("e-1", "o-1", [("r1", "2", "10.00")]),
                order("e-2", "o-1", [("r2", "3", "4.00")]),
            ]
        )
    )
    numbers = [store.invoices[invoice_of(e)].number for e in ("e-1", "e-2")]
    assert numbers == ["INV-2026-999999", "INV-2026-1000000"]

    store.run(records_of([returned("ret-1", "o-1", "R1", [("r2", "1"), ("r1", "1")])]))

    closed = [d for d in data_of(store, "invoice-closed") if d["type"] == "credit-note"]
    assert [(d["invoiceNumber"], d["referenceInvoiceId"]) for d in closed] == [
        ("CN-2026-000001", invoice_of("e-1")),
        ("CN-2026-000002", invoice_of("e-2")),
    ]


def test_a_conflict_of_a_return_before_its_invoice_does_not_say_it_is_too_much() -> None:
    """The dead letter's details are what an operator reads to decide on a replay: a return
    that came before its invoice is to be sent again, not corrected."""
    store = MemoryStore(Settings())

    store.run(records_of([returned("ret-1", "o-1", "R1", [("r1", "1")], charges=["ship"])]))

    [message] = [m for m in store.outbox if m.topic == store.settings.topics.dead_letter]
    error = dict(message.headers)["x-dead-letter-error"]
    assert error is not None
    assert "more than is left" not in json.loads(error)["details"]


# Batching: one batch, or one record a batch, gives the same bytes.


def _same_bytes(stream: list[dict[str, Any]], settings_: Settings) -> None:
    records = records_of(stream)
    one = run(records, 1, settings_)
    for size in range(2, len(records) + 1):
        many = run(records, size, settings_)
        assert many.outbox == one.outbox, size
        assert many.invoices == one.invoices, size
        assert many.waiting_notifications == one.waiting_notifications, size


def test_returns_of_invoices_closed_in_the_same_batch_in_any_batching() -> None:
    stream = [
        order("e-1", "o-1", [("r1", "2", "10.00")], autoClose=False),
        order("e-2", "o-1", [("r2", "3", "4.00")]),
        command("c-1", "close", invoiceId=invoice_of("e-1")),
        command("p-1", "record-payment", invoiceId=invoice_of("e-2"), amount="12.60"),
        returned("ret-1", "o-1", "R1", [("r1", "1"), ("r2", "1.5")]),
        command(
            "n-1",
            "create",
            orderId="o-1",
            type="credit-note",
            referenceInvoiceId=invoice_of("e-1"),
            lines=[{"lineNo": 1, "quantity": "0.5"}],
        ),
        returned("ret-2", "o-1", "R2", [("r1", "0.5"), ("r2", "1.5")]),
        command(
            "s-1",
            "send",
            invoiceId=stable_event_id("credit-note", SOURCE, "ret-1", invoice_of("e-1")),
            channel="email",
        ),
        returned("ret-3", "o-1", "R2", [("r1", "0.5")]),
    ]
    _same_bytes(stream, Settings())
    _same_bytes(stream, Settings(seller=SELLER))


# Money: whatever the currency, tax mode, discounts and the order of returns and credits,
# no note takes more than is left, and the last takes exactly what is left.

_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["1", "3", "0.5", "2.333333", "7"]),
        st.sampled_from(["0.01", "0.29", "19.99", "333", "0.125", "1000.5"]),
        st.sampled_from(["0", "7", "19", "21", "5.5"]),
        st.sampled_from(["0", "10", "33.333", "100"]),
    ),
    min_size=1,
    max_size=4,
)


def _money_order(
    event_id: str, offset: int, currency: str, include_tax: bool, rows: list[Any]
) -> dict[str, Any]:
    event = order(event_id, "o-1", [])
    digits = {"JPY": 0, "EUR": 2, "BHD": 3}[currency]
    event["data"].update(
        currency=currency,
        pricesIncludeTax=include_tax,
        rows=[
            {
                "rowId": f"r{offset + n}",
                "name": "Item",
                "quantity": quantity,
                "unitPrice": str(round(Decimal(price), digits)),
                "taxRate": rate,
                "discountPercent": discount,
            }
            for n, (quantity, price, rate, discount) in enumerate(rows)
        ],
    )
    return event


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    currency=st.sampled_from(["EUR", "JPY", "BHD"]),
    include_tax=st.booleans(),
    first=_ROWS,
    second=_ROWS,
    steps=st.lists(
        st.tuples(
            st.sampled_from(["return", "draft", "close", "delete"]),
            st.integers(0, 7),
            st.sampled_from(["0.000001", "0.1", "0.333333", "1", "2"]),
        ),
        max_size=10,
    ),
)
def test_returns_over_two_invoices_never_credit_more_and_finally_credit_exactly_the_gross(
    currency: str,
    include_tax: bool,
    first: list[Any],
    second: list[Any],
    steps: list[tuple[str, int, str]],
) -> None:
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [
                _money_order("e-1", 0, currency, include_tax, first),
                _money_order("e-2", len(first), currency, include_tax, second),
            ]
        )
    )
    references = [store.invoices[invoice_of("e-1")], store.invoices[invoice_of("e-2")]]
    row_ids = [line.order_row_id for ref in references for line in ref.content.lines]
    reference_of = {line.order_row_id: ref for ref in references for line in ref.content.lines}
    drafts: list[str] = []

    def left() -> dict[str, Decimal]:
        taken: dict[str, Decimal] = {}
        for note in credit_notes(store):
            if note.holds_credit:
                for line in note.content.lines:
                    taken[line.order_row_id] = taken.get(line.order_row_id, Decimal(0)) + (
                        line.quantity
                    )
        return {
            line.order_row_id: line.quantity - taken.get(line.order_row_id, Decimal(0))
            for ref in references
            for line in ref.content.lines
        }

    def check() -> None:
        notes = [n for n in credit_notes(store) if n.holds_credit]
        for note in notes:
            amounts = note.content.amounts
            assert amounts.net_amount + amounts.tax_amount == amounts.gross_amount
            for group in amounts.tax_breakdown:
                assert group.tax_amount >= 0 and group.taxable_amount >= 0
            for line in note.content.lines:
                assert line.net_amount >= 0
        for ref in references:
            mine = [n for n in notes if n.reference_invoice_id == ref.invoice_id]
            for group in ref.content.amounts.tax_breakdown:
                taken = [
                    g for n in mine for g in n.content.amounts.tax_breakdown if g.key == group.key
                ]
                assert sum((g.tax_amount for g in taken), Decimal(0)) <= group.tax_amount
                assert sum((g.taxable_amount for g in taken), Decimal(0)) <= (group.taxable_amount)

    for n, (kind, pick, quantity) in enumerate(steps):
        row_id = row_ids[pick % len(row_ids)]
        wanted = min(Decimal(quantity), left()[row_id])
        if kind == "return" and wanted > 0:
            store.run(records_of([returned(f"ret-{n}", "o-1", f"R{n}", [(row_id, str(wanted))])]))
        elif kind == "draft" and wanted > 0:
            ref = reference_of[row_id]
            line_no = next(
                line.line_no for line in ref.content.lines if line.order_row_id == row_id
            )
            store.run(
                records_of(
                    [
                        command(
                            f"c-{n}",
                            "create",
                            orderId="o-1",
                            type="credit-note",
                            referenceInvoiceId=ref.invoice_id,
                            lines=[{"lineNo": line_no, "quantity": str(wanted)}],
                        )
                    ]
                )
            )
            drafts.append(stable_event_id("invoice", "/backoffice", f"c-{n}"))
        elif kind in ("close", "delete") and drafts:
            draft = drafts.pop(pick % len(drafts))
            store.run(records_of([command(f"x-{n}", kind, invoiceId=draft)]))
        check()
    for draft in drafts:
        store.run(records_of([command(f"del-{draft}", "delete", invoiceId=draft)]))
    rest = [(row_id, str(q)) for row_id, q in left().items() if q > 0]
    if rest:
        store.run(records_of([returned("ret-last", "o-1", "R-last", rest)]))
    check()

    assert dead_letters(store) == []
    assert all(r["ok"] for r in results(store))
    for ref in references:
        after = store.invoices[ref.invoice_id]
        assert after.credited_amount == ref.content.amounts.gross_amount
        assert after.totals.amount_due == 0
        mine = [
            n
            for n in credit_notes(store)
            if n.reference_invoice_id == ref.invoice_id and n.status is InvoiceStatus.OPEN
        ]
        for group in ref.content.amounts.tax_breakdown:
            taken = [g for n in mine for g in n.content.amounts.tax_breakdown if g.key == group.key]
            assert sum((g.tax_amount for g in taken), Decimal(0)) == group.tax_amount
            assert sum((g.taxable_amount for g in taken), Decimal(0)) == group.taxable_amount
