"""What a refusal says is bounded whatever the record chose to put in it (docs/contract.md, "The
door"): at most 20 fields, with `details` saying how many more there were; each path segment
printable and at most 64 characters; a command result within 64 KiB and a dead letter's
`x-dead-letter-error` within 4 KiB."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from worker.decisions import Cause, CommandResult
from worker.messages import MAX_HEADER_BYTES, Rejection, RejectReason
from worker.messages.error_report import (
    MAX_FIELDS,
    MAX_SEGMENT_CHARACTERS,
    bounded_report,
    field_path,
)
from worker.publishing.batch_writes import command_result
from worker.settings import Settings

MAX_RESULT_BYTES = 64 * 1024
# the longest text of each: four UTF-8 bytes a character, or a character JSON escapes
any_text = st.text(st.characters(exclude_categories=()), max_size=300) | st.sampled_from(
    ["\U0001f600" * 5000, '"' * 5000, "\x00" * 5000, "\udc80" * 5000]
)
# a path has as many segments as a key has dots
many_segments = st.builds(
    lambda segment, n: ".".join([segment] * n),
    st.sampled_from(["a", "\x0b", "é"]),
    st.integers(1, 5_000),
)
paths = st.lists(any_text, min_size=1, max_size=4).map(".".join) | many_segments
errors = st.dictionaries(paths, st.lists(any_text, min_size=1, max_size=5), max_size=60)
NOTE = re.compile(r"\((\d+) more fields with errors not shown\)$")


def _left_out(details: str) -> int:
    found = NOTE.search(details)
    return int(found.group(1)) if found else 0


@settings(deadline=None)  # the texts are long: up to 5,000 segments or characters
@given(reported=errors, details=any_text)
def test_a_report_names_at_most_20_fields_and_says_how_many_more(
    reported: dict[str, list[str]], details: str
) -> None:
    shown, summary = bounded_report(reported, details)
    left_out = _left_out(summary)
    assert len(shown) <= MAX_FIELDS
    assert left_out <= max(0, len(reported) - MAX_FIELDS)
    # all 20 shown, or nothing left out (paths alike in their first 64 characters are one)
    assert len(shown) == MAX_FIELDS or left_out == 0
    for path in shown:
        for segment in path.split("."):
            assert len(segment) <= MAX_SEGMENT_CHARACTERS and segment.isprintable()
    json.dumps({"errors": shown, "details": summary}).encode()  # no lone surrogate left


@settings(deadline=None)
@given(reported=errors, details=any_text, action=st.none() | st.sampled_from(["update"]))
def test_a_command_result_is_at_most_64_kib(
    reported: dict[str, list[str]], details: str, action: str | None
) -> None:
    result = CommandResult(action=action, ok=False, invoice=None, errors=reported, details=details)
    cause = Cause("s" * 256, "i" * 256, "c" * 256, None, b"k" * 256, traceparent=None)
    message = command_result(Settings(), result, cause, datetime(2026, 12, 7, tzinfo=UTC))
    assert message.value is not None and len(message.value) <= MAX_RESULT_BYTES


@settings(deadline=None)
@given(reported=errors, details=any_text)
def test_a_dead_letter_error_header_is_at_most_4_kib(
    reported: dict[str, list[str]], details: str
) -> None:
    header = Rejection(RejectReason.VALIDATION, reported, details).header_value()
    assert len(header) <= MAX_HEADER_BYTES
    report = json.loads(header)
    assert len(report["errors"]) <= MAX_FIELDS


def test_a_segment_shows_unprintable_characters_as_escapes_and_is_cut_to_64() -> None:
    assert field_path("rows.1.\u202eevil\x1b[2J") == "rows.1.\\u202eevil\\u001b[2J"
    assert field_path("data." + "k" * 100) == "data." + "k" * 63 + "…"
