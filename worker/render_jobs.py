"""The renderer: the documents of closed invoices, rendered after the close has committed.

Each loop claims one render job for a lease (FOR UPDATE SKIP LOCKED, so loops and replicas
never take the same job), renders it in a process of the pool with no transaction open
(rendering never blocks the event loop, and the loops use as many cores as the pool has
processes), then, in one transaction, stores the documents, writes `invoice-documents-ready`
and the notifications waiting for them to the outbox and deletes the job. A crash before
that commit leaves the job to be rendered again once its lease ends, into the same bytes.
With no job due, a loop sends the notifications requested after their invoice's documents
were done (a later `send`).

A rendering that fails, outlasts `INVOICER_RENDER_TIMEOUT_SECONDS` or loses its process
postpones its job (the others go on) and is counted; a pool that lost a process or holds a
runaway one is replaced. After INVOICER_RENDER_MAX_ATTEMPTS such failures in a row the
documents have failed for good: in one transaction the job is marked failed, and
`invoice-documents-failed` and the notifications waiting for the documents, without them,
are written to the outbox (a customer always hears of an invoice). The pool's processes run
at a lower CPU priority than the worker: documents wait, closing does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from types import TracebackType

import asyncpg
import structlog

from worker import metrics
from worker.documents.labels import DocumentLanguage
from worker.documents.render import RenderedDocuments, render_documents
from worker.domain.lifecycle import Invoice
from worker.logs import CORRELATION_ID
from worker.publishing.document_events import (
    documents_failed,
    documents_ready,
    notifications_with_documents,
)
from worker.retry import Backoff, Waiting
from worker.rows import OutboxMessage, RenderJob, StoredDocument, WaitingNotification
from worker.settings import Settings
from worker.store import documents, invoices, orders, outbox
from worker.store.pool import Executor as Connection
from worker.store.transactions import unit_of_work

log = structlog.get_logger(__name__)

IDLE_POLL_SECONDS = 0.5
"""How long a loop that found nothing to do waits before it looks again."""
MAX_RETRY_AFTER_SECONDS = 3600.0
"""The longest a job whose rendering failed waits (INVOICER_RENDER_RETRY_AFTER_SECONDS
doubled after each further failure, up to this)."""
MAX_REASON_CHARACTERS = 500
"""Of the error that ends a rendering, in the reason its event and notifications give."""
RELEASE_INTERVAL_SECONDS = 1.0
LEASE_MARGIN_SECONDS = 60.0
"""A claimed job is due again (a renderer that died with it) this long after its rendering
would have timed out."""
RELEASED_PER_TRANSACTION = 100
"""Notifications sent with documents stored earlier, at most, per transaction."""
YIELD_AT_MOST_SECONDS = 30.0
"""While more than a batch of records waits for the worker, a loop renders nothing, but one
job at least this often: closing goes first in a burst, and documents never stop."""
RENDER_NICENESS = 10
"""Added to the rendering processes' nice value: under full load they get about a tenth
of a core's share against the worker and the database, so documents lag, not closing."""


def _prepare_render_process() -> None:
    """Lower priority; and deaf to Ctrl-C, which a terminal sends its whole process group:
    the worker stops its render processes itself."""
    os.nice(RENDER_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class RenderProcess:
    """One process that renders (spawned afresh: a fork of the running event loop and its
    threads would inherit their locks), replaced when it dies or a rendering outlasts its
    time; one per renderer loop, so replacing it stops no other loop's rendering."""

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._executor = self._start()

    @staticmethod
    def _start() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_prepare_render_process
        )

    async def render(
        self, invoice: Invoice, reference_number: str | None, language: DocumentLanguage
    ) -> RenderedDocuments:
        def submit() -> asyncio.Future[RenderedDocuments]:
            return asyncio.get_running_loop().run_in_executor(
                self._executor, render_documents, invoice, reference_number, language
            )

        try:
            rendering = submit()
        except BrokenProcessPool:  # it died since it last rendered: this one never started
            self._restart()
            rendering = submit()
        try:
            return await asyncio.wait_for(rendering, self._timeout)
        except (TimeoutError, BrokenProcessPool):
            self._restart()
            raise

    def _restart(self) -> None:
        self._stop()
        self._executor = self._start()

    def _stop(self) -> None:
        """Kills the process, or a runaway rendering would hold its core (and a shutdown
        that waited for it would hold the event loop)."""
        # ProcessPoolExecutor offers no way to stop a running task (terminate_workers() is
        # Python 3.14's); its process table is the only handle on its process.
        for process in list(self._executor._processes.values()):
            process.kill()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> RenderProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()


