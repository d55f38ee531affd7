"""Reading dead letters and choosing which to replay (the broker part is in
tests/integration/test_operations_dead_letters.py)."""

from __future__ import annotations

import argparse
import io
import json
import unicodedata
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from worker.cli import main
from worker.dead_letters import (
    REPLAYED_FROM,
    DeadLetter,
    Selection,
    add_dead_letters_command,
    print_list,
    replay,
    run_dead_letters_command,
    selection_from,
)
from worker.local_services import free_port
from worker.messages.dead_letter import (
    ERROR,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_TOPIC,
    REASON,
)
from worker.settings import Settings

EVENT = {"specversion": "1.0", "id": "e-1", "source": "/shop", "type": "order-completed"}


def letter(
    partition: int = 0,
    offset: int = 5,
    reason: str = "validation",
    value: bytes | None = json.dumps(EVENT).encode(),
    extra: tuple[tuple[str, bytes], ...] = (),
    original_topic: str = "orders.completed",
) -> DeadLetter:
    return DeadLetter(
        topic="invoicer.dead-letter",
        partition=partition,
        offset=offset,
        timestamp=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        key=b"SO-1",
        value=value,
        headers=(
            ("traceparent", b"00-abc-def-01"),
            *extra,
            ("x-dead-letter-reason", reason.encode()),
            ("x-dead-letter-error", b'{"errors":{"currency":["unknown"]},"details":"Bad."}'),
            ("x-original-topic", original_topic.encode()),
            ("x-original-partition", b"2"),
            ("x-original-offset", b"117"),
        ),
    )


async def stream(*letters: DeadLetter) -> AsyncIterator[DeadLetter]:
    for one in letters:
        yield one


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_dead_letters_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(["dead-letters", *argv])


def test_a_dead_letter_tells_why_and_where_it_came_from() -> None:
    found = letter()
    assert found.reason == "validation"
    assert found.error == {"errors": {"currency": ["unknown"]}, "details": "Bad."}
    assert found.original_topic == "orders.completed"
    assert found.original_place == "orders.completed/2/117"
    assert (found.event_id, found.event_type) == ("e-1", "order-completed")
    assert found.place == "0:5"


def test_what_cannot_be_read_is_left_empty() -> None:
    unreadable = letter(value=b"{not json", reason="invalid-json")
    assert (unreadable.event_id, unreadable.event_type) == (None, None)
    assert letter(value=None).event_id is None


def test_a_replay_gets_the_original_headers_back_without_the_dead_letter_ones() -> None:
    again = letter(extra=((REPLAYED_FROM, b"invoicer.dead-letter/1:3"),))
    assert again.original_headers() == [("traceparent", b"00-abc-def-01")]


async def test_the_listing_shows_no_record_value() -> None:
    out = io.StringIO()
    await print_list(
        stream(letter(value=json.dumps({**EVENT, "data": {"email": "jane@x.org"}}).encode())),
        out,
        as_json=True,
    )
    [shown] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert shown["eventId"] == "e-1"
    assert shown["reason"] == "validation"
    assert "jane@x.org" not in out.getvalue()
    table = io.StringIO()
    await print_list(stream(letter(), letter(offset=6, reason="conflict")), table, as_json=False)
    assert table.getvalue().splitlines()[-1] == "2 dead letter(s): conflict 1, validation 1"


@pytest.mark.parametrize(
    ("selection", "chosen"),
    [
        (Selection(), True),
        (Selection(reasons=frozenset({"validation"})), True),
        (Selection(reasons=frozenset({"conflict"})), False),
        (Selection(places=frozenset({(0, 5)})), True),
        (Selection(places=frozenset({(0, 6)})), False),
        (Selection(event_ids=frozenset({"e-1", "e-2"})), True),
        (Selection(reasons=frozenset({"validation"}), places=frozenset({(1, 5)})), False),
    ],
)
def test_every_kind_of_choice_given_must_match(selection: Selection, chosen: bool) -> None:
    assert selection.matches(letter()) is chosen


def test_choices_come_from_the_command_line() -> None:
    args = parse("replay", "--at", "2:117", "--at", "0:4", "--reason", "conflict", "--dry-run")
    assert selection_from(args) == Selection(
        places=frozenset({(2, 117), (0, 4)}), reasons=frozenset({"conflict"})
    )
    assert args.dry_run


@pytest.mark.parametrize("place", ["2", "a:1", "2:x"])
def test_a_place_is_partition_colon_offset(place: str) -> None:
    with pytest.raises(SystemExit):
        parse("list", "--at", place)


async def test_replay_wants_a_choice_or_all_before_it_touches_the_broker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    unreachable = Settings(kafka_bootstrap_servers="127.0.0.1:9")
    assert await run_dead_letters_command(parse("replay"), unreachable) == 2
    assert "--all" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["list"], ["replay", "--all"]])
def test_an_unreachable_broker_is_one_line_and_exit_code_2_as_for_every_command(
    command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("INVOICER_KAFKA_BOOTSTRAP_SERVERS", nobody)

    assert main(["dead-letters", *command]) == 2

    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        f"invoicer: dead-letters {command[0]}: the broker at {nobody} did not answer"
        " (KafkaConnectionError); start it, or set INVOICER_KAFKA_BOOTSTRAP_SERVERS to brokers"
        " that answer"
    )


