"""`python -m bench`: the worker's throughput and latency, side by side with the limits of
the broker and the database it stands on, on the same machine, in one run.

a. broker limit: the orders produced and consumed back by plain aiokafka, no database;
b. database limit: the worker's writes per order issued directly with asyncpg, batched;
c. the worker end to end (`invoicer run`), first record consumed → last invoice-closed out;
   and the same with documents on (a seller configured: the render pool works beside);
   and with documents on and the orders spread over many registered sellers;
d. the same with INVOICER_BATCH_MAX_RECORDS=1: one transaction per record;
e. latency under a steady offered load: event time → invoice-closed delivered;
f. delivered: the burst of c with documents on, first record consumed → last notification
   carrying its invoice's documents.

Prints one table and writes the same figures as JSON (--json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.broker_limit import measure_broker
from bench.database_limit import measure_database
from bench.delivery import measure_delivery
from bench.orders import make_orders
from bench.profiling import Profiler, summarize
from bench.report import BenchResult, Machine, as_json, render_table
from bench.sellers import SELLER_COUNT, BenchSeller, make_sellers, spread_over
from bench.services import Services, started_services
from bench.worker_process import log_directory
from bench.worker_runs import ThroughputResult, measure_latency, measure_throughput
from worker.logs import configure_logging

SCENARIOS = (
    "broker",
    "database",
    "worker",
    "documents",
    "sellers",
    "baseline",
    "latency",
    "delivered",
)
DEFAULT_PROCESSES = 2
"""One worker process per core of the machine the figures are of."""
DEFAULT_RATE = 500.0
SMOKE = {
    "orders": 40,
    "baseline_orders": 40,
    "rate": 20.0,
    "duration": 2.0,
    "partitions": 2,
    "sellers": 4,
}


@dataclass(frozen=True, slots=True)
class Options:
    orders: int
    baseline_orders: int
    rate: float | None
    """None: half of c, as measured in the run (else DEFAULT_RATE)."""
    duration: float
    partitions: int
    batch_max_records: int
    processes: int
    renderer_processes: int
    sellers: int
    """Registered sellers the orders are spread over in c's sellers run."""
    scenarios: tuple[str, ...]
    seconds_allowed: float
    smoke: bool
    database_url: str | None
    bootstrap_servers: str | None
    json_path: Path | None
    profile_dir: Path | None
    log_dir: Path | None

    def describe(self) -> dict[str, object]:
        return {
            "orders": self.orders,
            "baseline_orders": self.baseline_orders,
            "rate": self.rate,
            "duration": self.duration,
            "partitions": self.partitions,
            "batch_max_records": self.batch_max_records,
            "processes": self.processes,
            "renderer_processes": self.renderer_processes,
            "sellers": self.sellers,
            "scenarios": list(self.scenarios),
            "smoke": self.smoke,
        }


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--orders", type=_positive_int, help="pre-loaded orders (20000)")
    parser.add_argument(
        "--baseline-orders",
        type=_positive_int,
        help="orders for d, one transaction per record (default: --orders)",
    )
    parser.add_argument(
        "--rate",
        type=_positive_float,
        help=f"offered orders/s for e (default: half of c, or {DEFAULT_RATE:.0f} without c)",
    )
    parser.add_argument("--duration", type=_positive_float, help="seconds of load for e (60)")
    parser.add_argument("--partitions", type=_positive_int, help="partitions per topic (4)")
    parser.add_argument(
        "--batch-max-records", type=_positive_int, default=500, help="the worker's batch for c, e"
    )
    parser.add_argument(
        "--processes",
        type=_positive_int,
        default=DEFAULT_PROCESSES,
        help=f"`invoicer run --processes N` for c, d, e and f ({DEFAULT_PROCESSES})",
    )
    parser.add_argument(
        "--renderer-processes",
        type=_positive_int,
        default=None,
        help="INVOICER_RENDERER_PROCESSES for f: render processes per worker process (1)",
    )
    parser.add_argument(
        "--sellers",
        type=_positive_int,
        help=f"registered sellers the orders of c's sellers run are spread over ({SELLER_COUNT})",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIOS,
        help="run only this scenario (repeatable); default: all",
    )
    parser.add_argument(
        "--timeout", type=_positive_float, default=900.0, help="seconds a scenario may take"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny run that shows the benchmark works (40 orders, 2 s of load): not a measure",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database whose server the benchmark may create databases on"
        " (default: an embedded PostgreSQL 18)",
    )
    parser.add_argument(
        "--bootstrap-servers", help="a Kafka broker to use (default: an embedded Tansu broker)"
    )
    parser.add_argument("--json", type=Path, dest="json_path", help="write the figures here")
    parser.add_argument(
        "--profile",
        type=Path,
        dest="profile_dir",
        help="record the worker with py-spy during c, d and e (collapsed stacks, summaries)",
    )
    parser.add_argument("--log-dir", type=Path, help="keep the workers' logs here")
    args = parser.parse_args(argv)
    defaults: dict[str, float] = (
        dict(SMOKE) if args.smoke else {"orders": 20_000, "duration": 60.0, "partitions": 4}
    )
    orders = args.orders or int(defaults["orders"])
    return Options(
        orders=orders,
        baseline_orders=args.baseline_orders or int(defaults.get("baseline_orders", orders)),
        rate=args.rate or defaults.get("rate"),
        duration=args.duration or defaults["duration"],
        partitions=args.partitions or int(defaults["partitions"]),
        batch_max_records=args.batch_max_records,
        processes=args.processes,
        renderer_processes=args.renderer_processes or 1,
        sellers=args.sellers or int(defaults.get("sellers", SELLER_COUNT)),
        scenarios=tuple(args.only or SCENARIOS),
        seconds_allowed=args.timeout,
        smoke=args.smoke,
        database_url=args.database_url,
        bootstrap_servers=args.bootstrap_servers,
        json_path=args.json_path,
        profile_dir=args.profile_dir,
        log_dir=args.log_dir,
    )


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _profile_path(options: Options, scenario: str) -> Path | None:
    if options.profile_dir is None:
        return None
    if not Profiler.available():
        raise RuntimeError("--profile needs py-spy: pip install py-spy")
    options.profile_dir.mkdir(parents=True, exist_ok=True)
    return options.profile_dir / f"{scenario}.collapsed.txt"


