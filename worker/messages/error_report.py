"""What a refusal says, bounded: a command result's and a dead letter's `errors` and `details`.

A record chooses the paths and may be quoted in the messages, so whatever it holds, the report
names at most 20 fields (`details` says how many more there were), each path segment shows
its unprintable characters as `\\uXXXX` and is cut to 64 characters, and every message and
the details are printable and short.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from worker.messages.text import escaped, shorten

MAX_FIELDS = 20
MAX_SEGMENT_CHARACTERS = 64
MAX_MESSAGE_CHARACTERS = 200
MAX_MESSAGES_PER_FIELD = 3
MAX_DETAILS_CHARACTERS = 500
MAX_RESULT_REPORT_BYTES = 48 * 1024
"""What a command result's errors and details take at most: a path has as many segments as
the record put dots in a key, so the segments' bound alone does not bound the report. The
rest of the result's 64 KiB is for the envelope and the invoice's snapshot."""


def bounded_report(
    errors: Mapping[str, Sequence[str]], details: str, max_bytes: int | None = None
) -> tuple[dict[str, list[str]], str]:
    """The errors and details as a report shows them; with `max_bytes`, the fields that would
    make `{"errors": …, "details": …}` longer than that are left out too."""
    summary = shorten(escaped(details), MAX_DETAILS_CHARACTERS)
    room_for_note = len(_left_out_note(len(errors)).encode())
    shown: dict[str, list[str]] = {}
    taken = 0
    for path, messages in errors.items():
        if len(shown) == MAX_FIELDS:
            break
        field = field_path(path)
        before = shown.get(field)
        added = [shorten(escaped(message), MAX_MESSAGE_CHARACTERS) for message in messages]
        shown[field] = [*(before or []), *added][:MAX_MESSAGES_PER_FIELD]
        if max_bytes is not None and len(report_bytes(shown, summary)) + room_for_note > max_bytes:
            if before is None:
                del shown[field]
            else:
                shown[field] = before
            break
        taken += 1
    if taken < len(errors):
        summary += _left_out_note(len(errors) - taken)
    return shown, summary


def _left_out_note(count: int) -> str:
    return f" ({count} more fields with errors not shown)"


def report_bytes(errors: Mapping[str, Sequence[str]], details: str) -> bytes:
    """`{"errors": …, "details": …}` as the `x-dead-letter-error` header carries it."""
    return _compact({"errors": errors, "details": details})


def field_path(path: str) -> str:
    """A dotted path as a report shows it: each segment printable and at most 64 characters."""
    return ".".join(
        shorten(escaped(segment), MAX_SEGMENT_CHARACTERS) for segment in path.split(".")
    )


def _compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
