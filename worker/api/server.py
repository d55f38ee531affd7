"""`invoicer api`: the read API on INVOICER_API_PORT, and the probes and metrics on
INVOICER_HTTP_PORT (as the worker's), until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import asyncpg
import structlog
from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import Metric

from worker.api.access import AccessLog
from worker.api.app import create_api
from worker.connections import ConnectionLimits
from worker.http import create_app, start_http
from worker.settings import Settings
from worker.startup import StartupError, check_database
from worker.store.pool import condition, create_pool

log = structlog.get_logger(__name__)

POOL_SIZE = 10
API_METRIC_PREFIXES = (
    "invoicer_api_",
    "invoicer_http_",
    "invoicer_build_info",
    "process_",
    "python_",
)
NO_TOKENS = (
    "INVOICER_API_TOKENS is not set: the read API would refuse every request; set it to one"
    " or more comma-separated bearer tokens"
)


async def start_api(
    settings: Settings, pool: asyncpg.Pool, port: int, limits: ConnectionLimits | None = None
) -> tuple[web.AppRunner, int]:
    """Serves the read API on `port` (0: any free one), its connections held to `limits`
    (by default the contract's, INVOICER_HTTP_MAX_CONNECTIONS at once); returns the runner
    and the port."""
    return await start_http(
        create_api(settings, pool),
        port,
        limits or ConnectionLimits(settings.http_max_connections),
        server="api",
        setting="INVOICER_API_PORT",
        access_log=AccessLog,
    )


class _ApiMetrics:
    """The metrics of the process's registry that are the read API's: what it serves, its
    connections, the process and the build. The worker's (`invoicer_ready`, the outbox,
    the lag, …) are registered on import too, but say nothing of this process: exported, an
    API pod would be a worker never ready."""

    def collect(self) -> Iterator[Metric]:
        for metric in REGISTRY.collect():
            if metric.name.startswith(API_METRIC_PREFIXES):
                yield metric


def api_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ApiMetrics())
    return registry


def probes_app(pool: asyncpg.Pool) -> web.Application:
    """The API's probes (ready while its database answers) and its own metrics."""

    async def alive() -> tuple[bool, str]:
        return True, "serving"

    async def ready() -> tuple[bool, str]:
        try:
            await pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            return False, f"the database does not answer: {condition(error)}"
        return True, "the database answers"

    async def nothing_to_refresh() -> None:
        return None

    return create_app(alive, ready, nothing_to_refresh, api_registry())


async def serve(settings: Settings) -> None:
    if not settings.api_bearer_tokens:
        raise StartupError(NO_TOKENS)
    await check_database(settings.database_url, wait_if_down=True, migrations=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pool = await create_pool(
        settings.database_url, max_size=POOL_SIZE, timeouts=settings.database_timeouts
    )

    runners: list[web.AppRunner] = []
    try:
        api, port = await start_api(settings, pool, settings.api_port)
        runners.append(api)
        probes, _ = await start_http(
            probes_app(pool),
            settings.http_port,
            ConnectionLimits(settings.http_max_connections),
        )
        runners.append(probes)
        log.info("the read API is serving", action="api", port=port)
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        await pool.close()
