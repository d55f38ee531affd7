"""What a log line or a dead letter says of a database error: never the row's values."""

from __future__ import annotations

import asyncpg

from worker.store.pool import describe_error


def test_the_detail_quoting_the_failing_row_is_left_out() -> None:
    error = asyncpg.CheckViolationError('new row for relation "orders" violates check')
    error.detail = "Failing row contains (O-1, jane@example.org)."

    described = describe_error(error)

    assert described == (
        'CheckViolationError (SQLSTATE 23514): new row for relation "orders" violates check'
    )
    assert "jane@example.org" in str(error)  # what it would have said


def test_a_quoted_query_argument_is_left_out() -> None:
    error = asyncpg.DataError("invalid input for query argument $5: ['Jane Roe'] (too long)")

    assert (
        describe_error(error) == "DataError (SQLSTATE 22000): invalid input for query argument $5"
    )


def test_other_errors_are_their_repr() -> None:
    assert describe_error(KeyError("x")) == "KeyError('x')"
