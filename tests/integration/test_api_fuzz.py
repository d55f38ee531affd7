"""The read API, fuzzed at its door (docs/contract.md, "The door"): requests of arbitrary
paths, query strings and headers, sent byte for byte on sockets to the real app on a real
database. Whatever comes, the answer is problem+json, JSON, a PDF or XML (or a 304 without a
body) with the status the contract gives, a parameter that is not text is a 400 naming it, and
nothing is logged as an error or a traceback, nor the token.

200 examples by default; INVOICER_FUZZ_EXAMPLES=5000 runs a longer search."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from tests.integration.operations import serving_api
from tests.integration.raw_http import Answer, connect, exchange, http_request, read_answer
from tests.integration.stored_invoices import store_document, store_drafts, store_drafts_of
from tests.text_rule import is_text, is_text_parameter, percent_decoded
from worker.settings import Settings

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("INVOICER_FUZZ_EXAMPLES", "200"))
TOKEN = "fuzz-token-0123456789abcdef"
MAX_LINE = 8190
"""aiohttp's longest request line and header line: longer is not HTTP it serves (400)."""
DOCUMENTS = {"pdf": ("application/pdf", b"%PDF-1.7\n%fuzz\n"), "ubl": ("application/xml", b"<x/>")}


# --- requests

SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$'()*,;:@"
"""What a path segment or a query part may hold unescaped (RFC 3986, less & = + for the query)."""
NOT_IN_A_TARGET = [*range(0x21), 0x7F, *range(0x80, 0x100)]
"""Bytes HTTP/1.1 does not allow in a request target: the request is not HTTP."""


def _escaped(data: bytes) -> bytes:
    return b"".join(b"%%%02X" % byte for byte in data)


_piece = st.one_of(
    st.binary(min_size=1, max_size=8).map(lambda b: bytes(SAFE[x % len(SAFE)] for x in b)),
    st.binary(min_size=1, max_size=8).map(_escaped),  # arbitrary bytes, escaped
    st.text(min_size=1, max_size=6).map(lambda t: _escaped(t.encode())),  # text, escaped
    st.characters(categories=["Cs"]).map(lambda c: _escaped(c.encode("utf-8", "surrogatepass"))),
    st.sampled_from([b"%00", b"%01", b"%1F", b"%EF%BF%BE", b"%EF%BF%BF", b"%C0%80", b"%ED%A0%80"]),
    st.sampled_from([b"%", b"%g", b"%1", b"%zz", b"%%", b"%0"]),  # not escapes
    st.sampled_from([b"+", b"%2B", b"%2F", b"%26", b"%3D", b"%09", b"%0A"]),
)
_fuzzed = (
    st.lists(_piece, min_size=1, max_size=5).map(b"".join).filter(lambda s: s not in (b".", b".."))
)
_huge = st.sampled_from([3000, 9000]).map(lambda n: b"a" * n)


SEGMENTED = ("invoice", "pdf", "ubl")
"""The routes whose path holds an invoiceId."""


@dataclass(frozen=True)
class Known:
    invoice_ids: tuple[str, ...]
    cursor: str
    sha256: dict[str, str]


@dataclass(frozen=True)
class Body:
    headers: dict[bytes, bytes]
    data: bytes
    readable: bool
    """False: framing or compression the server cannot read (answered 400 when that shows
    before the answer, else the answer; the body's error only logged)."""


def _length(data: bytes) -> dict[bytes, bytes]:
    return {b"Content-Length": str(len(data)).encode()}


_bodies = st.one_of(
    st.binary(max_size=64).map(lambda d: Body(_length(d), d, True)),
    st.binary(min_size=1, max_size=64).map(
        lambda d: Body(
            {b"Transfer-Encoding": b"chunked"}, b"%x\r\n%s\r\n0\r\n\r\n" % (len(d), d), True
        )
    ),
    st.tuples(st.sampled_from([b"gzip", b"deflate", b"br"]), st.binary(max_size=64)).map(
        lambda t: Body({b"Content-Encoding": t[0], **_length(t[1])}, t[1], False)
    ),
    st.binary(max_size=40).map(  # a chunk size that is not hexadecimal
        lambda d: Body({b"Transfer-Encoding": b"chunked"}, b"z" + d + b"\r\n\r\n", False)
    ),
    st.binary(max_size=20).map(  # both framings: a smuggling attempt
        lambda d: Body({**_length(d), b"Transfer-Encoding": b"chunked"}, d, False)
    ),
)


