"""Applies the numbered SQL files in ``migrations/`` that the database has not seen yet, and
checks that a database's migrations are exactly this version's.

Each applied file's sha256 is stored: a file edited after it was applied somewhere is
refused by `invoicer migrate` and `invoicer run` alike, since the databases it ran on differ
from those it would make now.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

from worker.store.pool import Executor
from worker.store.transactions import on_connection

log = structlog.get_logger(__name__)

# Held while migrating, so two workers starting at once apply each file once.
MIGRATION_LOCK_ID = 0x1A70_0001
DEFAULT_LOCK_TIMEOUT_MS = 5_000
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_FIX = "run `invoicer migrate` of this version"


class SchemaMismatch(Exception):
    """The database's migrations are not this version's; the message says how and what to
    do."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Applied:
    version: int
    name: str
    checksum: str | None
    """None for a migration applied before checksums were kept; `invoicer migrate` records
    it."""


def migrations() -> list[Migration]:
    found = []
    for entry in resources.files("worker.store").joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), entry.name, entry.read_text("utf-8")))
    return sorted(found, key=lambda migration: migration.version)


async def migrate(
    database_url: str, *, lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS
) -> list[str]:
    """Brings the schema up to date; returns the names of the files applied now. Each file
    waits at most `lock_timeout_ms` for a table lock (then fails, and can be run again),
    rather than queueing every worker's statements behind it. SchemaMismatch when the
    database has migrations this version does not know, or one that differs from its file."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        await connection.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        await connection.execute(
            "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text"
        )
        done = await _applied(connection)
        mine = migrations()
        _refuse_unknown_or_edited(done, mine)
        applied = []
        for migration in mine:
            if migration.version in done:
                if done[migration.version].checksum is None:
                    await _record_checksum(connection, migration)
                continue
            async with on_connection(connection):
                await connection.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("migration applied", action="migrate", migration=migration.name)
            applied.append(migration.name)
        return applied
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
        await connection.close()


async def check_schema(connection: Executor) -> None:
    """SchemaMismatch unless the database has exactly this version's migrations, each as
    its file is now."""
    exists = await connection.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        raise SchemaMismatch(f"the database has no migrations at all; {_FIX}")
    columns = await connection.fetchval(
        "SELECT count(*) FROM information_schema.columns"
        " WHERE table_name = 'schema_migrations' AND column_name = 'checksum'"
        "   AND table_schema = current_schema()"
    )
    if not columns:
        raise SchemaMismatch(f"the database's migrations carry no checksums yet; {_FIX}")
    done = await _applied(connection)
    mine = migrations()
    _refuse_unknown_or_edited(done, mine)
    missing = [migration.name for migration in mine if migration.version not in done]
    if missing:
        raise SchemaMismatch(f"the database lacks migration(s) {', '.join(missing)}; {_FIX}")
    unrecorded = [applied.name for applied in done.values() if applied.checksum is None]
    if unrecorded:
        raise SchemaMismatch(
            f"no checksum is recorded for migration(s) {', '.join(unrecorded)}; {_FIX}"
        )


async def _applied(connection: Executor) -> dict[int, Applied]:
    return {
        row["version"]: Applied(row["version"], row["name"], row["checksum"])
        for row in await connection.fetch(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
        )
    }


def _refuse_unknown_or_edited(done: dict[int, Applied], mine: list[Migration]) -> None:
    known = {migration.version: migration for migration in mine}
    unknown = [applied.name for version, applied in done.items() if version not in known]
    if unknown:
        raise SchemaMismatch(
            f"the database has migration(s) this version does not know: {', '.join(unknown)};"
            " it was migrated by a newer version: run that one"
        )
    edited = [
        migration.name
        for migration in mine
        if (applied := done.get(migration.version)) is not None
        and (
            applied.name != migration.name
            or (applied.checksum is not None and applied.checksum != migration.checksum)
        )
    ]
    if edited:
        raise SchemaMismatch(
            f"migration(s) {', '.join(edited)} differ from what was applied to the database"
            " (edited after release?); restore the released file(s) and add a new migration"
        )


async def _record_checksum(connection: asyncpg.Connection, migration: Migration) -> None:
    await connection.execute(
        "UPDATE schema_migrations SET checksum = $2 WHERE version = $1",
        migration.version,
        migration.checksum,
    )
