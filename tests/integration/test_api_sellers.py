"""A read-API token limited to some sellers (INVOICER_API_TOKENS `token=sellerA|sellerB`)
reads their invoices and nothing of any other seller's, nor of an invoice without a seller:
not by id, not its documents, in no list whatever the filters, not through a cursor taken
from another token's pages or from another filter's or forged (docs/contract.md, "Read
API"). An invoice it may not read is answered exactly as an unknown one."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr

from tests.integration.operations import serving_api
from tests.integration.stored_invoices import Seeded, store_document, store_invoices
from worker.api import cursor
from worker.settings import Settings
from worker.store.reads import InvoiceFilter, Position

pytestmark = pytest.mark.integration

A, B, C = "seller-a", "seller-b", "seller.C_3"
EVERY = "every-seller-token-0123456789"
ONLY_A = "seller-a-token-0123456789abc"
A_AND_C = "sellers-a-c-token-0123456789"
SCOPES: dict[str, frozenset[str | None] | None] = {
    EVERY: None,
    ONLY_A: frozenset({A}),
    A_AND_C: frozenset({A, C}),
}
"""Each token and the sellers it reads (None: every invoice)."""
SCOPED = (ONLY_A, A_AND_C)
DOCUMENTS = {
    "pdf": ("application/pdf", b"%PDF-1.7\n%sellers\n"),
    "ubl": ("application/xml", b"<x/>"),
}
FILTERS: list[dict[str, str]] = [
    {},
    {"status": "draft"},
    {"status": "open"},
    {"status": "paid"},
    {"customerId": "C-shared"},
    {"customerId": f"C-{B}"},
    {"orderId": "O-shared"},
    {"orderId": f"O-{B}"},
    {"sellerId": A},
    {"sellerId": B},
    {"sellerId": C},
    {"sellerId": "nobody"},
    {"sellerId": B, "status": "open"},
    {"customerId": "C-shared", "status": "paid"},
]


def _seeded() -> list[Seeded]:
    """Three invoices of each seller and three without one, interleaved newest first, sharing
    an order and a customer across sellers (as no worker would, so that a filter alone keeps
    nothing apart)."""
    now = datetime.now(UTC)
    invoices = []
    for n in range(3):
        for k, seller in enumerate((A, B, C, None)):
            name = seller or "none"
            invoices.append(
                Seeded(
                    invoice_id=str(uuid.uuid4()),
                    seller_id=seller,
                    order_id=["O-shared", f"O-{name}", f"O-{name}"][n],
                    customer_id=["C-shared", f"C-{name}", "C-shared"][n],
                    status=["draft", "open", "paid"][n],
                    created_at=now - timedelta(minutes=4 * n + k),
                )
            )
    return invoices


def _visible(token: str, invoice: Seeded) -> bool:
    sellers = SCOPES[token]
    return sellers is None or invoice.seller_id in sellers


def _matches(invoice: Seeded, query: dict[str, str]) -> bool:
    values = {
        "status": invoice.status,
        "customerId": invoice.customer_id,
        "orderId": invoice.order_id,
        "sellerId": invoice.seller_id,
    }
    return all(values[name] == value for name, value in query.items() if name in values)


@dataclass
class Api:
    session: aiohttp.ClientSession
    base: str
    invoices: list[Seeded]
    sha256: dict[str, str]

    async def get(
        self,
        token: str,
        path: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
        async with self.session.get(self.base + path, params=params, headers=headers) as response:
            return response.status, dict(response.headers), await response.read()

    async def page(self, token: str, query: dict[str, str]) -> dict[str, Any]:
        status, _, body = await self.get(token, "/v1/invoices", query)
        assert status == 200, body
        page: dict[str, Any] = json.loads(body)
        return page

    async def every_page(self, token: str, query: dict[str, str]) -> list[dict[str, Any]]:
        pages = [await self.page(token, query)]
        while pages[-1]["next"] is not None:
            pages.append(await self.page(token, {**query, "after": pages[-1]["next"]}))
        return pages

    def expected(self, token: str, query: dict[str, str]) -> list[str]:
        return [
            invoice.invoice_id
            for invoice in sorted(self.invoices, key=lambda i: i.created_at, reverse=True)
            if _visible(token, invoice) and _matches(invoice, query)
        ]


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    tokens = f"{EVERY}, {ONLY_A}={A},{A_AND_C}={A}|{C}"
    serving = settings.model_copy(update={"api_tokens": SecretStr(tokens)})
    invoices = _seeded()
    await store_invoices(settings.database_url, invoices)
    sha256 = {}
    for invoice in invoices:
        if invoice.status != "draft":
            for kind, (media_type, content) in DOCUMENTS.items():
                stored = await store_document(
                    settings.database_url, invoice.invoice_id, kind, media_type, content
                )
                sha256[invoice.invoice_id] = stored.sha256
    async with serving_api(serving) as port, aiohttp.ClientSession() as session:
        yield Api(session, f"http://127.0.0.1:{port}", invoices, sha256)


Answer = tuple[int, dict[str, str], bytes]


async def _as_unknown(
    api: Api, token: str, path: str, invoice_id: str, headers: dict[str, str] | None = None
) -> None:
    unknown = str(uuid.uuid4())
    _same_as_unknown(
        await api.get(token, path.format(invoice_id), headers=headers),
        invoice_id,
        await api.get(token, path.format(unknown), headers=headers),
        unknown,
    )


def _same_as_unknown(answer: Answer, invoice_id: str, unknown_answer: Answer, unknown: str) -> None:
    """The answer about `invoice_id` is a 404 and, but for the id, the very answer to the same
    request about an id no invoice has (its headers too, but for the date)."""
    (status, headers, body), (unknown_status, unknown_headers, unknown_body) = (
        answer,
        unknown_answer,
    )
    assert (status, unknown_status) == (404, 404), body
    assert body.replace(invoice_id.encode(), unknown.encode()) == unknown_body
    assert {k: v for k, v in headers.items() if k != "Date"} == {
        k: v for k, v in unknown_headers.items() if k != "Date"
    }


PER_INVOICE = ("/v1/invoices/{}", "/v1/invoices/{}/pdf", "/v1/invoices/{}/ubl")


async def test_a_scoped_token_reads_its_sellers_invoices_and_no_other_by_id(api: Api) -> None:
    for token in (EVERY, *SCOPED):
        for invoice in api.invoices:
            for path in PER_INVOICE:
                if path != PER_INVOICE[0] and invoice.status == "draft":
                    continue  # a draft has no documents: 404 to every token
                if _visible(token, invoice):
                    status, _, body = await api.get(token, path.format(invoice.invoice_id))
                    assert status == 200, (token, path, invoice, body)
                else:
                    await _as_unknown(api, token, path, invoice.invoice_id)
            if not _visible(token, invoice) and invoice.invoice_id in api.sha256:
                for kind in ("pdf", "ubl"):  # a client that has the document learns nothing
                    etag = f'"{api.sha256[invoice.invoice_id]}"'
                    path = f"/v1/invoices/{{}}/{kind}"
                    await _as_unknown(
                        api, token, path, invoice.invoice_id, headers={"If-None-Match": etag}
                    )
                    await _as_unknown(
                        api, token, path, invoice.invoice_id, headers={"If-None-Match": "*"}
                    )


async def test_a_scoped_token_lists_only_its_sellers_invoices_whatever_the_filter(
    api: Api,
) -> None:
    assert api.expected(EVERY, {"sellerId": B}), "the seed has invoices of B"
    for token in (EVERY, *SCOPED):
        for query in FILTERS:
            for limit in ("1", "2", "50"):
                pages = await api.every_page(token, {**query, "limit": limit})
                listed = [item["invoiceId"] for page in pages for item in page["items"]]
                assert listed == api.expected(token, query), (token, query, limit)
                sellers = {item.get("sellerId") for page in pages for item in page["items"]}
                scope = SCOPES[token]
                assert scope is None or sellers <= scope, (token, query, sellers)


def _position(text: str) -> tuple[str, dict[str, Any]]:
    fields: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return fields["snapshot"], fields


def _filter(query: dict[str, str]) -> InvoiceFilter:
    return InvoiceFilter(
        query.get("orderId"), query.get("customerId"), query.get("status"), query.get("sellerId")
    )


async def _cursors(api: Api) -> list[tuple[dict[str, str], str]]:
    """Every cursor of every filter's pages to every token, and cursors forged at each
    invoice's position for every filter: (the filters of the list, the cursor)."""
    taken: list[tuple[dict[str, str], str]] = []
    for token in (EVERY, *SCOPED):
        for query in FILTERS:
            for page in await api.every_page(token, {**query, "limit": "1"}):
                if page["next"] is not None:
                    taken.append((query, page["next"]))
    snapshot, _ = _position(taken[0][1])
    for query in FILTERS:
        for invoice in api.invoices:
            for moment in (invoice.created_at, invoice.created_at + timedelta(microseconds=1)):
                position = Position(snapshot, moment, invoice.invoice_id)
                taken.append((query, cursor.encode(position, _filter(query))))
    return taken


