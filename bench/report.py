"""The benchmark's one table, and the same figures as JSON."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.broker_limit import BrokerResult
from bench.database_limit import DatabaseResult
from bench.delivery import DeliveryResult
from bench.worker_runs import Counts, LatencyResult, Percentiles, ThroughputResult, Usage

# The targets, on two cores with broker and database on the same machine.
TARGET_ORDERS_PER_SECOND = 3_000.0
TARGET_SHARE_OF_DATABASE = 0.5
TARGET_TIMES_BASELINE = 5.0
TARGET_P99_MS = 250.0
TARGET_RSS_MIB = 200.0
TARGET_DOCUMENTS_SLOWER = 0.10
"""c with documents on at most this much slower than without."""
TARGET_DELIVERED_SHARE = 0.1
"""f, invoices delivered with their documents a second, at least this share of c."""
TARGET_SELLERS_SLOWER = 0.10
"""c with orders over many registered sellers at most this much slower than with one."""


@dataclass(frozen=True, slots=True)
class Machine:
    cpus: int
    cpu_model: str
    memory_gib: float
    python: str
    system: str

    @staticmethod
    def this() -> Machine:
        model = "unknown"
        memory_kib = 0
        cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
        if cpuinfo.exists():
            for line in cpuinfo.read_text().splitlines():
                if line.startswith("model name"):
                    model = line.partition(":")[2].strip()
                    break
        if meminfo.exists():
            for line in meminfo.read_text().splitlines():
                if line.startswith("MemTotal:"):
                    memory_kib = int(line.split()[1])
        return Machine(
            cpus=os.cpu_count() or 0,
            cpu_model=model,
            memory_gib=round(memory_kib / 1024 / 1024, 1),
            python=platform.python_version(),
            system=f"{platform.system()} {platform.release()}",
        )

    def describe(self) -> str:
        return (
            f"{self.cpus} CPUs ({self.cpu_model}), {self.memory_gib} GiB, "
            f"Python {self.python}, {self.system}"
        )


@dataclass(slots=True)
class BenchResult:
    machine: Machine
    options: dict[str, Any]
    services: dict[str, str]
    broker: BrokerResult | None = None
    database: DatabaseResult | None = None
    worker: ThroughputResult | None = None
    documents: ThroughputResult | None = None
    """c with documents on."""
    sellers: ThroughputResult | None = None
    """c with documents on, the orders spread over registered sellers."""
    baseline: ThroughputResult | None = None
    latency: LatencyResult | None = None
    delivered: DeliveryResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def delivered_share(self) -> float | None:
        """f over c."""
        if self.worker is None or self.delivered is None:
            return None
        return self.delivered.delivered_per_second / self.worker.orders_per_second

    @property
    def share_of_database(self) -> float | None:
        if self.worker is None or self.database is None:
            return None
        return self.worker.orders_per_second / self.database.orders_per_second

    @property
    def documents_slower(self) -> float | None:
        """How much slower c is with documents on (0.05: 5 %)."""
        if self.worker is None or self.documents is None:
            return None
        return 1 - self.documents.orders_per_second / self.worker.orders_per_second

    @property
    def sellers_slower(self) -> float | None:
        """How much slower c with documents on is with many sellers than with one."""
        if self.documents is None or self.sellers is None:
            return None
        return 1 - self.sellers.orders_per_second / self.documents.orders_per_second

    @property
    def times_baseline(self) -> float | None:
        if self.worker is None or self.baseline is None:
            return None
        return self.worker.orders_per_second / self.baseline.orders_per_second

    @property
    def peak_rss_mib(self) -> float | None:
        runs = (self.worker, self.documents, self.sellers, self.latency)
        peaks = [run.usage.peak_rss_mib for run in runs if run is not None]
        return max(peaks) if peaks else None

    def targets(self) -> dict[str, bool | None]:
        """Whether each target was met (None: not measured in this run)."""

        def at_least(value: float | None, target: float) -> bool | None:
            return None if value is None else value >= target

        def at_most(value: float | None, target: float) -> bool | None:
            return None if value is None else value <= target

        return {
            "worker_orders_per_second": at_least(
                None if self.worker is None else self.worker.orders_per_second,
                TARGET_ORDERS_PER_SECOND,
            ),
            "share_of_database": at_least(self.share_of_database, TARGET_SHARE_OF_DATABASE),
            "times_baseline": at_least(self.times_baseline, TARGET_TIMES_BASELINE),
            "documents_slower": at_most(self.documents_slower, TARGET_DOCUMENTS_SLOWER),
            "sellers_slower": at_most(self.sellers_slower, TARGET_SELLERS_SLOWER),
            "p99_ms": at_most(
                None if self.latency is None else self.latency.delivered.p99_ms, TARGET_P99_MS
            ),
            "peak_rss_mib": at_most(self.peak_rss_mib, TARGET_RSS_MIB),
            "delivered_share": at_least(self.delivered_share, TARGET_DELIVERED_SHARE),
        }


def _percentiles(value: Percentiles) -> dict[str, float]:
    return {
        "p50": round(value.p50_ms, 1),
        "p95": round(value.p95_ms, 1),
        "p99": round(value.p99_ms, 1),
        "max": round(value.max_ms, 1),
    }


def _usage(usage: Usage) -> dict[str, Any]:
    window = usage.window_seconds

    def cores(seconds: float | None) -> float | None:
        share = Usage.share(seconds, window)
        return None if share is None else round(share, 2)

    return {
        "window_seconds": round(window, 3),
        "peak_rss_mib": round(usage.peak_rss_mib, 1),
        "cpu_cores": {
            "worker": cores(usage.worker_cpu_seconds),
            "worker_processes": [cores(seconds) for seconds in usage.worker_processes_cpu_seconds],
            "postgres": cores(usage.postgres_cpu_seconds),
            "broker": cores(usage.broker_cpu_seconds),
            "bench": cores(usage.bench_cpu_seconds),
            "machine": cores(usage.machine_cpu_seconds),
            "other_processes": cores(usage.other_cpu_seconds),
        },
    }


def _counts(counts: Counts) -> dict[str, int]:
    return {
        "orders": counts.orders,
        "invoices": counts.invoices,
        "invoiced_orders": counts.invoiced_orders,
        "invoice_numbers": counts.invoice_numbers,
        "inbox_entries": counts.inbox_entries,
        "outbox_left": counts.outbox_left,
        "invoice_closed_events": counts.invoice_closed_events,
        "invoice_closed_orders": counts.invoice_closed_orders,
        "notifications": counts.notifications,
        "registered_sellers": counts.registered_sellers,
    }


def _throughput(run: ThroughputResult) -> dict[str, Any]:
    return {
        "batch_max_records": run.batch_max_records,
        "processes": run.processes,
        "orders": run.orders,
        "seconds": round(run.seconds, 3),
        "orders_per_second": round(run.orders_per_second, 1),
        "counts": _counts(run.counts),
        "usage": _usage(run.usage),
        "exit_code": run.exit_code,
        "documents": run.documents,
        "documents_per_core_second": _rounded(run.documents_per_core_second),
    }


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def as_json(result: BenchResult) -> dict[str, Any]:
    document: dict[str, Any] = {
        "machine": {
            "cpus": result.machine.cpus,
            "cpu_model": result.machine.cpu_model,
            "memory_gib": result.machine.memory_gib,
            "python": result.machine.python,
            "system": result.machine.system,
        },
        "options": result.options,
        "services": result.services,
        "broker": None,
        "database": None,
        "worker": None,
        "documents": None,
        "sellers": None,
        "baseline": None,
        "latency": None,
        "delivered": None,
        "ratios": {
            "worker_over_database": _rounded(result.share_of_database),
            "worker_over_baseline": _rounded(result.times_baseline),
            "documents_slower": _rounded(result.documents_slower, 3),
            "sellers_slower": _rounded(result.sellers_slower, 3),
            "delivered_over_worker": _rounded(result.delivered_share, 3),
        },
        "peak_rss_mib": _rounded(result.peak_rss_mib, 1),
        "targets": result.targets(),
        "notes": result.notes,
    }
    if result.broker is not None:
        broker = result.broker
        document["broker"] = {
            "orders": broker.orders,
            "consumed": broker.consumed,
            "produce_seconds": round(broker.produce_seconds, 3),
            "consume_seconds": round(broker.consume_seconds, 3),
            "produce_per_second": round(broker.produce_per_second, 1),
            "consume_per_second": round(broker.consume_per_second, 1),
            "orders_per_second": round(broker.orders_per_second, 1),
        }
    if result.database is not None:
        database = result.database
        document["database"] = {
            "batch_size": database.batch_size,
            "best": database.best.name,
            "orders_per_second": round(database.orders_per_second, 1),
            "variants": [
                {
                    "form": variant.form,
                    "connections": variant.connections,
                    "orders": variant.orders,
                    "rows_written": variant.rows_written,
                    "seconds": round(variant.seconds, 3),
                    "orders_per_second": round(variant.orders_per_second, 1),
                }
                for variant in database.variants
            ],
        }
    if result.worker is not None:
        document["worker"] = _throughput(result.worker)
    if result.documents is not None:
        document["documents"] = _throughput(result.documents)
    if result.sellers is not None:
        document["sellers"] = _throughput(result.sellers)
    if result.baseline is not None:
        document["baseline"] = _throughput(result.baseline)
    if result.latency is not None:
        latency = result.latency
        document["latency"] = {
            "rate": latency.rate,
            "duration": latency.duration,
            "orders": latency.orders,
            "offered_seconds": round(latency.offered_seconds, 3),
            "offered_rate": round(latency.offered_rate, 1),
            "delivered_ms": _percentiles(latency.delivered),
            "handed_to_broker_ms": _percentiles(latency.handed_to_broker),
            "counts": _counts(latency.counts),
            "usage": _usage(latency.usage),
            "exit_code": latency.exit_code,
        }
    if result.delivered is not None:
        delivered = result.delivered
        document["delivered"] = {
            "orders": delivered.orders,
            "processes": delivered.processes,
            "renderer_processes": delivered.renderer_processes,
            "seconds": round(delivered.seconds, 3),
            "delivered_per_second": round(delivered.delivered_per_second, 1),
            "usage": _usage(delivered.usage),
            "exit_code": delivered.exit_code,
        }
    return document


def _status(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "NOT met")


def _processes(count: int) -> str:
    return "1 process" if count == 1 else f"{count} processes"


def _cores(usage: Usage) -> str:
    window = usage.window_seconds
    each = usage.worker_processes_cpu_seconds
    per_process = (
        "" if len(each) < 2 else f" ({' + '.join(f'{seconds / window:.2f}' for seconds in each)})"
    )
    parts = [f"worker {usage.worker_cpu_seconds / window:.2f}{per_process}"]
    for name, seconds in (
        ("postgres", usage.postgres_cpu_seconds),
        ("broker", usage.broker_cpu_seconds),
        ("bench", usage.bench_cpu_seconds),
        ("other processes", usage.other_cpu_seconds),
    ):
        if seconds is not None:
            parts.append(f"{name} {seconds / window:.2f}")
    return ", ".join(parts)


def render_table(result: BenchResult) -> str:
    """The one table: orders/s of a-d, the ratios, latency, peak RSS, and the targets."""
    options = result.options
    targets = result.targets()
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, value: str = "", seconds: str = "", target: str = "") -> None:
        rows.append((label, value, seconds, target))

    if result.broker is not None:
        broker = result.broker
        row(
            "a. broker: produce + consume back (aiokafka)",
            f"{broker.orders_per_second:,.0f}",
            f"{broker.produce_seconds + broker.consume_seconds:.2f}",
        )
        row(
            "     produce, acks=all",
            f"{broker.produce_per_second:,.0f}",
            f"{broker.produce_seconds:.2f}",
        )
        row("     consume", f"{broker.consume_per_second:,.0f}", f"{broker.consume_seconds:.2f}")
    if result.database is not None:
        database = result.database
        row(
            f"b. database: the worker's writes ({database.best.name})",
            f"{database.orders_per_second:,.0f}",
            f"{database.best.seconds:.2f}",
        )
        for variant in database.variants:
            row(
                f"     {variant.name}",
                f"{variant.orders_per_second:,.0f}",
                f"{variant.seconds:.2f}",
            )
    if result.worker is not None:
        worker = result.worker
        row(
            f"c. worker end to end (batch {worker.batch_max_records},"
            f" {_processes(worker.processes)})",
            f"{worker.orders_per_second:,.0f}",
            f"{worker.seconds:.2f}",
            f">= {TARGET_ORDERS_PER_SECOND:,.0f}  {_status(targets['worker_orders_per_second'])}",
        )

    def beside_c(
        label: str,
        run: ThroughputResult,
        slower: float | None,
        than: str,
        target: float,
        met: bool | None,
    ) -> None:
        """A variant of c and, when known, how much slower it was than `than`."""
        row(label, f"{run.orders_per_second:,.0f}", f"{run.seconds:.2f}")
        if slower is not None:
            row(f"     slower than {than}", f"{slower:.0%}", "", f"<= {target:.0%}  {_status(met)}")

    if result.documents is not None:
        beside_c(
            "   with documents on",
            result.documents,
            result.documents_slower,
            "without",
            TARGET_DOCUMENTS_SLOWER,
            targets["documents_slower"],
        )
        per_core = result.documents.documents_per_core_second
        if per_core is not None:
            row("     documents/s per core of rendering", f"{per_core:.1f}")
    if result.sellers is not None:
        beside_c(
            f"   with documents on, orders of {result.options.get('sellers', '?')} sellers",
            result.sellers,
            result.sellers_slower,
            "with one seller",
            TARGET_SELLERS_SLOWER,
            targets["sellers_slower"],
        )
    if result.baseline is not None:
        baseline = result.baseline
        row(
            f"d. worker, one transaction per record (batch 1, {_processes(baseline.processes)})",
            f"{baseline.orders_per_second:,.0f}",
            f"{baseline.seconds:.2f}",
        )
    if result.share_of_database is not None:
        row(
            "c/b",
            f"{result.share_of_database:.2f}",
            "",
            f">= {TARGET_SHARE_OF_DATABASE}  {_status(targets['share_of_database'])}",
        )
    if result.times_baseline is not None:
        row(
            "c/d",
            f"{result.times_baseline:.1f}",
            "",
            f">= {TARGET_TIMES_BASELINE:.0f}  {_status(targets['times_baseline'])}",
        )
    if result.latency is not None:
        latency = result.latency
        delivered = latency.delivered
        row(
            f"e. latency at {latency.offered_rate:,.0f}/s for {latency.offered_seconds:.0f} s"
            f" ({latency.orders:,} orders)"
        )
        row("     p50 ms", f"{delivered.p50_ms:,.0f}")
        row("     p95 ms", f"{delivered.p95_ms:,.0f}")
        row(
            "     p99 ms",
            f"{delivered.p99_ms:,.0f}",
            "",
            f"<= {TARGET_P99_MS:.0f}  {_status(targets['p99_ms'])}",
        )
        row("     max ms", f"{delivered.max_ms:,.0f}")
    if result.delivered is not None:
        delivery = result.delivered
        row(
            f"f. delivered with documents"
            f" ({delivery.processes * delivery.renderer_processes} render processes)",
            f"{delivery.delivered_per_second:,.0f}",
            f"{delivery.seconds:.2f}",
        )
    if result.delivered_share is not None:
        row(
            "f/c",
            f"{result.delivered_share:.2f}",
            "",
            f">= {TARGET_DELIVERED_SHARE}  {_status(targets['delivered_share'])}",
        )
    if result.peak_rss_mib is not None:
        row(
            "worker peak RSS, MiB, largest process (c, e)",
            f"{result.peak_rss_mib:,.0f}",
            "",
            f"<= {TARGET_RSS_MIB:.0f}  {_status(targets['peak_rss_mib'])}",
        )
    header = ("", "orders/s", "seconds", "target")
    widths = [max(len(line[column]) for line in [header, *rows]) for column in range(4)]
    title = f"{header[0]:<{widths[0]}}  {header[1]:>{widths[1]}}  {header[2]:>{widths[2]}}"
    lines = [
        f"invoicer benchmark: {options['orders']:,} orders x 5 rows, "
        f"{options['partitions']} partitions, batch {options['batch_max_records']}",
        f"machine: {result.machine.describe()}",
        "",
        f"{title}  {header[3]}",
    ]
    lines += [
        f"{label:<{widths[0]}}  {value:>{widths[1]}}  {seconds:>{widths[2]}}  {target}".rstrip()
        for label, value, seconds, target in rows
    ]
    cpu = [
        f"  {name}: {_cores(run.usage)}"
        for name, run in (
            ("c", result.worker),
            ("c, documents on", result.documents),
            ("c, many sellers", result.sellers),
            ("d", result.baseline),
            ("e", result.latency),
            ("f", result.delivered),
        )
        if run is not None
    ]
    if cpu:
        lines += ["", f"CPU used, in cores (of {result.machine.cpus}), over each window:", *cpu]
    if result.latency is not None:
        lines.append("latency: event time → invoice-closed received by a downstream consumer")
    if result.delivered is not None:
        lines.append("delivered: first record consumed → last notification with its documents sent")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)
