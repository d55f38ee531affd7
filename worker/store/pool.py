"""The connection pool, its server-side timeouts, and who is to blame for a database fault."""

from __future__ import annotations

import json
from decimal import Decimal
from enum import Enum
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from worker.messages.text import escaped, shorten
from worker.settings import Timeouts

Executor: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any] | asyncpg.Pool[Any]"
"""Whatever runs a statement: a connection, a pooled one, or the pool itself."""


class Fault(Enum):
    """Who is to blame for a failed transaction, which decides what the worker does next."""

    RECORD = "record"
    """The record itself: its data refused (SQLSTATE class 22, a data exception; 23, a
    constraint it violates; 54, a limit it exceeds; P0, a trigger that refuses it) or a
    defect in the worker that it triggers. Isolated, then dead-lettered."""
    CONFLICT = "conflict"
    """Concurrency: serialization failure or deadlock. Usually passes when tried again."""
    INFRASTRUCTURE = "infrastructure"
    """The database, not the record: connection, schema, privilege, timeout, resources,
    configuration. The worker is unready and retries until it is fixed; no record is
    blamed."""


CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
RECORD_SQLSTATE_CLASSES = frozenset({"22", "23", "54", "P0"})
UNREACHABLE_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now
        "53300",  # too_many_connections
    }
)

_CONNECTION_ERRORS = (asyncpg.InterfaceError, ConnectionError, OSError, TimeoutError)


def fault_of(error: BaseException) -> Fault:
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = error.sqlstate or ""
        if sqlstate in CONFLICT_SQLSTATES:
            return Fault.CONFLICT
        if sqlstate[:2] in RECORD_SQLSTATE_CLASSES:
            return Fault.RECORD
        return Fault.INFRASTRUCTURE
    if isinstance(error, _CONNECTION_ERRORS):
        return Fault.INFRASTRUCTURE
    return Fault.RECORD


def condition(error: BaseException) -> str:
    """The kind of a database fault, without its message (which may quote values): for
    /readyz and the reason a worker is not ready."""
    if isinstance(error, asyncpg.PostgresError):
        return f"{type(error).__name__} (SQLSTATE {error.sqlstate})"
    return type(error).__name__


def numeric_text(value: Decimal) -> str:
    """A decimal as a numeric parameter, sent as text (`$1::text[]`, cast to numeric in the
    statement): asyncpg's binary numeric encoding costs about 1 µs a value in the worker's
    process, text a third of that, and the server reads the same value with the same
    scale ("12.050" stays 12.050)."""
    return str(value)


DEFAULT_TIMEOUTS = Timeouts()


async def _init_connection(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )


async def connect(database_url: str, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> asyncpg.Connection:
    """A single connection, set up like the pool's."""
    connection = await asyncpg.connect(database_url, server_settings=timeouts.server_settings())
    await _init_connection(connection)
    return connection


async def create_pool(
    database_url: str, *, max_size: int = 4, timeouts: Timeouts = DEFAULT_TIMEOUTS
) -> asyncpg.Pool:
    # min_size 0: connections are opened when first needed, so a worker started while the
    # database is away runs, says not ready and waits for it, instead of exiting.
    pool = await asyncpg.create_pool(
        database_url,
        min_size=0,
        max_size=max_size,
        init=_init_connection,
        command_timeout=60,
        server_settings=timeouts.server_settings(),
    )
    assert pool is not None
    return pool


def is_unreachable(error: BaseException) -> bool:
    """The database out of reach for now (down, starting, shutting down, full), as opposed
    to one that refuses the worker (a wrong password, no such database)."""
    if isinstance(error, asyncpg.PostgresError):
        sqlstate = error.sqlstate or ""
        return sqlstate.startswith("08") or sqlstate in UNREACHABLE_SQLSTATES
    return isinstance(error, _CONNECTION_ERRORS)


def describe_error(error: BaseException) -> str:
    """The error for a log line or a dead letter, without the values of the row it is about:
    PostgreSQL's DETAIL ("Failing row contains …") and asyncpg's quote of a query argument
    can hold a customer's personal data."""
    if not isinstance(error, asyncpg.PostgresError):
        # bounded and printable: an error about a record's text may quote all of it
        return shorten(escaped(repr(error)), MAX_ERROR_CHARACTERS)
    message = str(error.args[0]) if error.args else ""
    if message.startswith(_ARGUMENT_QUOTE):
        message = message.split(":", 1)[0]
    return f"{type(error).__name__} (SQLSTATE {error.sqlstate}): {message}"


_ARGUMENT_QUOTE = "invalid input for query argument"
MAX_ERROR_CHARACTERS = 500