async def test_no_cursor_shows_a_scoped_token_another_sellers_invoice(api: Api) -> None:
    cursors = await _cursors(api)
    assert any(query.get("sellerId") == B for query, _ in cursors), "cursors of B's pages"
    for token in SCOPED:
        for query, after in cursors:
            for limit in ("1", "50"):
                page = await api.page(token, {**query, "limit": limit, "after": after})
                expected = _after(api, token, query, after)[: int(limit)]
                assert [item["invoiceId"] for item in page["items"]] == expected, (token, query)
            # and the cursor of a list with other filters is refused, as to any token
            other = next(q for q in FILTERS if _filter(q) != _filter(query))
            status, _, body = await api.get(token, "/v1/invoices", {**other, "after": after})
            assert status == 400, body
            assert json.loads(body)["parameter"] == "after"


def _after(api: Api, token: str, query: dict[str, str], after: str) -> list[str]:
    """What the token's list of `query` holds after the cursor's position."""
    _, fields = _position(after)
    position = (datetime.fromisoformat(fields["created_at"]), uuid.UUID(fields["invoice_id"]))
    by_id = {invoice.invoice_id: invoice for invoice in api.invoices}
    return [
        invoice_id
        for invoice_id in api.expected(token, query)
        if (by_id[invoice_id].created_at, uuid.UUID(invoice_id)) < position
    ]


