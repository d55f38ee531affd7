"""Each request the read API answers: counted and timed by route template and status, and
one log line (method, route, status, duration, bytes). Neither holds the request's path,
query or headers, so never a token."""

from __future__ import annotations

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from prometheus_client import Counter, Histogram

from worker.connections import NOT_HTTP, NOT_ROUTED

log = structlog.get_logger(__name__)

UNMATCHED = "unmatched"
"""The route of a request no route matched (or refused before routing)."""
NOT_HTTP_ROUTE = "not-http"
"""The route of a request that was not HTTP."""
OTHER_METHOD = "_OTHER"
"""OpenTelemetry's name for a method that is not one of HTTP's (which any client can make up)."""
METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)

REQUESTS = Counter(
    "invoicer_api_requests_total",
    "Requests the read API answered, by route template (unmatched: no route matched; not-http:"
    " the request could not be read) and status.",
    ["route", "status"],
)
REQUEST_DURATION = Histogram(
    "invoicer_api_request_duration_seconds",
    "From a request's headers to its response written, by route template and status.",
    ["route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class AccessLog(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route, status = route_of(request), str(response.status)
        REQUESTS.labels(route, status).inc()
        REQUEST_DURATION.labels(route, status).observe(time)
        log.info(
            "request answered",
            action="access",
            **{
                "http.request.method": (
                    request.method if request.method in METHODS else OTHER_METHOD
                ),
                "http.route": route,
                "http.response.status_code": response.status,
                "http.response.size": response.body_length,
            },
            duration_seconds=round(time, 6),
        )


def route_of(request: web.BaseRequest) -> str:
    """The template of the route that answered (`/v1/invoices/{invoiceId}`), a bounded set."""
    if request.get(NOT_HTTP) or not isinstance(request, web.Request):
        return NOT_HTTP_ROUTE
    if request.get(NOT_ROUTED):
        return UNMATCHED
    resource = request.match_info.route.resource
    return UNMATCHED if resource is None else resource.canonical