@dataclass
class Request:
    method: bytes
    route: str
    """openapi, list, invoice, pdf, ubl or unknown."""
    segment: bytes = b""
    query: list[tuple[bytes, bytes]] = field(default_factory=list)
    authorization: bytes | None = None
    if_none_match: bytes | None = None
    extra: bytes | None = None
    not_in_a_target: int | None = None
    body: Body | None = None
    absolute: bool = False
    """The target in absolute form (`http://host/v1/…`), as a client talking to a proxy."""

    def target(self) -> bytes:
        path = {
            "openapi": b"/openapi.json",
            "list": b"/v1/invoices",
            "invoice": b"/v1/invoices/" + self.segment,
            "pdf": b"/v1/invoices/" + self.segment + b"/pdf",
            "ubl": b"/v1/invoices/" + self.segment + b"/ubl",
            "unknown": b"/" + self.segment,
        }[self.route]
        if self.query:
            path += b"?" + b"&".join(name + b"=" + value for name, value in self.query)
        if self.not_in_a_target is not None:
            path = path[:1] + bytes([self.not_in_a_target]) + path[1:]
        return b"http://127.0.0.1" + path if self.absolute else path

    def headers(self) -> dict[bytes, bytes]:
        named = {
            b"Authorization": self.authorization,
            b"If-None-Match": self.if_none_match,
            b"X-Fuzz": self.extra,
        }
        framing = {} if self.body is None else self.body.headers
        return {name: value for name, value in named.items() if value is not None} | framing

    def raw(self) -> bytes:
        data = b"" if self.body is None else self.body.data
        return http_request(self.target(), self.headers(), method=self.method) + data


_header_value = st.one_of(
    st.binary(max_size=60).map(
        lambda b: bytes(x if x >= 0x80 or 0x21 <= x <= 0x7E else 0x61 for x in b)  # obs-text too
    ),
    _huge,
)


def requests(known: Known) -> st.SearchStrategy[Request]:
    good_token = b"Bearer " + TOKEN.encode()
    segments = st.one_of(
        st.sampled_from(known.invoice_ids).map(str.encode),
        st.builds(lambda: str(uuid.uuid4()).encode()),
        _fuzzed,
        _huge,
    )
    names = st.one_of(
        st.sampled_from([b"orderId", b"customerId", b"status", b"limit", b"after", b"sellerId"]),
        _fuzzed,
    )
    values = st.one_of(
        st.sampled_from([b"1", b"50", b"200", b"0", b"open", b"draft", known.cursor.encode()]),
        _fuzzed,
        _huge,
    )
    etags = st.one_of(
        st.sampled_from([f'"{sha}"'.encode() for sha in known.sha256.values()] + [b"*"]),
        st.sampled_from([f'W/"{sha}", "x"'.encode() for sha in known.sha256.values()]),
        _header_value,
    )
    return st.builds(
        _not_a_head_with_an_unreadable_body,
        method=st.sampled_from([b"GET"] * 6 + [b"HEAD", b"POST", b"DELETE", b"PROPFIND"]),
        route=st.sampled_from(["openapi", "list", "list", "invoice", "pdf", "ubl", "unknown"]),
        segment=segments,
        query=st.lists(st.tuples(names, values), max_size=4),
        authorization=st.one_of(
            st.just(good_token),
            st.just(good_token),
            st.just(b"bearer " + TOKEN.encode()),
            st.none(),
            st.sampled_from([b"Bearer", b"Basic " + TOKEN.encode(), b"Bearer  "]),
            _header_value.map(lambda v: b"Bearer " + v),
        ),
        if_none_match=st.one_of(st.none(), etags),
        extra=st.one_of(st.none(), _header_value),
        body=st.one_of(st.none(), st.none(), st.none(), _bodies),
        absolute=st.booleans(),
        not_in_a_target=st.one_of(
            st.none(), st.none(), st.none(), st.sampled_from(NOT_IN_A_TARGET)
        ),
    )


