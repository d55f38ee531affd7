"""The renderer: the documents of closed invoices, rendered after the close has committed.

Each loop claims up to GROUP_SIZE due jobs for a lease (FOR UPDATE SKIP LOCKED, so loops and
replicas never take the same job) and loads their invoices together, renders them one by one
in a process of its own with no transaction open (rendering never blocks the event loop,
and the loops use as many cores as there are processes), then, in one transaction, stores
their documents, writes each one's `invoice-documents-ready` and the notifications waiting
for them to the outbox and deletes the jobs. A job's rendering counts among its attempts
when it starts. A crash before that commit leaves the jobs to be rendered again once their
lease ends, into the same bytes; anything else that ends a group early (an error, a stop, a
rendering still running after HOLD_UP_SECONDS) stores what was rendered and gives the jobs
not started back to the queue, in their place. With no job due, and between the jobs of a
group at least every RELEASE_INTERVAL_SECONDS, a loop sends the notifications requested
after their invoice's documents were done (a later `send`).

A rendering that fails, outlasts `INVOICER_RENDER_TIMEOUT_SECONDS` or loses its process
postpones its job (the others go on) and is counted, as do documents the database refuses
to store; a render process that died or holds a runaway rendering is replaced. After
INVOICER_RENDER_MAX_ATTEMPTS such failures in a row the documents have failed for good: in
one transaction the job is marked failed, and `invoice-documents-failed` and the
notifications waiting for the documents, without them, are written to the outbox (a
customer always hears of an invoice). The render processes run at a lower CPU priority than
the worker: documents wait, closing does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeAlias

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

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
from worker.render_process import PipedProcess, ProcessLost
from worker.retry import Backoff, Waiting
from worker.rows import OutboxMessage, RenderJob, StoredDocument, WaitingNotification
from worker.settings import Settings
from worker.store import documents, invoices, orders, outbox
from worker.store.pool import Executor as Connection
from worker.store.pool import Fault, describe_error, fault_of
from worker.store.transactions import on_connection, unit_of_work

log = structlog.get_logger(__name__)

PooledConnection: TypeAlias = "PoolConnectionProxy[Any]"

IDLE_POLL_SECONDS = 0.5
"""How long a loop that found nothing to do waits before it looks again."""
MAX_RETRY_AFTER_SECONDS = 3600.0
"""The longest a job whose rendering failed waits (INVOICER_RENDER_RETRY_AFTER_SECONDS
doubled after each further failure, up to this)."""
MAX_REASON_CHARACTERS = 500
"""Of the error that ends a rendering, in the reason its event and notifications give."""
RELEASE_INTERVAL_SECONDS = 1.0
GROUP_SIZE = 8
"""Due jobs a loop claims at once: rendered one by one, their invoices loaded and their
documents stored together, so the round trips to the database are shared."""
HOLD_UP_SECONDS = 1.0
"""A rendering still running after this long lets the rest of its group go: the documents
rendered before it are stored, the jobs not started go back to the queue (for another loop,
or this one once the rendering ends)."""
RELEASED_PER_TRANSACTION = 100
"""Notifications sent with documents stored earlier, at most, per transaction."""
YIELD_AT_MOST_SECONDS = 30.0
"""While more than a batch of records waits for the worker, a loop renders nothing, but one
job at least this often: closing goes first in a burst, and documents never stop."""
RENDER_NICENESS = 10
"""Added to the rendering processes' nice value: under full load they get about a tenth
of a core's share against the worker and the database, so documents lag, not closing."""


class RenderProcessLost(Exception):
    """The render process died rendering, or could not be sent the rendering."""


