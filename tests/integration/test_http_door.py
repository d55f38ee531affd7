"""The door of both HTTP servers (the ops port and the read API), held by raw sockets: a
connection that sends nothing, one that sends half a header slowly, one kept alive and idle,
one kept alive that starts a request and stalls, and one more than the port holds; each is
closed on time while requests on other connections keep being answered.

The clocks are shortened here (ConnectionLimits below) to keep the test fast; the contract's
10 s and 75 s are the defaults (tests/unit/test_connections.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from pydantic import SecretStr

from tests.faults.processes import environment_without_invoicer, invoicer_command
from tests.integration.operations import environment, serving_api, wait_until
from tests.integration.raw_http import closed, connect, exchange, http_request, read_answer
from tests.integration.stored_invoices import store_document, store_drafts
from worker.api.server import start_api
from worker.connections import ConnectionLimits
from worker.http import create_app, start_http
from worker.local_services import free_port
from worker.settings import Settings
from worker.store.pool import create_pool

pytestmark = pytest.mark.integration

TOKEN = "door-token-0123456789abcdef"
LIMITS = ConnectionLimits(max_connections=16, header_timeout_seconds=1.0, idle_timeout_seconds=2.5)
LATE = 1.0
"""How much later than its limit a connection may be closed (two shared, busy cores)."""
EARLY = 0.25
"""How much earlier it may seem closed: the client notes the moment after the server did."""
SLOW_BYTE_SECONDS = 0.1
HALF_A_HEADER = b"GET /v1/invoices HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


class Server:
    def __init__(self, name: str, port: int, good_request: bytes) -> None:
        self.name = name
        self.port = port
        self.good_request = good_request

    async def answers(self) -> bool:
        """A request on a new connection is answered 200."""
        try:
            return (await exchange(self.port, self.good_request)).status == 200
        except (ConnectionError, asyncio.IncompleteReadError):
            return False


@pytest.fixture(params=["ops", "api"])
async def server(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Server]:
    if request.param == "ops":

        async def healthy() -> tuple[bool, str]:
            return True, "serving"

        async def nothing() -> None:
            return None

        runner, port = await start_http(create_app(healthy, healthy, nothing), 0, LIMITS)
        try:
            yield Server("ops", port, http_request(b"/healthz"))
        finally:
            await runner.cleanup()
        return
    async with serving_api(settings, TOKEN, LIMITS) as port:
        yield Server(
            "api",
            port,
            http_request(b"/v1/invoices", {b"Authorization": b"Bearer " + TOKEN.encode()}),
        )


async def _seconds_until_closed(reader: asyncio.StreamReader, since: float) -> float:
    await closed(reader)
    return asyncio.get_running_loop().time() - since


async def _trickle(
    writer: asyncio.StreamWriter, data: bytes, every: float = SLOW_BYTE_SECONDS
) -> None:
    """Sends `data` a byte at a time, then a byte of a header value forever: never done."""
    with contextlib.suppress(ConnectionError):
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every)
        while True:
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(every)


async def _answering_all_along(server: Server, until: asyncio.Event) -> list[bool]:
    answered = []
    while not until.is_set():
        answered.append(await server.answers())
        await asyncio.sleep(0.1)
    return answered


async def _timed(
    opening: Callable[[], Awaitable[tuple[asyncio.StreamReader, float]]],
) -> float:
    """Seconds from the moment `opening` gives to the connection closed; inf when it is
    still open long after every limit."""
    reader, since = await opening()
    try:
        async with asyncio.timeout(LIMITS.idle_timeout_seconds + 3 * LATE):
            return await _seconds_until_closed(reader, since)
    except TimeoutError:
        return float("inf")


async def test_late_headers_and_idle_kept_alive_connections_are_closed_on_time(
    server: Server,
) -> None:
    loop = asyncio.get_running_loop()
    writers: list[asyncio.StreamWriter] = []
    trickling: list[asyncio.Task[None]] = []

    async def silent() -> tuple[asyncio.StreamReader, float]:
        reader, writer = await connect(server.port)
        writers.append(writer)
        return reader, loop.time()

    async def slow_header() -> tuple[asyncio.StreamReader, float]:
        reader, writer = await connect(server.port)
        writers.append(writer)
        trickling.append(asyncio.create_task(_trickle(writer, HALF_A_HEADER)))
        return reader, loop.time()

    async def kept_alive(then: bytes) -> tuple[asyncio.StreamReader, float]:
        reader, writer = await connect(server.port)
        writers.append(writer)
        writer.write(server.good_request.replace(b"Connection: close", b"Connection: keep-alive"))
        answer = await read_answer(reader)
        assert answer.status == 200
        answered_at = loop.time()
        if then:
            trickling.append(asyncio.create_task(_trickle(writer, then)))
        return reader, answered_at

    done = asyncio.Event()
    answering = asyncio.create_task(_answering_all_along(server, done))
    try:
        silent_times, slow_times, idle_times, stalled_times = await asyncio.gather(
            asyncio.gather(*(_timed(silent) for _ in range(4))),
            asyncio.gather(*(_timed(slow_header) for _ in range(4))),
            asyncio.gather(*(_timed(lambda: kept_alive(b"")) for _ in range(2))),
            asyncio.gather(*(_timed(lambda: kept_alive(HALF_A_HEADER)) for _ in range(2))),
        )
    finally:
        done.set()
        answered = await answering
        for task in trickling:
            task.cancel()
        for writer in writers:
            writer.close()

    header_limit, idle_limit = LIMITS.header_timeout_seconds, LIMITS.idle_timeout_seconds
    for name, times, limit in (
        ("sends nothing", silent_times, header_limit),
        ("sends half a header slowly", slow_times, header_limit),
        ("kept alive, idle after a response", idle_times, idle_limit),
        ("kept alive, half a header slowly after a response", stalled_times, header_limit),
    ):
        assert all(limit - EARLY <= t <= limit + LATE for t in times), (name, times, limit)
    assert len(answered) >= 5 and all(answered), answered


async def test_a_port_holds_its_limit_of_connections_and_closes_one_more_at_once(
    server: Server,
) -> None:
    loop = asyncio.get_running_loop()
    held = [await connect(server.port) for _ in range(LIMITS.max_connections)]
    refused_before = REGISTRY.get_sample_value(
        "invoicer_http_connections_closed_total", {"server": server.name, "reason": "over-limit"}
    )
    try:
        # every one held is open: a request on the last one is answered
        last_reader, last_writer = held[-1]
        last_writer.write(server.good_request.replace(b"close", b"keep-alive"))
        assert (await read_answer(last_reader)).status == 200

        for _ in range(2):
            reader, writer = await connect(server.port)
            since = loop.time()
            writer.write(server.good_request)
            received = b"(still open)"
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LATE):
                    received = await closed(reader)
            assert received == b"", "one over the limit is closed, unanswered"
            assert loop.time() - since < 0.5, "at once"
            writer.close()
        refused = REGISTRY.get_sample_value(
            "invoicer_http_connections_closed_total",
            {"server": server.name, "reason": "over-limit"},
        )
        assert refused == (refused_before or 0) + 2

        for _, writer in held[:3]:  # the client lets go of three: requests are answered again
            writer.close()
        await wait_until(server.answers, "a request is answered once the client let go", 5)
    finally:
        for _, writer in held:
            writer.close()


SLOW_CONNECTIONS = 300
MALFORMED_REQUESTS = 1000
PROBLEM = "application/problem+json"
_AUTHORIZED = {b"Authorization": b"Bearer " + TOKEN.encode()}
MALFORMED = [
    http_request(b"/v1/invoices?orderId=%00", _AUTHORIZED),
    http_request(b"/v1/invoices?customerId=%ED%A0%80&status=open", _AUTHORIZED),
    http_request(b"/v1/invoices/%zz/pdf", _AUTHORIZED),
    http_request(b"/v1/invoices/%FF%FE", _AUTHORIZED),
    b"GET /v1/\x00invoices HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # TLS, not HTTP
]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


async def test_invoicer_api_holds_300_slow_connections_at_the_contracts_limits(
    settings: Settings, tmp_path: Path
) -> None:
    """`invoicer api` as an operator runs it, with the contract's defaults (headers within
    10 s, 256 connections a port): of 300 connections that never finish their headers, 44
    are closed at once and the rest 10 s after they connected; /healthz answers all along,
    the API as soon as the slow ones are gone; what the attack costs the process is printed
    (docs/reliability.md)."""
    api_port, ops_port = free_port(), free_port()
    env = {
        **environment(settings),
        "INVOICER_API_TOKENS": TOKEN,
        "INVOICER_API_PORT": str(api_port),
        "INVOICER_HTTP_PORT": str(ops_port),
        "INVOICER_LOG_FORMAT": "json",
    }
    limits = ConnectionLimits(Settings.model_fields["http_max_connections"].default)
    with (tmp_path / "api.log").open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *invoicer_command(),
            "api",
            env={**environment_without_invoicer(), **env},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    api = Server(
        "api",
        api_port,
        http_request(b"/v1/invoices", {b"Authorization": b"Bearer " + TOKEN.encode()}),
    )
    ops = Server("ops", ops_port, http_request(b"/healthz"))
    loop = asyncio.get_running_loop()
    writers: list[asyncio.StreamWriter] = []
    trickling: list[asyncio.Task[None]] = []
    try:
        await wait_until(api.answers, "invoicer api answers", 60)
        rss_before, cpu_before = _rss_mib(process.pid), _cpu_seconds(process.pid)

        async def held(slow: bool) -> tuple[float, bytes]:
            reader, writer = await connect(api_port)
            writers.append(writer)
            since = loop.time()
            if slow:
                trickling.append(asyncio.create_task(_trickle(writer, HALF_A_HEADER, 1.0)))
            try:
                async with asyncio.timeout(limits.header_timeout_seconds + 5 * LATE):
                    received = await closed(reader)
            except TimeoutError:
                return float("inf"), b""
            return loop.time() - since, received

        holding = [asyncio.create_task(held(slow=n % 2 == 1)) for n in range(SLOW_CONNECTIONS)]
        peak_rss, healthy = rss_before, []
        while not all(task.done() for task in holding):
            healthy.append(await ops.answers())
            peak_rss = max(peak_rss, _rss_mib(process.pid))
            await asyncio.sleep(0.5)
        cpu = _cpu_seconds(process.pid) - cpu_before
        results = [task.result() for task in holding]
        assert await api.answers()

        # then malformed requests, one after another: each a 400 problem
        cpu_before, started = _cpu_seconds(process.pid), loop.time()
        for n in range(MALFORMED_REQUESTS):
            answer = await exchange(api_port, MALFORMED[n % len(MALFORMED)])
            media_type = answer.headers["content-type"].partition(";")[0]
            assert (answer.status, media_type) == (400, PROBLEM), answer
        malformed_cpu, malformed_time = (
            _cpu_seconds(process.pid) - cpu_before,
            loop.time() - started,
        )
        malformed_rss = _rss_mib(process.pid)
    finally:
        for task in trickling:
            task.cancel()
        for writer in writers:
            writer.close()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0

    at_once = [t for t, received in results if t < 1.0]
    on_time = [t for t in sorted(t for t, _ in results) if t >= 1.0]
    print(
        f"\n{SLOW_CONNECTIONS} slow connections on invoicer api: {len(at_once)} closed at once,"
        f" {len(on_time)} after {min(on_time):.2f}-{max(on_time):.2f} s; RSS {rss_before:.1f} MiB"
        f" before, {peak_rss:.1f} MiB at most (+{peak_rss - rss_before:.1f}); CPU {cpu:.2f} s"
        f" over {max(on_time):.1f} s; /healthz answered {sum(healthy)} of {len(healthy)}"
    )
    assert len(at_once) == SLOW_CONNECTIONS - limits.max_connections
    assert all(received == b"" for _, received in results)
    assert len(on_time) == limits.max_connections
    assert limits.header_timeout_seconds - 0.5 <= min(on_time)  # the client saw them connect late
    assert max(on_time) <= limits.header_timeout_seconds + 3 * LATE
    assert healthy and all(healthy)
    assert peak_rss - rss_before < 64 and cpu < 2.0
    print(
        f"{MALFORMED_REQUESTS} malformed requests: {malformed_time:.1f} s, CPU"
        f" {malformed_cpu * 1000 / MALFORMED_REQUESTS:.2f} ms a request, RSS after"
        f" {malformed_rss:.1f} MiB"
    )
    assert malformed_rss - rss_before < 64 and malformed_cpu / MALFORMED_REQUESTS < 0.01


UNREAD_LIMITS = ConnectionLimits(
    max_connections=16,
    header_timeout_seconds=1.0,
    idle_timeout_seconds=2.5,
    response_timeout_seconds=1.5,
)
LARGE_DOCUMENT_BYTES = 16 * 1024 * 1024
"""More than the socket buffers between the server and a client that reads nothing hold."""


def _unread(labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value("invoicer_http_connections_closed_total", labels) or 0.0


async def test_a_client_that_does_not_read_its_answer_is_cut_off(settings: Settings) -> None:
    [invoice_id] = await store_drafts(settings.database_url, 1)
    await store_document(
        settings.database_url, invoice_id, "pdf", "application/pdf", bytes(LARGE_DOCUMENT_BYTES)
    )
    reading = settings.model_copy(update={"api_tokens": SecretStr(TOKEN)})
    pool = await create_pool(reading.database_url)
    runner, port = await start_api(reading, pool, 0, UNREAD_LIMITS)
    api = Server("api", port, http_request(b"/v1/invoices", _AUTHORIZED))
    loop = asyncio.get_running_loop()
    labels = {"server": "api", "reason": "response-unread"}
    cut_off_before = _unread(labels)
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.setblocking(False)
    try:
        await loop.sock_connect(reader, ("127.0.0.1", port))
        document = f"/v1/invoices/{invoice_id}/pdf".encode()
        await loop.sock_sendall(reader, http_request(document, _AUTHORIZED, keep_alive=True))
        asked = loop.time()

        async def cut_off() -> bool:
            return _unread(labels) == cut_off_before + 1

        await wait_until(cut_off, "the connection is cut off", within=10)
        waited = loop.time() - asked
        limit = UNREAD_LIMITS.response_timeout_seconds
        assert limit - EARLY <= waited <= limit + LATE, waited
        assert await api.answers(), "others are answered meanwhile and after"
        received = 0
        with contextlib.suppress(ConnectionResetError):
            async with asyncio.timeout(10):
                while data := await loop.sock_recv(reader, 1 << 20):
                    received += len(data)
        assert received < LARGE_DOCUMENT_BYTES, "the connection was cut before the end"
    finally:
        reader.close()
        await runner.cleanup()
        await pool.close()


STOP_SECONDS = 10.0
"""How long a stop may wait on the requests in hand: well inside the read API's
terminationGracePeriodSeconds (30, deploy/base/api.yaml)."""


async def test_a_stop_does_not_wait_on_a_client_that_does_not_read(settings: Settings) -> None:
    """The contract's clocks (a response may take 60 s to be written), and a stop meanwhile."""
    [invoice_id] = await store_drafts(settings.database_url, 1)
    await store_document(
        settings.database_url, invoice_id, "pdf", "application/pdf", bytes(LARGE_DOCUMENT_BYTES)
    )
    reading = settings.model_copy(update={"api_tokens": SecretStr(TOKEN)})
    pool = await create_pool(reading.database_url)
    runner, port = await start_api(reading, pool, 0)
    loop = asyncio.get_running_loop()
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.setblocking(False)
    try:
        await loop.sock_connect(reader, ("127.0.0.1", port))
        document = f"/v1/invoices/{invoice_id}/pdf".encode()
        await loop.sock_sendall(reader, http_request(document, _AUTHORIZED, keep_alive=True))
        await asyncio.sleep(1.0)  # the answer is being written, and not read
        stopping = loop.time()
        async with asyncio.timeout(2 * STOP_SECONDS):
            await runner.cleanup()
        assert loop.time() - stopping <= STOP_SECONDS + LATE
    finally:
        reader.close()
        await runner.cleanup()
        await pool.close()


