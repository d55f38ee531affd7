"""What a batch's records log while they are decided is written once the batch is committed,
and only then: a batch that is rolled back and tried again does not tell twice what it
decided (worker.processing, worker.logs)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator

import asyncpg
import pytest

from tests.builders import command, order
from tests.memory_store import records_of
from worker.logs import configure_logging
from worker.processing import Outage, process_records
from worker.settings import Settings

# The first commit of a batch fails as a serialization failure would (a conflict the worker
# retries); the retry goes through.
FAIL_THE_FIRST_COMMIT = """
CREATE SEQUENCE first_commit;
CREATE FUNCTION fail_the_first_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('first_commit') = 1 THEN
        RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER fail_the_first_commit AFTER INSERT ON inbox
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_the_first_commit();
"""


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    yield stream
    configure_logging("INFO")


async def test_a_batch_tried_twice_logs_its_decisions_once(
    pool: asyncpg.Pool, fresh_database: str, log_lines: io.StringIO
) -> None:
    await pool.execute(FAIL_THE_FIRST_COMMIT)
    events = [
        order("e-1", "o-1", [("r1", "1", "10.00")]),
        command("c-1", "close", invoiceId="not-an-invoice"),
        b"{not json",
    ]

    await process_records(
        pool, records_of(events), Settings(database_url=fresh_database), asyncio.Event(), Outage()
    )

    logged = [json.loads(line)["event"] for line in log_lines.getvalue().splitlines()]
    # the first try failed at its first inbox row; the retry stored both rows
    assert await pool.fetchval("SELECT nextval('first_commit')") == 4
    assert logged.count("command handled") == 1, logged
    assert logged.count("record dead-lettered") == 1, logged
    assert logged.count("invoice closed") == 1, logged
