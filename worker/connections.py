"""How both HTTP servers (the ops port and the read API) hold their connections
(docs/contract.md, "The door").

A request's headers must arrive within HEADER_TIMEOUT_SECONDS of connecting; on a kept-alive
connection, of the previous response when the next request had begun by then, else of that
request's first byte. A kept-alive connection on which no request has begun closes
IDLE_TIMEOUT_SECONDS after its last response; one whose client does not read its response
within RESPONSE_TIMEOUT_SECONDS is cut off; a stop cancels the requests still in hand after
STOP_GRACE_SECONDS. A port holds at most `max_connections` connections at once; one over that
is closed as soon as it is accepted, and one whose request head runs past MAX_HEAD_BYTES as
soon as it does. What is not HTTP is answered with a 400 problem, and
nothing about it is logged as a traceback. An expectation (`Expect`) other than
`100-continue` is refused with a 417 problem.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import hdrs, web
from aiohttp.abc import AbstractAccessLogger, AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from prometheus_client import Counter, Gauge

from worker.api.problems import problem_response

log = structlog.get_logger(__name__)

RequestFactory = Callable[
    [
        RawRequestMessage,
        StreamReader,
        web.RequestHandler,
        AbstractStreamWriter,
        "asyncio.Task[None]",
    ],
    web.BaseRequest,
]

RequestHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

NOT_HTTP = web.RequestKey("not_http", bool)
"""Set on a request aiohttp could not parse (so never routed)."""
NOT_ROUTED = web.RequestKey("not_routed", bool)
"""Set on a request refused before it was routed (an expectation not met)."""
CONTINUE = "100-continue"
HEADER_TIMEOUT_SECONDS = 10.0
IDLE_TIMEOUT_SECONDS = 75.0
RESPONSE_TIMEOUT_SECONDS = 60.0
"""How long a response may take to be written: a client that does not read it (and would
hold its connection, and the response's bytes, for ever) is cut off. Not the contract's: at
least 17 KB/s for a megabyte's document."""
MAX_HEAD_BYTES = 64 * 1024
"""Of what a client sends from one request taken up to the next (a head, with any body, and
the next request's head when pipelined): aiohttp reads up to
128 header lines of 8 KiB, a megabyte and twice that in memory a connection, which 256
connections make more than the read API's memory limit."""
STOP_GRACE_SECONDS = 5.0
"""How long a stop waits for the requests in hand before it cancels them: a client that reads
slowly (or not at all) must not hold the process past its pod's grace period (30 s for the
read API)."""

OPEN_CONNECTIONS = Gauge(
    "invoicer_http_connections", "HTTP connections open, by server (ops, api).", ["server"]
)
CLOSED_CONNECTIONS = Counter(
    "invoicer_http_connections_closed_total",
    "HTTP connections the server closed before answering, or while its answer went unread, by"
    " server and reason: over-limit (INVOICER_HTTP_MAX_CONNECTIONS), headers-late,"
    " head-too-large, response-unread.",
    ["server", "reason"],
)


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS
    idle_timeout_seconds: float = IDLE_TIMEOUT_SECONDS
    response_timeout_seconds: float = RESPONSE_TIMEOUT_SECONDS
    stop_grace_seconds: float = STOP_GRACE_SECONDS
    max_head_bytes: int = MAX_HEAD_BYTES


class NoAccessLog(AbstractAccessLogger):
    """For a server whose requests are not logged (the ops port: probes and scrapes)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        return None

    @property
    def enabled(self) -> bool:
        return False


class Port(web.BaseSite):
    """A listening port whose connections are held as the module says; `server` names it in
    the metrics, `access_log` writes a line per request answered."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        limits: ConnectionLimits,
        *,
        server: str,
        access_log: type[AbstractAccessLogger] = NoAccessLog,
    ) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self.limits = limits
        self.server = server
        self._access_log = access_log
        self._open: set[_Connection] = set()

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        manager = self._runner.server
        assert manager is not None  # the runner is set up before a site is made
        manager.request_factory = _noting_requests(manager.request_factory)
        manager.request_handler = _refusing_expectations(manager.request_handler)
        loop = asyncio.get_running_loop()

        def connection() -> _Connection:
            return _Connection(
                manager,
                self,
                loop=loop,
                keepalive_timeout=self.limits.idle_timeout_seconds,
                access_log_class=self._access_log,
                access_log=logging.getLogger(__name__),
            )

        self._server = await loop.create_server(
            connection, self._host, self._port, backlog=self._backlog, reuse_address=True
        )

    def admit(self, connection: _Connection) -> bool:
        if len(self._open) >= self.limits.max_connections:
            CLOSED_CONNECTIONS.labels(self.server, "over-limit").inc()
            return False
        self._open.add(connection)
        OPEN_CONNECTIONS.labels(self.server).set(len(self._open))
        return True

    def release(self, connection: _Connection) -> None:
        self._open.discard(connection)
        OPEN_CONNECTIONS.labels(self.server).set(len(self._open))


