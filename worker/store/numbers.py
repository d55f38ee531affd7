"""Gap-free number series: one counter row per prefix and year."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from worker.store.pool import Executor

# Advisory lock namespace for number series, one lock per prefix.
SERIES_LOCK_NAMESPACE = 0x1A71


async def take_numbers(
    connection: Executor, counts: Mapping[str, int], year_of: Callable[[datetime], int]
) -> tuple[dict[str, int], datetime]:
    """Takes ``count`` numbers from each prefix's series of the current year; returns the
    first of each and the moment they were taken: the closing time of their invoices.

    The moment is read once the prefixes' locks are held, and its year (`year_of`, in the
    issue dates' time zone) picks the series: across replicas, numbers, closing times and
    issue dates all grow in the one order the locks give. The locks and counter rows stay
    held until the transaction ends and every replica closing in these series waits for
    them, so call this as late in the transaction as possible. A rollback returns the
    numbers: a series never has a gap.
    """
    prefixes = sorted(counts)
    taken_at: datetime = await connection.fetchval(
        "SELECT clock_timestamp() FROM (SELECT count(pg_advisory_xact_lock($1, hashtext(p)))"
        " FROM unnest($2::text[]) AS p) AS locked",
        SERIES_LOCK_NAMESPACE,
        prefixes,
    )
    year = year_of(taken_at)
    records = await connection.fetch(
        """
        INSERT INTO number_series AS series (prefix, year, last_number)
        SELECT prefix, $2, taken FROM unnest($1::text[], $3::bigint[]) AS t(prefix, taken)
        ON CONFLICT (prefix, year) DO UPDATE
            SET last_number = series.last_number + EXCLUDED.last_number
        RETURNING prefix, last_number
        """,
        prefixes,
        year,
        [counts[prefix] for prefix in prefixes],
    )
    first = {
        record["prefix"]: record["last_number"] - counts[record["prefix"]] + 1 for record in records
    }
    return first, taken_at
