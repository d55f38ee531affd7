"""Transient faults are retried and never skip or dead-letter a valid record; a record that
fails for good is retried a bounded number of times, then dead-lettered with the cause,
and its partition moves on.

The faults are real PostgreSQL errors, raised by triggers installed in the test's own
database: serialization failures, deadlocks, lock timeouts and admin shutdowns from the
server, and connections the server terminates in the middle of the batch transaction.
A sequence counts them (sequences ignore rollbacks), so each fault fires a set number of
times."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.faults.conftest import Stack, record
from tests.faults.invariants import Figures, TopicReader
from tests.faults.stream import Outgoing, build_stream, encode, order_event

TRANSIENT_FAULTS = 20
DEAD_LETTER_WITHIN_SECONDS = 60.0

# Fires on the batch's last write (its inbox outcomes), after the numbers were taken: a
# rollback then must give the numbers back. Every second batch transaction fails (so the
# retry passes and the faults spread over many batches), cycling through the transient
# kinds; every fifth fault is the server ending the connection inside the transaction.
TRANSIENT_FAULTS_SQL = """
CREATE SEQUENCE fault_count;
CREATE FUNCTION inject_transient_fault() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint := nextval('fault_count');
    fault bigint := n / 2;
BEGIN
    IF n % 2 <> 0 OR fault > {limit} THEN
        RETURN NULL;
    ELSIF fault % 5 = 0 THEN
        PERFORM pg_terminate_backend(pg_backend_pid());
    END IF;
    RAISE EXCEPTION 'injected transient fault %', fault
        USING ERRCODE = (ARRAY['40001', '40P01', '55P03', '57P01'])[fault % 5];
END
$$;
CREATE TRIGGER inject_transient_fault BEFORE INSERT ON inbox
    FOR EACH STATEMENT EXECUTE FUNCTION inject_transient_fault();
"""

# Orders no retry can save: one always fails with an error that is not transient, the
# other always with one that is (a serialization failure, every time).
POISON_SQL = """
CREATE FUNCTION reject_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.order_id LIKE '%-poison' THEN
        RAISE EXCEPTION 'order % cannot be stored', NEW.order_id USING ERRCODE = 'P0001';
    ELSIF NEW.order_id LIKE '%-stuck' THEN
        RAISE EXCEPTION 'order % conflicts every time', NEW.order_id USING ERRCODE = '40001';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER reject_poison BEFORE INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION reject_poison();
"""


async def _install(stack: Stack, sql: str) -> None:
    db = await stack.connect()
    try:
        await db.execute(sql)
    finally:
        await db.close()


async def test_transient_database_faults_are_retried_and_nothing_is_skipped(
    stack: Stack, figures: Figures
) -> None:
    await _install(stack, TRANSIENT_FAULTS_SQL.format(limit=TRANSIENT_FAULTS))
    stream = build_stream(stack.seed, 300, "transient")
    worker = stack.worker("worker")
    worker.start()
    await stack.publish_stream(stream, 15)
    report = await stack.check(stream)  # no dead letter at all: expected_dead_letters=0
    db = await stack.connect()
    try:
        fired = await db.fetchval("SELECT last_value FROM fault_count")
    finally:
        await db.close()
    assert fired >= 2 * TRANSIENT_FAULTS, "not every injected fault was reached"
    retried = await worker.metric("invoicer_retries_total", what="batch")
    assert retried >= TRANSIENT_FAULTS
    assert worker.alive
    assert worker.starts == 1
    figures.notes.append(f"{TRANSIENT_FAULTS} injected faults, {retried:.0f} batch retries")
    record(figures, report, len(stream.records))


@pytest.mark.parametrize(
    ("order_id", "cause"),
    [
        ("always-poison", "cannot be stored"),
        ("always-stuck", "conflicts every time"),
    ],
)
async def test_a_record_that_always_fails_is_dead_lettered_and_its_partition_moves_on(
    stack: Stack, figures: Figures, order_id: str, cause: str
) -> None:
    await _install(stack, POISON_SQL)
    stream = build_stream(stack.seed, 200, order_id, commands=False)
    bad_id = str(uuid.uuid5(uuid.NAMESPACE_URL, order_id))
    bad = order_event(
        bad_id,
        order_id,
        [{"rowId": "1", "name": "x", "quantity": "1", "unitPrice": "1", "taxRate": "0"}],
    )
    middle = len(stream.phases[0]) // 2
    stream.phases[0].insert(middle, Outgoing("orders", order_id.encode(), encode(bad), bad_id))
    worker = stack.worker("worker")
    worker.start()
    await stack.publish_stream(stream, 8)
    report = await stack.check(stream, expected_dead_letters=1, within=DEAD_LETTER_WITHIN_SECONDS)
    reader = TopicReader(stack.bootstrap_servers, [stack.topics.dead_letter])
    await reader.start()
    try:
        await reader.settle()
    finally:
        await reader.stop()
    [dead] = reader.seen[stack.topics.dead_letter]
    assert dead.value == encode(bad)
    assert dead.headers["x-dead-letter-reason"] == b"processing-error"
    error = json.loads(dead.headers["x-dead-letter-error"])
    assert cause in error["details"], error
    figures.notes.append(f"dead letter: {error['details'][:90]}")
    record(figures, report, len(stream.records))