def _not_a_head_with_an_unreadable_body(**fields: Any) -> Request:
    """A GET instead: the 400 to such a request cannot know it was a HEAD, so it has a body."""
    request = Request(**fields)
    if request.method == b"HEAD" and request.body is not None and not request.body.readable:
        request.method = b"GET"
    return request


# --- what the contract gives


@dataclass(frozen=True)
class Expected:
    statuses: frozenset[int]
    parameter: str | None = None
    """The parameter a 400 names; "*" any."""
    media_type: str | None = None
    """Of a 200."""


def is_http(request: Request) -> bool:
    """Whether it is a request aiohttp serves: one it cannot read is answered 400 (as if to a
    GET: whether it was a HEAD cannot be known)."""
    lines = http_request(request.target(), request.headers(), method=request.method).split(b"\r\n")
    return request.not_in_a_target is None and all(len(line) <= MAX_LINE for line in lines)


def expected(request: Request, known: Known) -> Expected:
    want = _expected_of_the_head(request, known)
    if request.body is None or request.body.readable:
        return want
    return Expected(want.statuses | {400}, None, want.media_type)


def _expected_of_the_head(request: Request, known: Known) -> Expected:
    if not is_http(request):
        return Expected(frozenset({400}))
    authorized = request.authorization in (b"Bearer " + TOKEN.encode(), b"bearer " + TOKEN.encode())
    if request.route != "openapi" and not authorized:
        return Expected(frozenset({401}))
    segment = unquote_to_bytes(request.segment) if request.route in SEGMENTED else b""
    if request.route == "unknown" or b"{" in segment or b"}" in segment:
        return Expected(frozenset({404}))  # no route: aiohttp's {invoiceId} holds no brace
    if request.method not in (b"GET", b"HEAD"):
        return Expected(frozenset({405}))
    if request.route in SEGMENTED and not is_text_parameter(request.segment, form=False):
        return Expected(frozenset({400}), "invoiceId")
    for name, value in request.query:
        if not is_text_parameter(name, form=True):
            return Expected(frozenset({400}), "*")
        if not is_text_parameter(value, form=True):
            decoded = (percent_decoded(name, form=True) or b"").decode()
            plain = decoded.isprintable() and len(decoded) <= 64  # else shown escaped, cut
            return Expected(frozenset({400}), decoded if plain else "*")
    if request.route == "openapi":
        return Expected(frozenset({200}), media_type="application/json")
    if request.route == "list":
        return Expected(frozenset({200, 400}), "*", "application/json")
    invoice_id = (percent_decoded(request.segment, form=False) or b"").decode()
    if request.route == "invoice":
        found = invoice_id in known.invoice_ids
        return Expected(frozenset({200 if found else 404}), media_type="application/json")
    inm = request.if_none_match
    if inm is not None and not is_text(inm.strip(b" \t")):
        return Expected(frozenset({400}), "If-None-Match")
    if invoice_id != known.invoice_ids[0]:
        return Expected(frozenset({404}))
    sha = known.sha256[request.route].encode()
    if inm is not None and (inm.strip() == b"*" or b'"' + sha + b'"' in inm):
        return Expected(frozenset({304}))
    return Expected(frozenset({200}), media_type=DOCUMENTS[request.route][0])


