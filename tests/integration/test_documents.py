"""Documents through the real worker, broker and database (docs/contract.md, "Documents"):
a closed invoice is announced with invoice-documents-ready, its documents are stored by
sha256, its automatic notification and those of `send` commands carry them; a crash
between rendering and storing loses nothing and stores the same bytes; a rendering that
fails, hangs or loses its process postpones its job and the renderer goes on."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from tests.examples import example
from tests.integration.flows import await_event, command_event, publish_order, send_command
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import running_worker, wait_until
from tests.memory_store import records_of
from tests.sellers import SELLER
from tests.slow_rendering import RENDER_DELAY_SECONDS, render_slowly
from worker import metrics
from worker import render_jobs as renderer_module
from worker.processing import Outage, process_records
from worker.render_jobs import Renderer, RenderProcess
from worker.settings import Settings
from worker.store import documents
from worker.store.pool import create_pool

pytestmark = pytest.mark.integration


@pytest.fixture
def selling(settings: Settings) -> Settings:
    return settings.model_copy(update={"seller": SELLER})


async def _documents_ready(kafka: KafkaClient, settings: Settings, order_id: str) -> dict[str, Any]:
    ready = await await_event(
        kafka,
        settings.topics.invoice_events,
        lambda e: e["type"] == "invoice-documents-ready" and e["data"]["orderId"] == order_id,
    )
    data: dict[str, Any] = ready.event["data"]
    return data


async def test_a_closed_invoice_gets_its_documents_and_its_notification_carries_them(
    selling: Settings, kafka: KafkaClient, db: asyncpg.Connection
) -> None:
    async with running_worker(selling):
        await publish_order(kafka, selling, example("order-completed-intra-community.json"))
        ready = await _documents_ready(kafka, selling, "NL-20017")
        notification = await await_event(
            kafka,
            selling.topics.notifications_requested,
            lambda e: e["data"]["orderId"] == "NL-20017",
        )
        closed = await await_event(
            kafka, selling.topics.invoices_closed, lambda e: e["data"]["orderId"] == "NL-20017"
        )
        # sent again after its documents were stored: the notification carries them too
        send = command_event(
            "send", invoiceId=ready["invoiceId"], channel="sms", recipient="+3161234"
        )
        assert (await send_command(kafka, selling, send, key="NL-20017"))["ok"]
        sent = await await_event(
            kafka,
            selling.topics.notifications_requested,
            lambda e: e["data"]["orderId"] == "NL-20017" and e["data"]["reason"] == "command",
        )

    invoice_id = ready["invoiceId"]
    assert [d["kind"] for d in ready["documents"]] == ["pdf", "ubl"]
    assert ready["unavailable"] == []
    for document in ready["documents"]:
        content = await documents.document_content(db, invoice_id, document["kind"])
        assert content is not None
        assert hashlib.sha256(content).hexdigest() == document["sha256"]
        assert len(content) == document["size"]
        assert document["path"] == f"/v1/invoices/{invoice_id}/{document['kind']}"
    assert notification.event["data"]["documents"] == ready["documents"]
    assert notification.event["data"]["invoiceId"] == invoice_id
    assert sent.event["data"]["documents"] == ready["documents"]
    assert (sent.event["data"]["channel"], sent.event["data"]["recipient"]) == ("sms", "+3161234")
    ubl = await documents.document_content(db, invoice_id, "ubl")
    assert ubl is not None
    assert b"<cbc:BuyerReference>04011000-12345-03</cbc:BuyerReference>" in ubl
    assert b"<cbc:TaxExemptionReasonCode>VATEX-EU-IC</cbc:TaxExemptionReasonCode>" in ubl
    data = closed.event["data"]
    assert data["seller"]["name"] == SELLER.name
    assert data["buyerReference"] == "04011000-12345-03"
    assert data["taxBreakdown"] == [
        {
            "taxRate": "0",
            "taxableAmount": "784.60",
            "taxAmount": "0.00",
            "taxCategory": "K",
            "taxExemptionReasonCode": "VATEX-EU-IC",
        }
    ]
    assert await db.fetchval("SELECT count(*) FROM render_jobs") == 0
    with pytest.raises(asyncpg.RaiseError):
        await db.execute("UPDATE invoice_documents SET size = 1")


@asynccontextmanager
async def renderer_of(settings: Settings, pool: RenderProcess) -> AsyncIterator[Renderer]:
    connections = await create_pool(settings.database_url)
    try:
        yield Renderer(settings, connections, pool)
    finally:
        await connections.close()


async def _back_to_before_the_render(db: asyncpg.Connection, invoice_id: str) -> None:
    """As it was before the renderer's transaction committed: a job, no documents."""
    await db.execute("DELETE FROM invoice_documents WHERE invoice_id = $1", invoice_id)
    await db.execute(
        "INSERT INTO render_jobs (invoice_id, correlation_id) VALUES ($1, 'c')", invoice_id
    )


