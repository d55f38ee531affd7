"""`invoicer api` against the real database, with the worker making real invoices: tokens,
the invoice in every status, problem details, pages that neither repeat nor skip while
invoices are added, documents with ETags, the OpenAPI document."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi
from pydantic import SecretStr

from tests.deploy_files import ROOT
from tests.examples import example
from tests.integration.flows import await_event, order_event, publish_order, row
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import running_worker, serving_api
from tests.sellers import SELLER
from worker.api.server import start_api
from worker.domain.lifecycle import InvoiceStatus
from worker.settings import Settings
from worker.startup import check_database
from worker.store.invoices import insert_invoices, load_invoices
from worker.store.pool import connect, create_pool

pytestmark = pytest.mark.integration

TOKEN = "test-token-0123456789abcdef"
READ_ONLY_FIELDS = {"overdue", "documents"}
"""What the read API adds to the invoice as its change log last announced it."""


@pytest.fixture
def selling(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"seller": SELLER, "api_tokens": SecretStr(f"another-token-abcdefgh,{TOKEN}")}
    )


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def get(
        self, path: str, *, token: str | None = TOKEN, **headers: str
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.get(self.base + path, headers=headers) as response:
            return response, await response.read()

    async def json(self, path: str, params: dict[str, str] | None = None, status: int = 200) -> Any:
        async with self.session.get(
            self.base + path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            body = await response.read()
            assert response.status == status, body
            return json.loads(body)


@pytest.fixture
async def api(selling: Settings) -> AsyncIterator[Api]:
    async with serving_api(selling) as port, aiohttp.ClientSession() as session:
        yield Api(session, f"http://127.0.0.1:{port}")


async def _closed(kafka: KafkaClient, settings: Settings, order_id: str) -> dict[str, Any]:
    closed = await await_event(
        kafka, settings.topics.invoices_closed, lambda e: e["data"]["orderId"] == order_id
    )
    data: dict[str, Any] = closed.event["data"]
    return data


async def _documents_ready(kafka: KafkaClient, settings: Settings, order_id: str) -> Any:
    ready = await await_event(
        kafka,
        settings.topics.invoice_events,
        lambda e: e["type"] == "invoice-documents-ready" and e["data"]["orderId"] == order_id,
    )
    return ready.event["data"]


def _problem(response: aiohttp.ClientResponse, body: bytes, status: int) -> dict[str, Any]:
    assert response.status == status, body
    assert response.content_type == "application/problem+json"
    problem: dict[str, Any] = json.loads(body)
    assert problem["status"] == status
    assert {"type", "title", "detail"} <= problem.keys()
    return problem


async def test_tokens_invoices_documents_and_problems(
    selling: Settings, kafka: KafkaClient, api: Api
) -> None:
    order, draft_order = example("order-completed-vat.json"), example("order-completed-draft.json")
    async with running_worker(selling):
        await publish_order(kafka, selling, order)
        await publish_order(kafka, selling, draft_order)
        closed = await _closed(kafka, selling, order["data"]["orderId"])
        ready = await _documents_ready(kafka, selling, order["data"]["orderId"])
        created = await await_event(
            kafka,
            selling.topics.invoice_events,
            lambda e: (
                e["type"] == "invoice-created"
                and e["data"]["orderId"] == draft_order["data"]["orderId"]
            ),
        )
    invoice_id, draft_id = closed["invoiceId"], created.event["data"]["invoiceId"]

    # 401 without a token, with a wrong one, with another scheme
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        response, body = await api.get(f"/v1/invoices/{invoice_id}", token=None, **headers)
        _problem(response, body, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    response, body = await api.get("/v1/invoices", token=None)
    _problem(response, body, 401)

    # the closed invoice: the invoice-closed shape and more
    invoice = await api.json(f"/v1/invoices/{invoice_id}")
    announced = {key: value for key, value in closed.items() if key != "invoice"}
    assert {key: value for key, value in invoice.items() if key in announced} == announced
    assert {key: value for key, value in invoice.items() if key not in READ_ONLY_FIELDS} == (
        closed["invoice"]
    )
    assert invoice["payments"] == []
    assert invoice["paymentStatus"] == "unpaid"
    assert invoice["overdue"] is False
    assert invoice["seller"]["name"] == SELLER.name
    assert invoice["documents"] == ready["documents"]

    # a draft: no number, no dates, no documents
    draft = await api.json(f"/v1/invoices/{draft_id}")
    assert draft["status"] == "draft"
    assert (draft["invoiceNumber"], draft["issueDate"], draft["closedAt"]) == (None, None, None)
    assert draft["documents"] == []
    response, body = await api.get(f"/v1/invoices/{draft_id}/pdf")
    _problem(response, body, 404)

    # 404: unknown and malformed ids
    for unknown in (str(uuid.uuid4()), "not-an-id", invoice_id.upper() + "0"):
        response, body = await api.get(f"/v1/invoices/{unknown}")
        _problem(response, body, 404)
        response, body = await api.get(f"/v1/invoices/{unknown}/ubl")
        _problem(response, body, 404)

    # documents: ETag is the sha256 of the bytes; 304 when the client has them
    for document in ready["documents"]:
        response, body = await api.get(document["path"])
        assert response.status == 200
        assert response.content_type == document["mediaType"]
        assert response.headers["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
        assert response.headers["ETag"] == f'"{document["sha256"]}"'
        etag = response.headers["ETag"]
        for if_none_match in (etag, "*", f'"0000", W/{etag}', f'"abc",{etag}'):
            response, body = await api.get(document["path"], **{"If-None-Match": if_none_match})
            assert (response.status, body) == (304, b""), if_none_match
            assert response.headers["ETag"] == etag
        response, body = await api.get(document["path"], **{"If-None-Match": '"0000"'})
        assert response.status == 200
    assert [d["mediaType"] for d in ready["documents"]] == ["application/pdf", "application/xml"]

    # 400 naming the parameter
    for params, parameter in (
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "500"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"status": "unknown"}, "status"),
        ({"after": "bm90IGEgY3Vyc29y"}, "after"),
        ({"after": "%%%"}, "after"),
        ({"orderid": "NL-1"}, "orderid"),
        ({"orderId": ""}, "orderId"),
    ):
        problem = await api.json("/v1/invoices", params, 400)
        assert problem["parameter"] == parameter, params
        assert problem["status"] == 400
    first = await api.json("/v1/invoices", {"limit": "1"})
    assert first["next"] is not None
    problem = await api.json("/v1/invoices", {"after": first["next"], "status": "open"}, 400)
    assert problem["parameter"] == "after"

    # the OpenAPI document validates, and describes what is served
    response, body = await api.get("/openapi.json", token=None)
    assert response.status == 200
    document = json.loads(body)
    validate_openapi(document)
    for model, served in (
        ("InvoiceResource", invoice),
        ("InvoiceResource", draft),
        ("InvoicePage", first),
    ):
        schema = {"$ref": f"#/components/schemas/{model}", "components": document["components"]}
        jsonschema.Draft202012Validator(schema).validate(served)
    assert {"/v1/invoices", "/v1/invoices/{invoiceId}", "/v1/invoices/{invoiceId}/pdf"} <= set(
        document["paths"]
    )


def _copy(template: Any, status: InvoiceStatus = InvoiceStatus.DELETED) -> Any:
    """Another invoice of the template's order, written as the worker writes them: deleted,
    so that it holds none of the order's rows."""
    return replace(
        template,
        invoice_id=str(uuid.uuid4()),
        status=status,
        number=None,
        issue_date=None,
        due_date=None,
        closed_at=None,
    )