def check(answer: Answer, request: Request, want: Expected) -> None:
    assert answer.status in want.statuses, (answer.status, answer.body[:300])
    media_type = answer.headers.get("content-type", "").partition(";")[0]
    head = request.method == b"HEAD" and is_http(request)
    if answer.status == 304:
        assert answer.body == b""
        return
    if answer.status >= 400:
        assert media_type == "application/problem+json"
        if head:
            return
        problem = json.loads(answer.body)
        assert problem["status"] == answer.status
        assert isinstance(problem["title"], str) and isinstance(problem["detail"], str)
        if answer.status == 400 and want.parameter not in (None, "*"):
            assert problem["parameter"] == want.parameter, problem
        elif answer.status == 400 and want.parameter == "*":
            assert isinstance(problem["parameter"], str), problem
        return
    assert media_type == want.media_type
    if head:
        return
    if media_type == "application/json":
        json.loads(answer.body)
    else:
        assert answer.body == DOCUMENTS[request.route][1]


# --- the test


@pytest.fixture
async def known(settings: Settings) -> Known:
    ids = await store_drafts(settings.database_url, 2)
    sha256 = {
        kind: (await store_document(settings.database_url, ids[0], kind, *document)).sha256
        for kind, document in DOCUMENTS.items()
    }
    return Known(tuple(ids), "", sha256)


@pytest.fixture
async def api_port(settings: Settings, known: Known) -> AsyncIterator[int]:
    async with serving_api(settings, TOKEN) as port:
        yield port


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> Iterator[tuple[list[dict[str, Any]], _Records]]:
    """Every structlog event and every standard library record (aiohttp's, asyncio's)."""
    records = _Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    try:
        with capture_logs() as events:
            yield events, records
    finally:
        root.removeHandler(records)
        root.setLevel(level)


async def test_whatever_a_request_holds_the_answer_is_one_the_contract_gives(
    api_port: int, known: Known, logged: tuple[list[dict[str, Any]], _Records]
) -> None:
    page = await exchange(
        api_port,
        http_request(b"/v1/invoices?limit=1", {b"Authorization": b"Bearer " + TOKEN.encode()}),
    )
    cursor = json.loads(page.body)["next"]
    assert isinstance(cursor, str)
    known = Known(known.invoice_ids, cursor, known.sha256)
    loop = asyncio.get_running_loop()

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def answers_as_the_contract_says(data: st.DataObject) -> None:
        request = data.draw(requests(known))
        answer = asyncio.run_coroutine_threadsafe(
            exchange(
                api_port, request.raw(), head_only=request.method == b"HEAD" and is_http(request)
            ),
            loop,
        ).result()
        check(answer, request, expected(request, known))

    await asyncio.to_thread(answers_as_the_contract_says)

    events, records = logged[0], logged[1].records
    assert not [e for e in events if e["log_level"] in ("error", "critical", "exception")]
    tracebacks = [e for e in events if "exc_info" in e or "exception" in e]
    assert all(e["log_level"] == "debug" for e in tracebacks), "a traceback only at DEBUG"
    assert not [r for r in records if r.exc_info or r.levelno >= logging.ERROR]
    everything = repr(events) + "".join(r.getMessage() for r in records)
    assert TOKEN not in everything
    access = [e for e in events if e.get("action") == "access"]
    assert len(access) >= EXAMPLES, "a line per request answered"


_expectations = st.one_of(
    st.sampled_from([b"100-continue", b"100-Continue", b"100-continue "]),
    st.sampled_from([b"200-ok", b"foo", b"100-continue, foo"]),
    _header_value,
)


async def _final_answer(port: int, raw: bytes) -> Answer:
    """The answer after any interim `100 Continue`."""
    reader, writer = await connect(port)
    try:
        writer.write(raw)
        await writer.drain()
        while (answer := await read_answer(reader)).status == 100:
            pass
        return answer
    finally:
        writer.close()


