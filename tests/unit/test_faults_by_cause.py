"""Who is to blame for a database error: only what a record causes itself makes a dead
letter; the database refusing the worker's work never does."""

from __future__ import annotations

import asyncpg
import pytest

from worker.store.pool import Fault, condition, fault_of, is_unreachable


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (asyncpg.NumericValueOutOfRangeError("numeric field overflow"), Fault.RECORD),
        (asyncpg.InvalidTextRepresentationError("invalid input syntax"), Fault.RECORD),
        (asyncpg.UniqueViolationError("duplicate key"), Fault.RECORD),
        (asyncpg.CheckViolationError("violates check"), Fault.RECORD),
        (asyncpg.ProgramLimitExceededError("index row size exceeds maximum"), Fault.RECORD),
        (asyncpg.RaiseError("refused by a trigger"), Fault.RECORD),
        (ValueError("a defect a record triggers"), Fault.RECORD),
        (asyncpg.SerializationError("could not serialize"), Fault.CONFLICT),
        (asyncpg.DeadlockDetectedError("deadlock"), Fault.CONFLICT),
        (asyncpg.UndefinedTableError('relation "invoices" does not exist'), Fault.INFRASTRUCTURE),
        (asyncpg.UndefinedColumnError("column does not exist"), Fault.INFRASTRUCTURE),
        (asyncpg.InsufficientPrivilegeError("permission denied"), Fault.INFRASTRUCTURE),
        (asyncpg.QueryCanceledError("statement timeout"), Fault.INFRASTRUCTURE),
        (asyncpg.LockNotAvailableError("lock timeout"), Fault.INFRASTRUCTURE),
        (asyncpg.IdleInTransactionSessionTimeoutError("idle"), Fault.INFRASTRUCTURE),
        (asyncpg.AdminShutdownError("shutdown"), Fault.INFRASTRUCTURE),
        (asyncpg.DiskFullError("no space"), Fault.INFRASTRUCTURE),
        (asyncpg.ConnectionDoesNotExistError("gone"), Fault.INFRASTRUCTURE),
        (asyncpg.InterfaceError("connection is closed"), Fault.INFRASTRUCTURE),
        (ConnectionResetError(), Fault.INFRASTRUCTURE),
        (TimeoutError(), Fault.INFRASTRUCTURE),
    ],
)
def test_each_error_is_blamed_on_its_cause(error: Exception, fault: Fault) -> None:
    assert fault_of(error) is fault


def test_the_condition_names_the_kind_of_fault_and_never_its_message() -> None:
    error = asyncpg.InsufficientPrivilegeError("permission denied for table invoices")
    error.detail = "Failing row contains (jane@example.org)."

    assert condition(error) == "InsufficientPrivilegeError (SQLSTATE 42501)"


@pytest.mark.parametrize(
    ("error", "unreachable"),
    [
        (ConnectionRefusedError(), True),
        (asyncpg.CannotConnectNowError("starting up"), True),
        (asyncpg.TooManyConnectionsError("too many"), True),
        (asyncpg.InvalidPasswordError("password authentication failed"), False),
        (asyncpg.InvalidCatalogNameError("database does not exist"), False),
    ],
)
def test_a_database_out_of_reach_is_told_from_one_that_refuses_the_worker(
    error: Exception, unreachable: bool
) -> None:
    assert is_unreachable(error) is unreachable