async def test_a_crash_between_rendering_and_storing_stores_the_same_bytes_later(
    selling: Settings,
    settings: Settings,
    kafka: KafkaClient,
    db: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running_worker(selling):
        await publish_order(kafka, selling, example("order-completed-intra-community.json"))
        ready = await _documents_ready(kafka, selling, "NL-20017")
    invoice_id = ready["invoiceId"]
    await _back_to_before_the_render(db, invoice_id)
    with RenderProcess(300) as processes:
        async with renderer_of(selling, processes) as renderer:

            async def crash(*args: Any) -> Any:
                raise ConnectionResetError("the worker died while storing")

            monkeypatch.setattr(documents, "store_documents", crash)
            with pytest.raises(ConnectionResetError):
                await renderer.render_next()
    monkeypatch.undo()
    assert await db.fetchval("SELECT count(*) FROM render_jobs") == 1
    assert await db.fetchval("SELECT count(*) FROM invoice_documents") == 0
    await db.execute("UPDATE render_jobs SET not_before = now()")  # as its lease ran out

    # The seller's settings removed since: the invoice closed with one still gets its own.
    async def rendered() -> bool:
        waiting: int = await db.fetchval("SELECT count(*) FROM render_jobs")
        return waiting == 0

    # A consumer group of its own: in the first worker's group its join would wait for that
    # worker's member, just gone, to time out (the test broker keeps a member that left).
    # The order it reads again is a duplicate the inbox drops.
    without_seller = settings.model_copy(update={"group_id": f"{settings.group_id}-again"})
    async with running_worker(without_seller):
        await wait_until(rendered, "the job rendered by a worker without a seller")

    stored = {d.kind: d.sha256 for d in await documents.documents_of(db, invoice_id)}
    assert stored == {d["kind"]: d["sha256"] for d in ready["documents"]}


async def _closed_by_the_worker(settings: Settings, *commands: dict[str, Any]) -> str:
    """The example order applied (and `commands` after it) as the worker applies a batch;
    returns the id of the invoice whose documents are to be rendered."""
    pool = await create_pool(settings.database_url)
    try:
        for records in ([example("order-completed-intra-community.json")], list(commands)):
            await process_records(pool, records_of(records), settings, asyncio.Event(), Outage())
        invoice_id: str = await pool.fetchval("SELECT invoice_id::text FROM render_jobs")
    finally:
        await pool.close()
    return invoice_id


async def _job(db: asyncpg.Connection) -> tuple[int, float]:
    """The job's attempts and in how many seconds it is due; then due at once."""
    job = await db.fetchrow(
        "SELECT attempts, extract(epoch FROM not_before - now())::float AS due_in FROM render_jobs"
    )
    await db.execute("UPDATE render_jobs SET not_before = now()")
    return job["attempts"], job["due_in"]


async def test_a_rendering_that_hangs_or_loses_its_process_is_postponed_and_its_process_replaced(
    selling: Settings, db: asyncpg.Connection
) -> None:
    invoice_id = await _closed_by_the_worker(selling)
    failures = metrics.RENDER_FAILURES

    with RenderProcess(0.001) as process:  # no rendering fits in a millisecond
        async with renderer_of(selling, process) as renderer:
            timeouts = failures.labels(cause="timeout")._value.get()
            assert await renderer.render_next()
            assert failures.labels(cause="timeout")._value.get() == timeouts + 1
            attempts, due_in = await _job(db)
            assert attempts == 1 and 50 < due_in <= 60

    with RenderProcess(300) as process:
        async with renderer_of(selling, process) as renderer:
            lost = failures.labels(cause="process-lost")._value.get()
            rendering = asyncio.create_task(renderer.render_next())

            async def started() -> bool:  # the process it renders in
                return process.pid is not None

            await wait_until(started, "a rendering process")
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)  # as the kernel's OOM killer would
            assert await rendering
            assert failures.labels(cause="process-lost")._value.get() == lost + 1
            attempts, due_in = await _job(db)
            assert attempts == 2 and 110 < due_in <= 120  # twice as long as the first time
            assert await db.fetchval("SELECT count(*) FROM invoice_documents") == 0

            assert await renderer.render_next()  # a new process: rendered and stored

    assert {d.kind for d in await documents.documents_of(db, invoice_id)} == {"pdf", "ubl"}
    assert await db.fetchval("SELECT count(*) FROM render_jobs") == 0


