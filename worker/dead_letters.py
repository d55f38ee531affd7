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

Both read the topic as a stream (`--since`, `--limit`), in bounded memory whatever it
holds. Neither shows record values: they may hold personal data. What they show of a
record (its key, headers, the event id and error texts) is `printable`: no byte of a
record can act on the operator's terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from worker.arguments import DEFAULT_RECORD_LIMIT, at_least_one, moment
from worker.kafka_client import client_options
from worker.messages.dead_letter import (
    ERROR,
    HEADERS,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_TOPIC,
    REASON,
)
from worker.printable import printable, printable_bytes, printable_json
from worker.relay import create_producer
from worker.rows import Headers
from worker.settings import Settings
from worker.startup import StartupError

REPLAYED_FROM = "x-replayed-from"
_ADDED_HEADERS = frozenset(HEADERS)

log = structlog.get_logger(__name__)

READ_TIMEOUT_SECONDS = 120.0
"""The longest the broker may give nothing while a command reads."""
FETCH_TIMEOUT_MS = 500
FETCH_BYTES = 1024 * 1024
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
        """The header's last value; bytes that are not UTF-8 kept as `surrogateescape`
        does, so that `printable` shows them."""
        values = [value for key, value in self.headers if key == name and value is not None]
        return values[-1].decode("utf-8", "surrogateescape") if values else None

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
        """What `list --json` prints: everything but the value (the headers as they are,
        `[name, value]` each, too), each text `printable`."""
        texts = {
            "reason": self.reason,
            "originalTopic": self.original_topic,
            "originalPartition": self.header(ORIGINAL_PARTITION),
            "originalOffset": self.header(ORIGINAL_OFFSET),
            "key": None if self.key is None else self.key.decode("utf-8", "surrogateescape"),
            "eventId": self.event_id,
            "eventType": self.event_type,
            "replayedFrom": self.header(REPLAYED_FROM),
        }
        return {
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": None if self.timestamp is None else self.timestamp.isoformat(),
            "error": printable_json(self.error),
            **{name: None if text is None else printable(text) for name, text in texts.items()},
            "headers": [
                [printable(name), None if value is None else printable_bytes(value)]
                for name, value in self.headers
            ],
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


async def read_dead_letters(
    settings: Settings, since: datetime | None = None
) -> AsyncGenerator[DeadLetter]:
    """The dead-letter topic as a stream: partition by partition, in offset order, from
    its beginning (or the first record at or after `since`) to its end as of reading. One
    partition is read at a time, so what is held is one fetch of at most FETCH_BYTES (or
    one larger record), whatever the topic holds. A TimeoutError when the broker gives
    nothing for READ_TIMEOUT_SECONDS."""
    topic = settings.topics.dead_letter
    loop = asyncio.get_running_loop()
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        enable_auto_commit=False,
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_bytes=FETCH_BYTES,
    )
    try:
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            await consumer.start()
            await consumer.topics()
        for partition in sorted(consumer.partitions_for_topic(topic) or ()):
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            if not await _seek(consumer, tp, since):
                continue
            quiet_since = loop.time()
            while True:
                async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                    # The end is the consumer's own highwater: the broker's offset answers
                    # can lag.
                    if await _at_end(consumer, tp):
                        break
                    records = (await consumer.getmany(tp, timeout_ms=FETCH_TIMEOUT_MS)).get(tp, [])
                if records:
                    quiet_since = loop.time()
                elif loop.time() - quiet_since > READ_TIMEOUT_SECONDS:
                    raise TimeoutError(f"nothing read from {tp.topic}/{tp.partition}")
                for record in records:
                    letter = _dead_letter(record)
                    if since is None or (
                        letter.timestamp is not None and letter.timestamp >= since
                    ):
                        yield letter
    finally:
        await consumer.stop()


