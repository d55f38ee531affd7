"""The read API's OpenAPI 3.1 document, served at /openapi.json: the paths and parameters
of worker/api/requests.py, the bodies' schemas from their pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from worker.api.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from worker.api.problems import Problem
from worker.api.requests import (
    DEFAULT_PAGE_LIMIT,
    INVOICE_PATH,
    INVOICES_PATH,
    MAX_PAGE_LIMIT,
    STATUSES,
)
from worker.documents.render import MEDIA_TYPES
from worker.messages.outgoing import DOCUMENT_KINDS, DocumentKind, InvoicePage, InvoiceResource
from worker.schemas import ContractJsonSchema

OPENAPI_PATH = "/openapi.json"
SECURITY_SCHEME = "bearerToken"
_SCHEMAS = "#/components/schemas/{model}"


def openapi_document() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(model, "serialization") for model in (InvoiceResource, InvoicePage, Problem)],
        ref_template=_SCHEMAS,
        schema_generator=ContractJsonSchema,
    )
    invoice_id = {
        "name": "invoiceId",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "The invoice's id: a uuid, lowercase and hyphenated as the API gives it; any"
        " other text is an unknown invoice.",
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "invoicer read API",
            "version": "1",
            "description": "Invoices in every status, their pages and their documents, read"
            " from the worker's database (docs/contract.md, 'Read API').",
        },
        "security": [{SECURITY_SCHEME: []}],
        "paths": {
            INVOICES_PATH: {"get": _list_operation()},
            INVOICE_PATH: {
                "get": {
                    "operationId": "getInvoice",
                    "summary": "An invoice, in any status, with its payments and documents",
                    "parameters": [invoice_id],
                    "responses": {
                        "200": _json_response("The invoice", "InvoiceResource"),
                        **_problems(400, 401, 404),
                    },
                }
            },
            **{
                f"{INVOICE_PATH}/{kind}": {"get": _document_operation(kind, invoice_id)}
                for kind in DOCUMENT_KINDS
            },
            OPENAPI_PATH: {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": definitions["$defs"],
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "One of the tokens in INVOICER_API_TOKENS. A token limited"
                    " to some sellers reads only their invoices: any other is unknown to it"
                    " (404) and in no list.",
                }
            },
        },
    }


def _list_operation() -> dict[str, Any]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": schema, "description": description}

    return {
        "operationId": "listInvoices",
        "summary": "Invoices, newest first, a page at a time",
        "description": "Keyset-paginated: follow `next` until it is null. The pages of one"
        " list hold the invoices as they were when its first page was read: none repeats and"
        " none is skipped, whatever is added meanwhile (read the first page again for those).",
        "parameters": [
            query("orderId", {"type": "string", "minLength": 1}, "Only this order's invoices."),
            query(
                "customerId", {"type": "string", "minLength": 1}, "Only this customer's invoices."
            ),
            query("status", {"enum": list(STATUSES)}, "Only the invoices in this status."),
            query(
                "sellerId",
                {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
                "Only this seller's invoices (none for a seller the token may not read).",
            ),
            query(
                "limit",
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE_LIMIT,
                    "default": DEFAULT_PAGE_LIMIT,
                },
                "The most invoices on the page.",
            ),
            query(
                "after",
                {"type": "string"},
                "The `next` of the previous page (with the same filters).",
            ),
        ],
        "responses": {
            "200": _json_response("A page of invoices", "InvoicePage"),
            **_problems(400, 401),
        },
    }


def _document_operation(kind: DocumentKind, invoice_id: dict[str, Any]) -> dict[str, Any]:
    media_type = MEDIA_TYPES[kind]
    etag = {
        "ETag": {
            "description": "The document's sha256, quoted.",
            "schema": {"type": "string"},
        }
    }
    return {
        "operationId": f"get{kind.capitalize()}",
        "summary": f"The invoice's {kind.upper()} document",
        "parameters": [
            invoice_id,
            {
                "name": "If-None-Match",
                "in": "header",
                "schema": {"type": "string"},
                "description": "304 when it names the document's ETag (or is *).",
            },
        ],
        "responses": {
            "200": {
                "description": f"The {kind.upper()} document",
                "headers": etag,
                "content": {
                    media_type: {"schema": {"type": "string", "contentMediaType": media_type}}
                },
            },
            "304": {"description": "The document the client has", "headers": etag},
            **_problems(400, 401, 404),
        },
    }


def _json_response(description: str, model: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _SCHEMAS.format(model=model)}}},
    }


_PROBLEM_DESCRIPTIONS = {
    400: "A parameter that cannot be used, or that is not text: not percent-encoded UTF-8,"
    " or holding a character XML 1.0 cannot carry such as NUL (`parameter` names it)",
    401: "No bearer token, or one not accepted",
    404: "No such invoice or document (yet), or one of a seller the token may not read",
}


def _problems(*statuses: int) -> dict[str, Any]:
    problem = {"schema": {"$ref": _SCHEMAS.format(model="Problem")}}
    responses: dict[str, Any] = {
        str(status): {
            "description": _PROBLEM_DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: problem},
        }
        for status in statuses
    }
    if 401 in statuses:
        responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    responses["503"] = {
        "description": "The database is not available; try again",
        "content": {PROBLEM_MEDIA_TYPE: problem},
    }
    return responses
