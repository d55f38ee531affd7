"""Waiting out transient faults: exponential backoff that a stop request cuts short."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from worker import metrics
from worker.store.pool import describe_error

log = structlog.get_logger(__name__)

FIRST_DELAY_SECONDS = 0.1
MAX_DELAY_SECONDS = 5.0


class Backoff:
    def __init__(self) -> None:
        self._delay = FIRST_DELAY_SECONDS

    def reset(self) -> None:
        self._delay = FIRST_DELAY_SECONDS

    async def sleep(self, stop: asyncio.Event, what: str, error: BaseException) -> None:
        metrics.RETRIES.labels(what=what).inc()
        log.warning(what, action="retry", error=describe_error(error), retry_in_seconds=self._delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self._delay)
        self._delay = min(self._delay * 2, MAX_DELAY_SECONDS)
