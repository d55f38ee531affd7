"""`python -m bench.door`: what the door's hostile records cost to decide, against the
contract's bound (docs/contract.md, "The door"): no record of at most 1 MiB costs more than
one second of CPU or 64 MiB of memory to decide.

Each record of tests/unit/test_door.py's megabyte classes is decided alone by the worker's
parsing, handlers and batch on the in-memory store (as the tests decide them); the CPU is the
process's own (median of three), the memory tracemalloc's peak. The tests assert the memory
bound and guard the CPU against a class costing several times the bound; the bound itself is
shown here, on a quiet machine.
"""

from __future__ import annotations

import logging
import statistics
import time
import tracemalloc

import structlog

from tests.hostile_records import COMMANDS, ORDERS
from tests.unit.test_door import (
    MEGABYTE_RECORDS,
    decided,
    megabyte_record,
    nested_containers,
)
from worker.decisions import Record

CPU_BOUND_SECONDS = 1.0
MEMORY_BOUND_MIB = 64


def cost(record: Record) -> tuple[float, float]:
    """(CPU seconds, peak MiB) of deciding the record alone."""
    times = []
    for _ in range(3):
        started = time.process_time()
        decided(record)
        times.append(time.process_time() - started)
    tracemalloc.start()
    try:
        decided(record)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return statistics.median(times), peak / 2**20


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    cases: dict[str, Record] = {
        f"{case} ({topic})": megabyte_record(case, topic)
        for case in sorted(MEGABYTE_RECORDS)
        for topic in (ORDERS, COMMANDS)
    }
    for opener in ("{", "["):
        for depth in (0, 1, 8, 60):
            for where in (ORDERS, COMMANDS):
                for binary in (False, True):
                    mode = "binary" if binary else "structured"
                    name = f"nested {opener} depth {depth} ({where}, {mode})"
                    cases[name] = nested_containers(opener, depth, where, binary)
    print(f"{'record (at most 1 MiB)':58} {'CPU s':>6} {'peak MiB':>9}")
    worst_cpu = worst_memory = 0.0
    for name, record in cases.items():
        cpu, peak = cost(record)
        worst_cpu, worst_memory = max(worst_cpu, cpu), max(worst_memory, peak)
        print(f"{name:58} {cpu:6.3f} {peak:9.1f}")
    print(
        f"worst: {worst_cpu:.3f} s of CPU (bound {CPU_BOUND_SECONDS:g} s),"
        f" {worst_memory:.1f} MiB (bound {MEMORY_BOUND_MIB} MiB)"
    )


if __name__ == "__main__":
    main()
