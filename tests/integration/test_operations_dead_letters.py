"""`invoicer dead-letters list | replay` as an operator runs them, against the real broker
and a running worker: see what failed and why, fix the cause, send the records back."""

from __future__ import annotations

import asyncio
import io
import json
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from tests.integration.flows import order_event, publish_order, row
from tests.integration.kafka_client import KafkaClient, Received
from tests.integration.operations import run_invoicer
from tests.unit.test_dead_letters import parse
from worker.dead_letters import REPLAYED_FROM, run_dead_letters_command
from worker.running import Worker
from worker.settings import Settings

# A defect the worker cannot get past: the database refuses one order (as a bug, a missing
# migration or a bad constraint would), so its record is dead-lettered as processing-error.
INSTALL_DEFECT = """
CREATE FUNCTION refuse_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.order_id = 'dl-broken' THEN
        RAISE EXCEPTION 'order dl-broken refused';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER refuse_order BEFORE INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION refuse_order();
"""
FIX_DEFECT = "DROP TRIGGER refuse_order ON orders"


async def invoicer(settings: Settings, *args: str) -> str:
    """Runs the `invoicer` command line as an operator would; its standard output."""
    out, _ = await invoicer_says(settings, *args)
    return out


async def invoicer_says(settings: Settings, *args: str) -> tuple[str, str]:
    """Runs the `invoicer` command line; its standard output and standard error."""
    ran = await run_invoicer(settings, *args)
    assert ran.status == 0, ran.err
    return ran.out, ran.err


async def read_until(
    kafka: KafkaClient, topic: str, found: Callable[[Received], bool]
) -> list[Received]:
    """Everything on the topic up to and including the first record `found` accepts."""
    seen: list[Received] = []
    while not any(found(record) for record in seen):
        seen = await kafka.read(topic, len(seen) + 1)
    return seen


