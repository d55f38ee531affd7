"""A rendering that keeps failing, through the real worker, broker and database
(docs/contract.md, "Documents"): it is tried again with back-off, after
INVOICER_RENDER_MAX_ATTEMPTS failures the invoice gets invoice-documents-failed and its
waiting notifications go out without documents, `invoicer documents retry` has it rendered
again, and no payment reminder goes out before the invoice's own notification."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from tests.examples import example
from tests.faults.processes import environment_without_invoicer, invoicer_command
from tests.integration.flows import await_event, command_event, publish_order
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import running_worker
from tests.memory_store import records_of
from tests.sellers import SELLER
from tests.slow_rendering import (
    outcomes_left,
    plan_renderings,
    planned_renderings,
)
from worker import metrics
from worker.dunning_scan import scan
from worker.processing import Outage, process_records
from worker.render_jobs import Renderer, RenderProcess
from worker.settings import Settings
from worker.store import documents
from worker.store.pool import create_pool

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 3
RETRY_AFTER_SECONDS = 0.5
OUTBOX_SQL = "SELECT topic, convert_from(value, 'UTF8')::jsonb AS event FROM outbox ORDER BY id"


@pytest.fixture
def selling(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "seller": SELLER,
            "render_max_attempts": MAX_ATTEMPTS,
            "render_retry_after_seconds": RETRY_AFTER_SECONDS,
        }
    )


async def documents_retry(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`invoicer documents retry` in a process of its own (the worker here goes on)."""
    return await asyncio.to_thread(
        subprocess.run,
        [*invoicer_command(), "documents", "retry", *args],
        env={**environment_without_invoicer(), "INVOICER_DATABASE_URL": settings.database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def counted(counter: Any, cause: str) -> float:
    value: float = counter.labels(cause=cause)._value.get()
    return value


async def test_a_rendering_that_keeps_failing_reaches_the_customer_and_a_retry_renders_it(
    selling: Settings, kafka: KafkaClient, db: asyncpg.Connection, plan: Path
) -> None:
    plan_renderings(plan, "x" * MAX_ATTEMPTS)
    failures_before = counted(metrics.RENDER_FAILURES, "error")
    failed_before = counted(metrics.DOCUMENTS_FAILED, "error")
    events = selling.topics.invoice_events

    async with running_worker(selling):
        await publish_order(kafka, selling, example("order-completed-intra-community.json"))
        failed = await await_event(
            kafka,
            events,
            lambda e: (
                e["type"] == "invoice-documents-failed" and e["data"]["orderId"] == "NL-20017"
            ),
        )
        notification = await await_event(
            kafka,
            selling.topics.notifications_requested,
            lambda e: e["data"]["orderId"] == "NL-20017",
        )
        invoice_id = failed.event["data"]["invoiceId"]
        job = await db.fetchrow(
            "SELECT failure, not_before = 'infinity' AS never_due FROM render_jobs"
        )
        waiting_at_failure = await db.fetchval("SELECT count(*) FROM document_notifications")

        retried = await documents_retry(selling, "--invoice", invoice_id)
        ready = await await_event(
            kafka,
            events,
            lambda e: e["type"] == "invoice-documents-ready" and e["data"]["orderId"] == "NL-20017",
        )
        again = await documents_retry(selling, "--invoice", invoice_id)

    data = failed.event["data"]
    assert data["attempts"] == MAX_ATTEMPTS
    assert data["reason"].startswith("rendering failed: ValueError(")
    assert data["invoiceNumber"] == notification.event["data"]["invoiceNumber"]
    assert notification.event["data"]["documentsUnavailable"] == data["reason"]
    assert "documents" not in notification.event["data"]
    assert notification.event["data"]["reason"] == "auto"
    assert (job["failure"], job["never_due"]) == (data["reason"], True)
    assert waiting_at_failure == 0
    assert counted(metrics.RENDER_FAILURES, "error") == failures_before + MAX_ATTEMPTS
    assert counted(metrics.DOCUMENTS_FAILED, "error") == failed_before + 1

    renderings = planned_renderings(plan)
    assert [outcome for _, outcome in renderings] == ["failed"] * MAX_ATTEMPTS + ["rendered"]
    waits = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(renderings)]
    # the first retry after RETRY_AFTER_SECONDS, twice as long after each further failure
    assert waits[0] >= RETRY_AFTER_SECONDS
    assert waits[1] >= 2 * RETRY_AFTER_SECONDS

    assert retried.returncode == 0, retried.stderr
    assert retried.stdout == f"documents to render again: 1 invoice(s): {data['invoiceNumber']}\n"
    assert [d["kind"] for d in ready.event["data"]["documents"]] == ["pdf", "ubl"]
    assert {d.kind for d in await documents.documents_of(db, invoice_id)} == {"pdf", "ubl"}
    assert await db.fetchval("SELECT count(*) FROM render_jobs") == 0
    assert again.returncode == 1
    assert "has no documents to render" in again.stderr


async def close_order(settings: Settings, order_id: str, *commands: dict[str, Any]) -> str:
    """The example order, as `order_id`, closed as the worker applies a batch (and `commands`
    after it); returns its invoice's id."""
    order = example("order-completed-intra-community.json")
    order["id"] = str(uuid.uuid4())
    order["data"]["orderId"] = order_id
    pool = await create_pool(settings.database_url)
    try:
        await apply(pool, settings, order, *commands)
        invoice_id: str = await pool.fetchval(
            "SELECT invoice_id::text FROM invoices WHERE order_id = $1", order_id
        )
    finally:
        await pool.close()
    return invoice_id


async def apply(pool: asyncpg.Pool, settings: Settings, *events: dict[str, Any]) -> None:
    await process_records(pool, records_of(list(events)), settings, asyncio.Event(), Outage())


async def settle(renderer: Renderer, db: asyncpg.Connection) -> None:
    """Renders until no job is left to try, each failed one tried again at once rather than
    after its back-off, then sends the notifications released."""
    while True:
        await db.execute("UPDATE render_jobs SET not_before = now() WHERE failure IS NULL")
        if not await renderer.render_next():
            break
    await renderer.release_notifications()


async def outbox_events(db: asyncpg.Connection) -> list[dict[str, Any]]:
    return [record["event"] for record in await db.fetch(OUTBOX_SQL)]


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [event["data"] for event in events if event["type"] == event_type]


async def test_documents_retry_failed_renders_every_failed_invoice_and_a_later_send_goes_at_once(
    selling: Settings, db: asyncpg.Connection, pool: asyncpg.Pool, plan: Path
) -> None:
    first = await close_order(selling, "FAIL-1")
    second = await close_order(selling, "FAIL-2")
    plan_renderings(plan, "x" * (2 * MAX_ATTEMPTS))
    with RenderProcess(300) as process:
        renderer = Renderer(selling, pool, process)
        await settle(renderer, db)
        send = command_event("send", invoiceId=first, channel="sms", recipient="+3161234")
        await apply(pool, selling, send)
        await settle(renderer, db)
        failed = await outbox_events(db)

        retried = await documents_retry(selling, "--failed")
        await settle(renderer, db)
        nothing_failed = await documents_retry(selling, "--failed")

    assert sorted(data["invoiceId"] for data in of_type(failed, "invoice-documents-failed")) == (
        sorted([first, second])
    )
    notifications = of_type(failed, "notification-requested")
    assert [(n["invoiceId"], n["reason"]) for n in notifications] == [
        (first, "auto"),
        (second, "auto"),
        (first, "command"),
    ] or [(n["invoiceId"], n["reason"]) for n in notifications] == [
        (second, "auto"),
        (first, "auto"),
        (first, "command"),
    ]
    assert all("documents" not in n and n["documentsUnavailable"] for n in notifications)
    assert await db.fetchval("SELECT count(*) FROM document_notifications") == 0

    numbers = sorted(data["invoiceNumber"] for data in of_type(failed, "invoice-documents-failed"))
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout == f"documents to render again: 2 invoice(s): {', '.join(numbers)}\n"
    ready = of_type(await outbox_events(db), "invoice-documents-ready")
    assert sorted(data["invoiceId"] for data in ready) == sorted([first, second])
    assert await db.fetchval("SELECT count(*) FROM render_jobs") == 0
    assert (nothing_failed.returncode, nothing_failed.stdout) == (
        0,
        "documents to render again: 0 invoice(s)\n",
    )


async def test_no_reminder_goes_out_before_the_invoices_own_notification(
    selling: Settings, db: asyncpg.Connection, pool: asyncpg.Pool, plan: Path
) -> None:
    invoice_id = await close_order(selling, "HELD-1")
    due_date: date = await db.fetchval(
        "SELECT due_date FROM invoices WHERE invoice_id = $1", invoice_id
    )
    as_of = due_date + timedelta(days=selling.reminder_days[0])

    held = await scan(pool, selling, as_of)  # its notification waits for the documents
    plan_renderings(plan, "x" * MAX_ATTEMPTS)
    with RenderProcess(300) as process:
        await settle(Renderer(selling, pool, process), db)
    taken_up = await scan(pool, selling, as_of)

    assert held.notices == []
    assert [notice.level for notice in taken_up.notices] == [0, 1]
    sent = [
        (event["type"], event["data"].get("template"))
        for event in await outbox_events(db)
        if event["type"] != "invoice-closed"
    ]
    assert sent == [
        ("invoice-documents-failed", None),
        ("notification-requested", "invoice-issued"),
        ("invoice-overdue", None),
        ("notification-requested", "payment-reminder"),
    ]


@pytest.fixture
def render_process() -> Iterator[RenderProcess]:
    """One render process for every generated example (each would spawn its own)."""
    with RenderProcess(300) as process:
        yield process


def expected_story(outcomes: str, max_attempts: int, send_after: int) -> Story:
    """What the contract asks of these renderings (render_as_planned's outcomes, real ones
    after), the invoice's documents asked for again whenever they failed and outcomes are
    left, and a `send` after `send_after` renderings: each round that fails
    `max_attempts` times is announced, the notifications waiting then go without documents,
    a `send` while they failed goes at once without them."""
    story = Story()
    waiting, left, attempts, state, renderings = ["auto"], list(outcomes), 0, "waiting", 0

    def send() -> None:
        if state == "waiting":
            waiting.append("command")
        else:
            story.notifications.append(("command", state))

    while state != "ready" and (state == "waiting" or left):
        if renderings == send_after:
            send()
        if state == "failed":
            state, attempts = "waiting", 0
        renderings += 1
        attempts += 1
        if (left.pop(0) if left else "o") == "x":
            if attempts == max_attempts:
                state = "failed"
                story.outcomes.append(("invoice-documents-failed", attempts))
        else:
            state = "ready"
            story.outcomes.append(("invoice-documents-ready", None))
        if state != "waiting":
            story.notifications.extend((reason, state) for reason in waiting)
            waiting.clear()
    if renderings <= send_after:
        send()
    return story


class Story:
    def __init__(self) -> None:
        self.outcomes: list[tuple[str, int | None]] = []
        """The documents' events: type and attempts."""
        self.notifications: list[tuple[str, str]] = []
        """reason, and "ready" (with documents) or "failed" (documentsUnavailable)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Story) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Story({vars(self)})"


@examples(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    outcomes=st.text(alphabet="xo", max_size=7),
    max_attempts=st.integers(min_value=1, max_value=3),
    send_after=st.integers(min_value=0, max_value=8),
)
async def test_whatever_the_renderings_every_notification_goes_out_once_before_any_reminder(
    selling: Settings,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    plan: Path,
    render_process: RenderProcess,
    outcomes: str,
    max_attempts: int,
    send_after: int,
) -> None:
    attempting = selling.model_copy(update={"render_max_attempts": max_attempts})
    invoice_id = await close_order(attempting, f"PLAN-{uuid.uuid4()}")
    send = command_event("send", invoiceId=invoice_id, channel="sms", recipient="+3161234")
    plan_renderings(plan, outcomes)
    renderer = Renderer(attempting, pool, render_process)
    due_date: date = await db.fetchval(
        "SELECT due_date FROM invoices WHERE invoice_id = $1", invoice_id
    )
    reminded_on = due_date + timedelta(days=attempting.reminder_days[0])

    renderings, sent = 0, False
    while True:
        if renderings == send_after and not sent:
            await apply(pool, attempting, send)
            sent = True
        await db.execute("UPDATE render_jobs SET not_before = now() WHERE failure IS NULL")
        rendered = await renderer.render_next()
        await renderer.release_notifications()
        await scan(pool, attempting, reminded_on)  # as if the invoice were long overdue
        if rendered:
            renderings += 1
        elif outcomes_left(plan) and await documents.render_again(pool, invoice_id):
            continue  # as `invoicer documents retry --invoice` does
        else:
            break
    if not sent:
        await apply(pool, attempting, send)
        await renderer.release_notifications()
    await scan(pool, attempting, reminded_on)

    everything = await outbox_events(db)
    requested, gone, dunned = 1, 0, []  # the automatic notification from the close on
    for event in everything:
        if event["data"].get("commandId") == send["id"]:
            requested += 1
        elif event["data"].get("invoiceId") != invoice_id:
            continue
        elif event["data"].get("template") == "invoice-issued":
            gone += 1
        elif event["type"] in ("invoice-overdue", "notification-requested"):
            assert gone == requested, "a notice came before the invoice's own notification"
            dunned.append(event["type"])
    assert dunned == ["invoice-overdue", "notification-requested"]
    events = [
        event
        for event in everything
        if event["data"].get("invoiceId") == invoice_id
        and event["type"] not in ("invoice-closed", "invoice-overdue")
        and event["data"].get("template") != "payment-reminder"
    ]
    story = Story()
    story.outcomes = [
        (event["type"], event["data"].get("attempts"))
        for event in events
        if event["type"].startswith("invoice-documents-")
    ]
    story.notifications = [
        (event["data"]["reason"], "ready" if "documents" in event["data"] else "failed")
        for event in events
        if event["type"] == "notification-requested"
    ]
    assert story == expected_story(outcomes, max_attempts, send_after)
    assert len({event["id"] for event in events}) == len(events)  # each announced once
    assert (
        await db.fetchval(
            "SELECT count(*) FROM document_notifications WHERE invoice_id = $1", invoice_id
        )
        == 0
    )
