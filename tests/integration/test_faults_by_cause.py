"""A record is blamed only for what it causes itself. The database refusing the worker's
work (a revoked privilege, a statement timeout) makes the worker unready and is retried
until fixed: nothing is dead-lettered, and the worker goes on by itself once it is fixed.
A database whose migrations are not this version's stops `invoicer run` at start."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.faults.processes import environment_without_invoicer, invoicer_command
from tests.integration.flows import order_event, publish_order, row
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import environment, running_worker, wait_until
from tests.integration.test_operations_start_and_stop import fails_to_start
from worker.running import Worker
from worker.settings import Settings

FAIL_WITHIN_SECONDS = 60.0


async def _unready_for(worker: Worker, cause: str) -> None:
    async def says_so() -> bool:
        ready, reason = await worker.readiness()
        return not ready and cause in reason

    await wait_until(says_so, f"/readyz names {cause}")


async def _invoiced(db: asyncpg.Connection, order_id: str) -> bool:
    return bool(await db.fetchval("SELECT count(*) FROM invoices WHERE order_id = $1", order_id))


async def _nothing_dead_lettered(db: asyncpg.Connection) -> None:
    assert await db.fetchval("SELECT count(*) FROM inbox WHERE outcome = 'dead-lettered'") == 0
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox WHERE headers::text LIKE '%eC1kZWFkLWxldHRlci1yZWFzb24=%'"
        )
        == 0
    ), "a dead letter waits in the outbox"  # base64 of x-dead-letter-reason


@pytest.fixture
async def worker_role(settings: Settings, db: asyncpg.Connection) -> AsyncIterator[tuple[str, str]]:
    """A login role with the privileges the worker needs on the test's database (the
    superuser the tests connect as cannot lose any): its name and URL."""
    role = f"w_{uuid.uuid4().hex[:10]}"
    await db.execute(f'CREATE ROLE "{role}" LOGIN')
    await db.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
    await db.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    base, _, rest = settings.database_url.partition("://")
    yield role, f"{base}://{role}@{rest.rpartition('@')[2]}"
    await db.execute(f'DROP OWNED BY "{role}"')
    await db.execute(f'DROP ROLE "{role}"')


async def test_a_revoked_privilege_dead_letters_nothing_and_the_worker_recovers(
    settings: Settings, db: asyncpg.Connection, kafka: KafkaClient, worker_role: tuple[str, str]
) -> None:
    role, url = worker_role
    await db.execute(f'REVOKE INSERT ON invoices FROM "{role}"')
    async with running_worker(settings.model_copy(update={"database_url": url})) as worker:
        await publish_order(kafka, settings, order_event("O-priv", [row("1")]))
        await _unready_for(worker, "InsufficientPrivilegeError (SQLSTATE 42501)")
        assert not await _invoiced(db, "O-priv")
        await db.execute(f'GRANT INSERT ON invoices TO "{role}"')
        await wait_until(lambda: _invoiced(db, "O-priv"), "the order invoiced once fixed")
        assert (await worker.readiness())[0]
    await _nothing_dead_lettered(db)


async def test_a_statement_timeout_dead_letters_nothing_and_the_worker_recovers(
    settings: Settings, db: asyncpg.Connection, kafka: KafkaClient
) -> None:
    await db.execute(
        """CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$;
           CREATE TRIGGER slow BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION slow();"""
    )
    limited = settings.model_copy(update={"database_statement_timeout_ms": 300})
    async with running_worker(limited) as worker:
        await publish_order(kafka, settings, order_event("O-slow", [row("1")]))
        await _unready_for(worker, "QueryCanceledError (SQLSTATE 57014)")
        assert not await _invoiced(db, "O-slow")
        await db.execute("DROP TRIGGER slow ON orders")
        await wait_until(lambda: _invoiced(db, "O-slow"), "the order invoiced once fixed")
    await _nothing_dead_lettered(db)


def _variables(settings: Settings) -> dict[str, str]:
    return {**environment(settings), "INVOICER_HTTP_PORT": "0"}


async def test_a_missing_migration_stops_invoicer_run_at_start_with_nothing_dead_lettered(
    settings: Settings, db: asyncpg.Connection, kafka: KafkaClient
) -> None:
    latest = await db.fetchval(
        "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"
        " RETURNING name"
    )
    await publish_order(kafka, settings, order_event("O-early", [row("1")]))

    line = await fails_to_start(["run"], _variables(settings))

    assert f"lacks migration(s) {latest}" in line
    assert "invoicer migrate" in line
    assert not await _invoiced(db, "O-early")
    await _nothing_dead_lettered(db)
    assert await db.fetchval("SELECT count(*) FROM inbox") == 0


async def test_a_migration_this_version_does_not_know_stops_invoicer_run(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await db.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_later.sql', 'x')"
    )

    line = await fails_to_start(["run"], _variables(settings))

    assert "does not know: 9999_later.sql" in line


async def test_an_edited_migration_is_refused_by_migrate_and_run(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await db.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2")

    for command in ("migrate", "run"):
        line = await fails_to_start([command], _variables(settings))

        assert "0002_credit_lines.sql differ from what was applied" in line, command


async def test_checksums_are_recorded_for_migrations_applied_before_they_were_kept(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await db.execute("UPDATE schema_migrations SET checksum = NULL")
    assert "no checksum is recorded" in await fails_to_start(["run"], _variables(settings))

    migrated = await asyncio.to_thread(
        subprocess.run,
        [*invoicer_command(), "migrate"],
        env={**environment_without_invoicer(), **_variables(settings)},
        capture_output=True,
        timeout=FAIL_WITHIN_SECONDS,
    )

    assert migrated.returncode == 0, migrated.stderr
    assert await db.fetchval("SELECT count(*) FROM schema_migrations WHERE checksum IS NULL") == 0


async def test_every_pool_connection_has_server_side_timeouts_and_keepalives(
    worker: Worker,
) -> None:
    async with worker._pool.acquire() as connection:
        shown = {
            name: await connection.fetchval(f"SHOW {name}")
            for name in (
                "statement_timeout",
                "lock_timeout",
                "idle_in_transaction_session_timeout",
                "tcp_keepalives_idle",
            )
        }
    assert shown == {
        "statement_timeout": "30s",
        "lock_timeout": "10s",
        "idle_in_transaction_session_timeout": "1min",
        "tcp_keepalives_idle": "30",
    }
