"""The door holds through the real path (docs/contract.md, "The door"): hostile records
published to the broker are consumed by the running worker, applied or refused in PostgreSQL
and published by its relay; each ends in exactly one outcome, the worker stays up and ready,
and everything it published is sendable and bounded. (Header names that are not UTF-8
cannot be published with this client: tests/unit/test_kafka_records.py reads them through
the consumer's fetcher, tests/unit/test_door.py decides them.)

Short by default; `INVOICER_FUZZ_EXAMPLES` makes it longer, as for tests/unit/test_door.py.
"""

from __future__ import annotations

import asyncio
import os

import asyncpg
from hypothesis import HealthCheck, given, settings

from tests.hostile_records import ORDERS, check_output, records
from tests.integration.kafka_client import KafkaClient
from worker.decisions import Record
from worker.messages import Rejection
from worker.messages.dead_letter import ORIGINAL_OFFSET, ORIGINAL_PARTITION, ORIGINAL_TOPIC
from worker.processing import parse_items
from worker.running import Worker
from worker.settings import Settings

EXAMPLES = max(3, int(os.environ.get("INVOICER_FUZZ_EXAMPLES", "120")) // 20)
OUTCOME_SECONDS = 60.0
MAX_PUBLISHED_VALUE = 900 * 1024


def _sendable(headers: tuple[tuple[str, bytes | None], ...]) -> list[tuple[str, bytes]]:
    """The headers this client can publish: names that are text, values that are bytes."""
    sendable = []
    for name, value in headers:
        try:
            name.encode()
        except UnicodeEncodeError:
            continue
        sendable.append((name, value or b""))
    return sendable


async def _publish(kafka: KafkaClient, settings: Settings, drawn: list[Record]) -> list[Record]:
    """Each record published, as the worker will consume it (its partition and offset)."""
    published = []
    for record in drawn:
        # what this client sends: a key or a value, and no more than its request size
        value = None if record.value is None else record.value[:MAX_PUBLISHED_VALUE]
        key = b"key" if record.key is None and value is None else record.key
        topic = (
            settings.topics.orders_completed
            if record.topic == ORDERS
            else settings.topics.invoice_commands
        )
        headers = _sendable(record.headers)
        sent = await kafka.publish(topic, value, key=key, headers=headers)
        published.append(Record(topic, sent.partition, sent.offset, key, value, tuple(headers)))
    return published


async def _without_outcome(
    db: asyncpg.Connection, kafka: KafkaClient, settings: Settings, published: list[Record]
) -> list[Record]:
    dead = await kafka.read_quiet(settings.topics.dead_letter, 0, settle=0.5)
    places = [
        (m.headers[ORIGINAL_TOPIC], m.headers[ORIGINAL_PARTITION], m.headers[ORIGINAL_OFFSET])
        for m in dead
    ]
    missing = []
    for item in parse_items(published):
        record, event = item.record, item.event
        place = (record.topic.encode(), str(record.partition).encode(), str(record.offset).encode())
        assert places.count(place) <= 1, f"dead-lettered twice: {place}"
        if place in places:
            continue
        key = (
            (event.source, event.event_id)
            if isinstance(event, Rejection)
            else (event.source, event.id)
        )
        if None in key or not await db.fetchval(
            "SELECT count(*) FROM inbox WHERE source = $1 AND event_id = $2", *key
        ):
            missing.append(record)
    return missing


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(drawn=records())
async def test_hostile_records_through_the_running_worker_each_end_in_one_outcome(
    worker: Worker,
    kafka: KafkaClient,
    settings: Settings,
    db: asyncpg.Connection,
    drawn: list[Record],
) -> None:
    published = await _publish(kafka, settings, drawn)
    deadline = asyncio.get_running_loop().time() + OUTCOME_SECONDS
    while missing := await _without_outcome(db, kafka, settings, published):
        assert not worker.stop.is_set(), "the worker stopped"
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert missing == [], "records without an outcome"
    ready, why = await worker.readiness()
    assert ready, why
    topics = settings.topics
    for topic in (
        topics.dead_letter,
        topics.command_results,
        topics.invoices_closed,
        topics.invoice_events,
        topics.notifications_requested,
    ):
        for message in await kafka.read_quiet(topic, 0, settle=0.5):
            check_output(topics, topic, message.key, message.value, message.headers.items())
