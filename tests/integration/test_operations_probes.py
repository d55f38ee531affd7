"""/healthz and /readyz as Kubernetes and Docker use them, against the real worker, broker
and database: ready means dependencies; alive means the consumer makes progress when it
has work, counted only while ready."""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg

from tests.deploy_files import healthcheck_command
from tests.integration.flows import order_event, publish_order, row
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import (
    DatabaseProxy,
    changes,
    probe,
    running_worker,
    scrape,
    seconds_since,
    wait_for_scrape,
    wait_for_status,
    wait_until,
)
from worker.running import Worker
from worker.settings import Settings

STALL_SECONDS = 1.0


async def image_healthcheck(port: int) -> int:
    """The exit status of the image's HEALTHCHECK command run against the worker."""
    python, *arguments = healthcheck_command()
    assert python == "python"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *arguments,
        env={**os.environ, "INVOICER_HTTP_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await process.wait()


async def image_healthcheck_passes(port: int, tries: int = 5) -> bool:
    for _ in range(tries):
        if await image_healthcheck(port) == 0:
            return True
        await asyncio.sleep(1)
    return False


async def test_a_running_worker_is_ready_and_alive(worker: Worker, settings: Settings) -> None:
    assert worker.http_port, "the worker tells the port it serves on"
    port = worker.http_port

    assert await wait_for_status(port, "/readyz", 200) == {"ok": True, "reason": "ready"}
    assert await probe(port, "/healthz") == (200, {"ok": True, "reason": "alive"})
    assert await image_healthcheck(port) == 0
    scraped = await scrape(port)
    assert scraped.content_type.startswith("text/plain; version=0.0.4")
    assert scraped.value("invoicer_ready") == 1
    assert scraped.label_values("invoicer_build_info", "version")


async def test_a_stalled_consumer_with_records_waiting_fails_liveness_while_ready(
    settings: Settings, kafka: KafkaClient, db: asyncpg.Connection
) -> None:
    stalling = settings.model_copy(update={"liveness_stall_seconds": STALL_SECONDS})
    async with running_worker(stalling) as worker:
        assert worker.http_port
        port = worker.http_port
        await wait_for_status(port, "/readyz", 200)
        topic = settings.topics.orders_completed

        # The batch cannot get past the inbox while this transaction holds its lock: the
        # worker stays connected and ready, and applies nothing.
        blocker = db.transaction()
        await blocker.start()
        await db.execute("LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE")
        try:
            await publish_order(kafka, settings, order_event("stall-1", [row("1")]))
            failed = await wait_for_status(port, "/healthz", 503)
            assert failed["ok"] is False
            assert "no progress" in failed["reason"]
            assert await image_healthcheck(port) != 0
            assert await probe(port, "/readyz") == (200, {"ok": True, "reason": "ready"})
            stalled = await scrape(port)
            assert stalled.total("invoicer_consumer_lag_records", topic=topic) == 1
            # the stuck batch's, and the renderer's when a scrape meets its look for jobs
            assert stalled.value("invoicer_db_pool_connections_in_use") >= 1
        finally:
            await blocker.rollback()

        await kafka.read(settings.topics.invoices_closed, 1)
        assert await wait_for_status(port, "/healthz", 200) == {"ok": True, "reason": "alive"}
        # as the image's HEALTHCHECK retries: alive again within a few of its tries (its
        # interpreter starting can take seconds on a busy machine, the stall limit is 1 s)
        assert await image_healthcheck_passes(port)
        await wait_for_scrape(
            port,
            lambda s: (
                s.total("invoicer_consumer_lag_records", topic=topic) == 0
                and s.value("invoicer_db_pool_connections_in_use") == 0
            ),
            "no lag and no connection in use once the batch is applied",
        )


async def test_a_database_outage_fails_readiness_but_not_liveness(
    settings: Settings, kafka: KafkaClient
) -> None:
    proxy = DatabaseProxy(settings.database_url)
    await proxy.start()
    through_proxy = settings.model_copy(
        update={"database_url": proxy.url, "liveness_stall_seconds": STALL_SECONDS}
    )
    async with running_worker(through_proxy) as worker:
        assert worker.http_port
        assert worker.consumer
        port, consumer = worker.http_port, worker.consumer
        await wait_for_status(port, "/readyz", 200)
        before = await scrape(port)

        await proxy.cut()
        await publish_order(kafka, settings, order_event("outage-1", [row("1")]))

        async def stalled_with_records_waiting() -> bool:
            return (
                sum(consumer.lag.values()) > 0
                and seconds_since(consumer.last_progress) > 2 * STALL_SECONDS
            )

        # Nothing asked /readyz since the outage began: liveness finds it out by itself.
        await wait_until(stalled_with_records_waiting, "records waiting, none applied")
        status, alive = await probe(port, "/healthz")
        assert status == 200, alive
        assert "not ready" in alive["reason"]
        status, not_ready = await probe(port, "/readyz")
        assert status == 503
        assert not_ready["reason"].startswith("database unreachable")
        during = await scrape(port)
        assert during.value("invoicer_ready") == 0
        assert changes(before, during, "invoicer_retries_total", what="batch")

        await proxy.restore()
        closed = await kafka.read(settings.topics.invoices_closed, 1)
        assert closed[0].event["data"]["orderId"] == "outage-1"
        assert await wait_for_status(port, "/readyz", 200) == {"ok": True, "reason": "ready"}
        assert (await scrape(port)).value("invoicer_ready") == 1
    await proxy.cut()