async def test_an_invoice_voided_while_its_documents_render_is_not_announced(
    selling: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoice_id = await _closed_by_the_worker(selling)
    monkeypatch.setattr(renderer_module, "render_documents", render_slowly)
    void = command_event("void", invoiceId=invoice_id, reason="ordered twice")

    with RenderProcess(300) as process:
        async with renderer_of(selling, process) as renderer:
            rendering = asyncio.create_task(renderer.render_next())
            await asyncio.sleep(RENDER_DELAY_SECONDS / 2)
            pool = await create_pool(selling.database_url)
            try:
                await process_records(pool, records_of([void]), selling, asyncio.Event(), Outage())
            finally:
                await pool.close()
            assert await rendering

    topics = [record["topic"] for record in await db.fetch("SELECT topic FROM outbox")]
    assert selling.topics.notifications_requested not in topics
    assert await db.fetchval("SELECT count(*) FROM invoice_documents") == 2
    assert await db.fetchval("SELECT count(*) FROM document_notifications") == 0


async def test_the_renderer_leaves_the_cores_to_a_burst_of_records_but_not_for_ever(
    selling: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _closed_by_the_worker(selling)
    waiting = selling.batch_max_records + 1

    async def rendered_within(seconds: float) -> bool:
        stop = asyncio.Event()
        with RenderProcess(300) as process:
            async with renderer_of(selling, process) as renderer:
                renderer._backlog = lambda: waiting
                running = asyncio.create_task(renderer.run(stop))
                with contextlib.suppress(AssertionError):
                    await wait_until(stored, "documents", within=seconds)
                stop.set()
                await running
        return await stored()

    async def stored() -> bool:
        done: int = await db.fetchval("SELECT count(*) FROM invoice_documents")
        return done > 0

    assert not await rendered_within(2)  # more than a batch waits: nothing rendered

    monkeypatch.setattr(renderer_module, "YIELD_AT_MOST_SECONDS", 1.0)
    assert await rendered_within(8)  # one job at least as often as that, all the same

    await db.execute("DELETE FROM invoice_documents")
    await db.execute(
        "INSERT INTO render_jobs (invoice_id, correlation_id) SELECT invoice_id, 'c' FROM invoices"
    )
    monkeypatch.undo()
    waiting = 0
    assert await rendered_within(8)  # nothing waits: rendered at once
