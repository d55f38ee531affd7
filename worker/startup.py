"""Start-up failures a person causes and can fix (a bad setting, a port in use, a database
that refuses the worker) end with one line on standard error that names the cause and the
fix, and exit code 2: no traceback, nothing left behind."""

from __future__ import annotations

import ssl
from socket import gaierror
from urllib.parse import urlsplit

import asyncpg
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from worker.settings import Topics
from worker.store.migrate import SchemaMismatch, check_schema
from worker.store.pool import is_unreachable

EXIT_CODE = 2
CONNECT_TIMEOUT_SECONDS = 10.0
_MISTAKES = (gaierror, FileNotFoundError, ssl.SSLCertVerificationError)
_CONNECT_ERRORS = (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError)


class StartupError(Exception):
    """Its message is the line to show: the cause and the fix."""


SECRET_SETTINGS = frozenset({"database_url", "kafka_sasl_password", "api_tokens"})
"""Never shown, not even when invalid: they may hold a password."""


def invalid_settings(error: ValidationError) -> StartupError:
    """Every INVOICER_* variable that failed validation, with its value (unless it may hold a
    secret) and what is wrong."""
    problems = "; ".join(_problem(problem) for problem in error.errors())
    return StartupError(f"{problems}; correct it or unset it for the default")


def _problem(problem: ErrorDetails) -> str:
    message = problem["msg"].removeprefix("Value error, ")
    if not problem["loc"]:  # settings that only make sense together: the message names them
        return message
    where = [str(part) for part in problem["loc"]]
    if where[0] == "topics" and len(where) > 1:  # given in code as Settings(topics=...)
        where = where[1:]
    field = where[0]
    prefix = "INVOICER_TOPIC_" if field in Topics.model_fields else "INVOICER_"
    value = "" if field in SECRET_SETTINGS else f"={problem['input']!r}"
    return f"{prefix}{field.upper()}{value} is not valid: {message}"


async def check_database(
    database_url: str, *, wait_if_down: bool, migrations: bool = False
) -> None:
    """Connects once. A database that refuses the worker (no such database, a wrong
    password), an unknown host or a malformed URL is a StartupError. So is a database that
    is down or does not answer, unless `wait_if_down`: `invoicer run` waits for it, as
    after a crash or during a redeploy (docs/reliability.md); it checks the migrations
    when it gets there. With `migrations`, so is a database whose migrations are not this
    version's."""
    try:
        connection = await asyncpg.connect(database_url, timeout=CONNECT_TIMEOUT_SECONDS)
    except _CONNECT_ERRORS as error:
        # An unknown host or a TLS file that is missing or not trusted is a mistake to fix.
        if wait_if_down and is_unreachable(error) and not isinstance(error, _MISTAKES):
            return
        raise StartupError(
            f"cannot connect to the database at {_where(database_url)} ({error}); "
            "start it, or set INVOICER_DATABASE_URL to one that accepts the worker"
        ) from error
    try:
        if migrations:
            await check_schema(connection)
    except SchemaMismatch as mismatch:
        raise StartupError(str(mismatch)) from None
    finally:
        await connection.close()


def _where(database_url: str) -> str:
    """host:port/database as written, without the credentials."""
    parts = urlsplit(database_url)
    return parts.netloc.rpartition("@")[2] + parts.path
