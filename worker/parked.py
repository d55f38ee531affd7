"""`invoicer outbox parked | unpark`: the messages the broker refused for good (too large,
their topic unknown or not allowed), which the relay moved to `outbox_parked` so that what
follows them is published, and moving them back to the outbox once the cause is fixed.

Neither command shows a message's key or value: a dead letter's may hold personal data.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from worker.arguments import DEFAULT_RECORD_LIMIT, at_least_one
from worker.printable import printable
from worker.settings import Settings
from worker.startup import check_database
from worker.store.outbox import parked, unpark
from worker.store.pool import connect


def add_outbox_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`invoicer outbox …` on the main parser."""
    actions = commands.add_parser(
        "outbox", help="messages the broker refused for good, and moving them back"
    ).add_subparsers(dest="outbox_command", required=True)
    listing = actions.add_parser("parked", help="the parked messages and the broker's error")
    listing.add_argument(
        "--limit",
        type=at_least_one,
        default=DEFAULT_RECORD_LIMIT,
        metavar="N",
        help=f"the first N, oldest first (default: {DEFAULT_RECORD_LIMIT})",
    )
    moving = actions.add_parser(
        "unpark", help="move parked messages back to the outbox: the relay publishes them"
    )
    moving.add_argument(
        "--id",
        action="append",
        default=[],
        type=int,
        dest="ids",
        metavar="ID",
        help="a parked message's id, as `outbox parked` shows it (repeatable)",
    )
    moving.add_argument("--all", action="store_true", help="every parked message")


async def run_outbox_command(
    args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout
) -> int:
    """Runs `invoicer outbox parked | unpark`; the exit status: 1 when an id asked for was
    not parked. A database that cannot be reached, or that this release has not migrated, is
    a StartupError (one line, exit 2)."""
    if args.outbox_command == "unpark" and not (args.ids or args.all):
        print("unpark: choose messages with --id, or pass --all", file=sys.stderr)
        return 2
    await check_database(settings.database_url, wait_if_down=False, migrations=True)
    connection = await connect(settings.database_url, settings.database_timeouts)
    try:
        if args.outbox_command == "parked":
            messages, total = await parked(connection, args.limit)
            row = "{id:>12}  {parked_at:<20} {topic:<40} {size:>10}  {error}"
            print(
                row.format(
                    id="ID", parked_at="PARKED AT (UTC)", topic="TOPIC", size="BYTES", error="ERROR"
                ),
                file=out,
            )
            for message in messages:
                print(
                    row.format(
                        id=message.id,
                        parked_at=f"{message.parked_at:%Y-%m-%d %H:%M:%S}",
                        topic=printable(message.topic),
                        size=message.size,
                        error=printable(message.error),
                    ),
                    file=out,
                )
            shown = "" if len(messages) == total else f" (the first {len(messages)} shown)"
            print(f"{total} parked message(s){shown}", file=out)
            return 0
        moved = await unpark(connection, None if args.all else args.ids)
    finally:
        await connection.close()
    if moved:
        print(f"moved back to the outbox: {', '.join(map(str, moved))}", file=out)
    print(f"{len(moved)} message(s) moved back; the relay publishes them", file=out)
    missing = sorted(set(args.ids) - set(moved))
    if missing:
        print(f"unpark: not parked: {', '.join(map(str, missing))}", file=sys.stderr)
        return 1
    return 0
