"""/metrics, /healthz and /readyz, served inside the worker's event loop.

A probe answers 200 or 503 with `{"ok": …, "reason": …}`. /metrics first brings the gauges
that need a look at the database or the broker up to date, so a scrape sees them as they are.
"""

from __future__ import annotations

import errno
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

from worker.connections import ConnectionLimits, NoAccessLog, Port
from worker.startup import StartupError

HealthCheck = Callable[[], Awaitable[tuple[bool, str]]]
Refresh = Callable[[], Awaitable[None]]

LISTEN_HOST = "0.0.0.0"
METRICS_PATH = "/metrics"
LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"


def create_app(
    liveness: HealthCheck,
    readiness: HealthCheck,
    refresh: Refresh,
    registry: CollectorRegistry = REGISTRY,
) -> web.Application:
    async def metrics(request: web.Request) -> web.Response:
        await refresh()
        # The text format Prometheus asks for (OpenMetrics, or the classic text format).
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(registry), headers={"Content-Type": content_type})

    def probe(check: HealthCheck) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_: web.Request) -> web.Response:
            ok, reason = await check()
            return web.json_response({"ok": ok, "reason": reason}, status=200 if ok else 503)

        return handler

    app = web.Application()
    app.router.add_get(METRICS_PATH, metrics)
    app.router.add_get(LIVENESS_PATH, probe(liveness))
    app.router.add_get(READINESS_PATH, probe(readiness))
    return app


async def start_http(
    app: web.Application,
    port: int,
    limits: ConnectionLimits,
    *,
    server: str = "ops",
    setting: str = "INVOICER_HTTP_PORT",
    access_log: type[AbstractAccessLogger] = NoAccessLog,
) -> tuple[web.AppRunner, int]:
    """Serves `app` on `port` (0: any free one), which `setting` configures, its connections
    held to `limits` (worker/connections.py); returns the runner and the bound port."""
    runner = web.AppRunner(app, shutdown_timeout=limits.stop_grace_seconds)
    await runner.setup()
    try:
        await Port(runner, LISTEN_HOST, port, limits, server=server, access_log=access_log).start()
    except OSError as error:
        await runner.cleanup()
        problem = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error})"
        raise StartupError(f"port {port} {problem}; set {setting} to a free port") from error
    bound: int = runner.addresses[0][1]
    return runner, bound
