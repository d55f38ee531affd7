"""Test-only fault injection: kills the worker at a moment no outside signal can hit exactly.

Off unless ``INVOICER_FAULT_INJECTION`` is set: without it no hook is installed at all and
the consumer and the relay only check one attribute for None. Never set it in production.

    INVOICER_FAULT_INJECTION=kill-after-db-commit:3
        SIGKILL right after the 3rd batch's database transaction committed and before its
        offsets are committed to Kafka (the batch is redelivered; the inbox makes it a
        duplicate).
    INVOICER_FAULT_INJECTION=kill-after-outbox-send:2
        SIGKILL right after the broker acknowledged the relay's 2nd batch of outbox rows and
        before they are marked sent (they are published again, with the same event ids).

Points combine with commas (``kill-after-db-commit:5,kill-after-outbox-send:9``); the first
one reached kills. The fault-injection tests (tests/faults) use it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable
from enum import StrEnum

import structlog

log = structlog.get_logger(__name__)

ENVIRONMENT_VARIABLE = "INVOICER_FAULT_INJECTION"


class FaultPoint(StrEnum):
    KILL_AFTER_DB_COMMIT = "kill-after-db-commit"
    KILL_AFTER_OUTBOX_SEND = "kill-after-outbox-send"


class KillOnVisit:
    """Kills this process (SIGKILL: no clean-up, like a lost machine) on the n-th visit."""

    def __init__(self, point: FaultPoint, visit: int) -> None:
        self.point = point
        self.visit = visit
        self.visits = 0

    async def __call__(self, *_: object) -> None:
        self.visits += 1
        if self.visits == self.visit:
            log.warning("fault injection: killing the worker", action="fault", point=self.point)
            os.kill(os.getpid(), signal.SIGKILL)


def parse(spec: str) -> dict[FaultPoint, KillOnVisit]:
    """``point:n[,point:n]`` → a hook per point; ValueError names what is wrong."""
    kills: dict[FaultPoint, KillOnVisit] = {}
    for part in spec.split(","):
        name, _, visit = part.strip().partition(":")
        try:
            point = FaultPoint(name)
            count = int(visit)
        except ValueError:
            raise ValueError(
                f"{ENVIRONMENT_VARIABLE}: {part!r} is not <point>:<n> with a point among "
                f"{', '.join(FaultPoint)}"
            ) from None
        if count < 1:
            raise ValueError(f"{ENVIRONMENT_VARIABLE}: {part!r}: n must be at least 1")
        kills[point] = KillOnVisit(point, count)
    return kills


Hook = Callable[..., Awaitable[None]]


def hooks(spec: str) -> dict[FaultPoint, Hook]:
    """The hooks ``INVOICER_FAULT_INJECTION`` (Settings.fault_injection) asks for; none when
    it is empty."""
    if not spec:
        return {}
    kills: dict[FaultPoint, Hook] = dict(parse(spec))
    log.warning("fault injection is on: for tests only", action="fault", spec=spec)
    return kills
