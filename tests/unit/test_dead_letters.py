"""Reading dead letters and choosing which to replay (the broker part is in
tests/integration/test_operations_dead_letters.py)."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from worker.dead_letters import (
    REPLAYED_FROM,
    DeadLetter,
    Selection,
    add_command,
    print_list,
    print_replay,
    replay,
    run_command,
    selection_from,
)
from worker.local_services import free_port
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


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_command(parser.add_subparsers(dest="command"))
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


def test_the_listing_shows_no_record_value() -> None:
    out = io.StringIO()
    print_list(
        [letter(value=json.dumps({**EVENT, "data": {"email": "jane@x.org"}}).encode())],
        out,
        as_json=True,
    )
    [shown] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert shown["eventId"] == "e-1"
    assert shown["reason"] == "validation"
    assert "jane@x.org" not in out.getvalue()
    table = io.StringIO()
    print_list([letter(), letter(offset=6, reason="conflict")], table, as_json=False)
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
    assert await run_command(parse("replay"), unreachable) == 2
    assert "--all" in capsys.readouterr().err


async def test_an_unreachable_broker_is_said_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    nobody = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    assert await run_command(parse("list"), nobody) == 1
    assert "list: KafkaConnectionError" in capsys.readouterr().err


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

    assert await replay(settings, [*forged, order, command], dry_run=True) == [order, command]
    with capture_logs() as logs:
        assert await replay(settings, forged, dry_run=False) == []  # the broker not even asked
    assert [(entry["event"], entry["place"]) for entry in logs] == [
        ("dead letter not replayed", "0:6"),
        ("dead letter not replayed", "0:7"),
        ("dead letter not replayed", "0:8"),
    ]
    out = io.StringIO()
    print_replay([*forged, order], [order], out, settings, dry_run=True)
    assert out.getvalue().splitlines()[:2] == [
        "would send 0:5 (validation, event e-1) to orders.completed",
        "skipped 0:6: x-original-topic 'invoices.closed' is not a topic the worker consumes"
        " (orders.completed, invoices.commands)",
    ]


async def test_configured_input_topics_are_the_ones_a_dead_letter_goes_back_to() -> None:
    settings = Settings.model_validate({"topics": {"orders_completed": "shop.orders"}})

    moved = letter(offset=6, original_topic="shop.orders")

    assert await replay(settings, [letter(), moved], dry_run=True) == [moved]
