"""`invoicer outbox parked | unpark` against the real database: the messages the broker
refused for good are listed, and moved back to the outbox once the cause is fixed, from
where the relay publishes them. And every operator's command on the database (these,
`documents retry`, `dunning run`) on one this release has not migrated: one line, exit 2."""

from __future__ import annotations

import asyncpg
import pytest

from tests.integration.conftest import Services
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import run_invoicer, running_worker
from worker.rows import OutboxMessage
from worker.settings import Settings
from worker.store.outbox import enqueue, fetch_pending, park

REFUSED = "MessageSizeTooLargeError: [Error 10] MessageSizeTooLargeError"


async def parked_messages(db: asyncpg.Connection, settings: Settings) -> list[OutboxMessage]:
    """Three messages written to the outbox, and parked as the relay parks them."""
    messages = [
        OutboxMessage(
            topic=settings.topics.invoices_closed,
            key=f"order-{n}".encode(),
            value=f'{{"id": "e-{n}", "email": "jane@example.org"}}'.encode(),
            headers=(("traceparent", b"00-abc-def-01"), ("x\x00name", None)),
        )
        for n in range(3)
    ]
    await enqueue(db, messages)
    pending = await fetch_pending(db, 10, 1 << 20)
    await park(db, [(item.id, REFUSED) for item in pending])
    return messages


async def test_parked_messages_are_listed_without_their_values_and_moved_back_to_be_published(
    db: asyncpg.Connection, settings: Settings, kafka: KafkaClient
) -> None:
    messages = await parked_messages(db, settings)
    ids = [record["id"] for record in await db.fetch("SELECT id FROM outbox_parked ORDER BY id")]

    listed = await run_invoicer(settings, "outbox", "parked")
    assert listed.status == 0, listed.err
    rows = listed.out.splitlines()
    assert rows[0].split() == ["ID", "PARKED", "AT", "(UTC)", "TOPIC", "BYTES", "ERROR"]
    assert [row.split()[0] for row in rows[1:-1]] == [str(n) for n in ids]
    assert all(settings.topics.invoices_closed in row and REFUSED in row for row in rows[1:-1])
    assert rows[-1] == "3 parked message(s)"
    assert "jane@example.org" not in listed.out, "values may hold personal data"
    first = await run_invoicer(settings, "outbox", "parked", "--limit", "1")
    assert first.out.splitlines()[-1] == "3 parked message(s) (the first 1 shown)"

    chosen = await run_invoicer(settings, "outbox", "unpark", "--id", str(ids[1]), "--id", "0")
    assert chosen.status == 1, "an id that is not parked is said"
    assert chosen.out.splitlines() == [
        f"moved back to the outbox: {ids[1]}",
        "1 message(s) moved back; the relay publishes them",
    ]
    assert chosen.err.splitlines() == ["unpark: not parked: 0"]
    [back] = await fetch_pending(db, 10, 1 << 20)
    assert back.message == messages[1], "topic, key, value and headers as they were"
    assert back.id > ids[-1], "after everything written before it"

    everything = await run_invoicer(settings, "outbox", "unpark", "--all")
    assert everything.status == 0, everything.err
    assert everything.out.splitlines()[-1] == "2 message(s) moved back; the relay publishes them"
    assert await db.fetchval("SELECT count(*) FROM outbox_parked") == 0
    assert [item.message for item in await fetch_pending(db, 10, 1 << 20)] == [
        messages[1],
        messages[0],
        messages[2],
    ]

    async with running_worker(settings):
        published = await kafka.read(settings.topics.invoices_closed, 3)
    assert sorted(record.value for record in published) == sorted(
        message.value for message in messages
    )
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_unpark_wants_a_choice_and_a_database_that_answers(settings: Settings) -> None:
    unchosen = await run_invoicer(settings, "outbox", "unpark")
    assert (unchosen.status, unchosen.err) == (
        2,
        "unpark: choose messages with --id, or pass --all\n",
    )

    away = settings.model_copy(update={"database_url": "postgresql://invoicer@127.0.0.1:9/x"})
    unreachable = await run_invoicer(away, "outbox", "parked")
    assert unreachable.status == 2
    [line] = unreachable.err.splitlines()
    assert line.startswith("invoicer: cannot connect to the database at 127.0.0.1:9/x")


@pytest.mark.parametrize(
    "command",
    [
        ("outbox", "parked"),
        ("outbox", "unpark", "--all"),
        ("documents", "retry", "--failed"),
        ("dunning", "run", "--dry-run"),
    ],
    ids=" ".join,
)
async def test_an_operators_command_on_an_unmigrated_database_says_so_in_one_line(
    services: Services, fresh_database: str, command: tuple[str, ...]
) -> None:
    """A database this release has not migrated (a new one, or one an older release
    migrated): one line that says to run `invoicer migrate`, exit code 2, no traceback."""
    unmigrated = Settings(
        database_url=fresh_database, kafka_bootstrap_servers=services.bootstrap_servers
    )

    ran = await run_invoicer(unmigrated, *command)

    assert ran.status == 2, ran.err
    [line] = ran.err.splitlines()
    assert line.startswith("invoicer: ") and "invoicer migrate" in line, line
