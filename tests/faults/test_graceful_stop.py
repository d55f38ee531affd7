"""Graceful stop: SIGTERM while the worker works through a backlog (so a batch is in hand)
exits 0, with the batch committed and the outbox flushed, and nothing lost or doubled
over several stop-start rounds. Also SIGTERM while the database is away. The time from
SIGTERM to exit is measured and reported, not asserted tightly: the bound asserted is the
generous one docs/operations.md documents."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from tests.faults.conftest import Stack, record
from tests.faults.invariants import Figures
from tests.faults.processes import WorkerProcess
from tests.faults.stream import build_stream

STOP_ROUNDS = 4
START_WITHIN_SECONDS = 90.0
STOP_BOUND_SECONDS = 45.0
"""The documented bound: a batch (up to 500 records) plus the outbox flush plus leaving
the consumer group; measured values are a small fraction of it."""


async def test_sigterm_mid_batch_exits_zero_with_nothing_lost(
    stack: Stack, figures: Figures
) -> None:
    """A backlog waits; each round starts the worker and sends SIGTERM as soon as it has
    applied its first batch, while batches of up to 500 records are still coming."""
    rnd = stack.random
    stream = build_stream(stack.seed, 2000, "sigterm", commands=False)
    await stack.publish_backlog(stream.records)
    total = len(stream.applied)
    worker = stack.worker("worker", INVOICER_BATCH_MAX_RECORDS="500")
    stop_times: list[float] = []
    applied = [0]
    db = await stack.connect()
    try:
        for _ in range(STOP_ROUNDS):
            worker.start()
            await _until_more_applied(db, applied[-1], worker)
            await asyncio.sleep(rnd.uniform(0.0, 0.2))
            code, seconds = await worker.terminate(STOP_BOUND_SECONDS)
            assert code == 0, worker.log_tail()
            stop_times.append(seconds)
            assert await db.fetchval("SELECT count(*) FROM outbox") == 0, "outbox not flushed"
            applied.append(await db.fetchval("SELECT count(*) FROM inbox"))
            if applied[-1] == total:
                break
    finally:
        await db.close()
    mid_stream = sum(count < total for count in applied[1:])
    assert mid_stream >= 2, f"only {mid_stream} SIGTERMs came while work was left: {applied}"
    worker.start()
    report = await stack.check(stream)
    figures.notes.append(
        "SIGTERM to exit: " + ", ".join(f"{s:.2f}s" for s in stop_times) + " (all exit 0);"
        f" events applied at each stop: {applied[1:]} of {total}"
    )
    record(figures, report, len(stream.records))


async def _until_more_applied(db: asyncpg.Connection, than: int, worker: WorkerProcess) -> None:
    """Until the worker has applied something (bounded), polled every 20 ms."""
    deadline = time.monotonic() + START_WITHIN_SECONDS
    while await db.fetchval("SELECT count(*) FROM inbox") <= than:
        assert worker.alive, worker.log_tail()
        assert time.monotonic() < deadline, "the worker applied nothing after its start"
        await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_sigterm_while_the_database_is_away_exits_zero(
    stack: Stack, figures: Figures
) -> None:
    stream = build_stream(stack.seed, 100, "sigterm-pgdown", commands=False)
    worker = stack.worker("worker")
    worker.start()
    await worker.wait_ready()
    await asyncio.to_thread(stack.servers.postgres.stop)
    for record_ in stream.records:
        await stack.publish(record_)
    await asyncio.sleep(3)  # the worker is retrying its batch now
    code, seconds = await worker.terminate(STOP_BOUND_SECONDS)
    assert code == 0, worker.log_tail()
    await asyncio.to_thread(stack.servers.postgres.start)
    worker.start()
    report = await stack.check(stream)
    figures.notes.append(f"SIGTERM to exit with the database away: {seconds:.2f}s (exit 0)")
    record(figures, report, len(stream.records))
