"""Creating the worker's topics, for `invoicer dev`, the tests and the benchmark.
In production the topics belong to the platform and are made by its own tooling."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from worker.settings import Settings


async def ensure_topics(settings: Settings, partitions: int = 4) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        topics = settings.topics
        wanted = [
            topics.orders_completed,
            topics.invoice_commands,
            topics.invoices_closed,
            topics.notifications_requested,
            topics.command_results,
            topics.invoice_events,
            topics.dead_letter,
        ]
        missing = [NewTopic(name, partitions, 1) for name in wanted if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()
