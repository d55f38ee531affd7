"""/metrics scraped from the real worker: the numbers move exactly as the records sent say.
Metrics are process-wide, so every check compares a scrape before with one after."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.deploy_files import metrics_named_in_deploy
from tests.integration.flows import order_event, publish_order, row
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import (
    changes,
    exported_names,
    running_worker,
    scrape,
    wait_for_scrape,
)
from worker.relay import RELAY_LOCK_ID
from worker.running import Worker
from worker.settings import Settings

ORDER = "order-completed"


async def test_records_invoices_amounts_and_published_messages_are_counted_exactly(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    assert worker.http_port
    port, topics = worker.http_port, settings.topics
    before = await scrape(port)

    eur_one = order_event("m-1", [row("1", "2", "10.00", "21")])  # gross 24.20
    eur_two = order_event("m-2", [row("1", "1", "5.00", "9")])  # gross 5.45
    usd = order_event("m-3", [row("1", "3", "1.50", "0")], currency="USD")  # gross 4.50
    draft = order_event("m-4", [row("1")], invoicing={"autoClose": False})
    wrong_total = order_event("m-5", [{**row("1"), "lineTotal": "99.00"}])
    made_up_type: dict[str, Any] = {**order_event("m-6", [row("1")]), "type": "order-shipped"}
    for event in (eur_one, eur_two, usd, draft, wrong_total, eur_one):  # eur_one twice
        await publish_order(kafka, settings, event)
    await kafka.publish(topics.orders_completed, made_up_type, key="m-6")
    await kafka.publish(topics.orders_completed, b"{not json", key="m-7")

    await kafka.read(topics.invoices_closed, 3)
    await kafka.read(topics.dead_letter, 3)
    published = {
        topics.invoices_closed: 3,
        topics.notifications_requested: 3,
        topics.invoice_events: 1,  # the draft's invoice-created
        topics.dead_letter: 3,
    }
    after = await wait_for_scrape(
        port,
        lambda s: all(
            changes(before, s, "invoicer_messages_published_total", topic=topic) >= count
            for topic, count in published.items()
        ),
        "every message published",
    )

    def records(event_type: str, outcome: str) -> float:
        return changes(
            before,
            after,
            "invoicer_records_total",
            topic=topics.orders_completed,
            type=event_type,
            outcome=outcome,
        )

    assert records(ORDER, "applied") == 4
    assert records(ORDER, "duplicate") == 1
    assert records(ORDER, "dead-lettered") == 1
    assert records(ORDER, "rejected") == 0
    assert records("unknown", "dead-lettered") == 2
    assert "order-shipped" not in after.label_values("invoicer_records_total", "type")
    for reason, count in {"validation": 1, "unknown-type": 1, "invalid-json": 1}.items():
        assert changes(before, after, "invoicer_dead_letters_total", reason=reason) == count
    for topic, count in published.items():
        assert changes(before, after, "invoicer_messages_published_total", topic=topic) == count
    assert (
        changes(before, after, "invoicer_invoices_closed_total", type="invoice", currency="EUR")
        == 2
    )
    assert (
        changes(before, after, "invoicer_invoices_closed_total", type="invoice", currency="USD")
        == 1
    )
    assert changes(
        before, after, "invoicer_amount_invoiced_total", currency="EUR"
    ) == pytest.approx(29.65)
    assert changes(
        before, after, "invoicer_amount_invoiced_total", currency="USD"
    ) == pytest.approx(4.50)
    assert changes(before, after, "invoicer_end_to_end_latency_seconds_count") == 3
    assert changes(before, after, "invoicer_batch_duration_seconds_count") >= 1
    assert after.value("invoicer_outbox_backlog_messages") == 0
    assert after.value("invoicer_outbox_oldest_age_seconds") == 0


async def test_the_outbox_backlog_and_its_age_are_what_waits_in_the_outbox(
    settings: Settings, kafka: KafkaClient, db: asyncpg.Connection
) -> None:
    # While another session holds the relay's lock, no relay publishes for this database.
    await db.execute("SELECT pg_advisory_lock($1)", RELAY_LOCK_ID)
    async with running_worker(settings) as worker:
        assert worker.http_port
        port, topics = worker.http_port, settings.topics
        before = await scrape(port)
        for order_id in ("b-1", "b-2"):
            await publish_order(kafka, settings, order_event(order_id, [row("1")]))

        waiting = await wait_for_scrape(
            port,
            lambda s: (
                changes(
                    before,
                    s,
                    "invoicer_records_total",
                    topic=topics.orders_completed,
                    type=ORDER,
                    outcome="applied",
                )
                == 2
                # A scrape reads the outbox within a time limit, which a busy machine may
                # exceed: that scrape keeps the last value, a later one brings it up to date.
                and s.value("invoicer_outbox_backlog_messages") == 4
            ),
            "both orders applied, and each closed invoice waiting with its invoice-closed"
            " and notification-requested",
        )
        assert await db.fetchval("SELECT count(*) FROM outbox") == 4
        assert waiting.value("invoicer_outbox_oldest_age_seconds") > 0

        await db.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK_ID)
        await kafka.read(topics.invoices_closed, 2)
        drained = await wait_for_scrape(
            port,
            lambda s: (
                changes(
                    before, s, "invoicer_messages_published_total", topic=topics.invoices_closed
                )
                == 2
                and s.value("invoicer_outbox_backlog_messages") == 0
            ),
            "the outbox drained",
        )
        assert drained.value("invoicer_outbox_oldest_age_seconds") == 0
        assert changes(before, drained, "invoicer_end_to_end_latency_seconds_count") == 2


async def test_every_metric_named_in_the_alert_rules_and_dashboard_is_exported(
    worker: Worker,
) -> None:
    assert worker.http_port
    named = metrics_named_in_deploy()
    assert {"invoicer_ready", "invoicer_consumer_lag_records"} <= named
    assert named - await exported_names(worker.http_port) == set()
