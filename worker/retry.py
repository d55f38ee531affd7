"""Waiting out transient faults: exponential backoff that a stop request cuts short."""

from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum

import structlog

from worker import metrics
from worker.store.pool import describe_error

log = structlog.get_logger(__name__)

FIRST_DELAY_SECONDS = 0.1
MAX_DELAY_SECONDS = 5.0


class Waiting(StrEnum):
    """What a retry waits for: the `what` label of invoicer_retries_total."""

    BATCH = "batch"
    RECORD = "record"
    BROKER = "broker"
    RELAY_CONNECTION = "relay-connection"
    RELAY = "relay"
    RELAY_PUBLISH = "relay-publish"
    RENDERER_DATABASE = "renderer-database"
    RENDERER = "renderer"
    MIGRATIONS_CHECK = "migrations-check"
    DUNNING_SCAN = "dunning-scan"


_MESSAGES = {
    Waiting.BATCH: "batch transaction failed",
    Waiting.RECORD: "record failed",
    Waiting.BROKER: "cannot reach the broker",
    Waiting.RELAY_CONNECTION: "outbox relay cannot connect",
    Waiting.RELAY: "outbox relay failed",
    Waiting.RELAY_PUBLISH: "outbox relay cannot publish",
    Waiting.RENDERER_DATABASE: "renderer cannot reach the database",
    Waiting.RENDERER: "renderer failed",
    Waiting.MIGRATIONS_CHECK: "cannot check the database's migrations",
    Waiting.DUNNING_SCAN: "overdue scan failed",
}


class Backoff:
    def __init__(self) -> None:
        self._delay = FIRST_DELAY_SECONDS

    def reset(self) -> None:
        self._delay = FIRST_DELAY_SECONDS

    async def sleep(self, stop: asyncio.Event, what: Waiting, error: BaseException) -> None:
        metrics.RETRIES.labels(what=what.value).inc()
        log.warning(
            _MESSAGES[what],
            action="retry",
            waiting_for=what.value,
            error=describe_error(error),
            retry_in_seconds=self._delay,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self._delay)
        self._delay = min(self._delay * 2, MAX_DELAY_SECONDS)
