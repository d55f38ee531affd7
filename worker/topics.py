"""Creating the worker's topics, for `invoicer dev`, the tests and the benchmark.
In production the topics belong to the platform and are made by its own tooling."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from worker.kafka_client import client_options
from worker.settings import Settings

_CONFIGS = {"sellers": {"cleanup.policy": "compact"}}
"""Per `Topics` field: the sellers topic keeps each seller's last event."""


async def ensure_topics(settings: Settings, partitions: int = 4) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = settings.topics.model_dump().items()
        missing = [
            NewTopic(name, partitions, 1, topic_configs=_CONFIGS.get(field, {}))
            for field, name in wanted
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()