HEAD_CAP = 64 * 1024
"""The most of a request's head a port reads (docs/operations.md, "The HTTP door")."""


async def test_a_head_larger_than_the_cap_is_not_held() -> None:
    """aiohttp reads up to 128 header lines of 8 KiB each, a megabyte a connection (2 MiB of
    memory), for as long as the header clock lets the client take: 256 connections were
    half a gigabyte, twice the read API's memory limit."""

    async def healthy() -> tuple[bool, str]:
        return True, "serving"

    async def nothing() -> None:
        return None

    runner, port = await start_http(
        create_app(healthy, healthy, nothing), 0, ConnectionLimits(max_connections=16)
    )
    loop = asyncio.get_running_loop()

    @hypothesis_settings(max_examples=25, deadline=None)
    @given(
        count=st.integers(min_value=1, max_value=120),
        size=st.integers(min_value=1, max_value=8000),
        complete=st.booleans(),
    )
    def held_or_not(count: int, size: int, complete: bool) -> None:
        head = http_request(b"/healthz", {b"X-%d" % n: b"a" * size for n in range(count)})
        if len(head) <= HEAD_CAP:
            answer = asyncio.run_coroutine_threadsafe(exchange(port, head), loop).result()
            assert answer.status == 200
            return
        sent = head if complete else head[:-2]
        received = asyncio.run_coroutine_threadsafe(_closed_within(port, sent, 2.0), loop)
        assert received.result() is not None, f"a {len(sent)}-byte head held"

    try:
        await asyncio.to_thread(held_or_not)
    finally:
        await runner.cleanup()