class RenderProcess:
    """One process that renders (spawned afresh: a fork of the running event loop and its
    threads would inherit their locks), behind a pipe the event loop reads; started when
    there is something to render, replaced when it dies or a rendering outlasts its time;
    one per renderer loop, so replacing it stops no other loop's rendering."""

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._process: PipedProcess | None = None

    @property
    def pid(self) -> int | None:
        """The process rendering now or next, if it has started."""
        return None if self._process is None else self._process.pid

    def _started(self) -> PipedProcess:
        if self._process is None or self._process.lost:
            self._process = PipedProcess(
                asyncio.get_running_loop(), RENDER_NICENESS, "invoicer-render"
            )
        return self._process

    async def render(
        self, invoice: Invoice, reference_number: str | None, language: DocumentLanguage
    ) -> RenderedDocuments:
        # sent by reference: the process imports render_documents (or a test's stand-in)
        arguments = (render_documents, invoice, reference_number, language)
        try:
            try:
                rendering = self._started().call(*arguments)
            except BrokenPipeError:  # it died since it last rendered: this one never started
                rendering = self._started().call(*arguments)
        except (BrokenPipeError, ProcessLost) as error:
            raise RenderProcessLost(f"the rendering could not be sent: {error!r}") from error
        try:
            async with asyncio.timeout(self._timeout) as deadline:
                rendered: RenderedDocuments = await rendering
        except TimeoutError:
            if deadline.expired():  # else the rendering's own
                self._stop()  # the next rendering starts another process
            raise
        except ProcessLost as error:
            raise RenderProcessLost(str(error)) from error
        return rendered

    def _stop(self) -> None:
        """Kills the process, or a runaway rendering would hold its core; never waits for
        it (a shutdown that did would hold the event loop)."""
        if self._process is not None:
            self._process.stop()

    def __enter__(self) -> RenderProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()


