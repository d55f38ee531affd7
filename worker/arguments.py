"""Types of the command line's arguments: each turns the text typed into a value, or says
what is expected."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

DEFAULT_RECORD_LIMIT = 100
"""How many records an operations command (`dead-letters`, `outbox parked`) takes when no
`--limit` is given."""


def at_least_one(text: str) -> int:
    """A whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def moment(text: str) -> datetime:
    """An ISO 8601 date or time (`2026-12-07`, `2026-12-07T09:30`, `…+01:00`); UTC unless
    it names its offset."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time such as 2026-12-07 or 2026-12-07T09:30"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