async def _closed_within(port: int, data: bytes, seconds: float) -> bytes | None:
    """What the server sent before it closed the connection; None when it was still open
    `seconds` after `data` was sent, or answered 200."""
    reader, writer = await connect(port)
    try:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        async with asyncio.timeout(seconds):
            received = await closed(reader)
    except TimeoutError:
        return None
    finally:
        writer.close()
    return None if received.startswith(b"HTTP/1.1 200") else received


@pytest.mark.parametrize("complete", [True, False])
async def test_a_head_larger_than_the_cap_sent_during_a_request_is_not_held(
    complete: bool,
) -> None:
    """aiohttp reads the next request's head while one is answered (pipelining)."""

    async def slow() -> tuple[bool, str]:
        await asyncio.sleep(5.0)
        return True, "serving"

    async def nothing() -> None:
        return None

    runner, port = await start_http(
        create_app(slow, slow, nothing), 0, ConnectionLimits(max_connections=16)
    )
    head = http_request(b"/healthz", {b"X-%d" % n: b"a" * 8000 for n in range(120)})
    reader, writer = await connect(port)
    try:
        writer.write(http_request(b"/healthz", keep_alive=True))
        await asyncio.sleep(1.0)  # the request is taken up, and answered in 5 s
        writer.write(head if complete else head[:-2])
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        async with asyncio.timeout(2.0):
            assert await closed(reader) == b"", "closed unanswered, while the request was"
    finally:
        writer.close()
        await runner.cleanup()
