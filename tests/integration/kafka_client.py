"""What a test does with the broker: publish events, read what the worker emitted."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata

READ_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    @property
    def event(self) -> dict[str, Any]:
        assert self.value is not None
        parsed: dict[str, Any] = json.loads(self.value)
        return parsed


class KafkaClient:
    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap = bootstrap_servers
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
        self._consumers: dict[str, AIOKafkaConsumer] = {}
        self._seen: dict[str, list[Received]] = {}

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()
        for consumer in self._consumers.values():
            await consumer.stop()

    async def publish(
        self,
        topic: str,
        value: bytes | dict[str, Any] | None,
        key: str | bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> RecordMetadata:
        raw = json.dumps(value).encode() if isinstance(value, dict) else value
        raw_key = key.encode() if isinstance(key, str) else key
        sent: RecordMetadata = await self._producer.send_and_wait(
            topic,
            value=raw,
            key=raw_key,
            headers=headers,
            partition=partition,
            timestamp_ms=timestamp_ms,
        )
        return sent

    async def read(
        self, topic: str, count: int, within: float = READ_TIMEOUT_SECONDS
    ) -> list[Received]:
        """Everything on the topic so far, waiting until there are at least `count`."""
        await self._subscribe(topic)
        seen = self._seen[topic]
        async with asyncio.timeout(within):
            while len(seen) < count:
                await self._poll(topic, 200)
        return list(seen)

    async def read_quiet(self, topic: str, count: int, settle: float = 2.0) -> list[Received]:
        """At least `count` records, then whatever else arrives within `settle` seconds:
        to show that nothing more came."""
        await self.read(topic, count)
        await self._poll(topic, int(settle * 1000))
        return list(self._seen[topic])

    async def _poll(self, topic: str, timeout_ms: int) -> None:
        batch = await self._consumers[topic].getmany(timeout_ms=timeout_ms)
        for messages in batch.values():
            self._seen[topic].extend(
                Received(m.topic, m.partition, m.offset, m.key, m.value, dict(m.headers))
                for m in messages
            )

    async def _subscribe(self, topic: str) -> None:
        if topic not in self._consumers:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
            )
            await consumer.start()
            await consumer.topics()  # fetches the metadata
            partitions = consumer.partitions_for_topic(topic) or set()
            assignment = [TopicPartition(topic, p) for p in partitions]
            consumer.assign(assignment)
            await consumer.seek_to_beginning(*assignment)
            self._consumers[topic] = consumer
            self._seen[topic] = []
