"""Fault injection against the real worker: `invoicer run` processes, a PostgreSQL server
and a Tansu broker that this suite starts itself (it stops and pauses them, so it never
uses servers given in the environment, and never the shared PostgreSQL on port 5432).

Every test gets its own database, topics (4 partitions) and consumer group. Worker output
goes to <tmp_path>/<worker>.log; a failing test prints the tail of each. The seed of the
random streams and fault moments is INVOICER_FAULTS_SEED (printed with every figure).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from tests.faults.invariants import (
    SETTLE_TIMEOUT_SECONDS,
    Figures,
    Report,
    check,
    wait_until_applied,
)
from tests.faults.processes import (
    WorkerProcess,
    environment_without_invoicer,
    run_invoicer,
    stop_all,
)
from tests.faults.stream import FAULT_SELLERS, Outgoing, Stream, inbox_keys
from worker.domain.parties import Address, Seller
from worker.domain.sellers import RegisteredSeller
from worker.local_services import LocalKafka, LocalPostgres
from worker.settings import Settings, Topics
from worker.store import sellers
from worker.topics import ensure_topics

PARTITIONS = 4
PUBLISH_ATTEMPTS = 60
SEED = int(os.environ.get("INVOICER_FAULTS_SEED", "20261123"))
MAX_RECORD_BYTES = 16 * 1024 * 1024

_figures: list[Figures] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


@dataclass
class Servers:
    postgres: LocalPostgres
    kafka: LocalKafka


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    with LocalPostgres() as postgres, LocalKafka() as kafka:
        yield Servers(postgres, kafka)


@dataclass
class Stack:
    """One test's database, topics, group and workers, on the suite's own servers."""

    servers: Servers
    database_url: str
    topics: Topics
    env: dict[str, str]
    log_dir: Path
    producer: AIOKafkaProducer
    seed: int
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def bootstrap_servers(self) -> str:
        return self.servers.kafka.bootstrap_servers

    @property
    def random(self) -> random.Random:
        return random.Random(self.seed)

    def worker(self, name: str, *args: str, **env: str) -> WorkerProcess:
        process = WorkerProcess(name, {**self.env, **env}, self.log_dir, args)
        self.workers.append(process)
        return process

    def topic(self, kind: str) -> str:
        return {
            "orders": self.topics.orders_completed,
            "returns": self.topics.orders_returned,
            "commands": self.topics.invoice_commands,
        }[kind]

    async def publish(self, record: Outgoing) -> Any:
        """Sends and waits for the broker's acknowledgement; returns its metadata. Retried
        while the broker is away (a retry may store the record twice: the inbox drops it)."""
        for attempt in range(PUBLISH_ATTEMPTS):
            try:
                return await self.producer.send_and_wait(
                    self.topic(record.kind), value=record.value, key=record.key
                )
            except KafkaError:
                if attempt == PUBLISH_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(1)
        raise AssertionError("unreachable")

    async def publish_backlog(self, records: list[Outgoing]) -> None:
        """Publishes everything at once (the producer keeps each partition's order), for
        a backlog waiting before the worker starts."""
        sent = [
            await self.producer.send(self.topic(r.kind), value=r.value, key=r.key) for r in records
        ]
        await asyncio.gather(*sent)

    async def publish_stream(self, stream: Stream, seconds: float) -> None:
        """Publishes the stream one record at a time (so each order's messages keep their
        order), spread over about `seconds`; a later phase only once the earlier ones are
        applied, since commands travel on another topic than the orders they are about."""
        phases = [phase for phase in stream.phases if phase]
        for number, phase in enumerate(phases):
            if number:
                await wait_until_applied(
                    self.database_url, inbox_keys([r for p in phases[:number] for r in p])
                )
            pause = seconds / len(phases) / max(1, len(phase))
            for record in phase:
                await self.publish(record)
                await asyncio.sleep(pause)

    async def check(
        self,
        stream: Stream,
        *,
        expected_dead_letters: int = 0,
        within: float = SETTLE_TIMEOUT_SECONDS,
    ) -> Report:
        return await check(
            self.database_url,
            self.bootstrap_servers,
            self.topics,
            stream,
            expected_dead_letters=expected_dead_letters,
            within=within,
        )

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.database_url)


async def register_sellers(database_url: str) -> None:
    """The stream's registered sellers, stored as their seller-updated events would store
    them, before any order of theirs arrives."""
    connection = await asyncpg.connect(database_url)
    try:
        await sellers.save_sellers(
            connection,
            [
                RegisteredSeller(
                    seller_id,
                    Seller(
                        f"Merchant {seller_id}",
                        "NL987654321B01",
                        Address("Kade 3", None, "Amsterdam", "1011 AB", None, "NL"),
                    ),
                    invoice_number_prefix=prefix,
                )
                for seller_id, prefix in FAULT_SELLERS.items()
            ],
        )
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def open_stack(
    servers: Servers, log_dir: Path, seed: int, partitions: int = PARTITIONS
) -> AsyncIterator[Stack]:
    """A database, topics and consumer group of their own, migrated; dropped afterwards."""
    name = f"f_{uuid.uuid4().hex[:10]}"
    admin_url = servers.postgres.url
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    database_url = admin_url.rpartition("/")[0] + f"/{name}"
    topics = Topics(**{key: f"{name}.{value}" for key, value in Topics().model_dump().items()})
    env = {
        **environment_without_invoicer(),
        "INVOICER_DATABASE_URL": database_url,
        "INVOICER_KAFKA_BOOTSTRAP_SERVERS": servers.kafka.bootstrap_servers,
        "INVOICER_GROUP_ID": f"{name}-invoicer",
        "INVOICER_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "INVOICER_BATCH_MAX_RECORDS": "50",
        # A rendering cut short by a crash or an outage is taken up again when its lease
        # ends (the timeout plus the margin): short, so the suite's settling sees the
        # documents. The timeout keeps its margin for renderings at a low priority on a
        # busy machine; the margin need only cover a group's store.
        "INVOICER_RENDER_TIMEOUT_SECONDS": "20",
        "INVOICER_RENDER_LEASE_MARGIN_SECONDS": "5",
        **{f"INVOICER_TOPIC_{key.upper()}": value for key, value in topics.model_dump().items()},
    }
    await ensure_topics(
        Settings(kafka_bootstrap_servers=servers.kafka.bootstrap_servers, topics=topics),
        partitions=partitions,
    )
    run_invoicer(["migrate"], env, log_dir / "migrate.log")
    await register_sellers(database_url)
    producer = AIOKafkaProducer(
        bootstrap_servers=servers.kafka.bootstrap_servers,
        acks="all",
        max_request_size=MAX_RECORD_BYTES,
        request_timeout_ms=60_000,
    )
    await producer.start()
    opened = Stack(servers, database_url, topics, env, log_dir, producer, seed)
    try:
        yield opened
    finally:
        stop_all(opened.workers)
        servers.kafka.resume()
        if servers.postgres.process is None or servers.postgres.process.poll() is not None:
            servers.postgres.start()
        await producer.stop()
        admin = await asyncpg.connect(admin_url)
        with contextlib.suppress(asyncpg.PostgresError):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def stack(
    servers: Servers, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Stack]:
    async with open_stack(
        servers, tmp_path, seed=SEED + sum(map(ord, request.node.name))
    ) as test_stack:
        try:
            yield test_stack
        finally:
            if request.node.stash.get(_failed, False):
                for worker in test_stack.workers:
                    print(f"\n----- {worker.log_path} (last lines) -----\n{worker.log_tail(60)}")


_failed = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_failed] = True
    return report


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    """The test's figures, printed in the session summary (docs/reliability.md's table)."""
    found = Figures(attack=request.node.name)
    started = time.monotonic()
    yield found
    found.seconds = time.monotonic() - started
    if found.runs:
        _figures.append(found)


def record(figures: Figures, report: Report, records: int) -> None:
    """Adds one run's outcome; fails the test on any violated invariant."""
    figures.runs += 1
    figures.records_sent += records
    figures.lost += report.lost
    figures.duplicated_invoices += report.duplicated_invoices
    figures.redelivered_copies += report.redelivered_copies
    assert not report.violations, "\n".join(report.violations)
    assert report.lost == 0
    assert report.duplicated_invoices == 0


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _figures:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"fault injection figures (seed {SEED})")
    # Names whole, however long: two attacks must never read alike.
    width = max(len("attack"), *(len(f.attack) for f in _figures))
    write(
        f"{'attack':<{width}} {'runs':>4} {'sent':>6} {'lost':>4} {'dup':>4} {'copies':>6} {'s':>6}"
    )
    for f in _figures:
        write(
            f"{f.attack:<{width}} {f.runs:>4} {f.records_sent:>6} {f.lost:>4}"
            f" {f.duplicated_invoices:>4} {f.redelivered_copies:>6} {f.seconds:>6.1f}"
        )
        for note in f.notes:
            write(f"    {note}")