async def test_a_dead_letter_goes_back_only_to_a_topic_the_worker_consumes() -> None:
    """Whoever can write to the dead-letter topic must not make the worker publish a forged
    invoice-closed or notification with its credentials."""
    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")  # nobody there
    forged = [
        letter(offset=6, original_topic="invoices.closed"),
        letter(offset=7, original_topic="notifications.requested"),
        letter(offset=8, original_topic="invoicer.dead-letter"),
    ]
    order = letter(offset=5)
    command = letter(offset=9, original_topic="invoices.commands")

    out = io.StringIO()
    await replay(settings, stream(*forged, order, command), out, dry_run=True)
    assert out.getvalue().splitlines()[:3] == [
        "would send 0:5 (validation, event e-1) to orders.completed",
        "would send 0:9 (validation, event e-1) to invoices.commands",
        "skipped 0:6: x-original-topic 'invoices.closed' is not a topic the worker consumes"
        " (orders.completed, orders.returned, invoices.commands, sellers)",
    ]
    with capture_logs() as logs:
        await replay(settings, stream(*forged), io.StringIO(), dry_run=False)  # no broker asked
    assert [(entry["event"], entry["place"]) for entry in logs] == [
        ("dead letter not replayed", "0:6"),
        ("dead letter not replayed", "0:7"),
        ("dead letter not replayed", "0:8"),
    ]


async def test_configured_input_topics_are_the_ones_a_dead_letter_goes_back_to() -> None:
    settings = Settings.model_validate({"topics": {"orders_completed": "shop.orders"}})

    moved = letter(offset=6, original_topic="shop.orders")
    out = io.StringIO()

    await replay(settings, stream(letter(), moved), out, dry_run=True)

    assert out.getvalue().splitlines()[0] == (
        "would send 0:6 (validation, event e-1) to shop.orders"
    )


hostile_text = st.text() | st.sampled_from(
    ["\x1b[2J\x1b[HALL CLEAR", "\u202eevil", "a\u2028b\u2029c", "\x85\x9b\x00\x7f"]
)
hostile_bytes = st.binary() | hostile_text.map(lambda text: text.encode())
error_texts = st.builds(
    lambda errors, details: json.dumps({"errors": errors, "details": details}).encode(),
    st.dictionaries(hostile_text, st.lists(hostile_text, max_size=2), max_size=3),
    hostile_text,
)
envelopes = st.builds(
    lambda event_id, event_type: json.dumps({**EVENT, "id": event_id, "type": event_type}).encode(),
    hostile_text,
    hostile_text,
)
header_names = hostile_text | st.sampled_from(
    [REASON, ERROR, ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET, REPLAYED_FROM]
)
hostile_letters = st.builds(
    DeadLetter,
    topic=st.just("invoicer.dead-letter"),
    partition=st.integers(0, 5),
    offset=st.integers(0, 10**9),
    timestamp=st.none() | st.just(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
    key=st.none() | hostile_bytes,
    value=st.none() | hostile_bytes | envelopes,
    headers=st.lists(
        st.tuples(header_names, st.none() | hostile_bytes | error_texts), max_size=8
    ).map(tuple),
)


@given(st.lists(hostile_letters, min_size=1, max_size=4))
async def test_nothing_a_record_holds_acts_on_the_operators_terminal(
    letters: list[DeadLetter],
) -> None:
    """Every field printed (key, header values, the event id and type, error keys and texts,
    the original topic) in the table, the JSON lines and a replay's lines, and in the log
    lines of what was not replayed."""
    settings = Settings()
    table, lines, replayed = io.StringIO(), io.StringIO(), io.StringIO()
    await print_list(stream(*letters), table, as_json=False)
    await print_list(stream(*letters), lines, as_json=True)
    with capture_logs() as logs:
        await replay(settings, stream(*letters), replayed, dry_run=True)

    printed = "".join(out.getvalue() for out in (table, lines, replayed))
    logged = "".join(str(value) for entry in logs for value in entry.values())
    assert [char for char in printed + logged if char != "\n" and acts(char)] == []
    assert len(lines.getvalue().splitlines()) == len(letters), "one JSON line each"


def acts(char: str) -> bool:
    """A control, a format character (bidi overrides), a line or paragraph separator, or a
    lone surrogate."""
    return unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp", "Cs"}


async def test_an_escape_sequence_is_shown_as_its_escape() -> None:
    sneaky = DeadLetter(
        topic="invoicer.dead-letter",
        partition=0,
        offset=5,
        timestamp=None,
        key=b"\x1b]0;owned\x07\xff",
        value=None,
        headers=(
            ("x-dead-letter-reason", b"\x1b[2J\x1b[HALL CLEAR\xe2\x80\xae"),
            ("\u2028x-trace\x9b", b"\\x1b"),
        ),
    )
    table, lines = io.StringIO(), io.StringIO()

    await print_list(stream(sneaky), table, as_json=False)
    await print_list(stream(sneaky), lines, as_json=True)

    assert "\\x1b[2J\\x1b[HALL CLEAR\\u202e" in table.getvalue()
    [shown] = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert shown["key"] == "\\x1b]0;owned\\x07\\xff"
    assert shown["reason"] == "\\x1b[2J\\x1b[HALL CLEAR\\u202e"
    assert shown["headers"] == [
        ["x-dead-letter-reason", "\\x1b[2J\\x1b[HALL CLEAR\\u202e"],
        ["\\u2028x-trace\\x9b", "\\\\x1b"],
    ], "every header, names too; a backslash in a record is doubled"
