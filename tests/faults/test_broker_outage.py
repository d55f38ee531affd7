"""Broker outage: the suite's Tansu broker paused (SIGSTOP) for tens of seconds mid-stream,
then resumed (SIGCONT; it keeps its data in memory, so it is never restarted). The worker
waits, says not ready while the broker is away, and recovers with nothing lost."""

from __future__ import annotations

import asyncio
import time

from tests.faults.conftest import Stack, record
from tests.faults.invariants import Figures
from tests.faults.stream import build_stream
from tests.faults.test_database_outage import wait_for_readiness

OUTAGE_SECONDS = 25.0


async def test_broker_paused_mid_stream_is_waited_out(stack: Stack, figures: Figures) -> None:
    stream = build_stream(stack.seed, 300, "brokerdown")
    worker = stack.worker("worker")
    worker.start()
    await worker.wait_ready()
    publishing = asyncio.create_task(stack.publish_stream(stream, 20))
    await asyncio.sleep(5)
    kafka = stack.servers.kafka
    kafka.pause()
    paused = time.monotonic()
    try:
        reason = await wait_for_readiness(worker, ready=False, within=OUTAGE_SECONDS)
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - paused)))
        assert worker.alive, worker.log_tail()
    finally:
        kafka.resume()
    await wait_for_readiness(worker, ready=True, within=90)
    await publishing
    report = await stack.check(stream)
    assert worker.alive, worker.log_tail()
    assert worker.starts == 1, worker.log_tail()
    figures.notes.append(f"broker paused {OUTAGE_SECONDS:.0f}s; /readyz: {reason}")
    record(figures, report, len(stream.records))
