"""`invoicer migrate | run | api | dev [--demo] | schemas | dead-letters | outbox | dunning run |
documents retry`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import uuid
from datetime import date
from importlib.metadata import version
from pathlib import Path

import structlog
import uvloop
from pydantic import SecretStr, ValidationError

from worker import dead_letters, dunning_scan, parked
from worker.arguments import at_least_one
from worker.demo.story import Story
from worker.domain.dunning import Notice
from worker.domain.lifecycle import InvoiceOverdue
from worker.logs import Lines, configure_logging
from worker.processes import run_processes
from worker.running import Worker, install_signal_handlers, tune_garbage_collection
from worker.settings import SellerSettings, Settings
from worker.startup import EXIT_CODE, StartupError, check_database, invalid_settings
from worker.store import documents
from worker.store.migrate import SchemaMismatch, migrate
from worker.store.pool import create_pool
from worker.topics import ensure_topics
from worker.tracing import configure_tracing

log = structlog.get_logger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="invoicer", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('invoicer')}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the database schema up to date")
    run = commands.add_parser(
        "run", help="run the worker (configuration from INVOICER_* variables)"
    )
    run.add_argument(
        "--processes",
        type=at_least_one,
        default=1,
        metavar="N",
        help="run N workers, each in a process of its own and a member of the consumer group;"
        " worker i serves HTTP on INVOICER_HTTP_PORT + i (default: 1)",
    )
    commands.add_parser("api", help="serve the read API (INVOICER_API_PORT, INVOICER_API_TOKENS)")
    dev = commands.add_parser(
        "dev", help="run the worker on an embedded PostgreSQL and Kafka-protocol broker"
    )
    dev.add_argument(
        "--demo", action="store_true", help="publish the sample orders and print their invoices"
    )
    schemas = commands.add_parser("schemas", help="write the JSON Schemas and AsyncAPI document")
    schemas.add_argument(
        "--output",
        type=Path,
        default=Path("schemas"),
        help="the directory to write them to (default: ./schemas)",
    )
    dead_letters.add_dead_letters_command(commands)
    parked.add_outbox_command(commands)
    _add_dunning_command(commands)
    _add_documents_command(commands)
    args = parser.parse_args(argv)

    if args.command == "schemas":
        from worker.schemas import write_schemas

        for path in write_schemas(args.output):
            print(path)
        return 0
    try:
        return _command(args)
    except (StartupError, SchemaMismatch) as error:
        Lines(sys.stderr, "standard error").write(f"invoicer: {error}\n")
        return EXIT_CODE


def _command(args: argparse.Namespace) -> int:
    try:
        settings = Settings()
    except ValidationError as error:
        raise invalid_settings(error) from None
    quiet_demo = (
        args.command == "dev" and args.demo and "log_level" not in settings.model_fields_set
    )
    # The demo's story is on standard output; only warnings go beside it, unless asked.
    configure_logging(
        "WARNING" if quiet_demo else settings.log_level,
        json=None if settings.log_format == "auto" else settings.log_format == "json",
    )
    if args.command == "run" and args.processes > 1:
        return run_processes(args.processes, settings.http_port)
    if args.command in ("run", "api", "dev"):
        configure_tracing()
    if args.command == "dead-letters":
        return uvloop.run(dead_letters.run_dead_letters_command(args, settings))
    if args.command == "outbox":
        return uvloop.run(parked.run_outbox_command(args, settings))
    if args.command == "dunning":
        return _dunning(args, settings)
    if args.command == "documents":
        return uvloop.run(_documents_retry(settings, args.invoice))
    if args.command == "migrate":
        applied = uvloop.run(_migrate(settings))
        print(f"{len(applied)} migration(s) applied" + "".join(f"\n  {name}" for name in applied))
        return 0
    if args.command == "run":
        uvloop.run(_run(settings))
        return 0
    if args.command == "api":
        from worker.api.server import serve

        uvloop.run(serve(settings))
        return 0
    return _dev(settings, demo=args.demo)


def _add_dunning_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scans = commands.add_parser(
        "dunning", help="overdue invoices and payment reminders"
    ).add_subparsers(dest="dunning_command", required=True)
    run = scans.add_parser(
        "run", help="scan once: announce overdue invoices and request the reminders due"
    )
    run.add_argument(
        "--as-of",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="scan as if today were this day (default: today in INVOICER_TIMEZONE)",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send and note nothing"
    )
    run.add_argument(
        "--allow-future",
        action="store_true",
        help="scan as of a day after today for real, a demonstration: what it emits goes out now",
    )


def _dunning(args: argparse.Namespace, settings: Settings) -> int:
    """A scan as of a day after today would send now what is due only then: it is refused
    unless dry or allowed."""
    today = dunning_scan.today(settings)
    if args.as_of is not None and args.as_of > today and not (args.dry_run or args.allow_future):
        Lines(sys.stderr, "standard error").write(
            f"dunning run: --as-of {args.as_of} is after today ({today}) and would send its"
            " notices now; add --dry-run to see them, or --allow-future to send them\n"
        )
        return EXIT_CODE
    uvloop.run(_dunning_run(settings, args.as_of or today, dry_run=args.dry_run))
    return 0


async def _dunning_run(settings: Settings, as_of: date, *, dry_run: bool) -> None:
    """One scan (waiting for a running one to finish), and a line per notice."""
    await check_database(settings.database_url, wait_if_down=False, migrations=True)
    pool = await create_pool(settings.database_url, max_size=1)
    try:
        report = await dunning_scan.scan(pool, settings, as_of, dry_run=dry_run, wait=True)
    finally:
        await pool.close()
    output = Lines(sys.stdout, "standard output")
    verb = "would send" if dry_run else "sent"
    output.write(f"dunning as of {report.as_of}: {verb} {len(report.notices)} notice(s)\n")
    for notice in report.notices:
        output.write(f"{_notice_line(notice)}\n")


def _notice_line(notice: Notice) -> str:
    fact = notice.fact
    if isinstance(fact, InvoiceOverdue):
        invoice = fact.invoice
        return f"invoice-overdue {invoice.number} {invoice.invoice_id} {fact.days_overdue} days"
    what = "reminder passed over" if fact is None else f"payment-reminder by {fact.channel}"
    return f"{what} level {notice.level} invoice {notice.invoice_id}"


def _add_documents_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = commands.add_parser(
        "documents", help="the documents (PDF, UBL) of closed invoices"
    ).add_subparsers(dest="documents_command", required=True)
    retry = actions.add_parser(
        "retry",
        help="render documents again: the running workers render them and announce them"
        " with invoice-documents-ready",
    )
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--invoice", type=uuid.UUID, metavar="ID", help="the invoice whose documents to render"
    )
    which.add_argument(
        "--failed",
        action="store_const",
        const=None,
        dest="invoice",
        help="every invoice whose documents failed for good (invoice-documents-failed)",
    )


async def _documents_retry(settings: Settings, invoice: uuid.UUID | None) -> int:
    """Makes the jobs due now, and one line: which invoices' documents are rendered again.
    Exit code 1 when the invoice named has none to render (unknown, or its documents are
    stored)."""
    await check_database(settings.database_url, wait_if_down=False, migrations=True)
    pool = await create_pool(settings.database_url, max_size=1)
    try:
        again = await documents.render_again(pool, None if invoice is None else str(invoice))
    finally:
        await pool.close()
    if invoice is not None and not again:
        Lines(sys.stderr, "standard error").write(
            f"invoicer: invoice {invoice} has no documents to render: it is unknown, or its"
            " documents are stored\n"
        )
        return 1
    numbers = ", ".join(number for _, number in again)
    Lines(sys.stdout, "standard output").write(
        f"documents to render again: {len(again)} invoice(s)"
        + (f": {numbers}" if numbers else "")
        + "\n"
    )
    return 0


async def _migrate(settings: Settings) -> list[str]:
    await check_database(settings.database_url, wait_if_down=False)
    return await migrate(
        settings.database_url, lock_timeout_ms=settings.database_migration_lock_timeout_ms
    )


async def _run(settings: Settings) -> None:
    worker = Worker(settings)
    install_signal_handlers(worker)
    await check_database(settings.database_url, wait_if_down=True, migrations=True)
    tune_garbage_collection()
    await worker.run()


def _dev(settings: Settings, *, demo: bool) -> int:
    from worker.local_services import LocalKafka, LocalPostgres, free_port

    messages = Lines(sys.stderr, "standard error")
    messages.write("starting an embedded PostgreSQL and a Tansu broker ...\n")
    with LocalPostgres() as postgres, LocalKafka() as kafka:
        token = secrets.token_urlsafe(32)
        dev_settings = settings.model_copy(
            update={
                "database_url": postgres.url,
                "kafka_bootstrap_servers": kafka.bootstrap_servers,
                "http_port": free_port(),
                "api_port": free_port(),
                "api_tokens": SecretStr(token),
                "seller": settings.seller if settings.seller.configured else _sample_seller(),
            }
        )
        messages.write(
            f"PostgreSQL at {postgres.url}\nbroker at {kafka.bootstrap_servers}\n"
            f"metrics at http://127.0.0.1:{dev_settings.http_port}/metrics\n"
            f"read API at {_api_url(dev_settings)} with Authorization: Bearer {token}\n"
            "Ctrl-C stops everything.\n"
        )
        uvloop.run(_dev_main(dev_settings, demo=demo))
    return 0


async def _dev_main(settings: Settings, *, demo: bool) -> None:
    from worker.api.server import start_api
    from worker.store.pool import create_pool

    await ensure_topics(settings)
    await migrate(settings.database_url)
    worker = Worker(settings)
    install_signal_handlers(worker)
    worker_task = asyncio.create_task(worker.run())
    api_pool = await create_pool(settings.database_url)
    api, _ = await start_api(settings, api_pool, settings.api_port)
    story = None
    if demo:
        output = Lines(sys.stdout, "standard output")
        story = asyncio.create_task(Story(settings, output, _api_url(settings)).tell())
        story.add_done_callback(_report_story_failure)
    try:
        await asyncio.shield(worker_task)
    finally:
        worker.request_stop()
        await worker_task
        await api.cleanup()
        await api_pool.close()
        if story is not None:
            story.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await story


def _api_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.api_port}"


def _sample_seller() -> SellerSettings:
    """The seller of `invoicer dev`'s invoices unless INVOICER_SELLER_NAME names one: so
    that their documents are made and served."""
    return SellerSettings(
        name="Example Supplies B.V.",
        vat_id="NL123456789B01",
        address_line1="Keizersgracht 1",
        city="Amsterdam",
        postal_code="1015 CC",
        country="NL",
        email="billing@example.com",
        iban="NL91ABNA0417164300",
        bic="ABNANL2A",
    )


def _report_story_failure(story: asyncio.Task[None]) -> None:
    if not story.cancelled() and story.exception() is not None:
        log.error("the demo stopped", error=repr(story.exception()))


if __name__ == "__main__":
    sys.exit(main())
