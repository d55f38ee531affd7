"""`invoicer run --processes 2` as the production overlay runs it: each worker process
serves its own /metrics (process i on INVOICER_HTTP_PORT + i), and a scrape of the ports
the pod declares and the ServiceMonitor scrapes sees the counters of every process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import time
from pathlib import Path

import aiohttp

from tests.deploy_files import rendered
from tests.faults.processes import environment_without_invoicer, invoicer_command
from tests.integration.flows import order_event, publish_order, row
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import Scrape, environment, scrape
from tests.repository.test_deploy import WORKER, processes
from worker.settings import Settings

ORDERS = 40
WAIT_SECONDS = 120.0
POLL_SECONDS = 0.2


def free_consecutive_ports(count: int) -> int:
    """The first of `count` consecutive ports that nothing listens on."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first + count > 65535:
            continue
        with contextlib.ExitStack() as stack:
            try:
                for port in range(first, first + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return first
    raise AssertionError(f"no {count} consecutive free ports")


def scraped_offsets() -> list[int]:
    """Each port the production pod declares for its worker processes and the
    ServiceMonitor scrapes, as an offset from INVOICER_HTTP_PORT."""
    manifests = rendered("production")
    first = int(manifests.get("ConfigMap", WORKER)["data"]["INVOICER_HTTP_PORT"])
    declared = {
        port["name"]: port["containerPort"]
        for port in manifests.container("Deployment", WORKER)["ports"]
    }
    endpoints = manifests.get("ServiceMonitor", WORKER)["spec"]["endpoints"]
    return sorted(declared[endpoint["port"]] - first for endpoint in endpoints)


def start_supervisor(
    count: int, settings: Settings, http_port: int, log: Path
) -> subprocess.Popen[bytes]:
    """`invoicer run --processes count`, its output in `log`."""
    with log.open("wb") as output:
        return subprocess.Popen(
            [*invoicer_command(), "run", "--processes", str(count)],
            env={
                **environment_without_invoicer(),
                **environment(settings),
                "INVOICER_HTTP_PORT": str(http_port),
                "INVOICER_KAFKA_SESSION_TIMEOUT_MS": "6000",
                "INVOICER_LOG_FORMAT": "json",
            },
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def ready(port: int) -> bool:
    timeout = aiohttp.ClientTimeout(total=5)
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"http://127.0.0.1:{port}/readyz") as reply,
        ):
            return reply.status == 200
    return False


def applied(scraped: Scrape, settings: Settings) -> float:
    return scraped.total(
        "invoicer_records_total", topic=settings.topics.orders_completed, outcome="applied"
    )


async def test_every_process_is_scraped_on_a_port_the_pod_declares(
    settings: Settings, kafka: KafkaClient, tmp_path: Path
) -> None:
    count = processes(rendered("production").container("Deployment", WORKER))
    offsets = scraped_offsets()
    assert count == 2
    assert offsets == list(range(count))
    first = free_consecutive_ports(count)
    ports = [first + offset for offset in offsets]
    log = tmp_path / "supervisor.log"
    supervisor = start_supervisor(count, settings, first, log)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not all([await ready(port) for port in ports]):
            assert supervisor.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"not ready:\n{log.read_text()[-4000:]}"
            await asyncio.sleep(POLL_SECONDS)

        for number in range(ORDERS):
            await publish_order(kafka, settings, order_event(f"order-{number}", [row("r1")]))

        # Each process holds some of the 3 partitions, and the 40 orders' keys are spread
        # over all of them: every process applies some.
        scrapes = [await scrape(port) for port in ports]
        while sum(applied(scraped, settings) for scraped in scrapes) < ORDERS:
            assert time.monotonic() < deadline, f"{scrapes}\n{log.read_text()[-4000:]}"
            await asyncio.sleep(POLL_SECONDS)
            scrapes = [await scrape(port) for port in ports]

        assert sum(applied(scraped, settings) for scraped in scrapes) == ORDERS
        assert all(applied(scraped, settings) > 0 for scraped in scrapes), [
            applied(scraped, settings) for scraped in scrapes
        ]
        assert all(scraped.total("invoicer_ready") == 1 for scraped in scrapes)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(supervisor.wait, 90)
        finally:
            with contextlib.suppress(ProcessLookupError):
                supervisor.kill()
    assert code == 0, log.read_text()[-4000:]