async def _add_invoices(connection: asyncpg.Connection, template: Any, count: int) -> list[str]:
    copies = [_copy(template) for _ in range(count)]
    async with connection.transaction():
        await insert_invoices(connection, copies)
    return [copy.invoice_id for copy in copies]


async def _make_invoices(
    kafka: KafkaClient, settings: Settings, prefix: str, customer_id: str, count: int
) -> list[str]:
    ids = [f"{prefix}-{n}" for n in range(count)]
    for order_id in ids:
        event = order_event(order_id, [row("1")])
        event["data"]["customer"]["customerId"] = customer_id
        await publish_order(kafka, settings, event)
    return [(await _closed(kafka, settings, order_id))["invoiceId"] for order_id in ids]


async def _all_pages(api: Api, limit: int, between: Any = None, **filters: str) -> list[str]:
    """The ids of every page, in order; `between` runs after each page is served."""
    served: list[str] = []
    page = await api.json("/v1/invoices", {"limit": str(limit), **filters})
    while True:
        assert len(page["items"]) <= limit
        served += [item["invoiceId"] for item in page["items"]]
        if page["next"] is None:
            return served
        if between is not None:
            await between()
        page = await api.json(
            "/v1/invoices", {"limit": str(limit), "after": page["next"], **filters}
        )


