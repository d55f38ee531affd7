"""The read API's routes: an invoice, a page of invoices, an invoice's PDF and UBL, and the
OpenAPI document. Errors are problem details; every route but the document needs a token."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import asyncpg
import structlog
from aiohttp import web

from worker.api import cursor
from worker.api.access import route_of
from worker.api.auth import Tokens, scope_of, unauthorized
from worker.api.openapi import OPENAPI_PATH, openapi_document
from worker.api.problems import BadParameter, problem_response
from worker.api.requests import DOCUMENT_ROUTE, INVOICE_PATH, INVOICES_PATH, list_parameters
from worker.api.resource import invoice_resource
from worker.api.well_formed import check_header, check_target
from worker.messages.outgoing import InvoicePage
from worker.settings import Settings
from worker.store import reads
from worker.store.documents import document_content
from worker.store.pool import condition, is_unreachable

log = structlog.get_logger(__name__)

IF_NONE_MATCH = "If-None-Match"
_ENTITY_TAG = re.compile(r'(?:W/)?"([^"]*)"')
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_api(settings: Settings, pool: asyncpg.Pool) -> web.Application:
    tokens = Tokens(settings.api_bearer_tokens)
    timezone = ZoneInfo(settings.timezone)
    document = openapi_document()

    @web.middleware
    async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except BadParameter as bad:
            return problem_response(400, bad.detail, parameter=bad.parameter)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            allowed = {name: value for name, value in error.headers.items() if name == "Allow"}
            return problem_response(error.status, error.reason, headers=allowed)
        except Exception as error:
            if is_unreachable(error):
                log.warning("the database is not available", error=condition(error))
                return problem_response(
                    503, "the database is not available; try again", headers={"Retry-After": "5"}
                )
            # a defect: logged with its cause, answered as a problem without it
            log.error("request failed", error=condition(error), route=route_of(request))
            return problem_response(500, "the request failed; it is logged")

    @web.middleware
    async def authenticated(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == OPENAPI_PATH:
            return await handler(request)
        return unauthorized(request, tokens) or await handler(request)

    @web.middleware
    async def well_formed(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        if route is not None:  # else the router answers 404 or 405
            target = request.rel_url  # as sent (also when sent in absolute form)
            check_target(target.raw_path, target.raw_query_string, route.canonical)
        return await handler(request)

    def today() -> date:
        return datetime.now(timezone).date()

    async def get_invoice(request: web.Request) -> web.Response:
        invoice_id = request.match_info["invoiceId"]
        stored = await reads.stored_invoice(pool, invoice_id, scope_of(request))
        if stored is None:
            return problem_response(404, f"there is no invoice {invoice_id}")
        return _json(invoice_resource(stored, today()).model_dump_json())

    async def list_invoices(request: web.Request) -> web.Response:
        only, limit, after = list_parameters(request.query)
        page = await reads.page_of_invoices(pool, only, limit, after, scope_of(request))
        body = InvoicePage(
            items=[invoice_resource(stored, today()) for stored in page.invoices],
            next=None if page.next is None else cursor.encode(page.next, only),
        )
        return _json(body.model_dump_json())

    async def get_document(request: web.Request) -> web.Response:
        invoice_id, kind = request.match_info["invoiceId"], request.match_info["kind"]
        if_none_match = request.headers.get(IF_NONE_MATCH)
        check_header(IF_NONE_MATCH, if_none_match)
        stored = await reads.stored_document(pool, invoice_id, kind, scope_of(request))
        if stored is None:
            return problem_response(
                404, f"there is no {kind} of invoice {invoice_id} (not yet, or never)"
            )
        headers = {"ETag": f'"{stored.sha256}"'}
        if _matches(if_none_match, stored.sha256):
            return web.Response(status=304, headers=headers)
        content = await document_content(pool, invoice_id, kind)
        if content is None:  # only stored documents are described
            raise AssertionError(f"the {kind} of {invoice_id} has no content")
        headers["Content-Disposition"] = (
            f'inline; filename="{invoice_id}.{_suffix(stored.media_type)}"'
        )
        return web.Response(body=content, content_type=stored.media_type, headers=headers)

    async def get_openapi(_: web.Request) -> web.Response:
        return web.json_response(document)

    app = web.Application(middlewares=[problems, authenticated, well_formed])
    app.router.add_get(OPENAPI_PATH, get_openapi)
    app.router.add_get(INVOICES_PATH, list_invoices)
    app.router.add_get(INVOICE_PATH, get_invoice)
    app.router.add_get(DOCUMENT_ROUTE, get_document)
    return app


def _json(text: str) -> web.Response:
    return web.Response(text=text, content_type="application/json")


def _matches(if_none_match: str | None, sha256: str) -> bool:
    """Whether the client has it (RFC 9110, 13.1.2: `*`, or one of a list of entity tags,
    compared weakly)."""
    if if_none_match is None:
        return False
    return if_none_match.strip() == "*" or sha256 in _ENTITY_TAG.findall(if_none_match)


def _suffix(media_type: str) -> str:
    """A document's file name suffix: its media type's subtype (pdf, xml)."""
    return media_type.partition("/")[2]
