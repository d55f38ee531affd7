"""What must hold after every attack, read from the broker and the database.

Every order row on exactly one live invoice; every expected invoice present and no other;
each invoice exactly one invoice-closed event id (redelivered copies of that id are
allowed, counted, and must be byte-identical); one notification per invoice and request;
the change log (invoices.closed and invoices.events folded by invoiceId, keeping the
highest version) equal to every invoice as the database has it, with one event per
version;
each number series one contiguous range 1..n equal to its counter; every event applied
in the inbox; exactly one result per command id; nothing left in the outbox; no dead
letter for a valid record.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests import change_log
from tests.faults.stream import Stream
from tests.integration.kafka_client import Received
from worker.domain.parties import DEFAULT_SELLER_ID
from worker.messages import stable_event_id
from worker.settings import Topics
from worker.store.invoices import load_invoices
from worker.store.pool import connect

SETTLE_TIMEOUT_SECONDS = 180.0
QUIET_SECONDS = 2.0
_NUMBER = re.compile(r"^(?P<series>.+-\d{4})-(?P<sequence>\d+)$")


class TopicReader:
    """Everything published to some topics, from their beginning, as it arrives."""

    def __init__(self, bootstrap_servers: str, topics: Iterable[str]) -> None:
        self._bootstrap = bootstrap_servers
        self._topics = list(topics)
        self._consumer: AIOKafkaConsumer | None = None
        self.seen: dict[str, list[Received]] = {topic: [] for topic in self._topics}

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            max_partition_fetch_bytes=16 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        await consumer.start()
        await consumer.topics()
        assignment = [
            TopicPartition(topic, partition)
            for topic in self._topics
            for partition in consumer.partitions_for_topic(topic) or ()
        ]
        assert assignment, f"no partitions found for {self._topics}"
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        self._consumer = consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def poll(self, timeout_ms: int = 200) -> int:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=timeout_ms)
        count = 0
        for messages in batch.values():
            for m in messages:
                self.seen[m.topic].append(
                    Received(m.topic, m.partition, m.offset, m.key, m.value, dict(m.headers))
                )
                count += 1
        return count

    async def settle(self, quiet: float = QUIET_SECONDS) -> None:
        """Reads until nothing more arrives for `quiet` seconds."""
        deadline = time.monotonic() + quiet
        while time.monotonic() < deadline:
            if await self.poll(200):
                deadline = time.monotonic() + quiet


@dataclass(slots=True)
class Figures:
    """One attack's outcome, for docs/reliability.md's table."""

    attack: str
    runs: int = 0
    records_sent: int = 0
    lost: int = 0
    duplicated_invoices: int = 0
    redelivered_copies: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Report:
    violations: list[str]
    lost: int
    duplicated_invoices: int
    redelivered_copies: int


async def wait_until_applied(
    database_url: str,
    events: Iterable[tuple[str, str]],
    within: float = SETTLE_TIMEOUT_SECONDS,
) -> None:
    """Until these events are applied, their invoices' documents rendered and the
    notifications waiting for them sent, and the outbox is empty (bounded)."""
    keys = sorted(events)
    deadline = time.monotonic() + within
    missing, backlog = len(keys), -1
    while time.monotonic() < deadline:
        try:
            connection = await asyncpg.connect(database_url)
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(0.5)
            continue
        try:
            missing = await connection.fetchval(
                """SELECT count(*) FROM unnest($1::text[], $2::text[]) AS k(source, event_id)
                    WHERE NOT EXISTS (SELECT 1 FROM inbox i WHERE i.source = k.source
                                      AND i.event_id = k.event_id AND i.outcome = 'applied')""",
                [source for source, _ in keys],
                [event_id for _, event_id in keys],
            )
            backlog = await connection.fetchval(
                "SELECT (SELECT count(*) FROM outbox)"
                " + (SELECT count(*) FROM render_jobs WHERE failure IS NULL)"
                " + (SELECT count(*) FROM document_notifications)"
            )
        finally:
            await connection.close()
        if missing == 0 and backlog == 0:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(
        f"after {within}s, {missing} of {len(keys)} events not applied, {backlog} rows in the"
        " outbox, render jobs and waiting notifications"
    )


async def check(
    database_url: str,
    bootstrap_servers: str,
    topics: Topics,
    stream: Stream,
    *,
    expected_dead_letters: int = 0,
    within: float = SETTLE_TIMEOUT_SECONDS,
) -> Report:
    """Waits (bounded) for the stream to be done, then checks every invariant; collects
    all violations rather than stopping at the first."""
    await wait_until_applied(database_url, stream.applied, within)
    reader = TopicReader(
        bootstrap_servers,
        [
            topics.invoices_closed,
            topics.notifications_requested,
            topics.invoice_events,
            topics.command_results,
            topics.dead_letter,
        ],
    )
    await reader.start()
    try:
        await reader.settle()
    finally:
        await reader.stop()
    connection = await connect(database_url)
    try:
        return await _report(connection, reader.seen, topics, stream, expected_dead_letters)
    finally:
        await connection.close()


async def _report(
    db: asyncpg.Connection,
    seen: dict[str, list[Received]],
    topics: Topics,
    stream: Stream,
    expected_dead_letters: int,
) -> Report:
    violations: list[str] = []
    lost = duplicated = 0
    orders = sorted(stream.order_rows)
    invoices = {
        str(r["invoice_id"]): r
        for r in await db.fetch(
            "SELECT invoice_id, order_id, status, invoice_number FROM invoices"
            " WHERE order_id = ANY($1::text[])",
            orders,
        )
    }
    missing = stream.invoices.keys() - invoices.keys()
    extra = invoices.keys() - stream.invoices.keys()
    lost += len(missing)
    duplicated += len(extra)
    _note(violations, "expected invoices missing from the database", missing)
    _note(violations, "invoices that should not exist", extra)
    for invoice_id, expected in stream.invoices.items():
        found = invoices.get(invoice_id)
        if found is not None and found["status"] != expected.status:
            violations.append(
                f"invoice {invoice_id}: status {found['status']}, not {expected.status}"
            )

    held = Counter(
        (r["order_id"], r["order_row_id"])
        for r in await db.fetch(
            "SELECT l.order_id, l.order_row_id FROM invoice_lines l JOIN invoices i USING (invoice_id)"
            " WHERE l.order_id = ANY($1::text[]) AND i.type = 'invoice'"
            " AND i.status IN ('draft', 'open', 'paid')",
            orders,
        )
    )
    freed_rows = {
        (invoice.order_id, row_id)
        for invoice in stream.invoices.values()
        if not invoice.holds_rows
        for row_id in invoice.row_ids
    }
    rows = {(o, r) for o, row_ids in stream.order_rows.items() for r in row_ids} - freed_rows
    unbilled = [row for row in rows if held[row] == 0]
    twice = [row for row in rows if held[row] > 1]
    lost += len(unbilled)
    duplicated += len(twice)
    _note(violations, "order rows on no live invoice", unbilled)
    _note(violations, "order rows on more than one live invoice", twice)

    copies = 0
    closed = _by_id(seen[topics.invoices_closed], violations)
    copies += sum(len(values) - 1 for values in closed.values())
    closed_ids: dict[str, set[str]] = defaultdict(set)
    closed_versions: dict[str, int] = {}
    for event_id, values in closed.items():
        data = json.loads(values[0])["data"]
        closed_ids[data["invoiceId"]].add(event_id)
        closed_versions[data["invoiceId"]] = data["version"]
        stored = invoices.get(data["invoiceId"])
        if stored is not None and stored["invoice_number"] != data["invoiceNumber"]:
            violations.append(
                f"invoice-closed {event_id} says {data['invoiceNumber']},"
                f" the database {stored['invoice_number']}"
            )
    for invoice_id, expected in stream.invoices.items():
        ids = closed_ids.pop(invoice_id, set())
        if expected.numbered:
            version = str(closed_versions.get(invoice_id))
            want = stable_event_id("invoice-closed", invoice_id, version)
            if want not in ids:
                lost += 1
                violations.append(f"no invoice-closed event for {invoice_id}")
            if ids - {want}:
                duplicated += 1
                violations.append(f"invoice {invoice_id} has invoice-closed ids {sorted(ids)}")
        elif ids:
            violations.append(f"draft {invoice_id} has invoice-closed events {sorted(ids)}")
    _note(violations, "invoice-closed events for invoices the stream did not make", closed_ids)

    notifications = _by_id(seen[topics.notifications_requested], violations)
    copies += sum(len(values) - 1 for values in notifications.values())
    notified = {  # payment reminders come from dunning scans, which tests check themselves
        json.loads(values[0])["data"]["notificationId"]
        for values in notifications.values()
        if json.loads(values[0])["data"]["reason"] != "reminder"
    }
    wanted = {i.notification_id for i in stream.invoices.values() if i.notification_id}
    lost += len(wanted - notified)
    _note(violations, "notifications missing", wanted - notified)
    _note(violations, "notifications not asked for", notified - wanted)

    events = _by_id(seen[topics.invoice_events], violations)
    copies += sum(len(values) - 1 for values in events.values())
    created = {
        json.loads(values[0])["data"]["invoiceId"]
        for values in events.values()
        if json.loads(values[0])["type"] == "invoice-created"
    }
    drafts = {i.invoice_id for i in stream.invoices.values() if i.announced_as_draft}
    _note(violations, "drafts without invoice-created", drafts - created)
    _note(violations, "invoice-created for no draft of the stream", created - drafts)
    for event_type, status in (("invoice-voided", "void"), ("invoice-paid", "paid")):
        announced = Counter(
            json.loads(values[0])["data"]["invoiceId"]
            for values in events.values()
            if json.loads(values[0])["type"] == event_type
        )
        due = {i.invoice_id for i in stream.invoices.values() if i.status == status}
        _note(violations, f"{status} invoices without {event_type}", due - announced.keys())
        _note(violations, f"{event_type} not due", announced.keys() - due)
        _note(
            violations, f"{event_type} with several ids", [i for i, n in announced.items() if n > 1]
        )

    results = _by_id(seen[topics.command_results], violations)
    copies += sum(len(values) - 1 for values in results.values())
    answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for values in results.values():
        data = json.loads(values[0])["data"]
        answers[data["commandId"]].append(data)
    for command_id, action in stream.commands.items():
        got = answers.pop(command_id, [])
        if len(got) != 1:
            violations.append(f"command {command_id} ({action}) has {len(got)} distinct results")
        elif not got[0]["ok"]:
            violations.append(f"command {command_id} ({action}) failed: {got[0]}")
    _note(
        violations,
        "results for commands the stream did not send",
        answers.keys() - stream.checked_elsewhere,
    )

    violations.extend(await _change_log(db, seen, topics))
    violations.extend(await _numbering(db))
    dead = seen[topics.dead_letter]
    if len(dead) != expected_dead_letters:
        reasons = Counter(m.headers.get("x-dead-letter-reason", b"?").decode() for m in dead)
        violations.append(
            f"{len(dead)} dead letters, expected {expected_dead_letters}: {dict(reasons)}"
        )
    backlog = await db.fetchval("SELECT count(*) FROM outbox")
    if backlog:
        violations.append(f"{backlog} messages still in the outbox")
    return Report(violations, lost, duplicated, copies)


async def _change_log(
    db: asyncpg.Connection, seen: dict[str, list[Received]], topics: Topics
) -> list[str]:
    """The change log folded equals every invoice of the database (the test's own), field
    by field, and announces each version of each invoice exactly once."""
    logged = [
        record.event
        for topic in (topics.invoices_closed, topics.invoice_events)
        for record in seen[topic]
    ]
    stored = await load_invoices(
        db, [r["order_id"] for r in await db.fetch("SELECT order_id FROM orders")]
    )
    violations = [
        f"change log: {difference}"
        for difference in change_log.differences(change_log.fold(logged), change_log.stored(stored))
    ]
    missing = change_log.missing_changes(change_log.changes(logged), stored)
    _note(violations, "invoices whose changes are not each announced once", missing)
    return violations


async def _numbering(db: asyncpg.Connection) -> list[str]:
    """Each series (the configured seller's by prefix, a registered seller's by its id and
    the invoice's type): the numbers given are exactly 1..n, and its counter says n."""
    violations = []
    series: dict[str, list[int]] = defaultdict(list)
    for record in await db.fetch(
        "SELECT invoice_number, seller_id, type FROM invoices WHERE invoice_number IS NOT NULL"
    ):
        match = _NUMBER.match(record["invoice_number"])
        assert match, record["invoice_number"]
        name = match["series"]
        if record["seller_id"] not in (None, DEFAULT_SELLER_ID):
            year = name.rsplit("-", 1)[1]
            name = f"{record['seller_id']}/{record['type']}-{year}"
        series[name].append(int(match["sequence"]))
    counters = {
        f"{r['prefix']}-{r['year']}": r["last_number"]
        for r in await db.fetch("SELECT prefix, year, last_number FROM number_series")
    }
    for name in series.keys() | counters.keys():
        numbers = sorted(series.get(name, []))
        if numbers != list(range(1, len(numbers) + 1)):
            gaps = sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers))[:10]
            repeats = [n for n, c in Counter(numbers).items() if c > 1][:10]
            violations.append(f"series {name}: gaps {gaps}, repeated {repeats}")
        if counters.get(name, 0) != len(numbers):
            violations.append(
                f"series {name}: counter {counters.get(name)} but {len(numbers)} numbers given"
            )
    return violations


def _by_id(records: list[Received], violations: list[str]) -> dict[str, list[bytes]]:
    """Values by event id; copies of one id must be byte-identical."""
    values: dict[str, list[bytes]] = defaultdict(list)
    for record in records:
        assert record.value is not None
        values[record.event["id"]].append(record.value)
    for event_id, copies in values.items():
        if len(set(copies)) > 1:
            violations.append(f"event {event_id} was published with different contents")
    return values


def _note(violations: list[str], what: str, items: Iterable[object]) -> None:
    found = sorted(map(str, items))
    if found:
        violations.append(f"{what} ({len(found)}): {found[:10]}")
