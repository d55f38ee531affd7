"""The broker and database the benchmark runs against, and a fresh database and topic set
per scenario so that scenarios do not disturb each other."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from worker.settings import Settings, Topics
from worker.store.migrate import migrate
from worker.topics import ensure_topics


@dataclass(frozen=True, slots=True)
class Services:
    admin_database_url: str
    """A database on the server where the benchmark may CREATE and DROP databases."""
    bootstrap_servers: str
    postgres_pid: int | None = None
    """Set when the benchmark started the server: its CPU time is then measured."""
    kafka_pid: int | None = None


@contextlib.contextmanager
def started_services(database_url: str | None, bootstrap_servers: str | None) -> Iterator[Services]:
    """The given services, or an embedded PostgreSQL and a Tansu broker for what is not given."""
    with contextlib.ExitStack() as stack:
        postgres_pid = kafka_pid = None
        if database_url is None:
            from worker.local_services import LocalPostgres

            postgres = stack.enter_context(LocalPostgres())
            database_url = postgres.url
            postgres_pid = postgres.process.pid if postgres.process else None
        if bootstrap_servers is None:
            from worker.local_services import LocalKafka

            kafka = stack.enter_context(LocalKafka())
            bootstrap_servers = kafka.bootstrap_servers
            kafka_pid = kafka.process.pid if kafka.process else None
        yield Services(database_url, bootstrap_servers, postgres_pid, kafka_pid)


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario's own database, topics and consumer group."""

    name: str
    settings: Settings


@contextlib.asynccontextmanager
async def fresh_scenario(
    services: Services, label: str, partitions: int, *, migrated: bool = True
) -> AsyncIterator[Scenario]:
    """A new database (migrated unless told otherwise) and new topics named after the
    scenario; the database and topics are dropped afterwards."""
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    url = _with_database(services.admin_database_url, name)
    admin = await asyncpg.connect(services.admin_database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    settings = Settings(
        kafka_bootstrap_servers=services.bootstrap_servers,
        database_url=url,
        group_id=f"{name}-invoicer",
        topics=Topics.model_validate(
            {field: f"{name}.{default}" for field, default in Topics().model_dump().items()}
        ),
    )
    try:
        await ensure_topics(settings, partitions=partitions)
        if migrated:
            await migrate(url)
        yield Scenario(name, settings)
    finally:
        await _drop_topics(settings)
        admin = await asyncpg.connect(services.admin_database_url)
        try:
            with contextlib.suppress(asyncpg.PostgresError):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def topic_names(settings: Settings) -> list[str]:
    return list(settings.topics.model_dump().values())


async def _drop_topics(settings: Settings) -> None:
    """Frees the broker's memory (Tansu keeps topics in memory); best effort."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    with contextlib.suppress(Exception):
        await admin.start()
        try:
            await admin.delete_topics(topic_names(settings), timeout_ms=10_000)
        finally:
            await admin.close()
