"""Crashes: the worker SIGKILLed at random moments and at the two moments that matter most
(between the database commit and the offset commit; inside the outbox relay between the
broker's acknowledgement and marking the rows sent), restarted, and nothing lost or doubled."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.faults.conftest import Stack, record
from tests.faults.invariants import Figures
from tests.faults.stream import build_stream

KILLED = -signal.SIGKILL
FAULT_LOG_LINE = "fault injection: killing the worker"


@pytest.mark.parametrize(
    "round_", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)]
)
async def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    stack: Stack, figures: Figures, round_: int
) -> None:
    """Each round has its own seed: other moments, another stream."""
    rnd = stack.random
    stream = build_stream(stack.seed, 400, f"kill{round_}")
    worker = stack.worker("worker")
    worker.start()
    publishing = asyncio.create_task(stack.publish_stream(stream, 24))
    kills = 0
    while kills < 5 and not publishing.done():
        await asyncio.sleep(rnd.uniform(2.0, 5.0))
        worker.kill()
        kills += 1
        worker.start()
    await publishing
    figures.notes.append(f"{kills} SIGKILLs while the stream was being published")
    assert kills >= 3, "the stream ended before the worker was killed three times"
    record(figures, await stack.check(stream), len(stream.records))


@pytest.mark.parametrize(
    ("fault", "first", "second"),
    [("kill-after-db-commit", 3, 4), ("kill-after-outbox-send", 2, 3)],
)
async def test_kill_at_a_fault_point_loses_and_doubles_nothing(
    stack: Stack, figures: Figures, fault: str, first: int, second: int
) -> None:
    """Twice killed by the hook (n-th visit of the fault point), then run clean. The stream
    has no duplicate records of its own: every duplicate the worker sees, and every copy
    on the output topics, comes from the crashes."""
    stream = build_stream(stack.seed, 300, "hook", duplicates=0)
    worker = stack.worker("worker")
    publishing = asyncio.create_task(stack.publish_stream(stream, 12))
    for visit in (first, second):
        worker.start(INVOICER_FAULT_INJECTION=f"{fault}:{visit}")
        assert await worker.wait_exit() == KILLED
    assert worker.log_text().count(FAULT_LOG_LINE) == 2
    worker.start()
    await publishing
    report = await stack.check(stream)
    if fault == "kill-after-db-commit":
        # The batches committed before the kills came again and were dropped by the inbox.
        redelivered = await worker.metric("invoicer_records_total", outcome="duplicate")
        assert redelivered > 0
        figures.notes.append(f"{redelivered:.0f} redelivered records dropped by the inbox")
    else:
        assert report.redelivered_copies > 0, "the acknowledged rows were not sent again"
    await worker.terminate()
    record(figures, report, len(stream.records))
