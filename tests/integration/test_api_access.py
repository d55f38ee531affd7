"""Each request the read API answers is counted and timed by route template and status, and
logged on one line (method, route, status, duration, bytes) that holds neither the path's
values nor a header, so never the token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from tests.integration.operations import serving_api
from tests.integration.raw_http import exchange, http_request
from worker.api.server import probes_app
from worker.settings import Settings
from worker.store.pool import create_pool

pytestmark = pytest.mark.integration

TOKEN = "access-token-0123456789abcdef"
AUTHORIZED = {b"Authorization": b"Bearer " + TOKEN.encode()}


@pytest.fixture
async def api_port(settings: Settings) -> AsyncIterator[int]:
    async with serving_api(settings, TOKEN) as port:
        yield port


def _count(route: str, status: int) -> float:
    labels = {"route": route, "status": str(status)}
    return REGISTRY.get_sample_value("invoicer_api_requests_total", labels) or 0.0


def _timed(route: str, status: int) -> float:
    labels = {"route": route, "status": str(status)}
    return REGISTRY.get_sample_value("invoicer_api_request_duration_seconds_count", labels) or 0.0


async def test_each_request_is_counted_timed_and_logged_without_the_token(api_port: int) -> None:
    sent = [
        (http_request(b"/v1/invoices?orderId=O-secret", AUTHORIZED), "/v1/invoices", 200),
        (http_request(b"/v1/invoices?orderId=%00", AUTHORIZED), "/v1/invoices", 400),
        (
            http_request(b"/v1/invoices/00000000-0000-4000-8000-000000000001", AUTHORIZED),
            "/v1/invoices/{invoiceId}",
            404,
        ),
        (http_request(b"/v1/invoices/x/pdf"), "/v1/invoices/{invoiceId}/{kind}", 401),
        (http_request(b"/nowhere", AUTHORIZED), "unmatched", 404),
        (
            b"GET /\x01 HTTP/1.1\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n\r\n",
            "not-http",
            400,
        ),
    ]
    before = {
        (route, status): (_count(route, status), _timed(route, status)) for _, route, status in sent
    }
    with capture_logs() as events:
        for raw, _, status in sent:
            assert (await exchange(api_port, raw)).status == status

    for (route, status), (count, timed) in before.items():
        assert _count(route, status) == count + 1, (route, status)
        assert _timed(route, status) == timed + 1, (route, status)
    lines = [event for event in events if event.get("action") == "access"]
    assert [(e["http.route"], e["http.response.status_code"]) for e in lines] == [
        (route, status) for _, route, status in sent
    ]
    for line in lines:
        assert line["log_level"] == "info"
        unread = line["http.route"] == "not-http"  # its method is not known
        assert line["http.request.method"] == ("_OTHER" if unread else "GET")
        assert 0 <= line["duration_seconds"] < 5
        assert line["http.response.size"] > 0
    assert TOKEN not in repr(events) and "O-secret" not in repr(events)


async def test_the_api_exports_its_own_metrics_and_none_of_the_workers(
    settings: Settings, api_port: int
) -> None:
    """The worker's metrics are registered in the API's process too; exported, an API pod
    would be a worker never ready (`invoicer_ready 0`: InvoicerNotReady on every API pod)."""
    await exchange(api_port, http_request(b"/v1/invoices", AUTHORIZED))
    pool = await create_pool(settings.database_url)
    client = TestClient(TestServer(probes_app(pool)))
    await client.start_server()
    try:
        scraped = await (await client.get("/metrics")).text()
    finally:
        await client.close()
        await pool.close()
    names = {line.split("{")[0].split(" ")[0] for line in scraped.splitlines() if line[:1] != "#"}
    assert "invoicer_api_requests_total" in names
    assert "invoicer_build_info" in names
    assert not any(
        name.startswith(("invoicer_ready", "invoicer_outbox", "invoicer_consumer"))
        for name in names
    )