async def test_pages_neither_repeat_nor_skip_while_invoices_are_added(
    selling: Settings, kafka: KafkaClient, api: Api
) -> None:
    writer = await connect(selling.database_url)
    early = await connect(selling.database_url)
    try:
        async with running_worker(selling):
            older = await _make_invoices(kafka, selling, "A", "C-1", 6)
            [template] = await load_invoices(writer, ["A-0"])
            # A transaction that begins now, before the invoices below and the first page,
            # and commits after the first page: its invoices are older than some served.
            began_early = early.transaction()
            await began_early.start()
            late_ids = [copy.invoice_id for copy in [_copy(template), _copy(template)]]
            await insert_invoices(early, [replace(_copy(template), invoice_id=i) for i in late_ids])
            newer = await _make_invoices(kafka, selling, "B", "C-2", 6)

        expected = list(reversed(older + newer))  # newest first, one batch per order here
        by_creation = await writer.fetch(
            "SELECT invoice_id::text FROM invoices WHERE invoice_id = ANY($1::uuid[])"
            " ORDER BY created_at DESC, invoice_id DESC",
            expected,
        )
        expected = [record["invoice_id"] for record in by_creation]

        added: list[str] = []
        stop = asyncio.Event()

        async def keep_adding() -> None:  # another task, all along the pages
            while not stop.is_set():
                added.extend(await _add_invoices(writer, template, 1))
                await asyncio.sleep(0.01)

        committed_early = False
        adding: asyncio.Task[None] | None = None

        async def between_pages() -> None:
            nonlocal committed_early, adding
            if not committed_early:
                await began_early.commit()
                committed_early = True
                # from the first page on: what is added before it is rightly on it
                adding = asyncio.create_task(keep_adding())
            await asyncio.sleep(0.05)  # let the other task add some

        try:
            served = await _all_pages(api, 3, between_pages)
        finally:
            stop.set()
            if adding is not None:
                await adding
        assert committed_early and added
        assert served == expected, "each invoice once, newest first, none added meanwhile"

        # a new list sees everything that is there now
        everything = await _all_pages(api, 200)
        assert set(everything) == set(expected) | set(added) | set(late_ids)
        assert len(everything) == len(set(everything))

        # filters, also across pages
        copies = {*added, *late_ids}  # of A-0's invoice, for customer C-1
        assert await _all_pages(api, 7, customerId="C-1") == [
            i for i in everything if i in copies or i in older
        ]
        assert await _all_pages(api, 4, status="open") == expected
        assert await _all_pages(api, 3, status="deleted") == [i for i in everything if i in copies]
        assert await _all_pages(api, 1, orderId="A-3") == [older[3]]
    finally:
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
            await early.close()
        await writer.close()


async def test_the_api_reads_as_a_role_that_can_only_read(
    selling: Settings, db: asyncpg.Connection
) -> None:
    await db.execute((ROOT / "deploy" / "database" / "api-role.sql").read_text())
    await db.execute("ALTER ROLE invoicer_api PASSWORD 'read-only-password'")
    await db.execute(
        "INSERT INTO orders (order_id, currency, prices_include_tax, customer)"
        """ VALUES ('O-1', 'EUR', false, '{"name": "Customer"}');"""
        "INSERT INTO invoices (invoice_id, order_id, type, status, currency,"
        " prices_include_tax, customer, payment_terms_days, net_amount, tax_amount,"
        " gross_amount, tax_breakdown) VALUES ('00000000-0000-4000-8000-000000000001', 'O-1',"
        """ 'invoice', 'draft', 'EUR', false, '{"name": "Customer"}', 14, 0, 0, 0, '[]')"""
    )
    parts = urlsplit(selling.database_url)
    host = parts.netloc.rpartition("@")[2]
    reader = urlunsplit(parts._replace(netloc=f"invoicer_api:read-only-password@{host}"))
    await check_database(reader, wait_if_down=False, migrations=True)
    pool = await create_pool(reader)
    runner, port = await start_api(selling, pool, 0)
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(session, f"http://127.0.0.1:{port}")
            [item] = (await api.json("/v1/invoices"))["items"]
            assert item == await api.json(f"/v1/invoices/{item['invoiceId']}")
            response, body = await api.get(f"/v1/invoices/{item['invoiceId']}/pdf")
            _problem(response, body, 404)
        with pytest.raises(asyncpg.PostgresError):
            await pool.execute("UPDATE invoices SET note = 'changed'")
    finally:
        await runner.cleanup()
        await pool.close()