def _write_profile_summary(path: Path | None) -> None:
    if path is None or not path.exists():
        return
    summary = path.with_name(path.name.replace(".collapsed.txt", ".summary.txt"))
    summary.write_text(summarize(path).render() + "\n")
    _progress(f"profile: {path}, summary: {summary}")


async def run_benchmark(options: Options, services: Services) -> BenchResult:
    result = BenchResult(
        machine=Machine.this(),
        options=options.describe(),
        services={
            "postgres": "given URL" if options.database_url else "embedded PostgreSQL 18",
            "broker": "given bootstrap servers" if options.bootstrap_servers else "embedded Tansu",
        },
    )
    run_tag = uuid.uuid4().hex[:6]
    orders = make_orders(options.orders, f"bench-{run_tag}")
    seconds_allowed = options.seconds_allowed
    with log_directory(options.log_dir) as log_dir:
        if "broker" in options.scenarios:
            _progress(f"a. broker: producing and consuming {len(orders):,} orders")
            result.broker = await measure_broker(
                services, orders, options.partitions, seconds_allowed
            )
        if "database" in options.scenarios:
            _progress(f"b. database: the worker's writes for {len(orders):,} orders")
            result.database = await measure_database(
                services, orders, options.batch_max_records, seconds_allowed
            )
        if "worker" in options.scenarios:
            _progress(f"c. worker: {len(orders):,} pre-loaded orders")
            profile = _profile_path(options, "worker")
            result.worker = await measure_throughput(
                services,
                orders,
                label="worker",
                partitions=options.partitions,
                batch_max_records=options.batch_max_records,
                processes=options.processes,
                seconds_allowed=seconds_allowed,
                log_dir=log_dir,
                profile_path=profile,
            )
            _write_profile_summary(profile)

        async def with_documents(
            label: str, sellers: Sequence[BenchSeller] = ()
        ) -> ThroughputResult:
            of_sellers = f" of {len(sellers)} registered sellers" if sellers else ""
            _progress(f"c. worker, documents on: {len(orders):,} pre-loaded orders{of_sellers}")
            return await measure_throughput(
                services,
                spread_over(orders, sellers) if sellers else orders,
                label=label,
                partitions=options.partitions,
                batch_max_records=options.batch_max_records,
                processes=options.processes,
                seconds_allowed=seconds_allowed,
                log_dir=log_dir,
                documents=True,
                render_sample_seconds=1.0 if options.smoke else 10.0,
                sellers=sellers,
            )

        if "documents" in options.scenarios:
            result.documents = await with_documents("documents")
        if "sellers" in options.scenarios:
            result.sellers = await with_documents("sellers", make_sellers(options.sellers))
        if "baseline" in options.scenarios:
            baseline_orders = orders[: options.baseline_orders]
            if len(baseline_orders) < options.baseline_orders:
                baseline_orders = make_orders(options.baseline_orders, f"bench-{run_tag}-d")
            _progress(f"d. worker, batch 1: {len(baseline_orders):,} pre-loaded orders")
            profile = _profile_path(options, "baseline")
            result.baseline = await measure_throughput(
                services,
                baseline_orders,
                label="baseline",
                partitions=options.partitions,
                batch_max_records=1,
                processes=options.processes,
                seconds_allowed=seconds_allowed,
                log_dir=log_dir,
                profile_path=profile,
            )
            _write_profile_summary(profile)
        if "latency" in options.scenarios:
            rate = options.rate
            if rate is None:
                worker = result.worker
                rate = DEFAULT_RATE if worker is None else worker.orders_per_second / 2
            count = max(1, round(rate * options.duration))
            _progress(f"e. latency: {count:,} orders at {rate:,.0f}/s")
            profile = _profile_path(options, "latency")
            result.latency = await measure_latency(
                services,
                make_orders(count, f"bench-{run_tag}-e", seed=7),
                rate=rate,
                duration=options.duration,
                partitions=options.partitions,
                batch_max_records=options.batch_max_records,
                processes=options.processes,
                log_dir=log_dir,
                profile_path=profile,
            )
            _write_profile_summary(profile)
        if "delivered" in options.scenarios:
            _progress(
                f"f. delivered: {len(orders):,} pre-loaded orders, documents on,"
                f" {options.renderer_processes * options.processes} render processes"
            )
            result.delivered = await measure_delivery(
                services,
                orders,
                partitions=options.partitions,
                batch_max_records=options.batch_max_records,
                processes=options.processes,
                renderer_processes=options.renderer_processes,
                seconds_allowed=seconds_allowed,
                log_dir=log_dir,
            )
    if options.smoke:
        result.notes.append("smoke run: shows the benchmark works; its figures measure nothing")
    if options.profile_dir is not None:
        result.notes.append("py-spy was sampling the worker: its figures are lower than without")
    return result


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    configure_logging("WARNING")  # the table goes to standard output, alone
    with started_services(options.database_url, options.bootstrap_servers) as services:
        result = asyncio.run(run_benchmark(options, services))
    print(render_table(result), flush=True)
    if options.json_path is not None:
        options.json_path.parent.mkdir(parents=True, exist_ok=True)
        options.json_path.write_text(json.dumps(as_json(result), indent=2) + "\n")
    return 0
