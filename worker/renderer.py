"""The renderer: the documents of closed invoices, rendered after the close has committed.

Each loop claims one render job (FOR UPDATE SKIP LOCKED, so loops and replicas never take
the same job), renders it in a process of the pool (rendering never blocks the event loop,
and the loops use as many cores as the pool has processes), then stores the documents, writes
`invoice-documents-ready` (and the notification waiting for them) to the outbox and deletes
the job, all in the transaction that holds the claim. A crash before the commit leaves the
job to be rendered again, into the same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, datetime

import asyncpg
import structlog

from worker import events
from worker.documents.render import RenderedDocuments, render_documents
from worker.domain.lifecycle import Invoice
from worker.logs import CORRELATION_ID
from worker.retry import Backoff, Waiting
from worker.settings import Settings
from worker.store import documents, invoices, outbox
from worker.store.documents import RenderJob, StoredDocument
from worker.store.pool import Executor as Connection

log = structlog.get_logger(__name__)

IDLE_POLL_SECONDS = 0.5
"""How long a loop that found no job waits before it looks again."""
RETRY_AFTER_SECONDS = 60.0
"""How long a job whose rendering failed waits before it is tried again."""


def render_pool(processes: int) -> ProcessPoolExecutor:
    """Processes started afresh (spawn): a fork of the running event loop and its threads
    would inherit their locks."""
    return ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))


class Renderer:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, executor: Executor) -> None:
        self._settings = settings
        self._pool = pool
        self._executor = executor

    async def run(self, stop: asyncio.Event) -> None:
        """One loop per process of the pool, until `stop`; a job in hand is finished."""
        await asyncio.gather(*(self._loop(stop) for _ in range(self._settings.renderer_processes)))

    async def _loop(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                rendered = await self.render_next()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                await backoff.sleep(stop, Waiting.RENDERER_DATABASE, error)
                continue
            backoff.reset()
            if not rendered:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), IDLE_POLL_SECONDS)

    async def render_next(self) -> bool:
        """Renders and stores the next due job; False when there was none."""
        async with self._pool.acquire() as connection, connection.transaction():
            job = await documents.claim(connection)
            if job is None:
                return False
            invoice, reference_number = await _invoice_of(connection, job.invoice_id)
            structlog.contextvars.bind_contextvars(
                **{"invoice_id": job.invoice_id, CORRELATION_ID: job.correlation_id}
            )
            try:
                rendered = await asyncio.get_running_loop().run_in_executor(
                    self._executor,
                    render_documents,
                    invoice,
                    reference_number,
                    self._settings.document_language,
                )
            except Exception as error:  # a bug in rendering: the job waits, others go on
                log.error("rendering failed", action="render", error=repr(error))
                await documents.postpone(connection, job.invoice_id, RETRY_AFTER_SECONDS)
                return True
            await self._store(connection, job, invoice, rendered)
            structlog.contextvars.unbind_contextvars("invoice_id", CORRELATION_ID)
        return True

    async def _store(
        self,
        connection: Connection,
        job: RenderJob,
        invoice: Invoice,
        rendered: RenderedDocuments,
    ) -> None:
        unavailable = [(item.kind, item.reason) for item in rendered.unavailable]
        stored = await documents.store_documents(
            connection,
            job.invoice_id,
            [
                (StoredDocument(d.kind, d.media_type, d.sha256, d.size), d.content)
                for d in rendered.documents
            ],
            unavailable,
        )
        messages = events.documents_ready(
            self._settings, invoice, stored, unavailable, job, datetime.now(UTC)
        )
        await outbox.enqueue(connection, messages)
        await documents.finish(connection, job.invoice_id)
        log.info(
            "documents stored",
            action="render",
            documents=[document.kind for document in stored],
            unavailable=[kind for kind, _ in unavailable],
        )


async def _invoice_of(connection: Connection, invoice_id: str) -> tuple[Invoice, str | None]:
    """The stored invoice and, for a credit note, its reference invoice's number."""
    order_id = (await invoices.orders_of_invoices(connection, [invoice_id]))[invoice_id]
    of_order = {i.invoice_id: i for i in await invoices.load_invoices(connection, [order_id])}
    invoice = of_order[invoice_id]
    reference = of_order.get(invoice.reference_invoice_id or "")
    return invoice, None if reference is None else reference.number
