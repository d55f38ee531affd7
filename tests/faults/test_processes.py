"""`invoicer run --processes 2`: two workers in processes of their own, each a member of
the consumer group; together they invoice a stream exactly once, and SIGTERM stops both."""

from __future__ import annotations

from tests.faults.conftest import Stack, record
from tests.faults.invariants import Figures
from tests.faults.stream import build_stream


async def test_two_processes_share_the_partitions_and_invoice_exactly_once(
    stack: Stack, figures: Figures
) -> None:
    stream = build_stream(stack.seed, 200, "processes")
    supervisor = stack.worker("supervisor", "--processes", "2")
    supervisor.start()
    await supervisor.wait_ready()
    await stack.publish_stream(stream, 5)
    report = await stack.check(stream)
    code, _ = await supervisor.terminate()

    assert code == 0, supervisor.log_tail()
    log = supervisor.log_entries()
    assert sum(entry.get("event") == "worker running" for entry in log) == 2
    assignments = [
        set(entry["partitions"]) for entry in log if entry.get("event") == "partitions assigned"
    ]
    # Two members at once: two assignments with no partition in common.
    assert any(a and b and not a & b for a in assignments for b in assignments), assignments
    record(figures, report, len(stream.records))