class Renderer:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        process: RenderProcess,
        backlog: Callable[[], int] = lambda: 0,
    ) -> None:
        """`backlog`: how many records wait for this process's worker."""
        self._settings = settings
        self._pool = pool
        self._process = process
        self._backlog = backlog
        self._lease_seconds = settings.render_timeout_seconds + LEASE_MARGIN_SECONDS
        self._rendered_at = time.monotonic()

    def _yields(self) -> bool:
        """Whether to leave the cores to closing now: a burst of records is waiting (the
        render processes' lower priority does not keep them off two busy cores, whose
        threads may share a physical core), and a job was rendered not long ago."""
        return (
            self._backlog() > self._settings.batch_max_records
            and time.monotonic() - self._rendered_at < YIELD_AT_MOST_SECONDS
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Renders due jobs until `stop` (a job in hand is finished); sends released
        notifications when idle, and at least every RELEASE_INTERVAL_SECONDS while jobs
        queue, so a `send` never waits behind a backlog of renderings."""
        backoff = Backoff()
        released_at = 0.0
        while not stop.is_set():
            try:
                released = False
                if time.monotonic() - released_at >= RELEASE_INTERVAL_SECONDS:
                    released = await self.release_notifications()
                    released_at = time.monotonic()
                rendered = not self._yields() and await self.render_next()
                if not rendered and not released:
                    released_at = 0.0  # idle: look for released notifications each time
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                await backoff.sleep(stop, Waiting.RENDERER_DATABASE, error)
                continue
            except Exception as error:  # a defect: logged and waited out, never the end
                await backoff.sleep(stop, Waiting.RENDERER, error)
                continue
            backoff.reset()
            if not rendered and not released:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), IDLE_POLL_SECONDS)

    async def render_next(self) -> bool:
        """Renders and stores the next due job; False when there was none."""
        async with self._pool.acquire() as connection:  # one reset on release, not two
            job = await documents.claim(connection, self._lease_seconds)
            if job is None:
                return False
            invoice, reference_number = await _invoice_of(connection, job.invoice_id)
        self._rendered_at = time.monotonic()
        structlog.contextvars.bind_contextvars(
            **{"invoice_id": job.invoice_id, CORRELATION_ID: job.correlation_id}
        )
        try:
            try:
                rendered = await self._render(invoice, reference_number)
            except _RenderFailed as failure:
                metrics.RENDER_FAILURES.labels(cause=failure.cause).inc()
                if job.attempts < self._settings.render_max_attempts:
                    log.error(
                        "rendering failed, tried again later",
                        action="render",
                        cause=failure.cause,
                        error=repr(failure.__cause__),
                        attempts=job.attempts,
                    )
                    retry_after = _retry_after(
                        job.attempts, self._settings.render_retry_after_seconds
                    )
                    await documents.postpone(self._pool, job, retry_after)
                else:
                    await self._give_up(job, failure)
                return True
            async with unit_of_work(self._pool) as connection:
                if await documents.hold(connection, job):
                    await self._store(connection, job, rendered)
        finally:
            structlog.contextvars.unbind_contextvars("invoice_id", CORRELATION_ID)
        return True

    async def _render(self, invoice: Invoice, reference_number: str | None) -> RenderedDocuments:
        try:
            return await self._process.render(
                invoice, reference_number, self._settings.document_language
            )
        except TimeoutError as error:
            timeout = self._settings.render_timeout_seconds
            raise _RenderFailed("timeout", f"rendering took longer than {timeout:g} s") from error
        except BrokenProcessPool as error:
            raise _RenderFailed("process-lost", "the rendering process died") from error
        except Exception as error:  # a bug in rendering: the job waits, others go on
            reason = f"rendering failed: {error!r}"[:MAX_REASON_CHARACTERS]
            raise _RenderFailed("error", reason) from error

    async def _give_up(self, job: RenderJob, failure: _RenderFailed) -> None:
        """The documents have failed for good: announced, and the notifications waiting for
        them sent without them, in the transaction that marks the job failed."""
        async with unit_of_work(self._pool) as connection:
            if not await documents.hold(connection, job):
                return
            invoice, _ = await _invoice_of(connection, job.invoice_id, holding_its_order=True)
            await documents.fail(connection, job.invoice_id, failure.reason)
            waiting = await documents.take_waiting(connection, job.invoice_id)
            now = datetime.now(UTC)
            failed = documents_failed(self._settings, invoice, failure.reason, job, now)
            sent = self._notifications(invoice, [], waiting, now, failure.reason)
            await outbox.enqueue(connection, [failed, *sent])
        metrics.DOCUMENTS_FAILED.labels(cause=failure.cause).inc()
        log.error(
            "documents failed for good, notifications sent without them",
            action="render",
            cause=failure.cause,
            error=repr(failure.__cause__),
            attempts=job.attempts,
            notifications=len(sent),
        )

    async def _store(
        self, connection: Connection, job: RenderJob, rendered: RenderedDocuments
    ) -> None:
        # as it is now: voided while it rendered, it is not announced to the customer
        invoice, _ = await _invoice_of(connection, job.invoice_id, holding_its_order=True)
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
        waiting = await documents.take_waiting(connection, job.invoice_id)
        now = datetime.now(UTC)
        ready = documents_ready(self._settings, invoice, stored, unavailable, job, now)
        sent = self._notifications(invoice, stored, waiting, now)
        await outbox.enqueue(connection, [ready, *sent])
        await documents.finish(connection, job.invoice_id)
        log.info(
            "documents stored",
            action="render",
            invoice_id=job.invoice_id,
            documents=[document.kind for document in stored],
            unavailable=[kind for kind, _ in unavailable],
            notifications=len(sent),
        )

    async def release_notifications(self) -> bool:
        """Sends the notifications whose invoice's documents were stored, or failed for good,
        before they were requested; False when there were none."""
        async with unit_of_work(self._pool) as connection:
            released = await documents.take_released(connection, RELEASED_PER_TRANSACTION)
            if not released:
                return False
            by_invoice: dict[str, list[WaitingNotification]] = {}
            failures: dict[str, str | None] = {}
            for notification, failure in released:
                by_invoice.setdefault(notification.invoice_id, []).append(notification)
                failures[notification.invoice_id] = failure
            now = datetime.now(UTC)
            for invoice_id, waiting in by_invoice.items():
                invoice, _ = await _invoice_of(connection, invoice_id, holding_its_order=True)
                stored = await documents.documents_of(connection, invoice_id)
                failure = failures[invoice_id]
                await outbox.enqueue(
                    connection, self._notifications(invoice, stored, waiting, now, failure)
                )
        return True

    def _notifications(
        self,
        invoice: Invoice,
        stored: list[StoredDocument],
        waiting: list[WaitingNotification],
        now: datetime,
        failure: str | None = None,
    ) -> list[OutboxMessage]:
        sent = notifications_with_documents(self._settings, invoice, stored, waiting, now, failure)
        if len(sent) < len(waiting):
            log.warning(
                "notifications not sent: the invoice was voided before its documents went out",
                action="render",
                invoice_id=invoice.invoice_id,
                notifications=[notification.reason for notification in waiting],
            )
        return sent


def _retry_after(attempts: int, first: float) -> float:
    """How long a job waits after its `attempts`-th failed rendering."""
    doublings = min(max(attempts - 1, 0), 16)
    return min(first * float(2**doublings), MAX_RETRY_AFTER_SECONDS)


class _RenderFailed(Exception):
    def __init__(self, cause: str, reason: str) -> None:
        super().__init__(cause)
        self.cause = cause
        """The `cause` label of invoicer_render_failures_total."""
        self.reason = reason
        """What the documents' failure event and notifications say."""


async def _invoice_of(
    connection: Connection, invoice_id: str, *, holding_its_order: bool = False
) -> tuple[Invoice, str | None]:
    """The stored invoice and, for a credit note, its reference invoice's number; with
    `holding_its_order`, under the worker's lock on its order: nothing that changes it (a
    void) commits before the transaction ends."""
    order_id = (await invoices.orders_of_invoices(connection, [invoice_id]))[invoice_id]
    if holding_its_order:
        await orders.lock_orders(connection, [order_id])
    of_order = {i.invoice_id: i for i in await invoices.load_invoices(connection, [order_id])}
    invoice = of_order[invoice_id]
    reference = of_order.get(invoice.reference_invoice_id or "")
    return invoice, None if reference is None else reference.number
