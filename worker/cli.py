"""`invoicer migrate | run | dev [--demo] | schemas | dead-letters list|replay`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from importlib.metadata import version
from pathlib import Path

import structlog
from pydantic import ValidationError

from worker import dead_letters
from worker.app import Worker, install_signal_handlers
from worker.demo.story import Story
from worker.logs import Lines, configure_logging
from worker.settings import Settings
from worker.startup import EXIT_CODE, StartupError, check_database, invalid_settings
from worker.store.migrate import SchemaMismatch, migrate
from worker.topics import ensure_topics
from worker.tracing import configure_tracing

log = structlog.get_logger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="invoicer", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('invoicer')}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser("run", help="run the worker (configuration from INVOICER_* variables)")
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
    dead_letters.add_command(commands)
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
    configure_logging("WARNING" if quiet_demo else settings.log_level)
    if args.command in ("run", "dev"):
        configure_tracing()
    if args.command == "dead-letters":
        return asyncio.run(dead_letters.run_command(args, settings))
    if args.command == "migrate":
        applied = asyncio.run(_migrate(settings))
        print(f"{len(applied)} migration(s) applied" + "".join(f"\n  {name}" for name in applied))
        return 0
    if args.command == "run":
        asyncio.run(_run(settings))
        return 0
    return _dev(settings, demo=args.demo)


async def _migrate(settings: Settings) -> list[str]:
    await check_database(settings.database_url, wait_if_down=False)
    return await migrate(
        settings.database_url, lock_timeout_ms=settings.database_migration_lock_timeout_ms
    )


async def _run(settings: Settings) -> None:
    worker = Worker(settings)
    install_signal_handlers(worker)
    await check_database(settings.database_url, wait_if_down=True, migrations=True)
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
    story = None
    if demo:
        story = asyncio.create_task(Story(settings, Lines(sys.stdout, "standard output")).tell())
        story.add_done_callback(_report_story_failure)
    try:
        await asyncio.shield(worker_task)
    finally:
        worker.request_stop()
        await worker_task
        if story is not None:
            story.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await story


def _report_story_failure(story: asyncio.Task[None]) -> None:
    if not story.cancelled() and story.exception() is not None:
        log.error("the demo stopped", error=repr(story.exception()))


if __name__ == "__main__":
    sys.exit(main())
