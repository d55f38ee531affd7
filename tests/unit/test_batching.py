"""Batching is invisible (docs/contract.md): whatever lands in one batch, every event and every
command result is what it would be with one record per batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace

from tests import change_log
from tests.builders import BACK_OFFICE, SOURCE, command, order, returned, seller_updated
from tests.memory_store import MemoryStore, records_of, results
from tests.sellers import SELLER
from worker import tracing
from worker.decisions import Record
from worker.messages import stable_event_id
from worker.settings import Settings

ORDER_IDS = ("o-1", "o-2")
ROW_IDS = ("r1", "r2", "r3")
REFUND_IDS = ("refund-1", "refund-2")
PAYMENT_IDS = ("bank-1", "bank-2")
RETURN_IDS = ("RET-1", "RET-2", "RET-3")


def invoice_of(event_id: str, source: str = SOURCE) -> str:
    """The id of the invoice an event creates."""
    return stable_event_id("invoice", source, event_id)


def run(records: list[Record], batch_size: int, settings: Settings | None = None) -> MemoryStore:
    store = MemoryStore(settings or Settings())
    # Spans that record (another test may have set a tracer provider) start fresh traces
    # with random ids for records without a traceparent: a processing's own, not a decision.
    with patch.object(tracing, "_tracer", trace.NoOpTracer):
        for start in range(0, len(records), batch_size):
            store.run(records[start : start + batch_size])
    return store


def test_three_payments_in_one_batch_answer_each_with_the_invoice_after_it() -> None:
    opening = order("e-1", "o-1", [("r1", "1", "30.00"), ("r2", "1", "4.57")])
    invoice_id = invoice_of("e-1")
    store = MemoryStore(Settings())
    store.run(records_of([opening]))
    version = store.invoices[invoice_id].version
    payments = [
        command(f"pay-{n}", "record-payment", invoiceId=invoice_id, amount=amount)
        for n, amount in enumerate(["1.00", "2.00", "3.00"])
    ]

    store.run(records_of(payments))

    answered = [
        (r["invoice"]["totals"]["paidAmount"], r["invoice"]["version"]) for r in results(store)
    ]
    assert store.invoices[invoice_id].totals.gross_amount == Decimal("36.30")
    assert answered == [("1.00", version + 1), ("3.00", version + 2), ("6.00", version + 3)]


def test_updates_and_a_close_of_one_draft_in_one_batch_each_show_their_own_moment() -> None:
    store = MemoryStore(Settings())
    store.run(records_of([order("e-1", "o-1", [("r1", "2", "10.00")], autoClose=False)]))
    draft = invoice_of("e-1")

    store.run(
        records_of(
            [
                command("u-1", "update", invoiceId=draft, note="first"),
                command("u-2", "update", invoiceId=draft, note="second"),
                command("c-1", "close", invoiceId=draft),
            ]
        )
    )

    snapshots = [r["invoice"] for r in results(store)]
    assert [(s["status"], s["invoiceNumber"], s["version"]) for s in snapshots] == [
        ("draft", None, 2),
        ("draft", None, 3),
        ("open", "INV-2026-000001", 4),
    ]


def test_a_stale_expected_version_is_what_an_update_is_refused_for_first() -> None:
    store = MemoryStore(Settings())
    store.run(
        records_of(
            [
                order("e-1", "o-1", [("r1", "1", "10.00"), ("r2", "1", "10.00")]),
                order("e-2", "o-1", [("r3", "1", "10.00")], autoClose=False),
            ]
        )
    )

    store.run(
        records_of(
            [
                command(
                    "u-1", "update", invoiceId=invoice_of("e-2"), expectedVersion=7, rowIds=["r1"]
                ),
                command("u-2", "update", invoiceId=invoice_of("e-1"), rowIds=["r9"]),
            ]
        )
    )

    stale, closed = results(store)
    assert list(stale["errors"]) == ["expectedVersion"]
    assert closed["errors"] == {
        "invoiceId": ["only drafts can be changed; void it or issue a credit note"]
    }


def test_a_payment_time_is_kept_in_utc_as_the_database_gives_it_back() -> None:
    store = MemoryStore(Settings())
    store.run(records_of([order("e-1", "o-1", [("r1", "1", "10.00")])]))

    store.run(
        records_of(
            [
                command(
                    "p-" + "x" * 100,
                    "record-payment",
                    invoiceId=invoice_of("e-1"),
                    amount="1.00",
                    paidAt="2026-11-30T11:00:00+01:00",
                ),
                command(
                    "r-1",
                    "refund-payment",
                    invoiceId=invoice_of("e-1"),
                    paymentId="p-" + "x" * 100,
                    amount="1.00",
                ),
            ]
        )
    )

    paid, refunded = results(store)
    assert paid["ok"] is True
    assert refunded["ok"] is True, "a payment named by a long command id can be refunded"
    [payment] = store.invoices[invoice_of("e-1")].payments
    assert payment.paid_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert payment.paid_at.utcoffset() == timedelta(0)


def test_invoice_created_shows_the_draft_as_created_when_the_batch_closes_it() -> None:
    store = MemoryStore(Settings())
    draft = invoice_of("e-1")

    store.run(
        records_of(
            [
                order("e-1", "o-1", [("r1", "2", "10.00")], autoClose=False),
                command("c-1", "close", invoiceId=draft),
            ]
        )
    )

    [created] = [
        json.loads(m.value)["data"]
        for m in store.outbox
        if m.value and json.loads(m.value)["type"] == "invoice-created"
    ]
    assert (created["status"], created["version"]) == ("draft", 1)
    assert "invoiceNumber" not in created


def test_notification_ids_tell_back_offices_that_reuse_a_command_id_apart() -> None:
    store = MemoryStore(Settings())
    store.run(records_of([order("e-1", "o-1", [("r1", "1", "10.00")], delivery="none")]))
    invoice_id = invoice_of("e-1")

    store.run(
        records_of(
            [
                command("send-1", "send", source=source, invoiceId=invoice_id)
                for source in ("/backoffice-a", "/backoffice-b")
            ]
        )
    )

    notifications = [
        json.loads(m.value)["data"]["notificationId"]
        for m in store.outbox
        if m.topic == store.settings.topics.notifications_requested and m.value
    ]
    assert len(notifications) == 2
    assert len(set(notifications)) == 2


def test_credits_by_quantity_in_one_batch_answer_as_one_by_one() -> None:
    opening = order("e-1", "o-1", [("r1", "3", "0.29"), ("r2", "1", "19.99")])
    reference = invoice_of("e-1")
    credits = [
        command(
            f"c-{n}",
            "create",
            orderId="o-1",
            type="credit-note",
            referenceInvoiceId=reference,
            close=True,
            **credited,
        )
        for n, credited in enumerate(
            [
                {"lines": [{"lineNo": 1, "quantity": "1"}]},
                {"lines": [{"lineNo": 1, "quantity": "1.5"}, {"lineNo": 2, "quantity": "0.5"}]},
                {"lines": [{"lineNo": 1, "quantity": "1"}]},  # more than is left: refused
                {},
            ]
        )
    ]
    records = records_of([opening, *credits])

    one_by_one = run(records, 1)
    batched = run(records, len(records))

    answers = [
        (r["ok"], r["invoice"] and r["invoice"]["totals"]["grossAmount"]) for r in results(batched)
    ]
    # 5 % of 3 × 0.29 and 19.99: 21.90 in all; the last note takes what is left
    assert answers == [(True, "0.30"), (True, "10.96"), (False, None), (True, "10.64")]
    assert batched.outbox == one_by_one.outbox
    assert batched.invoices == one_by_one.invoices
    assert batched.invoices[reference].totals.credited_amount == Decimal("21.90")


# A random stream: orders and every command, about invoices the stream itself makes (and
# some it does not), copies of earlier records, and records that are not valid at all.
_quantities = st.sampled_from(["1", "2", "3", "0.5"])
_prices = st.sampled_from(["0.10", "0.29", "10.00", "19.99"])
_rows = st.lists(
    st.tuples(st.sampled_from(ROW_IDS), _quantities, _prices),
    min_size=1,
    max_size=3,
    unique_by=lambda row: row[0],
)

_allowances = st.lists(
    st.fixed_dictionaries(
        {
            "allowanceId": st.sampled_from(["voucher", "loyalty"]),
            "reason": st.just("Voucher"),
            "amount": st.sampled_from(["0.01", "1.00", "2.50", "30.00"]),
        },
        optional={"taxRate": st.sampled_from(["5", "19"])},
    ),
    max_size=2,
    unique_by=lambda allowance: allowance["allowanceId"],
)
_charges = st.lists(
    st.fixed_dictionaries(
        {
            "chargeId": st.sampled_from(["shipping", "fee"]),
            "reason": st.just("Shipping"),
            "amount": st.sampled_from(["0.01", "4.90", "5.90"]),
        },
        optional={"taxRate": st.sampled_from(["5", "19"])},
    ),
    max_size=2,
    unique_by=lambda charge: charge["chargeId"],
)


def _charged(draw: st.DrawFn, event: dict[str, Any]) -> dict[str, Any]:
    """The order, now and then with allowances and charges: some that change ones already
    invoiced, some beyond what the rows can take; now and then of a registered seller (or
    of one not registered yet)."""
    if draw(st.integers(0, 2)) == 0:
        event["data"]["allowances"] = draw(_allowances)
        event["data"]["charges"] = draw(_charges)
    if draw(st.integers(0, 3)) == 0:
        event["data"]["sellerId"] = draw(st.sampled_from(SELLER_IDS))
    return event


SELLER_IDS = ["merchant-b", "merchant-c"]


def _seller_updated(draw: st.DrawFn, event_id: str) -> dict[str, Any]:
    return seller_updated(
        event_id,
        draw(st.sampled_from(SELLER_IDS)),
        name=draw(st.sampled_from(["Koffie B.V.", "Koffie & Co"])),
        invoiceNumberPrefix=draw(st.sampled_from(["KB", "KC"])),
        **draw(st.sampled_from([{}, {"paymentTermsDays": 30}])),
    )


_credited_charges = st.sampled_from([{}, {}, {"charges": ["shipping"]}, {"charges": ["fee"]}])

_credited = st.one_of(
    st.just({}),  # what is left of every line
    st.builds(lambda row_id: {"rowIds": [row_id]}, st.sampled_from(ROW_IDS)),
    st.builds(
        lambda lines: {"lines": lines},
        st.lists(
            st.fixed_dictionaries(
                {
                    "lineNo": st.sampled_from([1, 1, 2, 3]),
                    "quantity": st.sampled_from(["0.5", "1", "0.25", "3"]),
                }
            ),
            min_size=1,
            max_size=2,
            unique_by=lambda line: line["lineNo"],
        ),
    ),
)
"""What a credit note credits: by default, whole rows, or quantities of lines (a line the
reference may not have, or more than is left of it, now and then)."""


def _returned_rows(billed: set[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """What a return gives back: mostly rows the stream billed on the order (more than was
    billed, now and then), and now and then a row the order does not have."""
    row_ids = [*sorted(billed), *sorted(billed), *ROW_IDS, "r9"]
    return st.lists(
        st.tuples(st.sampled_from(row_ids), st.sampled_from(["0.5", "0.5", "1", "3"])),
        min_size=1,
        max_size=2,
        unique_by=lambda row: row[0],
    )


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any] | bytes]:
    events: list[dict[str, Any] | bytes] = []
    makers: list[str] = []  # invoice ids events of the stream create
    orders_of: dict[str, str] = {}  # invoice id → its order, for the stream's invoices
    billed: dict[str, set[str]] = {}  # order id → the row ids its order events sent
    paid: list[tuple[str, str, str]] = []  # (invoice id, payment id, amount) of its payments
    for n in range(draw(st.integers(min_value=1, max_value=25))):
        event_id = f"e-{n}"
        order_id = draw(st.sampled_from(ORDER_IDS))
        known = st.sampled_from(makers) if makers else st.just(invoice_of("none"))
        kind = draw(
            st.sampled_from(
                [
                    "order",
                    "order",
                    "create",
                    "credit",
                    "update",
                    "delete",
                    "close",
                    "send",
                    "void",
                    "pay",
                    "pay",
                    "refund",
                    "return",
                    "return",
                    "seller",
                    "copy",
                    "bad",
                ]
            )
        )
        if kind == "order":
            rows = draw(_rows)
            billed.setdefault(order_id, set()).update(row_id for row_id, _, _ in rows)
            event = _charged(
                draw,
                order(
                    event_id,
                    order_id,
                    rows,
                    autoClose=draw(st.sampled_from([True, True, False])),
                    delivery=draw(st.sampled_from(["email", "sms", "none"])),
                ),
            )
            makers.append(invoice_of(event_id))
            orders_of[makers[-1]] = order_id
        elif kind == "create":
            event = command(event_id, "create", orderId=order_id, close=draw(st.booleans()))
            makers.append(invoice_of(event_id, BACK_OFFICE))
            orders_of[makers[-1]] = order_id
        elif kind == "credit":
            reference = draw(known)
            event = command(
                event_id,
                "create",
                orderId=orders_of.get(reference, order_id),
                type="credit-note",
                referenceInvoiceId=reference,
                close=draw(st.booleans()),
                **draw(_credited),
                **draw(_credited_charges),
            )
            makers.append(invoice_of(event_id, BACK_OFFICE))
        elif kind == "update":
            fields: dict[str, Any] = {"note": f"note {n}"}
            if draw(st.booleans()):
                fields["rowIds"] = [draw(st.sampled_from(ROW_IDS))]
            if draw(st.booleans()):
                fields["expectedVersion"] = draw(st.integers(min_value=1, max_value=4))
            if draw(st.booleans()):
                fields["customer"] = draw(
                    st.sampled_from([{"email": None}, {"name": "Bob"}, {"phone": "+31612345678"}])
                )
            if draw(st.booleans()):
                fields["dueDate"] = draw(st.sampled_from(["2027-01-31", "2001-01-01"]))
            event = command(event_id, "update", invoiceId=draw(known), **fields)
        elif kind in ("delete", "send"):
            event = command(event_id, kind, invoiceId=draw(known))
        elif kind == "close":
            event = command(event_id, "close", invoiceId=draw(known), send=draw(st.booleans()))
        elif kind == "void":
            event = command(event_id, "void", invoiceId=draw(known), reason="wrong")
        elif kind == "pay":
            amount = draw(st.sampled_from(["0.01", "1.00", "5.00", "1000.00"]))
            named = {"paymentId": draw(st.sampled_from(PAYMENT_IDS))} if draw(st.booleans()) else {}
            paid_at = {"paidAt": "2026-11-20T08:00:00+01:00"} if draw(st.booleans()) else {}
            invoice_id = draw(known)
            source = draw(st.sampled_from([BACK_OFFICE, "/backoffice-b"]))
            event = command(
                event_id,
                "record-payment",
                source=source,
                invoiceId=invoice_id,
                amount=amount,
                **named,
                **paid_at,
                **_currency(draw),
            )
            paid.append((invoice_id, named.get("paymentId", event_id), amount))
        elif kind == "refund":
            invoice_id, payment_id, amount = draw(
                st.sampled_from(paid)
                if paid
                else st.tuples(known, st.sampled_from(PAYMENT_IDS), st.just("1.00"))
            )
            event = command(
                event_id,
                "refund-payment",
                invoiceId=invoice_id,
                paymentId=payment_id,
                amount=draw(st.sampled_from(["0.01", amount])),
                **({"reason": "returned"} if draw(st.booleans()) else {}),
                **({"refundId": draw(st.sampled_from(REFUND_IDS))} if draw(st.booleans()) else {}),
                **_currency(draw),
            )
        elif kind == "return":
            returned_order = orders_of.get(draw(known), order_id)
            event = returned(
                event_id,
                returned_order,
                draw(st.sampled_from(RETURN_IDS)),
                draw(_returned_rows(billed.get(returned_order, set()))),
                **draw(_credited_charges),
            )
        elif kind == "seller":
            event = _seller_updated(draw, event_id)
        elif kind == "copy" and events:
            events.append(draw(st.sampled_from(events)))
            continue
        else:
            event = draw(
                st.sampled_from(
                    [
                        b"{not json",
                        command(event_id, "record-payment", invoiceId="x", amount="-1"),
                        {**order(event_id, order_id, [("r1", "1", "1.00")]), "type": "other"},
                    ]
                )
            )
        events.append(event)
    return events


def _currency(draw: st.DrawFn) -> dict[str, str]:
    """A payment's or refund's currency: none, the invoices' or another."""
    return draw(st.sampled_from([{}, {}, {"currency": "EUR"}, {"currency": "JPY"}]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stream=streams(),
    batch_size=st.integers(min_value=2, max_value=30),
    documents=st.booleans(),
)
def test_any_batching_emits_the_same_bytes_as_one_record_per_batch(
    stream: list[dict[str, Any] | bytes], batch_size: int, documents: bool
) -> None:
    assert_batched_as_one_by_one(stream, batch_size, documents)


def assert_batched_as_one_by_one(
    stream: list[dict[str, Any] | bytes], batch_size: int, documents: bool
) -> None:
    records = records_of(stream)
    with_documents = Settings(seller=SELLER) if documents else Settings()

    one_by_one = run(records, 1, with_documents)
    batched = run(records, batch_size, with_documents)

    assert batched.outbox == one_by_one.outbox
    assert batched.invoices == one_by_one.invoices
    assert batched.series == one_by_one.series
    assert batched.render_jobs == one_by_one.render_jobs
    assert batched.waiting_notifications == one_by_one.waiting_notifications


@st.composite
def return_streams(draw: st.DrawFn) -> list[dict[str, Any] | bytes]:
    """Closed orders, then returns of their rows among quantity credits, payments, voids and
    more rows: most returns credit something, some ask for more than is left."""
    events: list[dict[str, Any] | bytes] = []
    billed: dict[str, set[str]] = {}
    invoices: list[str] = []
    for n in range(draw(st.integers(min_value=1, max_value=12))):
        event_id = f"e-{n}"
        order_id = draw(st.sampled_from(ORDER_IDS))
        kind = (
            "order"
            if n == 0
            else draw(st.sampled_from(["order", *["return"] * 4, "credit", "pay", "void"]))
        )
        if kind == "order":
            rows = draw(_rows)
            billed.setdefault(order_id, set()).update(row_id for row_id, _, _ in rows)
            invoices.append(invoice_of(event_id))
            events.append(
                _charged(
                    draw,
                    order(
                        event_id, order_id, rows, delivery=draw(st.sampled_from(["email", "none"]))
                    ),
                )
            )
        elif kind == "return":
            order_id = draw(st.sampled_from(sorted(billed)))
            events.append(
                returned(
                    event_id,
                    order_id,
                    draw(st.sampled_from(RETURN_IDS)),
                    draw(_returned_rows(billed[order_id])),
                    **draw(_credited_charges),
                )
            )
        elif kind == "credit":
            events.append(
                command(
                    event_id,
                    "create",
                    orderId=order_id,
                    type="credit-note",
                    referenceInvoiceId=draw(st.sampled_from(invoices)),
                    close=True,
                    **draw(_credited),
                    **draw(_credited_charges),
                )
            )
        else:
            fields = {"amount": draw(_prices)} if kind == "pay" else {"reason": "cancelled"}
            action = "record-payment" if kind == "pay" else "void"
            invoice_id = draw(st.sampled_from(invoices))
            events.append(command(event_id, action, invoiceId=invoice_id, **fields))
    return events


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stream=return_streams(),
    batch_size=st.integers(min_value=2, max_value=12),
    documents=st.booleans(),
)
def test_returns_in_any_batching_emit_the_same_bytes_as_one_record_per_batch(
    stream: list[dict[str, Any] | bytes], batch_size: int, documents: bool
) -> None:
    assert_batched_as_one_by_one(stream, batch_size, documents)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=st.one_of(streams(), return_streams()), batch_size=st.integers(1, 30))
def test_the_change_log_folds_into_every_invoice_as_stored(
    stream: list[dict[str, Any] | bytes], batch_size: int
) -> None:
    """invoices.closed and invoices.events folded by invoiceId, keeping the highest version,
    equal every stored invoice; and each change of an invoice is announced exactly once."""
    store = run(records_of(stream), batch_size)
    topics = store.settings.topics
    logged = [
        json.loads(message.value)
        for message in store.outbox
        if message.value and message.topic in (topics.invoices_closed, topics.invoice_events)
    ]

    folded = change_log.fold(logged)

    assert change_log.differences(folded, change_log.stored(store.invoices.values())) == []
    versions = change_log.changes(logged)
    assert change_log.missing_changes(versions, store.invoices.values()) == []
