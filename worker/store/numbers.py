"""Gap-free number series: one counter row per prefix and year."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from worker.store.pool import Executor


async def reserve_numbers(
    connection: Executor, counts: Mapping[tuple[str, int], int]
) -> tuple[dict[tuple[str, int], int], datetime | None]:
    """Takes ``count`` numbers from each (prefix, year) series; returns the first of each,
    and the moment they were taken: the closing time of their invoices, which so grows
    with the numbers across replicas (the counter rows serialize them).

    The counter rows stay locked until the transaction ends and every replica closing
    in that series waits for them, so call this as late in the transaction as possible.
    A rollback returns the numbers: the series never has a gap.
    """
    if not counts:
        return {}, None
    keys = sorted(counts)
    records = await connection.fetch(
        """
        INSERT INTO number_series AS series (prefix, year, last_number)
        SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])
        ON CONFLICT (prefix, year) DO UPDATE
            SET last_number = series.last_number + EXCLUDED.last_number
        RETURNING prefix, year, last_number, clock_timestamp() AS taken_at
        """,
        [prefix for prefix, _ in keys],
        [year for _, year in keys],
        [counts[key] for key in keys],
    )
    first_numbers = {
        (record["prefix"], record["year"]): record["last_number"]
        - counts[(record["prefix"], record["year"])]
        + 1
        for record in records
    }
    return first_numbers, max(record["taken_at"] for record in records)
