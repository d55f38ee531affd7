"""`invoicer migrate | run | dev [--demo] | schemas | dead-letters list|replay | dunning run`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from datetime import date
from importlib import resources

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from worker import dead_letters, dunning
from worker.app import Worker, install_signal_handlers
from worker.domain.dunning import Notice
from worker.domain.lifecycle import InvoiceOverdue
from worker.logs import Lines, configure_logging
from worker.settings import Settings
from worker.startup import EXIT_CODE, StartupError, check_database, invalid_settings
from worker.store.migrate import migrate
from worker.store.pool import create_pool
from worker.topics import ensure_topics

DEMO_PACKAGE = "worker.demo"
DEMO_ORDER_PREFIX = "order-completed"
TABLE_ROW = "{number:<17} {customer:<24} {currency:<4} {net:>10} {tax:>9} {gross:>10}  {due}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="invoicer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser("run", help="run the worker (configuration from INVOICER_* variables)")
    dev = commands.add_parser(
        "dev", help="run the worker on an embedded PostgreSQL and Kafka-protocol broker"
    )
    dev.add_argument(
        "--demo", action="store_true", help="publish the sample orders and print their invoices"
    )
    commands.add_parser("schemas", help="write the JSON Schemas and AsyncAPI document")
    dead_letters.add_command(commands)
    _add_dunning_command(commands)
    args = parser.parse_args(argv)

    if args.command == "schemas":
        from worker.schemas import SCHEMA_DIRECTORY, write_schemas

        for path in write_schemas(SCHEMA_DIRECTORY):
            print(path)
        return 0
    try:
        return _command(args)
    except StartupError as error:
        Lines(sys.stderr, "standard error").write(f"invoicer: {error}\n")
        return EXIT_CODE


def _command(args: argparse.Namespace) -> int:
    try:
        settings = Settings()
    except ValidationError as error:
        raise invalid_settings(error) from None
    configure_logging(settings.log_level)
    if args.command == "dead-letters":
        return asyncio.run(dead_letters.run_command(args, settings))
    if args.command == "dunning":
        asyncio.run(_dunning_run(settings, args.as_of, dry_run=args.dry_run))
        return 0
    if args.command == "migrate":
        applied = asyncio.run(_migrate(settings))
        print(f"{len(applied)} migration(s) applied" + "".join(f"\n  {name}" for name in applied))
        return 0
    if args.command == "run":
        asyncio.run(_run(settings))
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


async def _dunning_run(settings: Settings, as_of: date | None, *, dry_run: bool) -> None:
    """One scan (waiting for a running one to finish), and a line per notice."""
    await check_database(settings.database_url, wait_if_down=False)
    pool = await create_pool(settings.database_url, max_size=1)
    try:
        report = await dunning.scan(
            pool, settings, as_of or dunning.today(settings), dry_run=dry_run, wait=True
        )
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


async def _migrate(settings: Settings) -> list[str]:
    await check_database(settings.database_url, wait_if_down=False)
    return await migrate(settings.database_url)


async def _run(settings: Settings) -> None:
    worker = Worker(settings)
    install_signal_handlers(worker)
    await check_database(settings.database_url, wait_if_down=True)
    await worker.run()


def _dev(settings: Settings, *, demo: bool) -> int:
    from worker.local_services import LocalKafka, LocalPostgres, free_port

    messages = Lines(sys.stderr, "standard error")
    messages.write("starting an embedded PostgreSQL and a Tansu broker ...\n")
    with LocalPostgres() as postgres, LocalKafka() as kafka:
        dev_settings = settings.model_copy(
            update={
                "database_url": postgres.url,
                "kafka_bootstrap_servers": kafka.bootstrap_servers,
                "http_port": free_port(),
            }
        )
        messages.write(
            f"PostgreSQL at {postgres.url}\nbroker at {kafka.bootstrap_servers}\n"
            f"metrics at http://127.0.0.1:{dev_settings.http_port}/metrics\n"
            "Ctrl-C stops everything.\n"
        )
        asyncio.run(_dev_main(dev_settings, demo=demo))
    return 0


async def _dev_main(settings: Settings, *, demo: bool) -> None:
    await ensure_topics(settings)
    await migrate(settings.database_url)
    worker = Worker(settings)
    install_signal_handlers(worker)
    worker_task = asyncio.create_task(worker.run())
    watch = asyncio.create_task(_print_invoices(settings)) if demo else None
    try:
        if demo:
            await _publish_demo_orders(settings)
        await asyncio.shield(worker_task)
    finally:
        worker.request_stop()
        await worker_task
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch


async def _publish_demo_orders(settings: Settings) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for sample in sorted(resources.files(DEMO_PACKAGE).iterdir(), key=lambda f: f.name):
            if not sample.name.startswith(DEMO_ORDER_PREFIX):
                continue
            event = json.loads(sample.read_text("utf-8"))
            await producer.send_and_wait(
                settings.topics.orders_completed,
                value=json.dumps(event).encode(),
                key=event["data"]["orderId"].encode(),
            )
    finally:
        await producer.stop()


async def _print_invoices(settings: Settings) -> None:
    consumer = AIOKafkaConsumer(
        settings.topics.invoices_closed,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    output = Lines(sys.stdout, "standard output")
    header = TABLE_ROW.format(
        number="number",
        customer="customer",
        currency="cur",
        net="net",
        tax="tax",
        gross="gross",
        due="due date",
    )
    output.write(f"\n{header}\n{'-' * len(header)}\n")
    try:
        async for message in consumer:
            invoice = json.loads(message.value)["data"]
            totals = invoice["totals"]
            row = TABLE_ROW.format(
                number=invoice["invoiceNumber"],
                customer=invoice["customer"]["name"][:24],
                currency=invoice["currency"],
                net=totals["netAmount"],
                tax=totals["taxAmount"],
                gross=totals["grossAmount"],
                due=invoice["dueDate"],
            )
            output.write(f"{row}\n")
    finally:
        await consumer.stop()


if __name__ == "__main__":
    sys.exit(main())
