"""`invoicer dead-letters list | replay`: what is on the dead-letter topic and why, and
sending chosen records back to their original topic once the cause is fixed.

A dead letter is the original record, unchanged, with headers that say why
(`x-dead-letter-reason`, `x-dead-letter-error`) and where it came from (`x-original-topic`,
`x-original-partition`, `x-original-offset`). A replay sends the original key, value and
headers to the original topic (keyed as before, so to the same partition when the partition
count is unchanged), adding `x-replayed-from` with the dead letter's place. Only to a topic
the worker consumes: whoever can write to the dead-letter topic must not get records
published elsewhere (an `invoice-closed`, say) with the worker's credentials. The worker
processes it afresh: its inbox remembers a dead-lettered event as not applied. A record that
fails again is dead-lettered again, with `x-replayed-from` kept, so it can be told apart.

Neither command shows record values: they may hold personal data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from worker.kafka_client import client_options
from worker.messages.dead_letter import (
    ERROR,
    HEADERS,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_TOPIC,
    REASON,
)
from worker.relay import create_producer
from worker.settings import Settings
from worker.store.outbox import Headers

REPLAYED_FROM = "x-replayed-from"
_ADDED_HEADERS = frozenset(HEADERS)

log = structlog.get_logger(__name__)

READ_TIMEOUT_SECONDS = 120.0
FETCH_TIMEOUT_MS = 500
DETAILS_WIDTH = 80


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record on the dead-letter topic."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime | None
    key: bytes | None
    value: bytes | None
    headers: Headers

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name and value is not None]
        return values[-1].decode("utf-8", "replace") if values else None

    @property
    def place(self) -> str:
        """Where it is on the dead-letter topic: `partition:offset`."""
        return f"{self.partition}:{self.offset}"

    @property
    def reason(self) -> str | None:
        return self.header(REASON)

    @property
    def error(self) -> dict[str, Any]:
        """`{"errors": {field: [message]}, "details": "..."}` (empty when unreadable)."""
        raw = self.header(ERROR)
        try:
            parsed = json.loads(raw) if raw is not None else {}
        except (ValueError, RecursionError):
            return {}
        return parsed if isinstance(parsed, dict) else {}

    @property
    def original_topic(self) -> str | None:
        return self.header(ORIGINAL_TOPIC)

    @property
    def original_place(self) -> str:
        return (
            f"{self.original_topic or '?'}/{self.header(ORIGINAL_PARTITION) or '?'}"
            f"/{self.header(ORIGINAL_OFFSET) or '?'}"
        )

    def _envelope(self) -> dict[str, Any]:
        try:
            event = json.loads(self.value) if self.value is not None else None
        except (ValueError, RecursionError):
            return {}
        return event if isinstance(event, dict) else {}

    @property
    def event_id(self) -> str | None:
        event_id = self._envelope().get("id")
        return event_id if isinstance(event_id, str) else None

    @property
    def event_type(self) -> str | None:
        event_type = self._envelope().get("type")
        return event_type if isinstance(event_type, str) else None

    def original_headers(self) -> list[tuple[str, bytes | None]]:
        """The headers the record had before it was dead-lettered."""
        return [
            (name, value)
            for name, value in self.headers
            if name not in _ADDED_HEADERS and name != REPLAYED_FROM
        ]

    def summary(self) -> dict[str, Any]:
        """What `list --json` prints: everything but the value."""
        return {
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": None if self.timestamp is None else self.timestamp.isoformat(),
            "reason": self.reason,
            "error": self.error,
            "originalTopic": self.original_topic,
            "originalPartition": self.header(ORIGINAL_PARTITION),
            "originalOffset": self.header(ORIGINAL_OFFSET),
            "key": None if self.key is None else self.key.decode("utf-8", "replace"),
            "eventId": self.event_id,
            "eventType": self.event_type,
            "replayedFrom": self.header(REPLAYED_FROM),
        }


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a command is about. Each kind of criterion given must match (one
    of its values is enough); none given selects all of them."""

    places: frozenset[tuple[int, int]] = frozenset()
    reasons: frozenset[str] = frozenset()
    event_ids: frozenset[str] = frozenset()

    @property
    def is_everything(self) -> bool:
        return not (self.places or self.reasons or self.event_ids)

    def matches(self, letter: DeadLetter) -> bool:
        return (
            (not self.places or (letter.partition, letter.offset) in self.places)
            and (not self.reasons or letter.reason in self.reasons)
            and (not self.event_ids or letter.event_id in self.event_ids)
        )


