"""order-completed → invoice, through the real broker and database (docs/contract.md)."""

from __future__ import annotations

import copy
import json

import asyncpg

from tests.examples import example
from tests.integration.flows import order_event, publish_order, row
from tests.integration.kafka_client import KafkaClient
from worker.running import Worker
from worker.settings import Settings

sample = example


async def test_sample_orders_are_invoiced_with_the_contract_figures(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    expected = {
        "SO-2669": ("293.50", "0.00", "293.50", [("0", "293.50", "0.00")]),
        "NL-10042": (
            "161.17",
            "25.04",
            "186.21",
            [("9", "73.42", "6.61"), ("21", "87.75", "18.43")],
        ),
        "DE-77001": ("91.85", "10.36", "102.21", [("7", "59.13", "4.14"), ("19", "32.72", "6.22")]),
        "JP-5001": ("8214", "744", "8958", [("8", "3840", "307"), ("10", "4374", "437")]),
    }
    for name in (
        "order-completed.json",
        "order-completed-vat.json",
        "order-completed-inclusive.json",
        "order-completed-jpy.json",
    ):
        await publish_order(kafka, settings, sample(name))

    closed = {
        m.event["data"]["orderId"]: m.event
        for m in await kafka.read(settings.topics.invoices_closed, 4)
    }
    for order_id, (net, tax, gross, breakdown) in expected.items():
        data = closed[order_id]["data"]
        assert (
            data["totals"]["netAmount"],
            data["totals"]["taxAmount"],
            data["totals"]["grossAmount"],
        ) == (net, tax, gross)
        assert [
            (g["taxRate"], g["taxableAmount"], g["taxAmount"]) for g in data["taxBreakdown"]
        ] == breakdown
        assert data["status"] == "open"
    inclusive = closed["DE-77001"]["data"]["lines"]
    assert [(line["netAmount"], line["grossAmount"]) for line in inclusive] == [
        ("46.54", "49.80"),
        ("28.56", "33.99"),
        ("12.59", "13.47"),
        ("4.16", "4.95"),
    ]
    assert closed["SO-2669"]["correlationid"] == "req-5f2a"


async def test_auto_closed_invoice_requests_a_notification_on_the_delivery_channel(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    await publish_order(kafka, settings, sample("order-completed-inclusive.json"))  # delivery sms
    [notification] = await kafka.read(settings.topics.notifications_requested, 1)
    data = notification.event["data"]
    assert (data["channel"], data["recipient"], data["reason"], data["amountDue"]) == (
        "sms",
        "+4915112345678",
        "auto",
        "102.21",
    )
    assert notification.key == b"DE-77001"


async def test_redelivered_event_changes_nothing(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    event = order_event("R-1", [row("1")])
    await publish_order(kafka, settings, event)
    await publish_order(kafka, settings, event)
    marker = order_event("R-2", [row("1")])
    await publish_order(kafka, settings, marker)
    closed = await kafka.read_quiet(settings.topics.invoices_closed, 2)
    assert sorted(m.event["data"]["orderId"] for m in closed) == ["R-1", "R-2"]
    assert await db.fetchval("SELECT count(*) FROM invoices WHERE order_id = 'R-1'") == 1


async def test_later_event_invoices_only_its_new_rows(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    await publish_order(kafka, settings, order_event("L-1", [row("a"), row("b")]))
    await kafka.read(settings.topics.invoices_closed, 1)
    await publish_order(
        kafka, settings, order_event("L-1", [row("a"), row("b"), row("c", unit_price="5.00")])
    )
    closed = await kafka.read(settings.topics.invoices_closed, 2)
    first, second = (m.event["data"] for m in closed)
    assert [line["orderRowId"] for line in first["lines"]] == ["a", "b"]
    assert [(line["lineNo"], line["orderRowId"]) for line in second["lines"]] == [(1, "c")]
    assert second["totals"]["grossAmount"] == "6.05"


async def test_event_changing_an_invoiced_row_is_dead_lettered_and_nothing_applied(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    await publish_order(kafka, settings, order_event("C-1", [row("a")]))
    await kafka.read(settings.topics.invoices_closed, 1)
    changed = order_event(
        "C-1", [row("a", quantity="2"), row("b")], customer={"name": "Changed Name"}
    )
    await publish_order(kafka, settings, changed)
    [dead] = await kafka.read(settings.topics.dead_letter, 1)
    assert dead.headers["x-dead-letter-reason"] == b"conflict"
    assert "rows.0.quantity" in json.loads(dead.headers["x-dead-letter-error"])["errors"]
    assert json.loads(dead.value or b"") == changed
    assert await db.fetchval("SELECT count(*) FROM order_rows WHERE order_id = 'C-1'") == 1
    assert (
        await db.fetchval("SELECT customer->>'name' FROM orders WHERE order_id = 'C-1'")
        == "Test Customer"
    )


async def test_unparseable_record_is_dead_lettered_unchanged_and_the_next_is_processed(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    garbage = b"\x00\xffnot json{"
    await kafka.publish(settings.topics.orders_completed, garbage, key="G-1")
    await publish_order(kafka, settings, order_event("G-1", [row("1")]))
    [dead] = await kafka.read(settings.topics.dead_letter, 1)
    assert dead.value == garbage
    assert dead.key == b"G-1"
    assert dead.headers["x-dead-letter-reason"] == b"invalid-json"
    assert dead.headers["x-original-topic"] == settings.topics.orders_completed.encode()
    assert {
        "x-original-partition",
        "x-original-offset",
        "x-dead-letter-error",
    } <= dead.headers.keys()
    [closed] = await kafka.read(settings.topics.invoices_closed, 1)
    assert closed.event["data"]["orderId"] == "G-1"


async def test_line_total_that_does_not_match_is_dead_lettered_as_validation(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    event = copy.deepcopy(sample("order-completed.json"))
    event["data"]["rows"][0]["lineTotal"] = "247.86"
    await publish_order(kafka, settings, event)
    [dead] = await kafka.read(settings.topics.dead_letter, 1)
    assert dead.headers["x-dead-letter-reason"] == b"validation"
    assert "rows.0.lineTotal" in json.loads(dead.headers["x-dead-letter-error"])["errors"]


async def test_numbers_are_consecutive(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    for index in range(30):
        await publish_order(kafka, settings, order_event(f"N-{index}", [row("1")]))
    closed = await kafka.read(settings.topics.invoices_closed, 30)
    numbers = sorted(m.event["data"]["invoiceNumber"] for m in closed)
    year = closed[0].event["data"]["issueDate"][:4]
    assert numbers == [f"INV-{year}-{n:06d}" for n in range(1, 31)]


async def test_a_dead_lettered_event_sent_back_fixed_is_processed_afresh(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    event = order_event("F-1", [row("1")])
    event["data"]["rows"][0]["lineTotal"] = "99.99"
    await publish_order(kafka, settings, event)
    await kafka.read(settings.topics.dead_letter, 1)
    del event["data"]["rows"][0]["lineTotal"]
    await publish_order(kafka, settings, event)
    [closed] = await kafka.read(settings.topics.invoices_closed, 1)
    assert closed.event["data"]["orderId"] == "F-1"


async def test_an_applied_event_id_arriving_again_with_other_content_is_a_duplicate(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    event = order_event("X-1", [row("1")])
    await publish_order(kafka, settings, event)
    await kafka.read(settings.topics.invoices_closed, 1)
    broken = copy.deepcopy(event)
    broken["data"]["currency"] = "XAU"
    await publish_order(kafka, settings, broken)
    await publish_order(kafka, settings, order_event("X-2", [row("1")]))
    closed = await kafka.read_quiet(settings.topics.invoices_closed, 2)
    assert [m.event["data"]["orderId"] for m in closed] == ["X-1", "X-2"]
    assert await kafka.read_quiet(settings.topics.dead_letter, 0) == []


async def test_a_nul_character_is_refused_at_validation_and_its_batch_neighbours_applied(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    # PostgreSQL text cannot hold NUL, so no field takes one
    poisoned = order_event("NUL-1", [{**row("1"), "name": "bad\u0000name"}])
    await publish_order(kafka, settings, order_event("NUL-0", [row("1")]))
    await publish_order(kafka, settings, poisoned)
    await publish_order(kafka, settings, order_event("NUL-2", [row("1")]))
    [dead] = await kafka.read(settings.topics.dead_letter, 1)
    assert dead.headers["x-dead-letter-reason"] == b"validation"
    error = json.loads(dead.headers["x-dead-letter-error"])
    assert error["errors"] == {"rows.0.name": ["must not contain a NUL character"]}
    assert json.loads(dead.value or b"") == poisoned
    closed = await kafka.read_quiet(settings.topics.invoices_closed, 2)
    assert sorted(m.event["data"]["orderId"] for m in closed) == ["NUL-0", "NUL-2"]