class _Connection(web.RequestHandler):
    """aiohttp's connection, with the clock for a request's headers and the port's limit."""

    def __init__(self, manager: web.Server, port: Port, **options: Any) -> None:
        super().__init__(manager, **options)
        self._port = port
        self._admitted = False
        self._in_request = False
        self._bytes_during_request = False
        self._head_bytes = 0
        self._headers_due: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._port.admit(self):
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)
        self._expect_headers()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self._port.release(self)
        self._stop_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._head_bytes += len(data)  # also while a request is answered: aiohttp reads on
        if self._head_bytes > self._port.limits.max_head_bytes:
            CLOSED_CONNECTIONS.labels(self._port.server, "head-too-large").inc()
            self._stop_clock()
            if self.transport is not None:
                self.transport.abort()
            return
        if data and self._headers_due is None:
            if self._in_request:  # the next request's (or this one's body)
                self._bytes_during_request = True
            else:
                self._expect_headers()
        super().data_received(data)

    def request_began(self) -> None:
        """Its headers have arrived."""
        self._in_request = True
        self._bytes_during_request = False
        self._head_bytes = 0
        self._stop_clock()

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            async with asyncio.timeout(self._port.limits.response_timeout_seconds):
                return await super().finish_response(request, resp, start_time)
        except TimeoutError:  # a client that does not read what it asked for
            CLOSED_CONNECTIONS.labels(self._port.server, "response-unread").inc()
            if self.transport is not None:
                self.transport.abort()  # close() would wait for the unread bytes to go
            self.force_close()
            return resp, True  # as when the client is gone
        finally:
            self._in_request = False
            if self._bytes_during_request:
                self._expect_headers()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """What aiohttp answers itself: a request that is not HTTP (400; its message quotes
        the request, a token perhaps, so it is not repeated), a handler that failed or took
        too long. A problem, logged without a traceback."""
        if request.writer.output_size > 0:
            raise ConnectionError("the response has begun; no other can be sent")
        if status >= 500:
            cause = "the handler took too long" if exc is None else type(exc).__name__
            log.error("request failed", error=cause, server=self._port.server)
            log.debug("request failed", exc_info=exc)
            detail = "the request failed; it is logged"
        else:
            request[NOT_HTTP] = True
            detail = "the request is not well-formed HTTP/1.1"
        response = problem_response(status, detail)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """What aiohttp reports going wrong on a connection outside a handler: a request body
        that cannot be read (bad framing, bad compression) is the client's doing; anything
        else a defect. Logged with its cause; the traceback only at DEBUG."""
        error = kw.get("exc_info")
        cause = type(error).__name__ if isinstance(error, BaseException) else str(args[:1])
        if isinstance(error, web.RequestPayloadError):
            log.info("request body unreadable", error=cause, server=self._port.server)
        else:
            log.error("connection failed", error=cause, server=self._port.server)
        log.debug("connection failed", exc_info=error)

    def _expect_headers(self) -> None:
        self._headers_due = asyncio.get_running_loop().call_later(
            self._port.limits.header_timeout_seconds, self._headers_late
        )

    def _stop_clock(self) -> None:
        if self._headers_due is not None:
            self._headers_due.cancel()
            self._headers_due = None

    def _headers_late(self) -> None:
        self._headers_due = None
        if not self._in_request:
            CLOSED_CONNECTIONS.labels(self._port.server, "headers-late").inc()
            self.force_close()


def _refusing_expectations(handler: RequestHandler) -> RequestHandler:
    """The server's request handler, an expectation other than `100-continue` refused before
    it: aiohttp meets one itself, ahead of the app's middlewares, with a plain-text 417 that
    quotes it (a 500 when it is not UTF-8)."""

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        expect = request.headers.get(hdrs.EXPECT, "")
        if expect and expect.lower() != CONTINUE:
            request[NOT_ROUTED] = True
            return problem_response(417, f"the only expectation met is {CONTINUE}")
        return await handler(request)

    return handle


def _noting_requests(factory: RequestFactory) -> RequestFactory:
    """The server's request factory, which aiohttp calls when a request's headers have
    arrived and it is taken up, telling the connection."""

    def make_request(
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: web.RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        if isinstance(protocol, _Connection):
            protocol.request_began()
        return factory(message, payload, protocol, writer, task)

    return make_request
