"""Rebalances: two and three workers in one group, started, stopped (SIGTERM) and killed
(SIGKILL) while the stream flows; partitions move between them again and again."""

from __future__ import annotations

import asyncio

from tests.faults.conftest import Stack, record
from tests.faults.invariants import Figures
from tests.faults.stream import build_stream


async def test_workers_joining_and_leaving_mid_stream_lose_and_double_nothing(
    stack: Stack, figures: Figures
) -> None:
    rnd = stack.random
    stream = build_stream(stack.seed, 400, "rebalance")
    first, second, third = (stack.worker(name) for name in ("first", "second", "third"))
    first.start()
    publishing = asyncio.create_task(stack.publish_stream(stream, 30))
    steps = [
        ("start", second),
        ("start", third),
        ("terminate", first),
        ("kill", second),
        ("start", first),
        ("start", second),
        ("terminate", third),
    ]
    done = []
    for action, worker in steps:
        await asyncio.sleep(rnd.uniform(2.0, 4.0))
        if action == "start":
            worker.start()
        elif action == "kill":
            worker.kill()
        else:
            code, _ = await worker.terminate()
            assert code == 0, worker.log_tail()
        done.append(f"{action} {worker.name}")
    flowing = not publishing.done()
    await publishing
    figures.notes.append("; ".join(done) + f"; the stream still flowing after: {flowing}")
    assert flowing, "the stream was all published before the workers stopped joining and leaving"
    report = await stack.check(stream)
    moves = sum(w.log_text().count("partitions assigned") for w in stack.workers)
    figures.notes.append(f"{moves} partition assignments over the run")
    # Every worker process logs its own first assignment; changes close together may be
    # settled in one rebalance, so that is the least there must be.
    assert moves >= sum(worker.starts for worker in stack.workers)
    record(figures, report, len(stream.records))
