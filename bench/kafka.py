"""Producing the benchmark's orders and reading topics back, with plain aiokafka."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

# Sends in flight before their acknowledgements are awaited: bounds the memory.
SEND_WINDOW = 2_000
READ_POLL_MS = 200


class BenchRecord(Protocol):
    """An event the benchmark offers: an order, or a seller."""

    @property
    def key(self) -> bytes: ...

    def value(self) -> bytes: ...


def create_producer(bootstrap_servers: str) -> AIOKafkaProducer:
    """Set up like the worker's relay: acks=all, a short linger, large batches."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
    )


async def produce(producer: AIOKafkaProducer, topic: str, records: Sequence[BenchRecord]) -> None:
    """Sends every record and waits until the broker acknowledged all of them."""
    window: list[Awaitable[object]] = []
    for record in records:
        window.append(await producer.send(topic, value=record.value(), key=record.key))
        if len(window) >= SEND_WINDOW:
            await asyncio.gather(*window)
            window.clear()
    await asyncio.gather(*window)


async def preload(bootstrap_servers: str, topic: str, records: Sequence[BenchRecord]) -> None:
    """Sends every record with a producer of its own, before the worker starts."""
    producer = create_producer(bootstrap_servers)
    await producer.start()
    try:
        await produce(producer, topic, records)
    finally:
        await producer.stop()


@dataclass(frozen=True, slots=True)
class Received:
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    """The record's timestamp: when its producer sent it (CreateTime)."""
    received_at: float
    """Wall-clock time (time.time()) when this reader got it."""


async def assigned_reader(
    bootstrap_servers: str, topic: str, *, fetch_max_wait_ms: int = 500
) -> AIOKafkaConsumer:
    """A consumer without a group, on every partition of `topic`, from the beginning."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        fetch_max_wait_ms=fetch_max_wait_ms,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        await consumer.seek_to_beginning(*await _assigned_all(consumer, topic))
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def start_group_past(bootstrap_servers: str, group_id: str, topic: str) -> None:
    """Commits the end of every partition of `topic` for `group_id`, without joining the
    group: its first member starts past what the topic holds now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.commit(await consumer.end_offsets(await _assigned_all(consumer, topic)))
    finally:
        await consumer.stop()


async def _assigned_all(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Assigns the started `consumer` every partition of `topic`, and returns them."""
    await consumer.topics()
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        raise RuntimeError(f"topic {topic!r} has no partitions")
    assignment = [TopicPartition(topic, partition) for partition in sorted(partitions)]
    consumer.assign(assignment)
    return assignment


async def read_until(
    consumer: AIOKafkaConsumer, into: list[Received], count: int, seconds_allowed: float
) -> None:
    """Reads into `into` until it holds at least `count` records; TimeoutError after
    `seconds_allowed` seconds."""
    async with asyncio.timeout(seconds_allowed):
        while len(into) < count:
            batch = await consumer.getmany(timeout_ms=READ_POLL_MS)
            now = time.time()
            for records in batch.values():
                into.extend(
                    Received(record.key, record.value, record.timestamp, now) for record in records
                )


async def read_topic(
    bootstrap_servers: str, topic: str, count: int, seconds_allowed: float
) -> list[Received]:
    """The first `count` records of the topic (all partitions), then whatever else arrives
    within one more poll, so that extra copies are seen too."""
    consumer = await assigned_reader(bootstrap_servers, topic)
    try:
        received: list[Received] = []
        await read_until(consumer, received, count, seconds_allowed)
        batch = await consumer.getmany(timeout_ms=READ_POLL_MS)
        for records in batch.values():
            received.extend(
                Received(record.key, record.value, record.timestamp, time.time())
                for record in records
            )
        return received
    finally:
        await consumer.stop()
