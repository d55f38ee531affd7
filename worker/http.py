"""/metrics, /healthz and /readyz, served inside the worker's event loop."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

HealthCheck = Callable[[], Awaitable[tuple[bool, str]]]


def create_app(liveness: HealthCheck, readiness: HealthCheck) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    def probe(check: HealthCheck) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(_: web.Request) -> web.Response:
            ok, reason = await check()
            return web.json_response({"ok": ok, "reason": reason}, status=200 if ok else 503)

        return handler

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", probe(liveness))
    app.router.add_get("/readyz", probe(readiness))
    return app


async def start_http(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    return runner


def seconds_since(moment: float) -> float:
    return time.monotonic() - moment
