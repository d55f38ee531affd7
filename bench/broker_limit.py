"""a. The broker's limit: the same events produced and consumed back by plain aiokafka,
no database, no worker."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.kafka import Received, assigned_reader, create_producer, produce, read_until
from bench.orders import BenchOrder
from bench.services import Services, fresh_scenario


@dataclass(frozen=True, slots=True)
class BrokerResult:
    orders: int
    produce_seconds: float
    """All orders sent with acks=all and acknowledged."""
    consume_seconds: float
    """All of them read back, from the first fetch to the last record."""
    consumed: int

    @property
    def produce_per_second(self) -> float:
        return self.orders / self.produce_seconds

    @property
    def consume_per_second(self) -> float:
        return self.orders / self.consume_seconds

    @property
    def orders_per_second(self) -> float:
        """Produced and consumed back: one order's trip through the broker."""
        return self.orders / (self.produce_seconds + self.consume_seconds)


async def measure_broker(
    services: Services, orders: Sequence[BenchOrder], partitions: int, seconds_allowed: float
) -> BrokerResult:
    async with fresh_scenario(services, "broker", partitions, migrated=False) as scenario:
        topic = scenario.settings.topics.orders_completed
        producer = create_producer(services.bootstrap_servers)
        await producer.start()
        try:
            started = time.perf_counter()
            await produce(producer, topic, orders)
            produce_seconds = time.perf_counter() - started
        finally:
            await producer.stop()
        consumer = await assigned_reader(services.bootstrap_servers, topic)
        try:
            received: list[Received] = []
            started = time.perf_counter()
            await read_until(consumer, received, len(orders), seconds_allowed)
            consume_seconds = time.perf_counter() - started
        finally:
            await consumer.stop()
    return BrokerResult(len(orders), produce_seconds, consume_seconds, len(received))