async def test_whatever_a_request_expects_the_answer_is_one_the_contract_gives(
    api_port: int, known: Known, logged: tuple[list[dict[str, Any]], _Records]
) -> None:
    """aiohttp answers an Expect header itself, before any middleware: other than
    `100-continue`, with its own 417 in plain text, or a 500 when the value is not UTF-8."""
    loop = asyncio.get_running_loop()
    targets = [b"/v1/invoices", b"/v1/invoices/" + known.invoice_ids[0].encode(), b"/nowhere"]

    @hypothesis_settings(max_examples=40, deadline=None)
    @given(
        expect=_expectations,
        target=st.sampled_from(targets),
        authorized=st.booleans(),
        body=st.binary(max_size=8),
    )
    def answers_as_the_contract_says(
        expect: bytes, target: bytes, authorized: bool, body: bytes
    ) -> None:
        headers = {b"Expect": expect, b"Content-Length": str(len(body)).encode()}
        if authorized:
            headers[b"Authorization"] = b"Bearer " + TOKEN.encode()
        raw = http_request(target, headers) + body
        answer = asyncio.run_coroutine_threadsafe(_final_answer(api_port, raw), loop).result()
        media_type = answer.headers.get("content-type", "").partition(";")[0]
        if len(b"Expect: " + expect) > MAX_LINE:
            assert answer.status == 400, (answer.status, answer.body[:300])
        elif expect.strip() and expect.strip().lower() != b"100-continue":
            assert answer.status == 417, (answer.status, answer.body[:300])
        if answer.status >= 400:
            assert media_type == "application/problem+json", (answer.status, answer.body[:300])
            assert json.loads(answer.body)["status"] == answer.status
        else:
            assert media_type == "application/json"

    await asyncio.to_thread(answers_as_the_contract_says)

    events, records = logged[0], logged[1].records
    assert not [e for e in events if e["log_level"] in ("error", "critical", "exception")]
    assert not [r for r in records if r.exc_info or r.levelno >= logging.ERROR]


LEADING_ZEROS_ID = "00" + str(uuid.uuid4())[2:]
"""An invoice whose id begins with zeros: Python's uuid reads them from other characters."""
_for_a_zero = st.sampled_from([b"0", b"%20", b"%09", b"%0D", b"%0A", b"+"])


@st.composite
def _spellings(draw: st.DrawFn, invoice_id: str) -> bytes:
    """`invoice_id` as uuid.UUID also reads it: a prefix, braces, no hyphens, capitals, and
    its leading zeros as whitespace or a sign."""
    text = invoice_id.replace("-", "") if draw(st.booleans()) else invoice_id
    text = text.upper() if draw(st.booleans()) else text
    text = "{" + text + "}" if draw(st.booleans()) else text
    prefix = draw(st.sampled_from(["", "urn:uuid:", "uuid:"]))
    zeros = b"".join(draw(st.lists(_for_a_zero, min_size=2, max_size=2)))
    return prefix.encode() + (zeros + text[2:].encode() if text[:2] == "00" else text.encode())


async def test_an_invoice_id_spelt_otherwise_is_found_or_not_never_a_failure(
    api_port: int, settings: Settings, logged: tuple[list[dict[str, Any]], _Records]
) -> None:
    await store_drafts_of(settings.database_url, [LEADING_ZEROS_ID])
    await store_document(settings.database_url, LEADING_ZEROS_ID, "pdf", *DOCUMENTS["pdf"])
    loop = asyncio.get_running_loop()

    @hypothesis_settings(max_examples=60, deadline=None)
    @given(spelling=_spellings(LEADING_ZEROS_ID), kind=st.sampled_from([b"", b"/pdf"]))
    def found_or_not(spelling: bytes, kind: bytes) -> None:
        target = b"/v1/invoices/" + spelling + kind
        authorized = {b"Authorization": b"Bearer " + TOKEN.encode()}
        answer = asyncio.run_coroutine_threadsafe(
            exchange(api_port, http_request(target, authorized)), loop
        ).result()
        assert answer.status in (200, 400, 404), (answer.status, answer.body[:300])
        if answer.status == 200 and kind:
            disposition = answer.headers["content-disposition"]
            assert disposition == f'inline; filename="{LEADING_ZEROS_ID}.pdf"', disposition

    await asyncio.to_thread(found_or_not)

    events, records = logged[0], logged[1].records
    assert not [e for e in events if e["log_level"] in ("error", "critical", "exception")]
    assert not [r for r in records if r.exc_info or r.levelno >= logging.ERROR]