LIST_QUERIES = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["draft", "open", "paid", "void"]),
        "customerId": st.sampled_from(["C-shared", f"C-{A}", f"C-{B}", f"C-{C}", "C-none"]),
        "orderId": st.sampled_from(["O-shared", f"O-{A}", f"O-{B}", f"O-{C}", "O-none"]),
        "sellerId": st.sampled_from([A, B, C, "default", "nobody", "seller b", "", "x" * 65]),
        "limit": st.sampled_from(["1", "2", "3", "200"]),
    },
)


async def test_any_request_of_a_scoped_token_shows_nothing_of_another_seller(api: Api) -> None:
    """Paths x query parameters x cursors x tokens: an invoice the token may not read is
    answered as an unknown one, and no list (nor its cursor) holds one."""
    cursors = await _cursors(api)
    lists = st.one_of(
        LIST_QUERIES.map(lambda query: (query, None)),
        # a cursor with the filters of its list, or with any others
        st.tuples(st.sampled_from(cursors), st.sampled_from(["1", "2", "50"])).map(
            lambda drawn: ({**drawn[0][0], "limit": drawn[1]}, drawn[0][1])
        ),
        st.tuples(LIST_QUERIES, st.sampled_from([after for _, after in cursors])),
    )
    ids = [invoice.invoice_id for invoice in api.invoices] + [str(uuid.uuid4())]
    loop = asyncio.get_running_loop()

    def answer(
        token: str,
        path: str,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        coroutine = api.get(token, path, query, headers=headers)
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    @hypothesis_settings(
        max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(
        token=st.sampled_from(SCOPED),
        route=st.sampled_from(["list", *PER_INVOICE]),
        invoice_id=st.sampled_from(ids),
        listing=lists,
        if_none_match=st.one_of(
            st.none(), st.just("*"), st.sampled_from(list(api.sha256.values()))
        ),
    )
    def shows_nothing_of_another_seller(
        token: str,
        route: str,
        invoice_id: str,
        listing: tuple[dict[str, str], str | None],
        if_none_match: str | None,
    ) -> None:
        hidden = [i.invoice_id for i in api.invoices if not _visible(token, i)]
        if route == "list":
            query, after = listing
            if after is not None:
                query = {**query, "after": after}
            status, _, body = answer(token, "/v1/invoices", query)
            assert status in (200, 400), body
            assert not [hidden_id for hidden_id in hidden if hidden_id.encode() in body]
            if status == 400:
                return
            page = json.loads(body)
            listed = [item["invoiceId"] for item in page["items"]]
            expected = (
                api.expected(token, query) if after is None else _after(api, token, query, after)
            )
            assert listed == expected[: int(query.get("limit", "50"))], (token, query)
            if page["next"] is not None:
                assert _position(page["next"])[1]["invoice_id"] == listed[-1]
            return
        headers = {} if if_none_match is None else {"If-None-Match": f'"{if_none_match}"'}
        if invoice_id in hidden:
            unknown = str(uuid.uuid4())
            _same_as_unknown(
                answer(token, route.format(invoice_id), headers=headers),
                invoice_id,
                answer(token, route.format(unknown), headers=headers),
                unknown,
            )
        else:
            status, _, body = answer(token, route.format(invoice_id), headers=headers)
            assert status in (200, 304, 404), body
            assert not [hidden_id for hidden_id in hidden if hidden_id.encode() in body]

    await asyncio.to_thread(shows_nothing_of_another_seller)
