"""The benchmark (`python -m bench`) works: a tiny smoke run against the test services.

Its figures are not judged here (no timed assertions): only that every scenario ran, the
table and the JSON are complete, and every order was invoiced exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Services

REPOSITORY = Path(__file__).resolve().parents[2]
SMOKE_ORDERS = 40
SMOKE_LATENCY_ORDERS = 40  # 20 orders/s for 2 s
SMOKE_SELLERS = 4
ROWS_WRITTEN_PER_ORDER = 15  # order, 5 rows, invoice, 5 lines, inbox, 2 outbox rows
RUN_TIMEOUT_SECONDS = 240

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smoke_run(services: Services, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    output = tmp_path_factory.mktemp("bench") / "bench.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--json",
            str(output),
            "--database-url",
            services.database_url,
            "--bootstrap-servers",
            services.bootstrap_servers,
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed.stdout, json.loads(output.read_text())


def _assert_every_order_invoiced_once(
    counts: dict[str, int], orders: int, *, documents: bool = False
) -> None:
    """With documents on, notifications wait for documents: the run does not count them."""
    assert counts["orders"] == orders
    for name in (
        "invoices",
        "invoiced_orders",
        "invoice_numbers",
        "inbox_entries",
        "invoice_closed_events",
        "invoice_closed_orders",
        *(() if documents else ("notifications",)),
    ):
        assert counts[name] == orders, name
    assert counts["outbox_left"] == 0


def test_the_table_has_every_scenario_ratio_and_target(smoke_run: tuple[str, Any]) -> None:
    table, _ = smoke_run
    labels = [line.split()[0] for line in table.splitlines() if line.strip()]
    for label in ("a.", "b.", "c.", "d.", "e.", "f.", "c/b", "c/d", "f/c", "worker"):
        assert label in labels, label
    assert any(f"orders of {SMOKE_SELLERS} sellers" in line for line in table.splitlines())
    for percentile in ("p50", "p95", "p99"):
        assert any(line.strip().startswith(percentile) for line in table.splitlines())


def test_the_broker_limit_consumed_every_order(smoke_run: tuple[str, Any]) -> None:
    broker = smoke_run[1]["broker"]
    assert broker["orders"] == broker["consumed"] == SMOKE_ORDERS
    assert broker["produce_per_second"] > 0
    assert broker["consume_per_second"] > 0
    assert broker["orders_per_second"] > 0


def test_the_database_limit_wrote_every_row_in_every_form(smoke_run: tuple[str, Any]) -> None:
    database = smoke_run[1]["database"]
    forms = {(variant["form"], variant["connections"]) for variant in database["variants"]}
    assert forms == {("unnest", 1), ("copy", 1), ("copy", 2)}
    for variant in database["variants"]:
        assert variant["rows_written"] == SMOKE_ORDERS * ROWS_WRITTEN_PER_ORDER
        assert variant["orders_per_second"] > 0
    assert database["orders_per_second"] == max(
        variant["orders_per_second"] for variant in database["variants"]
    )


@pytest.mark.parametrize(("scenario", "batch"), [("worker", 500), ("baseline", 1)])
def test_the_worker_invoiced_every_order_exactly_once(
    smoke_run: tuple[str, Any], scenario: str, batch: int
) -> None:
    run = smoke_run[1][scenario]
    assert run["batch_max_records"] == batch
    assert run["exit_code"] == 0
    _assert_every_order_invoiced_once(run["counts"], SMOKE_ORDERS)
    assert run["orders_per_second"] > 0
    assert run["usage"]["peak_rss_mib"] > 0


def test_the_sellers_run_invoiced_every_order_for_its_registered_seller(
    smoke_run: tuple[str, Any],
) -> None:
    document = smoke_run[1]
    assert document["options"]["sellers"] == SMOKE_SELLERS
    for scenario, sellers in (("documents", 0), ("sellers", SMOKE_SELLERS)):
        run = document[scenario]
        assert run["exit_code"] == 0
        _assert_every_order_invoiced_once(run["counts"], SMOKE_ORDERS, documents=True)
        assert run["counts"]["registered_sellers"] == sellers, scenario
        assert run["orders_per_second"] > 0


def test_the_latency_run_delivered_every_order_and_has_percentiles(
    smoke_run: tuple[str, Any],
) -> None:
    latency = smoke_run[1]["latency"]
    assert latency["orders"] == SMOKE_LATENCY_ORDERS
    assert latency["exit_code"] == 0
    _assert_every_order_invoiced_once(latency["counts"], SMOKE_LATENCY_ORDERS)
    for figures in (latency["delivered_ms"], latency["handed_to_broker_ms"]):
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["max"]


def test_every_order_was_delivered_with_its_documents(smoke_run: tuple[str, Any]) -> None:
    """The run itself fails unless every order got one notification carrying documents."""
    delivered = smoke_run[1]["delivered"]
    assert delivered["orders"] == SMOKE_ORDERS
    assert delivered["exit_code"] == 0
    assert delivered["delivered_per_second"] > 0


def test_the_ratios_and_targets_are_all_reported(smoke_run: tuple[str, Any]) -> None:
    document = smoke_run[1]
    assert document["ratios"]["worker_over_database"] > 0
    assert document["ratios"]["worker_over_baseline"] > 0
    assert document["peak_rss_mib"] > 0
    assert set(document["targets"]) == {
        "worker_orders_per_second",
        "share_of_database",
        "times_baseline",
        "documents_slower",
        "sellers_slower",
        "p99_ms",
        "peak_rss_mib",
        "delivered_share",
    }
    assert document["ratios"]["documents_slower"] is not None
    assert document["ratios"]["sellers_slower"] is not None
    assert document["ratios"]["delivered_over_worker"] > 0
    assert all(isinstance(met, bool) for met in document["targets"].values())
    assert document["options"]["smoke"] is True
