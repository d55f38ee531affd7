"""A renderer claims a few due jobs at once and renders them one by one (worker/render_jobs.py):
whatever ends the group early leaves no job of it held for a lease and throws away no
documents rendered; a job's rendering counts among its attempts when it starts; jobs given
back keep their place in the queue; a rendering that hangs, and a group as a whole, hold up
neither the group's other jobs nor a `send`; documents the database refuses to store are
that job's failure, and notifications are released with a fixed number of statements."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bench.documents import invoice
from tests.examples import example
from tests.integration.flows import command_event
from tests.memory_store import records_of
from tests.sellers import SELLER
from tests.slow_rendering import plan_renderings, planned_renderings
from worker import render_jobs as renderer_module
from worker.processing import Outage, process_records
from worker.render_jobs import Renderer, RenderProcess
from worker.settings import Settings
from worker.store import documents
from worker.store import pool as pool_module

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 2
OUTBOX_SQL = "SELECT id, topic, convert_from(value, 'UTF8')::jsonb AS event FROM outbox ORDER BY id"
JOBS_SQL = "SELECT invoice_id::text, attempts, not_before FROM render_jobs"


@pytest.fixture
def selling(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "seller": SELLER,
            "render_max_attempts": MAX_ATTEMPTS,
            "render_retry_after_seconds": 0.1,
        }
    )


@pytest.fixture
async def process(plan: Path) -> AsyncIterator[RenderProcess]:
    """A render process that has rendered once already: the first rendering of a process
    (its imports, its fonts) may take longer than HOLD_UP_SECONDS."""
    with RenderProcess(300) as started:
        await started.render(invoice(1, 0), None, "en")
        yield started


async def apply(pool: asyncpg.Pool, settings: Settings, *events: dict[str, Any]) -> None:
    await process_records(pool, records_of(list(events)), settings, asyncio.Event(), Outage())


async def closed(pool: asyncpg.Pool, settings: Settings, count: int) -> list[str]:
    """`count` orders closed, one batch each; their invoices' ids, in their jobs' order."""
    invoice_ids = []
    for _ in range(count):
        order = example("order-completed-intra-community.json")
        order["id"] = str(uuid.uuid4())
        order["data"]["orderId"] = order_id = f"GROUP-{uuid.uuid4()}"
        await apply(pool, settings, order)
        invoice_ids.append(
            await pool.fetchval(
                "SELECT invoice_id::text FROM invoices WHERE order_id = $1", order_id
            )
        )
    return invoice_ids


async def jobs_of(db: asyncpg.Connection) -> dict[str, tuple[int, datetime]]:
    """invoice id → (attempts, not_before) of each render job."""
    return {r["invoice_id"]: (r["attempts"], r["not_before"]) for r in await db.fetch(JOBS_SQL)}


async def outbox(db: asyncpg.Connection) -> list[tuple[int, dict[str, Any]]]:
    return [(record["id"], record["event"]) for record in await db.fetch(OUTBOX_SQL)]


def ids_of(events: list[tuple[int, dict[str, Any]]], event_type: str) -> dict[str, int]:
    """invoice id → outbox id of its event of this type (its last)."""
    return {
        event["data"]["invoiceId"]: position
        for position, event in events
        if event["type"] == event_type
    }


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.05)


async def rendering_started(plan: Path, renderings: int = 1) -> None:
    async def started() -> bool:
        return len(planned_renderings(plan)) >= renderings

    await eventually(started, f"{renderings} rendering(s) started", 60)


async def test_an_error_mid_group_stores_what_was_rendered_and_gives_the_rest_back(
    selling: Settings,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    plan: Path,
    process: RenderProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second, third = await closed(pool, selling, 3)
    plan_renderings(plan, "ox")  # the second rendering fails ...

    async def unreachable(*args: Any) -> None:  # ... and the database is gone as it is noted
        raise ConnectionResetError("the database went away")

    monkeypatch.setattr(documents, "postpone", unreachable)
    with pytest.raises(ConnectionResetError):
        await Renderer(selling, pool, process).render_next()

    jobs = await jobs_of(db)
    assert first not in jobs  # rendered before the error: stored, not rendered again
    assert {d.kind for d in await documents.documents_of(db, first)} == {"pdf", "ubl"}
    assert list(ids_of(await outbox(db), "invoice-documents-ready")) == [first]
    assert jobs[second][0] == 1
    attempts, due = jobs[third]
    assert attempts == 0  # never started
    assert due <= await db.fetchval("SELECT now()")  # due again now, not after a lease


async def test_jobs_given_back_keep_their_place_in_the_queue(
    selling: Settings,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    plan: Path,
    process: RenderProcess,
) -> None:
    invoice_ids = await closed(pool, selling, 3)
    await db.execute(  # due a minute apart, long ago
        "UPDATE render_jobs SET not_before = now() - make_interval(mins => 10 - position::integer)"
        " FROM unnest($1::uuid[]) WITH ORDINALITY AS t(invoice_id, position)"
        " WHERE render_jobs.invoice_id = t.invoice_id",
        invoice_ids,
    )
    before = await jobs_of(db)
    plan_renderings(plan, "s")
    stop = asyncio.Event()

    running = asyncio.create_task(Renderer(selling, pool, process).run(stop))
    await rendering_started(plan)
    stop.set()  # the rendering in hand is finished, the others given back
    await running

    after = await jobs_of(db)
    assert invoice_ids[0] not in after
    assert after == {invoice_id: before[invoice_id] for invoice_id in invoice_ids[1:]}


async def test_a_rendering_counts_among_its_jobs_attempts_when_it_starts_not_when_claimed(
    selling: Settings,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    plan: Path,
    process: RenderProcess,
) -> None:
    invoice_ids = await closed(pool, selling, 3)
    plan_renderings(plan, "h")

    rendering = asyncio.create_task(Renderer(selling, pool, process).render_next())
    await rendering_started(plan)
    jobs = await jobs_of(db)  # what a crash now would leave
    rendering.cancel()
    with pytest.raises(asyncio.CancelledError):
        await rendering

    assert [jobs[invoice_id][0] for invoice_id in invoice_ids] == [1, 0, 0]


async def test_a_hanging_rendering_lets_the_rest_of_its_group_go_at_once(
    selling: Settings,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    plan: Path,
    process: RenderProcess,
) -> None:
    hanging, *others = await closed(pool, selling, 3)
    before = await jobs_of(db)

    with RenderProcess(300) as other:
        await other.render(invoice(1, 0), None, "en")
        plan_renderings(plan, "h")  # for HANG_SECONDS, within the render timeout
        rendering = asyncio.create_task(Renderer(selling, pool, process).render_next())
        await rendering_started(plan)
        await asyncio.sleep(1.5)
        given_back = await jobs_of(db)
        assert await Renderer(selling, pool, other).render_next()  # another loop takes them
        hung_still = not rendering.done()
        assert await rendering

    assert {i: given_back[i] for i in others} == {i: before[i] for i in others}
    assert hung_still
    assert set(ids_of(await outbox(db), "invoice-documents-ready")) == {hanging, *others}
    assert await jobs_of(db) == {}


async def test_a_send_is_not_held_up_by_a_group_of_renderings(
    selling: Settings,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    plan: Path,
    process: RenderProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [sent] = await closed(pool, selling, 1)
    renderer = Renderer(selling, pool, process)
    assert await renderer.render_next()  # its documents stored
    group = await closed(pool, selling, 6)
    plan_renderings(plan, "ssssss")
    monkeypatch.setattr(renderer_module, "HOLD_UP_SECONDS", 30.0)  # the group goes on whole
    stop = asyncio.Event()
    running = asyncio.create_task(renderer.run(stop))
    await rendering_started(plan)
    send = command_event("send", invoiceId=sent, channel="sms", recipient="+3161234")
    await apply(pool, selling, send)

    def sent_for(event: dict[str, Any]) -> bool:  # the send's notification
        return event["type"] == "notification-requested" and event["data"]["reason"] == "command"

    async def done() -> bool:
        events = [event for _, event in await outbox(db)]
        return await db.fetchval("SELECT count(*) FROM render_jobs") == 0 and any(
            sent_for(event) for event in events
        )

    await eventually(done, "the group rendered and the send's notification sent", 60)
    stop.set()
    await running

    events = await outbox(db)
    [notified] = [position for position, event in events if sent_for(event)]
    ready = ids_of(events, "invoice-documents-ready")
    assert notified < min(ready[invoice_id] for invoice_id in group)


async def test_documents_the_database_never_stores_are_that_jobs_failure(
    selling: Settings,
    db: asyncpg.Connection,
    pool: asyncpg.Pool,
    plan: Path,
    process: RenderProcess,
) -> None:
    stored, refused, also_stored = await closed(pool, selling, 3)
    await db.execute(
        f"""
        CREATE FUNCTION refuse_documents() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.invoice_id = '{refused}' THEN
                RAISE EXCEPTION 'row is too big' USING ERRCODE = 'program_limit_exceeded';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_documents BEFORE INSERT ON invoice_documents
            FOR EACH ROW EXECUTE FUNCTION refuse_documents();
        """
    )

    renderer = Renderer(selling, pool, process)
    for _ in range(MAX_ATTEMPTS + 2):  # each failed job due again at once
        await db.execute("UPDATE render_jobs SET not_before = now() WHERE failure IS NULL")
        if not await renderer.render_next():
            break

    events = await outbox(db)
    assert set(ids_of(events, "invoice-documents-ready")) == {stored, also_stored}
    [failed] = [e["data"] for _, e in events if e["type"] == "invoice-documents-failed"]
    assert (failed["invoiceId"], failed["attempts"]) == (refused, MAX_ATTEMPTS)
    assert failed["reason"].startswith("storing the documents failed: ")
    notified = {
        e["data"]["invoiceId"]: e["data"]
        for _, e in events
        if e["type"] == "notification-requested"
    }
    assert set(notified) == {stored, refused, also_stored}
    assert notified[refused]["documentsUnavailable"] == failed["reason"]
    assert await db.fetchval("SELECT failure FROM render_jobs") == failed["reason"]


async def test_notifications_are_released_with_as_many_statements_for_many_invoices_as_for_one(
    selling: Settings,
    pool: asyncpg.Pool,
    plan: Path,
    process: RenderProcess,
) -> None:
    statements: list[str] = []

    def note(query: Any) -> None:
        statements.append(query.query)

    async def counted(connection: Any) -> None:
        connection.add_query_logger(note)  # once: a set of loggers

    counting = await asyncpg.create_pool(
        selling.database_url, init=pool_module._init_connection, setup=counted
    )
    try:
        renderer = Renderer(selling, counting, process)
        counts = []
        for invoices in (1, 5):
            invoice_ids = await closed(pool, selling, invoices)
            while await renderer.render_next():
                pass
            await apply(
                pool,
                selling,
                *(
                    command_event("send", invoiceId=i, channel="sms", recipient="+3161234")
                    for i in invoice_ids
                ),
            )
            statements.clear()
            assert await renderer.release_notifications()
            counts.append(len(statements))
    finally:
        await counting.close()

    assert counts[0] == counts[1]
