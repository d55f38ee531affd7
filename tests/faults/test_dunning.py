"""Dunning scans as operators and replicas run them: `invoicer dunning run` processes, one
SIGKILLed while it holds the scan's lock (mid-scan, a transaction open), two more at once
afterwards. Every overdue invoice gets exactly one invoice-overdue and one reminder per
level reached, on the broker as in the database, and the change log still folds into
every stored invoice."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from datetime import date, timedelta

import asyncpg

from tests.faults.conftest import Stack, record
from tests.faults.invariants import Figures, TopicReader, wait_until_applied
from tests.faults.processes import invoicer_command
from tests.faults.stream import build_stream
from worker.store.dunning import DUNNING_LOCK_ID

KILLED = -signal.SIGKILL
LOCK_POLL_SECONDS = 0.005
SCAN_TIMEOUT_SECONDS = 120.0


async def _dunning_run(stack: Stack, as_of: date) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *invoicer_command(),
        "dunning",
        "run",
        "--as-of",
        str(as_of),
        "--allow-future",
        env=stack.env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _kill_while_scanning(
    db: asyncpg.Connection, scan: asyncio.subprocess.Process, as_of: date
) -> int:
    """SIGKILLs the scan once it has committed some notices and holds the scan's lock for
    more (a transaction open); returns its exit code."""
    async with asyncio.timeout(SCAN_TIMEOUT_SECONDS):
        while not await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1"
            " AND granted) AND EXISTS (SELECT 1 FROM dunning_notices WHERE as_of = $2)",
            DUNNING_LOCK_ID,
            as_of,
        ):
            assert scan.returncode is None, "the scan ended before it could be killed"
            await asyncio.sleep(LOCK_POLL_SECONDS)
    scan.kill()
    return await scan.wait()


async def _scan_round(stack: Stack, db: asyncpg.Connection, as_of: date) -> int:
    """One scan killed mid-way, then two at once; returns the notices noted after the kill."""
    assert await _kill_while_scanning(db, await _dunning_run(stack, as_of), as_of) == KILLED
    after_kill = await db.fetchval("SELECT count(*) FROM dunning_notices WHERE as_of = $1", as_of)
    scans = [await _dunning_run(stack, as_of) for _ in range(2)]
    async with asyncio.timeout(SCAN_TIMEOUT_SECONDS):
        codes = [await scan.wait() for scan in scans]
    assert codes == [0, 0]
    return int(after_kill)


async def test_a_scan_killed_mid_way_and_two_at_once_send_each_notice_once(
    stack: Stack, figures: Figures
) -> None:
    stream = build_stream(stack.seed, 600, "dunning", commands=False)
    worker = stack.worker("worker")
    worker.start()
    await stack.publish_backlog(stream.records)
    await wait_until_applied(stack.database_url, stream.applied)
    db = await stack.connect()
    try:
        # all closed today (or yesterday, around midnight) with the default terms
        due = await db.fetchval("SELECT max(due_date) FROM invoices WHERE status = 'open'")
        overdue = await db.fetchval("SELECT count(*) FROM invoices WHERE status = 'open'")
        # a week past due (overdue, reminder 1), then two (reminder 2)
        left = [await _scan_round(stack, db, due + timedelta(days=days)) for days in (7, 14)]
        noted = Counter(
            r["level"] for r in await db.fetch("SELECT level FROM dunning_notices WHERE sent")
        )
    finally:
        await db.close()
    assert noted == {0: overdue, 1: overdue, 2: overdue}
    figures.notes.append(
        f"{overdue} overdue invoices; notices noted when the scans were killed: {left}"
        f" of {2 * overdue} and {3 * overdue}"
    )
    await wait_until_applied(stack.database_url, stream.applied)
    sent = await _notices_on_the_broker(stack)
    assert Counter(sent.values()) == {1: 3 * overdue}, "a notice was sent more than once"
    record(figures, await stack.check(stream), len(stream.records))


async def _notices_on_the_broker(stack: Stack) -> Counter[tuple[str, int]]:
    """(invoice id, level) → how many distinct event ids announce it (level 0: overdue)."""
    topics = [stack.topics.invoice_events, stack.topics.notifications_requested]
    reader = TopicReader(stack.bootstrap_servers, topics)
    await reader.start()
    try:
        await reader.settle()
    finally:
        await reader.stop()
    ids: dict[str, tuple[str, int]] = {}
    for topic in topics:
        for message in reader.seen[topic]:
            event = json.loads(message.value or b"")
            data = event["data"]
            if event["type"] == "invoice-overdue":
                ids[event["id"]] = (data["invoiceId"], 0)
            elif data.get("reason") == "reminder":
                ids[event["id"]] = (data["invoiceId"], data["reminderLevel"])
    return Counter(ids.values())
