"""What an operator's tools do with a running worker: scrape /metrics, call the probes, and
cut the worker off from its database (a TCP proxy in between), for the operations tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from worker.api.server import start_api
from worker.connections import ConnectionLimits
from worker.running import Worker
from worker.settings import Settings
from worker.store.pool import create_pool

WAIT_SECONDS = 60.0
POLL_SECONDS = 0.1
POSTGRES_PORT = 5432


@dataclass(frozen=True)
class Scrape:
    """One /metrics answer: every sample by name and labels."""

    samples: Mapping[tuple[str, frozenset[tuple[str, str]]], float]
    content_type: str

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when it is not there (a counter not yet incremented)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample of `name` whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(
            value
            for (sample, sample_labels), value in self.samples.items()
            if sample == name and wanted <= sample_labels
        )

    def label_values(self, name: str, label: str) -> set[str]:
        return {
            dict(sample_labels)[label]
            for sample, sample_labels in self.samples
            if sample == name and label in dict(sample_labels)
        }


def changes(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


async def scrape(port: int) -> Scrape:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        text = await response.text()
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        return Scrape(samples, response.headers["Content-Type"])


async def exported_names(port: int) -> set[str]:
    """Every series name /metrics can carry, also of labelled metrics with no sample yet."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        text = await response.text()
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("", "_sum", "_count"),
        "gauge": ("",),
        "info": ("_info",),
        "untyped": ("",),
    }
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in suffixes[family.type]
    }


async def probe(port: int, path: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        body: dict[str, Any] = json.loads(await response.text())
        return response.status, body


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, within: float = WAIT_SECONDS
) -> None:
    """Polls until `condition` holds; fails the test (naming `what`) if it never does."""
    try:
        async with asyncio.timeout(within):
            while True:
                if await condition():
                    return
                await asyncio.sleep(POLL_SECONDS)
    except TimeoutError:
        raise AssertionError(f"not within {within:.0f} s: {what}") from None


async def wait_for_status(port: int, path: str, status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {}

    async def answers() -> bool:
        code, body = await probe(port, path)
        answer.update(body)
        return code == status

    await wait_until(answers, f"{path} answers {status}")
    return answer


async def wait_for_scrape(
    port: int, condition: Callable[[Scrape], bool], what: str, within: float = WAIT_SECONDS
) -> Scrape:
    found: list[Scrape] = []

    async def holds() -> bool:
        found[:] = [await scrape(port)]
        return condition(found[0])

    await wait_until(holds, what, within)
    return found[0]


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[Worker]:
    """The worker in this event loop, started and then stopped gracefully."""
    worker = Worker(settings)
    task = asyncio.create_task(worker.run())
    started = asyncio.create_task(worker.started.wait())
    done, _ = await asyncio.wait({task, started}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    assert started in done, "the worker did not start within 60 s"
    try:
        yield worker
    finally:
        worker.request_stop()
        await asyncio.wait_for(task, 60)


@contextlib.asynccontextmanager
async def serving_api(
    settings: Settings, token: str | None = None, limits: ConnectionLimits | None = None
) -> AsyncIterator[int]:
    """The read API in this event loop on a free port (yielded), accepting `token` when one is
    given, else the settings' tokens; stopped, and its pool closed, afterwards."""
    if token is not None:
        settings = settings.model_copy(update={"api_tokens": SecretStr(token)})
    pool = await create_pool(settings.database_url)
    runner, port = await start_api(settings, pool, 0, limits)
    try:
        yield port
    finally:
        await runner.cleanup()
        await pool.close()


def seconds_since(moment: float) -> float:
    return time.monotonic() - moment


class DatabaseProxy:
    """Forwards a local port to the database server. cut() drops every connection and
    refuses new ones (the database is unreachable) until restore()."""

    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or POSTGRES_PORT)
        self._parts = parts
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The database URL through the proxy."""
        credentials, _, _ = self._parts.netloc.rpartition("@")
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(self._parts._replace(netloc=netloc))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer, upstream_writer}
        self._writers.update(pair)
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )
        for each in pair:
            each.transport.abort()
        self._writers.difference_update(pair)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.transport.abort()


def environment(settings: Settings) -> dict[str, str]:
    """The INVOICER_* variables that configure `settings` (for a CLI run)."""
    variables = {
        "INVOICER_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "INVOICER_DATABASE_URL": settings.database_url,
        "INVOICER_GROUP_ID": settings.group_id,
    }
    for field, topic in settings.topics.model_dump().items():
        variables[f"INVOICER_TOPIC_{field.upper()}"] = topic
    return variables


@dataclass(frozen=True)
class Ran:
    """What an `invoicer` command did: its exit status, standard output and error."""

    status: int
    out: str
    err: str


async def run_invoicer(settings: Settings, *args: str) -> Ran:
    """Runs the `invoicer` command line as an operator would, configured like `settings`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "worker.cli",
        *args,
        env={**os.environ, **environment(settings)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())
