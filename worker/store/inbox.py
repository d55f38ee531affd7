"""The inbox: every event's (source, id) and its outcome, the key of idempotency."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from worker.rows import EventKey, InboxEntry, InboxOutcome
from worker.store.pool import Executor


class ConcurrentDuplicate(Exception):
    """Another transaction recorded one of this batch's events first. Retrying the batch
    sees it as a duplicate."""


async def load_inbox(
    connection: Executor, keys: Collection[EventKey]
) -> dict[EventKey, InboxEntry]:
    if not keys:
        return {}
    records = await connection.fetch(
        """
        SELECT source, event_id, outcome, result_key, result_value
          FROM inbox JOIN unnest($1::text[], $2::text[]) AS k(source, event_id)
               USING (source, event_id)
        """,
        [source for source, _ in keys],
        [event_id for _, event_id in keys],
    )
    return {
        (record["source"], record["event_id"]): InboxEntry(
            record["outcome"], record["result_key"], record["result_value"]
        )
        for record in records
    }


async def record_outcomes(connection: Executor, outcomes: Sequence[InboxOutcome]) -> None:
    """Writes each event's outcome. Only a dead-lettered event may be recorded again; if
    another transaction got there first, raises ConcurrentDuplicate."""
    if not outcomes:
        return
    status = await connection.execute(
        """
        INSERT INTO inbox AS inbox (source, event_id, event_type, outcome, result_key, result_value)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[],
                             $6::bytea[])
        ON CONFLICT (source, event_id) DO UPDATE SET
            outcome = EXCLUDED.outcome,
            result_key = EXCLUDED.result_key,
            result_value = EXCLUDED.result_value,
            processed_at = now()
        WHERE inbox.outcome = 'dead-lettered'
        """,
        [outcome.key[0] for outcome in outcomes],
        [outcome.key[1] for outcome in outcomes],
        [outcome.event_type for outcome in outcomes],
        [outcome.outcome for outcome in outcomes],
        [outcome.result_key for outcome in outcomes],
        [outcome.result_value for outcome in outcomes],
    )
    # The command tag, "INSERT 0 <rows written>", counts them without sending them back.
    if int(status.rsplit(" ", 1)[1]) != len(outcomes):
        raise ConcurrentDuplicate("an event of this batch was recorded by another transaction")
