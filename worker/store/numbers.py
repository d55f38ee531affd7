"""Gap-free number series: one counter row per prefix and year."""

from __future__ import annotations

from collections.abc import Mapping

from worker.store.pool import Executor


async def reserve_numbers(
    connection: Executor, counts: Mapping[tuple[str, int], int]
) -> dict[tuple[str, int], int]:
    """Takes ``count`` numbers from each (prefix, year) series; returns the first of each.

    The counter rows stay locked until the transaction ends and every replica closing
    in that series waits for them, so call this as late in the transaction as possible.
    A rollback returns the numbers: the series never has a gap.
    """
    if not counts:
        return {}
    keys = sorted(counts)
    records = await connection.fetch(
        """
        INSERT INTO number_series AS series (prefix, year, last_number)
        SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])
        ON CONFLICT (prefix, year) DO UPDATE
            SET last_number = series.last_number + EXCLUDED.last_number
        RETURNING prefix, year, last_number
        """,
        [prefix for prefix, _ in keys],
        [year for _, year in keys],
        [counts[key] for key in keys],
    )
    return {
        (record["prefix"], record["year"]): record["last_number"]
        - counts[(record["prefix"], record["year"])]
        + 1
        for record in records
    }