@dataclass(slots=True)
class _Group:
    """The jobs a loop claimed at once."""

    pending: list[documents.Claim]
    """Not started: given back to the queue if the group ends early."""
    invoices: dict[str, tuple[Invoice, str | None]]
    rendered: list[tuple[RenderJob, RenderedDocuments]] = field(default_factory=list)
    """Started and rendered, their documents not stored yet."""


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
        self._lease_seconds = settings.render_timeout_seconds + settings.render_lease_margin_seconds
        self._rendered_at = time.monotonic()
        self._released_at = 0.0
        self._stop: asyncio.Event | None = None

    def _yields(self) -> bool:
        """Whether to leave the cores to closing now: a burst of records is waiting (the
        render processes' lower priority does not keep them off two busy cores, whose
        threads may share a physical core), and a job was rendered not long ago."""
        return (
            self._backlog() > self._settings.batch_max_records
            and time.monotonic() - self._rendered_at < YIELD_AT_MOST_SECONDS
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Renders due jobs until `stop` (a job in hand is finished, the rest of its group
        given back); sends released notifications when idle, and at least every
        RELEASE_INTERVAL_SECONDS while jobs queue (between the jobs of a group too), so a
        `send` never waits behind a backlog of renderings."""
        self._stop = stop
        backoff = Backoff()
        while not stop.is_set():
            try:
                released = await self._release_when_due()
                rendered = not self._yields() and await self.render_next()
                if not rendered and not released:
                    self._released_at = 0.0  # idle: look for released notifications each time
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

    async def _release_when_due(self) -> bool:
        if time.monotonic() - self._released_at < RELEASE_INTERVAL_SECONDS:
            return False
        released = await self.release_notifications()
        self._released_at = time.monotonic()
        return released

    async def render_next(self) -> bool:
        """Renders the next due jobs, up to GROUP_SIZE of them, one by one, and stores their
        documents together; False when none was due. Whatever ends the group early (an
        error, a stop, a rendering past HOLD_UP_SECONDS) stores the documents rendered
        and gives the jobs not started back to the queue, in their place."""
        group: _Group | None = None
        try:
            # one connection for the group's statements: one reset when it goes back
            async with self._pool.acquire() as connection:
                claims = await documents.claim(connection, self._lease_seconds, GROUP_SIZE)
                if not claims:
                    return False
                group = _Group(claims, {})
                group.invoices = await _invoices_of(
                    connection, [claim.job.invoice_id for claim in claims]
                )
                self._rendered_at = time.monotonic()
                while group.pending and not (self._stop is not None and self._stop.is_set()):
                    job = await documents.start(connection, group.pending[0])
                    group.pending.pop(0)
                    if job is not None:  # else: no longer this loop's
                        await self._render_job(group, job)
                    if group.pending:
                        await self._release_when_due()
                await self._store(group, connection)
        finally:
            if group is not None and (group.pending or group.rendered):
                await asyncio.shield(self._let_go(group, raising=False))
        return True

    async def _render_job(self, group: _Group, job: RenderJob) -> None:
        invoice, reference_number = group.invoices[job.invoice_id]
        with structlog.contextvars.bound_contextvars(
            **{"invoice_id": job.invoice_id, CORRELATION_ID: job.correlation_id}
        ):
            rendering = asyncio.ensure_future(self._render(invoice, reference_number))
            try:
                await asyncio.wait({rendering}, timeout=HOLD_UP_SECONDS)
                if not rendering.done():  # the rest of the group waits for no hung rendering
                    log.info(
                        "rendering held up: the rest of its group let go",
                        action="render",
                        rendered=len(group.rendered),
                        given_back=len(group.pending),
                    )
                    await self._let_go(group, raising=True)
                rendered = await rendering
            except _RenderFailed as failure:
                await self._failed(job, failure)
                return
            finally:
                rendering.cancel()
        group.rendered.append((job, rendered))

    async def _let_go(self, group: _Group, *, raising: bool) -> None:
        """Stores the group's rendered documents and gives the jobs not started back to the
        queue; with `raising` False (a group ending on an error of its own), whatever fails
        here is logged, not raised."""
        pending, group.pending = group.pending, []
        try:
            try:
                await self._store(group)
            finally:
                async with self._pool.acquire() as connection:
                    await documents.give_back(connection, pending)
        except Exception as error:
            if raising:
                raise
            log.error(
                "render jobs not given back: due again once their lease ends",
                action="render",
                error=describe_error(error),
                jobs=[claim.job.invoice_id for claim in pending],
            )

    async def _render(self, invoice: Invoice, reference_number: str | None) -> RenderedDocuments:
        try:
            return await self._process.render(
                invoice, reference_number, self._settings.document_language
            )
        except TimeoutError as error:
            timeout = self._settings.render_timeout_seconds
            raise _RenderFailed("timeout", f"rendering took longer than {timeout:g} s") from error
        except RenderProcessLost as error:
            raise _RenderFailed("process-lost", "the rendering process died") from error
        except Exception as error:  # a bug in rendering: the job waits, others go on
            reason = f"rendering failed: {error!r}"[:MAX_REASON_CHARACTERS]
            raise _RenderFailed("error", reason) from error

    async def _failed(self, job: RenderJob, failure: _RenderFailed) -> None:
        """The job is tried again after a back-off, or, its attempts spent, given up."""
        metrics.RENDER_FAILURES.labels(cause=failure.cause).inc()
        if job.attempts < self._settings.render_max_attempts:
            log.error(
                "rendering failed, tried again later",
                action="render",
                cause=failure.cause,
                error=failure.error,
                attempts=job.attempts,
            )
            retry_after = _retry_after(job.attempts, self._settings.render_retry_after_seconds)
            await documents.postpone(self._pool, job, retry_after)
        else:
            await self._give_up(job, failure)

    async def _give_up(self, job: RenderJob, failure: _RenderFailed) -> None:
        """The documents have failed for good: announced, and the notifications waiting for
        them sent without them, in the transaction that marks the job failed."""
        async with unit_of_work(self._pool) as connection:
            if not await documents.hold(connection, [job]):
                return
            [(invoice, _)] = (
                await _invoices_of(connection, [job.invoice_id], holding_their_orders=True)
            ).values()
            await documents.fail(connection, job.invoice_id, failure.reason)
            waiting = (await documents.take_waiting(connection, [job.invoice_id]))[job.invoice_id]
            now = datetime.now(UTC)
            failed = documents_failed(self._settings, invoice, failure.reason, job, now)
            sent = self._notifications(invoice, [], waiting, now, failure.reason)
            await outbox.enqueue(connection, [failed, *sent])
        metrics.DOCUMENTS_FAILED.labels(cause=failure.cause).inc()
        log.error(
            "documents failed for good, notifications sent without them",
            action="render",
            cause=failure.cause,
            error=failure.error,
            attempts=job.attempts,
            notifications=len(sent),
        )

    async def _store(self, group: _Group, connection: PooledConnection | None = None) -> None:
        """Stores the group's rendered documents in one transaction. Should the database
        refuse them, each job's are stored on their own, and a job whose documents it
        refuses has failed (cause `store`): tried again, then given up, as a rendering."""
        rendered, group.rendered = group.rendered, []
        if not rendered:
            return
        try:
            await self._store_together(rendered, connection)
            return
        except Exception as error:
            if fault_of(error) is not Fault.RECORD:
                raise
            if len(rendered) > 1:
                log.warning(
                    "documents of a group not stored together: stored one by one",
                    action="render",
                    error=describe_error(error),
                )
            refused = error
        for job, documents_of_job in rendered:
            if len(rendered) > 1:
                try:
                    await self._store_together([(job, documents_of_job)])
                    continue
                except Exception as error:
                    if fault_of(error) is not Fault.RECORD:
                        raise
                    refused = error
            reason = f"storing the documents failed: {describe_error(refused)}"
            with structlog.contextvars.bound_contextvars(
                **{"invoice_id": job.invoice_id, CORRELATION_ID: job.correlation_id}
            ):
                try:
                    raise _RenderFailed("store", reason[:MAX_REASON_CHARACTERS]) from refused
                except _RenderFailed as failure:
                    await self._failed(job, failure)

    async def _store_together(
        self,
        rendered: list[tuple[RenderJob, RenderedDocuments]],
        on: PooledConnection | None = None,
    ) -> None:
        """In one transaction (on `on`, else on a connection of the pool), for each job
        still this loop's: its documents stored, its `invoice-documents-ready` and the
        notifications waiting for them written to the outbox, the job deleted."""
        async with contextlib.AsyncExitStack() as stack:
            if on is None:
                connection = await stack.enter_async_context(unit_of_work(self._pool))
            else:
                connection = on
                await stack.enter_async_context(on_connection(on))
            held = await documents.hold(connection, [job for job, _ in rendered])
            mine = [(job, made) for job, made in rendered if job.invoice_id in held]
            if not mine:
                return
            invoice_ids = [job.invoice_id for job, _ in mine]
            # as they are now: one voided while it rendered is not announced to the customer
            loaded = await _invoices_of(connection, invoice_ids, holding_their_orders=True)
            stored = await documents.store_documents(
                connection,
                [
                    documents.Rendered(
                        job.invoice_id,
                        [
                            (StoredDocument(d.kind, d.media_type, d.sha256, d.size), d.content)
                            for d in made.documents
                        ],
                        [(item.kind, item.reason) for item in made.unavailable],
                    )
                    for job, made in mine
                ],
            )
            waiting = await documents.take_waiting(connection, invoice_ids)
            now = datetime.now(UTC)
            messages: list[OutboxMessage] = []
            sent: dict[str, int] = {}
            for job, made in mine:
                invoice, _ = loaded[job.invoice_id]
                unavailable = [(item.kind, item.reason) for item in made.unavailable]
                documents_stored = stored[job.invoice_id]
                notifications = self._notifications(
                    invoice, documents_stored, waiting[job.invoice_id], now
                )
                ready = documents_ready(
                    self._settings, invoice, documents_stored, unavailable, job, now
                )
                messages.append(ready)
                messages.extend(notifications)
                sent[job.invoice_id] = len(notifications)
            await outbox.enqueue(connection, messages)
            await documents.finish(connection, invoice_ids)
        for job, made in mine:
            log.info(
                "documents stored",
                action="render",
                invoice_id=job.invoice_id,
                documents=[document.kind for document in stored[job.invoice_id]],
                unavailable=[item.kind for item in made.unavailable],
                notifications=sent[job.invoice_id],
                **{CORRELATION_ID: job.correlation_id},
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
            loaded = await _invoices_of(connection, list(by_invoice), holding_their_orders=True)
            stored = await documents.documents_of_invoices(connection, list(by_invoice))
            now = datetime.now(UTC)
            messages: list[OutboxMessage] = []
            for invoice_id, waiting in by_invoice.items():
                invoice, _ = loaded[invoice_id]
                messages.extend(
                    self._notifications(
                        invoice, stored[invoice_id], waiting, now, failures[invoice_id]
                    )
                )
            await outbox.enqueue(connection, messages)
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

    @property
    def error(self) -> str:
        """The error behind it, for a log line: the database's without the values its
        message may quote."""
        if isinstance(self.__cause__, asyncpg.PostgresError):
            return describe_error(self.__cause__)
        return repr(self.__cause__)


async def _invoices_of(
    connection: Connection, invoice_ids: list[str], *, holding_their_orders: bool = False
) -> dict[str, tuple[Invoice, str | None]]:
    """Each stored invoice and, for a credit note, its reference invoice's number; with
    `holding_their_orders`, under the worker's lock on their orders: nothing that changes
    them (a void) commits before the transaction ends."""
    order_of = await invoices.orders_of_invoices(connection, invoice_ids)
    order_ids = [order_of[invoice_id] for invoice_id in invoice_ids]
    if holding_their_orders:
        await orders.lock_orders(connection, order_ids)
    of_orders = {i.invoice_id: i for i in await invoices.load_invoices(connection, order_ids)}
    loaded: dict[str, tuple[Invoice, str | None]] = {}
    for invoice_id in invoice_ids:
        invoice = of_orders[invoice_id]
        reference = of_orders.get(invoice.reference_invoice_id or "")
        loaded[invoice_id] = (invoice, None if reference is None else reference.number)
    return loaded