def _dead_letter(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
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


async def _seek(consumer: AIOKafkaConsumer, tp: TopicPartition, since: datetime | None) -> bool:
    """Places the consumer at the partition's first record at or after `since`; False when
    it has none. A broker that answers with an earlier offset costs reading, not records:
    what is read is still chosen by its time."""
    if since is None:
        await consumer.seek_to_beginning(tp)
        return True
    async with asyncio.timeout(READ_TIMEOUT_SECONDS):
        found = (await consumer.offsets_for_times({tp: int(since.timestamp() * 1000)}))[tp]
    if found is None:
        return False
    consumer.seek(tp, found.offset)
    return True


async def _at_end(consumer: AIOKafkaConsumer, tp: TopicPartition) -> bool:
    highwater = consumer.highwater(tp)
    return highwater is not None and await consumer.position(tp) >= highwater


class DeadLetterPage:
    """The first `limit` dead letters a selection matches, as they are read; `more` tells,
    once they are, whether another one matched after them."""

    def __init__(self, letters: AsyncIterator[DeadLetter], selection: Selection, limit: int):
        self._letters = letters
        self._selection = selection
        self.limit = limit
        self.more = False

    async def __aiter__(self) -> AsyncIterator[DeadLetter]:
        taken = 0
        async for letter in self._letters:
            if not self._selection.matches(letter):
                continue
            if taken == self.limit:
                self.more = True
                return
            taken += 1
            yield letter


def not_replayable(letter: DeadLetter, settings: Settings) -> str | None:
    """Why a letter cannot be sent back, or None: it goes back only to an input topic."""
    inputs = settings.topics.inputs
    if not letter.original_topic:
        return f"it has no {ORIGINAL_TOPIC} header"
    if letter.original_topic not in inputs:
        return (
            f"{ORIGINAL_TOPIC} '{printable(letter.original_topic)}' is not a topic the worker"
            f" consumes ({', '.join(inputs)})"
        )
    return None


async def replay(
    settings: Settings, letters: AsyncIterable[DeadLetter], out: TextIO, *, dry_run: bool
) -> None:
    """Sends the letters back to their original topics (acks=all) as they are read, and
    says which it sent; with `dry_run`, nothing is sent. The letters `not_replayable` are
    left out, each said and logged."""
    verb = "would send" if dry_run else "sent"
    sent: list[str] = []
    skipped: list[str] = []
    deliveries: list[asyncio.Future[object]] = []
    producer: AIOKafkaProducer | None = None
    try:
        async for letter in letters:
            if (problem := not_replayable(letter, settings)) is not None:
                log.warning("dead letter not replayed", place=letter.place, problem=problem)
                skipped.append(f"skipped {letter.place}: {problem}")
                continue
            if not dry_run:
                if producer is None:
                    # The relay's producer: a dead letter may be as large as the relay let
                    # it be.
                    producer = create_producer(settings)
                    await producer.start()
                deliveries.append(
                    await producer.send(
                        letter.original_topic,
                        value=letter.value,
                        key=letter.key,
                        headers=[
                            *letter.original_headers(),
                            (REPLAYED_FROM, f"{letter.topic}/{letter.place}".encode()),
                        ],
                    )
                )
            sent.append(
                f"{verb} {letter.place} ({printable(letter.reason or '?')}, event"
                f" {printable(letter.event_id or '-')}) to {printable(letter.original_topic or '')}"
            )
        await asyncio.gather(*deliveries)
    finally:
        if producer is not None:
            await producer.stop()
    for line in [*sent, *skipped]:
        print(line, file=out)
    if dry_run:
        print(f"dry run: {len(sent)} record(s) would be sent back; nothing was sent", file=out)
    else:
        print(f"{len(sent)} record(s) sent back", file=out)


def add_dead_letters_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    parser.add_argument(
        "--since",
        type=moment,
        metavar="TIME",
        help="only dead letters written at or after this time: 2026-12-07 or"
        " 2026-12-07T09:30 (UTC unless an offset is given)",
    )
    parser.add_argument(
        "--limit",
        type=at_least_one,
        default=DEFAULT_RECORD_LIMIT,
        metavar="N",
        help="at most the first N chosen, by partition and offset"
        f" (default: {DEFAULT_RECORD_LIMIT})",
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


async def run_dead_letters_command(
    args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout
) -> int:
    """Runs `invoicer dead-letters list | replay`; the exit status. A broker that cannot be
    read or written is a StartupError: one line, exit code 2."""
    command = args.dead_letters_command
    selection = selection_from(args)
    if command == "replay" and selection.is_everything and not args.all:
        print(
            "replay: choose dead letters with --at, --reason or --event-id, or pass --all",
            file=sys.stderr,
        )
        return 2
    try:
        async with (
            contextlib.aclosing(read_dead_letters(settings, args.since)) as letters,
            _client_lines_only_at_debug(settings),
        ):
            page = DeadLetterPage(letters, selection, args.limit)
            if command == "list":
                await print_list(page, out, as_json=args.json)
            else:
                await replay(settings, page, out, dry_run=args.dry_run)
    except (KafkaError, TimeoutError) as error:
        raise StartupError(
            f"dead-letters {command}: the broker at {settings.kafka_bootstrap_servers} did not"
            f" answer ({type(error).__name__}); start it, or set"
            " INVOICER_KAFKA_BOOTSTRAP_SERVERS to brokers that answer"
        ) from error
    if page.more:
        print(
            f"{command}: the first {page.limit} dead letter(s) chosen; more follow (narrow"
            " them with --since, or raise --limit)",
            file=sys.stderr,
        )
    return 0


@contextlib.asynccontextmanager
async def _client_lines_only_at_debug(settings: Settings) -> AsyncIterator[None]:
    """The command says in one line why the broker failed it; aiokafka's own lines about
    it (each try to connect) only with INVOICER_LOG_LEVEL=DEBUG."""
    client = logging.getLogger("aiokafka")
    level = client.level
    if settings.log_level != "DEBUG":
        client.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        client.setLevel(level)


async def print_list(letters: AsyncIterable[DeadLetter], out: TextIO, *, as_json: bool) -> None:
    """The letters as they are read: a table and a count by reason, or JSON lines."""
    row = "{place:<12} {time:<20} {reason:<17} {original:<40} {event:<36}  {details}"
    heading = row.format(
        place="AT",
        time="TIME (UTC)",
        reason="REASON",
        original="ORIGINAL (TOPIC/PARTITION/OFFSET)",
        event="EVENT ID",
        details="DETAILS",
    )
    counts: dict[str, int] = {}
    async for letter in letters:
        if not (counts or as_json):  # once the broker answered: nothing else on a failure
            print(heading, file=out)
        reason = printable(letter.reason or "?")
        counts[reason] = counts.get(reason, 0) + 1
        if as_json:
            print(json.dumps(letter.summary(), ensure_ascii=False), file=out)
            continue
        details = str(letter.error.get("details", ""))
        cut = details[:DETAILS_WIDTH] + ("…" if len(details) > DETAILS_WIDTH else "")
        print(
            row.format(
                place=letter.place,
                time="" if letter.timestamp is None else f"{letter.timestamp:%Y-%m-%d %H:%M:%S}",
                reason=reason,
                original=printable(letter.original_place),
                event=printable(letter.event_id or "-"),
                details=printable(cut),
            ),
            file=out,
        )
    if as_json:
        return
    if not counts:
        print(heading, file=out)
    by_reason = ", ".join(f"{reason} {count}" for reason, count in sorted(counts.items()))
    total = sum(counts.values())
    print(f"{total} dead letter(s)" + (f": {by_reason}" if by_reason else ""), file=out)
