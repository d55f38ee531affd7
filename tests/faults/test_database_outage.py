"""Database outages: the suite's own PostgreSQL server stopped mid-stream (never the shared
one), and the worker's connections terminated again and again (pg_terminate_backend). The
worker retries with backoff, skips nothing, says not ready while the database is away and
ready after, and does not exit."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from tests.faults.conftest import Stack, record
from tests.faults.invariants import Figures
from tests.faults.processes import WorkerProcess
from tests.faults.stream import build_stream

OUTAGE_SECONDS = 15.0
TERMINATE_ROUNDS = 40
PROBE_WITHIN_SECONDS = 60.0


async def wait_for_readiness(worker: WorkerProcess, ready: bool, within: float) -> str:
    """Polls /readyz until it says `ready` (bounded); returns its last reason."""
    deadline = time.monotonic() + within
    reason = ""
    while time.monotonic() < deadline:
        assert worker.alive, f"the worker exited with {worker.returncode}:\n{worker.log_tail()}"
        status, reason = await worker.readiness()
        if (status == 200) == ready and status is not None:
            return reason
        await asyncio.sleep(0.2)
    raise AssertionError(f"/readyz did not say ready={ready} within {within}s: {reason}")


async def test_postgres_stopped_mid_stream_is_waited_out(stack: Stack, figures: Figures) -> None:
    stream = build_stream(stack.seed, 300, "pgdown")
    worker = stack.worker("worker")
    worker.start()
    await worker.wait_ready()
    publishing = asyncio.create_task(stack.publish_stream(stream, 30))
    await asyncio.sleep(5)
    postgres = stack.servers.postgres
    await asyncio.to_thread(postgres.stop)
    stopped = time.monotonic()
    reason = await wait_for_readiness(worker, ready=False, within=PROBE_WITHIN_SECONDS)
    assert "database" in reason, reason
    await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
    assert worker.alive, worker.log_tail()
    await asyncio.to_thread(postgres.start)
    await wait_for_readiness(worker, ready=True, within=PROBE_WITHIN_SECONDS)
    await publishing
    report = await stack.check(stream)
    retries = sum(entry.get("action") == "retry" for entry in worker.log_entries())
    assert retries > 0, "the outage did not make the worker retry anything"
    assert worker.alive
    assert worker.starts == 1
    figures.notes.append(
        f"PostgreSQL down {OUTAGE_SECONDS:.0f}s; /readyz: {reason}; {retries} retries"
    )
    record(figures, report, len(stream.records))


@pytest.mark.slow
async def test_connections_terminated_mid_stream_are_waited_out(
    stack: Stack, figures: Figures
) -> None:
    stream = build_stream(stack.seed, 300, "pgkill")
    worker = stack.worker("worker")
    worker.start()
    await worker.wait_ready()
    publishing = asyncio.create_task(stack.publish_stream(stream, 20))
    admin = await asyncpg.connect(stack.servers.postgres.url)
    database = stack.database_url.rpartition("/")[2]
    terminated = 0
    try:
        for _ in range(TERMINATE_ROUNDS):
            await asyncio.sleep(stack.random.uniform(0.1, 0.6))
            terminated += await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
    finally:
        await admin.close()
    await publishing
    report = await stack.check(stream)
    assert terminated >= TERMINATE_ROUNDS
    assert worker.alive, worker.log_tail()
    assert worker.starts == 1, worker.log_tail()
    retried = await worker.metric("invoicer_retries_total", what="batch")
    figures.notes.append(
        f"{terminated} connections terminated in {TERMINATE_ROUNDS} rounds;"
        f" {retried:.0f} batch transactions cut off and retried"
    )
    record(figures, report, len(stream.records))


@pytest.mark.slow
async def test_worker_started_while_postgres_is_down_waits_for_it(
    stack: Stack, figures: Figures
) -> None:
    """A worker (re)started during an outage, as after a crash or a redeploy, waits: it
    serves /readyz (not ready) and starts work once the database is back."""
    stream = build_stream(stack.seed, 100, "pgdown-start", commands=False)
    for outgoing in stream.records:
        await stack.publish(outgoing)
    postgres = stack.servers.postgres
    await asyncio.to_thread(postgres.stop)
    worker = stack.worker("worker")
    worker.start()
    reason = await wait_for_readiness(worker, ready=False, within=PROBE_WITHIN_SECONDS)
    await asyncio.sleep(OUTAGE_SECONDS)
    assert worker.alive, worker.log_tail()
    await asyncio.to_thread(postgres.start)
    await wait_for_readiness(worker, ready=True, within=PROBE_WITHIN_SECONDS)
    report = await stack.check(stream)
    assert worker.starts == 1
    figures.notes.append(f"started with PostgreSQL down {OUTAGE_SECONDS:.0f}s; /readyz: {reason}")
    record(figures, report, len(stream.records))