async def read_dead_letters(settings: Settings) -> list[DeadLetter]:
    """Everything on the dead-letter topic, from its beginning to its end as of now."""
    topic = settings.topics.dead_letter
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    try:
        await consumer.start()
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        letters: list[DeadLetter] = []
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            # The end is the consumer's own highwater: the broker's offset answers can lag.
            while not await _at_end(consumer, partitions):
                batch = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS)
                letters.extend(
                    DeadLetter(
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        timestamp=None
                        if record.timestamp is None or record.timestamp < 0
                        else datetime.fromtimestamp(record.timestamp / 1000, UTC),
                        key=record.key,
                        value=record.value,
                        headers=tuple(record.headers),
                    )
                    for records in batch.values()
                    for record in records
                )
        return sorted(letters, key=lambda letter: (letter.partition, letter.offset))
    finally:
        await consumer.stop()


async def _at_end(consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]) -> bool:
    for tp in partitions:
        highwater = consumer.highwater(tp)
        if highwater is None or await consumer.position(tp) < highwater:
            return False
    return True


def not_replayable(letter: DeadLetter, settings: Settings) -> str | None:
    """Why a letter cannot be sent back, or None: it goes back only to an input topic."""
    inputs = (settings.topics.orders_completed, settings.topics.invoice_commands)
    if not letter.original_topic:
        return f"it has no {ORIGINAL_TOPIC} header"
    if letter.original_topic not in inputs:
        return (
            f"{ORIGINAL_TOPIC} {letter.original_topic!r} is not a topic the worker consumes"
            f" ({', '.join(inputs)})"
        )
    return None


