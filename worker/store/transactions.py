"""Where the worker's transactions begin: each loop (the batch, the renderer, the scan, the
relay, the read API, migrations) opens its units of work through this module and nowhere else,
so what commits together is read in one place."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction


@contextlib.asynccontextmanager
async def unit_of_work(
    pool: asyncpg.Pool, *, keep: bool = True
) -> AsyncIterator[PoolConnectionProxy[Any]]:
    """A pooled connection in one transaction: committed when the block ends (rolled back
    instead when `keep` is False: a dry run), rolled back when it raises."""
    async with pool.acquire() as connection:
        # READ COMMITTED whatever the database's default: a statement after a lock wait
        # must see what the lock's holder committed (worker/store/documents.py add_waiting,
        # take_waiting)
        transaction = connection.transaction(isolation="read_committed")
        await transaction.start()
        try:
            yield connection
        except BaseException:
            with contextlib.suppress(Exception):
                await transaction.rollback()
            raise
        if keep:
            await transaction.commit()
        else:
            await transaction.rollback()


@contextlib.asynccontextmanager
async def read_only(pool: asyncpg.Pool) -> AsyncIterator[PoolConnectionProxy[Any]]:
    """A pooled connection that reads one consistent snapshot and writes nothing."""
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        yield connection


def on_connection(connection: asyncpg.Connection[Any] | PoolConnectionProxy[Any]) -> Transaction:
    """A transaction on a connection a loop keeps for itself (the relay's, which holds its
    session lock; the migration's), READ COMMITTED as `unit_of_work`'s."""
    return connection.transaction(isolation="read_committed")