async def test_dead_letters_are_listed_with_their_reason_and_replayed_after_the_fix(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    topics = settings.topics
    await db.execute(INSTALL_DEFECT)
    broken = order_event("dl-broken", [row("1", "3", "7.00", "21")])
    good = order_event("dl-good", [row("1")])
    await publish_order(kafka, settings, broken)
    await kafka.publish(topics.orders_completed, b"{not json", key="dl-junk")
    await publish_order(kafka, settings, good)
    await kafka.read(topics.dead_letter, 2)
    await kafka.read(topics.invoices_closed, 1)

    listed = [
        json.loads(line)
        for line in (await invoicer(settings, "dead-letters", "list", "--json")).splitlines()
    ]
    assert sorted(letter["reason"] for letter in listed) == ["invalid-json", "processing-error"]
    [failed] = [letter for letter in listed if letter["reason"] == "processing-error"]
    assert failed["eventId"] == broken["id"]
    assert failed["eventType"] == "order-completed"
    assert failed["key"] == "dl-broken"
    assert failed["originalTopic"] == topics.orders_completed
    assert "refused" in failed["error"]["details"]
    assert all("value" not in letter for letter in listed), "values may hold personal data"

    table = await invoicer(settings, "dead-letters", "list")
    assert "processing-error" in table
    assert "invalid-json" in table
    assert table.splitlines()[-1] == "2 dead letter(s): invalid-json 1, processing-error 1"

    # Forged by whoever can write to the dead-letter topic: never published by a replay.
    forged = {**good, "id": "dl-forged", "type": "invoice-closed"}
    await kafka.publish(
        topics.dead_letter,
        forged,
        key="dl-forged",
        headers=[
            ("x-dead-letter-reason", b"processing-error"),
            ("x-original-topic", topics.invoices_closed.encode()),
        ],
    )
    [forgery] = [m for m in await kafka.read(topics.dead_letter, 3) if m.key == b"dl-forged"]
    skipped = (
        f"skipped {forgery.partition}:{forgery.offset}: x-original-topic"
        f" '{topics.invoices_closed}' is not a topic the worker consumes"
        f" ({', '.join(topics.inputs)})"
    )

    dry_run = await invoicer(
        settings, "dead-letters", "replay", "--reason", "processing-error", "--dry-run"
    )
    assert dry_run.splitlines() == [
        f"would send {failed['partition']}:{failed['offset']} (processing-error, event"
        f" {broken['id']}) to {topics.orders_completed}",
        skipped,
        "dry run: 1 record(s) would be sent back; nothing was sent",
    ]
    # A copy sent by the dry run would stand before this one on the same partition (same key).
    # The marker: the good order again (a duplicate, ignored), keyed like the broken one.
    await kafka.publish(topics.orders_completed, good, key="dl-broken")
    on_topic = await read_until(
        kafka,
        topics.orders_completed,
        lambda record: record.key == b"dl-broken" and record.event.get("id") == good["id"],
    )
    assert not [record for record in on_topic if REPLAYED_FROM in record.headers]

    await db.execute(FIX_DEFECT)
    replayed = await invoicer(
        settings, "dead-letters", "replay", "--at", f"{failed['partition']}:{failed['offset']}"
    )
    assert replayed.splitlines()[-1] == "1 record(s) sent back"

    invoices = {
        m.event["data"]["orderId"]: m.event for m in await kafka.read(topics.invoices_closed, 2)
    }
    assert invoices["dl-broken"]["data"]["totals"]["grossAmount"] == "25.41"
    assert invoices["dl-broken"]["correlationid"] == broken["id"]
    outcome = await db.fetchval(
        "SELECT outcome FROM inbox WHERE source = $1 AND event_id = $2", "/tests", broken["id"]
    )
    assert outcome == "applied"
    resent = await read_until(
        kafka, topics.orders_completed, lambda record: REPLAYED_FROM in record.headers
    )
    [copy] = [record for record in resent if REPLAYED_FROM in record.headers]
    assert copy.value == json.dumps(broken).encode(), "the original value, unchanged"
    assert copy.key == b"dl-broken"
    assert copy.headers[REPLAYED_FROM] == (
        f"{topics.dead_letter}/{failed['partition']}:{failed['offset']}".encode()
    )
    assert not any(name.startswith("x-dead-letter") for name in copy.headers)

    refused = await invoicer(settings, "dead-letters", "replay", "--event-id", "dl-forged")
    assert refused.splitlines() == [skipped, "0 record(s) sent back"]
    closed = await kafka.read_quiet(topics.invoices_closed, 2)
    assert "dl-forged" not in [m.event["id"] for m in closed]


MINUTE = 60_000
FIRST = 1_796_000_000_000  # 2026-12-01T…Z, in ms: the dead letters' times


def dead_letter(settings: Settings, number: int) -> dict[str, Any]:
    """Dead letter `number`: written at FIRST + `number` minutes, on partition number % 3."""
    return {
        "topic": settings.topics.dead_letter,
        "value": json.dumps({"specversion": "1.0", "id": f"dl-{number}", "type": "x"}).encode(),
        "key": f"order-{number}".encode(),
        "partition": number % 3,
        "timestamp_ms": FIRST + number * MINUTE,
        "headers": [
            ("x-dead-letter-reason", b"validation"),
            ("x-original-topic", settings.topics.orders_completed.encode()),
        ],
    }


async def test_since_and_limit_choose_the_first_dead_letters_from_a_time_by_partition_and_offset(
    kafka: KafkaClient, settings: Settings
) -> None:
    await asyncio.gather(*(kafka.publish(**dead_letter(settings, n)) for n in range(30)))
    since = datetime.fromtimestamp((FIRST + 20 * MINUTE) / 1000, UTC).isoformat()

    def ids(out: str) -> list[str]:
        return [json.loads(line)["eventId"] for line in out.splitlines()]

    everything, more = await invoicer_says(settings, "dead-letters", "list", "--json")
    assert ids(everything) == [f"dl-{n}" for p in range(3) for n in range(p, 30, 3)]
    assert more == "", "30 is under the default limit of 100"
    later, _ = await invoicer_says(settings, "dead-letters", "list", "--json", "--since", since)
    assert ids(later) == [
        "dl-21",
        "dl-24",
        "dl-27",
        "dl-22",
        "dl-25",
        "dl-28",
        "dl-20",
        "dl-23",
        "dl-26",
        "dl-29",
    ]
    first, more = await invoicer_says(
        settings, "dead-letters", "list", "--json", "--since", since, "--limit", "4"
    )
    assert ids(first) == ["dl-21", "dl-24", "dl-27", "dl-22"]
    assert more.splitlines() == [
        "list: the first 4 dead letter(s) chosen; more follow (narrow them with --since, or"
        " raise --limit)"
    ]
    exactly, more = await invoicer_says(
        settings, "dead-letters", "list", "--since", since, "--limit", "10"
    )
    assert exactly.splitlines()[-1] == "10 dead letter(s): validation 10"
    assert more == "", "no eleventh one"
    replayed, _ = await invoicer_says(
        settings, "dead-letters", "replay", "--all", "--since", since, "--limit", "2", "--dry-run"
    )
    assert replayed.splitlines() == [
        f"would send 0:7 (validation, event dl-21) to {settings.topics.orders_completed}",
        f"would send 0:8 (validation, event dl-24) to {settings.topics.orders_completed}",
        "dry run: 2 record(s) would be sent back; nothing was sent",
    ]


async def test_a_topic_much_larger_than_the_limit_is_read_in_bounded_memory(
    kafka: KafkaClient, settings: Settings
) -> None:
    """40 MiB of dead letters: listing them holds one fetch (1 MiB) at a time, not the
    topic. Measured with tracemalloc in this process, as `invoicer` runs the command."""
    filler = b"x" * (100 * 1024)
    letters = [{**dead_letter(settings, n), "value": filler} for n in range(400)]
    await asyncio.gather(*(kafka.publish(**letter) for letter in letters))

    # The default limit, 100: the heading, 100 rows and the count; 100 JSON lines; 100
    # "would send" lines and the count.
    for command, lines in (
        (["list"], 102),
        (["list", "--json"], 100),
        (["replay", "--all", "--dry-run"], 101),
    ):
        out = io.StringIO()
        tracemalloc.start()
        try:
            await run_dead_letters_command(parse(*command), settings, out)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        print(f"{' '.join(command)}: {peak / 2**20:.1f} MiB at most")
        assert peak < 10 * 2**20, f"{command}: {peak / 2**20:.1f} MiB held"
        assert len(out.getvalue().splitlines()) == lines
