"""The connection pool, and how transient database faults are recognised."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Executor: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any] | asyncpg.Pool[Any]"
"""Whatever runs a statement: a connection, a pooled one, or the pool itself."""

# Concurrency conflicts: the same work usually passes when tried again.
CONFLICT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
    }
)
# Faults that go away by themselves: the batch is retried, never skipped.
TRANSIENT_SQLSTATES = CONFLICT_SQLSTATES | frozenset(
    {
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now
        "53300",  # too_many_connections
    }
)


def numeric_text(value: Decimal) -> str:
    """A decimal as a numeric parameter, sent as text (`$1::text[]`, cast to numeric in the
    statement): asyncpg's binary numeric encoding costs about 1 µs a value in the worker's
    process, text a third of that, and the server reads the same value with the same
    scale ("12.050" stays 12.050)."""
    return str(value)


async def _init_connection(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )


async def connect(database_url: str) -> asyncpg.Connection:
    """A single connection, set up like the pool's."""
    connection = await asyncpg.connect(database_url)
    await _init_connection(connection)
    return connection


async def create_pool(database_url: str, *, max_size: int = 4) -> asyncpg.Pool:
    # min_size 0: connections are opened when first needed, so a worker started while the
    # database is away runs, says not ready and waits for it, instead of exiting.
    pool = await asyncpg.create_pool(
        database_url, min_size=0, max_size=max_size, init=_init_connection, command_timeout=60
    )
    assert pool is not None
    return pool


def is_conflict(error: BaseException) -> bool:
    """A concurrency conflict: transient, unless one record causes it every time."""
    return isinstance(error, asyncpg.PostgresError) and error.sqlstate in CONFLICT_SQLSTATES


def is_transient(error: BaseException) -> bool:
    """Connection trouble and concurrency conflicts: worth retrying the same work."""
    if isinstance(error, asyncpg.PostgresError):
        return error.sqlstate in TRANSIENT_SQLSTATES or error.sqlstate.startswith("08")
    return isinstance(
        error,
        (
            asyncpg.InterfaceError,
            ConnectionError,
            OSError,
            TimeoutError,
        ),
    )


def describe_error(error: BaseException) -> str:
    """The error for a log line or a dead letter, without the values of the row it is about:
    PostgreSQL's DETAIL ("Failing row contains …") and asyncpg's quote of a query argument
    can hold a customer's personal data."""
    if not isinstance(error, asyncpg.PostgresError):
        return repr(error)
    message = str(error.args[0]) if error.args else ""
    if message.startswith(_ARGUMENT_QUOTE):
        message = message.split(":", 1)[0]
    return f"{type(error).__name__} (SQLSTATE {error.sqlstate}): {message}"


_ARGUMENT_QUOTE = "invalid input for query argument"