async def replay(
    settings: Settings, letters: Iterable[DeadLetter], *, dry_run: bool
) -> list[DeadLetter]:
    """Sends the letters back to their original topics (acks=all); with `dry_run`, nothing
    is sent. Returns those sent (or that would be); the letters `not_replayable` are left
    out, each with a warning logged."""
    chosen: list[DeadLetter] = []
    for letter in letters:
        if (problem := not_replayable(letter, settings)) is None:
            chosen.append(letter)
        else:
            log.warning(
                "dead letter not replayed",
                place=letter.place,
                original_topic=letter.original_topic,
                problem=problem,
            )
    if dry_run or not chosen:
        return chosen
    # The relay's producer: a dead letter may be as large as the relay let it be.
    producer = create_producer(settings)
    try:
        await producer.start()
        deliveries = [
            await producer.send(
                letter.original_topic,
                value=letter.value,
                key=letter.key,
                headers=[
                    *letter.original_headers(),
                    (REPLAYED_FROM, f"{letter.topic}/{letter.place}".encode()),
                ],
            )
            for letter in chosen
        ]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    return chosen


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`invoicer dead-letters …` on the main parser."""
    parser = commands.add_parser(
        "dead-letters", help="list the dead-letter topic, or send records back after a fix"
    )
    actions = parser.add_subparsers(dest="dead_letters_command", required=True)
    listing = actions.add_parser("list", help="what is on the dead-letter topic, and why")
    _add_selection(listing)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    replaying = actions.add_parser(
        "replay", help="send chosen dead letters back to their original topic"
    )
    _add_selection(replaying)
    replaying.add_argument(
        "--all", action="store_true", help="every dead letter (when no other choice is given)"
    )
    replaying.add_argument(
        "--dry-run", action="store_true", help="show what would be sent; send nothing"
    )


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at",
        action="append",
        default=[],
        metavar="PARTITION:OFFSET",
        type=_place,
        help="a dead letter's place on the dead-letter topic (repeatable)",
    )
    parser.add_argument(
        "--reason", action="append", default=[], help="x-dead-letter-reason (repeatable)"
    )
    parser.add_argument(
        "--event-id", action="append", default=[], help="the CloudEvents id (repeatable)"
    )


def _place(text: str) -> tuple[int, int]:
    partition, separator, offset = text.partition(":")
    try:
        if not separator:
            raise ValueError
        return int(partition), int(offset)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not PARTITION:OFFSET") from None


def selection_from(args: argparse.Namespace) -> Selection:
    return Selection(
        places=frozenset(args.at),
        reasons=frozenset(args.reason),
        event_ids=frozenset(args.event_id),
    )


async def run_command(
    args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout
) -> int:
    """Runs `invoicer dead-letters list | replay`; the exit status."""
    selection = selection_from(args)
    if args.dead_letters_command == "replay" and selection.is_everything and not args.all:
        print(
            "replay: choose dead letters with --at, --reason or --event-id, or pass --all",
            file=sys.stderr,
        )
        return 2
    try:
        everything = await read_dead_letters(settings)
        letters = [letter for letter in everything if selection.matches(letter)]
        if args.dead_letters_command == "list":
            print_list(letters, out, as_json=args.json)
            return 0
        sent = await replay(settings, letters, dry_run=args.dry_run)
    except (KafkaError, TimeoutError) as error:
        print(f"{args.dead_letters_command}: {error!r}", file=sys.stderr)
        return 1
    print_replay(letters, sent, out, settings, dry_run=args.dry_run)
    return 0


def print_list(letters: Sequence[DeadLetter], out: TextIO, *, as_json: bool) -> None:
    if as_json:
        for letter in letters:
            print(json.dumps(letter.summary(), ensure_ascii=False), file=out)
        return
    row = "{place:<12} {time:<20} {reason:<17} {original:<40} {event:<36}  {details}"
    print(
        row.format(
            place="AT",
            time="TIME (UTC)",
            reason="REASON",
            original="ORIGINAL (TOPIC/PARTITION/OFFSET)",
            event="EVENT ID",
            details="DETAILS",
        ),
        file=out,
    )
    for letter in letters:
        details = str(letter.error.get("details", ""))
        print(
            row.format(
                place=letter.place,
                time="" if letter.timestamp is None else f"{letter.timestamp:%Y-%m-%d %H:%M:%S}",
                reason=letter.reason or "?",
                original=letter.original_place,
                event=letter.event_id or "-",
                details=details[:DETAILS_WIDTH] + ("…" if len(details) > DETAILS_WIDTH else ""),
            ),
            file=out,
        )
    counts: dict[str, int] = {}
    for letter in letters:
        counts[letter.reason or "?"] = counts.get(letter.reason or "?", 0) + 1
    by_reason = ", ".join(f"{reason} {count}" for reason, count in sorted(counts.items()))
    print(f"{len(letters)} dead letter(s)" + (f": {by_reason}" if by_reason else ""), file=out)


def print_replay(
    letters: Sequence[DeadLetter],
    sent: Sequence[DeadLetter],
    out: TextIO,
    settings: Settings,
    *,
    dry_run: bool,
) -> None:
    verb = "would send" if dry_run else "sent"
    for letter in sent:
        print(
            f"{verb} {letter.place} ({letter.reason}, event {letter.event_id or '-'})"
            f" to {letter.original_topic}",
            file=out,
        )
    for letter in letters:
        if (problem := not_replayable(letter, settings)) is not None:
            print(f"skipped {letter.place}: {problem}", file=out)
    if dry_run:
        print(f"dry run: {len(sent)} record(s) would be sent back; nothing was sent", file=out)
    else:
        print(f"{len(sent)} record(s) sent back", file=out)
