"""Start-up failures a person causes and can fix (a bad setting, a port in use, a database
that refuses the worker) end with one line on standard error that names the cause and the
fix, and exit code 2: no traceback, nothing left behind."""

from __future__ import annotations

from socket import gaierror
from urllib.parse import urlsplit

import asyncpg
from pydantic import ValidationError

from worker.store.pool import is_transient

EXIT_CODE = 2
CONNECT_TIMEOUT_SECONDS = 10.0
_CONNECT_ERRORS = (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError)


class StartupError(Exception):
    """Its message is the line to show: the cause and the fix."""


def invalid_settings(error: ValidationError) -> StartupError:
    """Every INVOICER_* variable that failed validation, with its value and what is wrong."""
    problems = "; ".join(
        f"INVOICER_{str(problem['loc'][0]).upper()}={problem['input']!r} is not valid: "
        + problem["msg"].removeprefix("Value error, ")
        for problem in error.errors()
    )
    return StartupError(f"{problems}; correct it or unset it for the default")


async def check_database(database_url: str, *, wait_if_down: bool) -> None:
    """Connects once. A database that refuses the worker (no such database, a wrong
    password), an unknown host or a malformed URL is a StartupError. So is a database that
    is down or does not answer, unless `wait_if_down`: `invoicer run` waits for it, as
    after a crash or during a redeploy (README, "Reliability")."""
    try:
        connection = await asyncpg.connect(database_url, timeout=CONNECT_TIMEOUT_SECONDS)
    except _CONNECT_ERRORS as error:
        if wait_if_down and is_transient(error) and not isinstance(error, gaierror):
            return
        raise StartupError(
            f"cannot connect to the database at {_where(database_url)} ({error}); "
            "start it, or set INVOICER_DATABASE_URL to one that accepts the worker"
        ) from error
    await connection.close()


def _where(database_url: str) -> str:
    """host:port/database as written, without the credentials."""
    parts = urlsplit(database_url)
    return parts.netloc.rpartition("@")[2] + parts.path
