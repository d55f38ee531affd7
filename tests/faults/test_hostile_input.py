"""Hostile input: the corpus (tests/faults/corpus.py) interleaved with a valid stream. Every
bad record ends as docs/contract.md's "Bad input" says, with a readable message, and every
valid record around it is processed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.faults.conftest import Stack, record
from tests.faults.corpus import COMMAND_CASES, CORPUS, ORDER_CASES, Case, event_id, record_value
from tests.faults.invariants import (
    SETTLE_TIMEOUT_SECONDS,
    Figures,
    TopicReader,
    wait_until_applied,
)
from tests.faults.stream import (
    Outgoing,
    Stream,
    build_stream,
    expect_order_message,
    inbox_keys,
)
from tests.integration.kafka_client import Received
from worker.messages import MAX_HEADER_BYTES

DEAD_LETTER_HEADERS = {
    "x-dead-letter-reason",
    "x-dead-letter-error",
    "x-original-topic",
    "x-original-partition",
    "x-original-offset",
}


@dataclass
class Sent:
    case: Case
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes | None


def _valid(stream: Stream, event: dict[str, Any] | None) -> Outgoing | None:
    if event is None:
        return None
    expect_order_message(stream, event, [row["rowId"] for row in event["data"]["rows"]])
    return Outgoing(
        "orders", event["data"]["orderId"].encode(), json.dumps(event).encode(), event["id"]
    )


def _dead_lettered(case: Case) -> bool:
    return case.reason not in ("rejected", "duplicate")


def _key(case: Case) -> bytes:
    """The order's id when the case goes with valid messages of that order (so it is
    processed in order with them), else a key of its own."""
    for event in (case.before, case.after, case.value):
        if isinstance(event, dict) and isinstance(event.get("data"), dict):
            order_id = event["data"].get("orderId")
            if isinstance(order_id, str) and (event is not case.value or case.kind == "commands"):
                return order_id.encode()
    return f"hostile-{CORPUS.index(case)}".encode()


async def _attack(
    stack: Stack, cases: list[Case], valid_orders: int, within: float = SETTLE_TIMEOUT_SECONDS
) -> tuple[Stream, list[Sent]]:
    """Publishes the bad records among a valid stream; returns the stream and what was sent."""
    stream = build_stream(stack.seed, valid_orders, "hostile")
    valid = stream.phases[0]
    step = max(1, len(valid) // max(1, len(cases)))
    sent: list[Sent] = []
    phases: list[list[Case]] = [
        [c for c in cases if c.kind == "orders"],
        [c for c in cases if c.kind == "commands"],
    ]
    for case in cases:  # the valid first messages of the orders some cases change
        before = _valid(stream, case.before)
        if before is not None:
            await stack.publish(before)
    for phase_no, phase in enumerate(phases):
        if phase_no == 1:
            await wait_until_applied(stack.database_url, inbox_keys(valid), within)
            for outgoing in [record for later in stream.phases[1:] for record in later]:
                await stack.publish(outgoing)
        for index, case in enumerate(phase):
            key = _key(case)
            value = record_value(case)
            metadata = await stack.publish(Outgoing(case.kind, key, value, ""))
            sent.append(Sent(case, metadata.topic, metadata.partition, metadata.offset, key, value))
            after = _valid(stream, case.after)
            if after is not None:
                await stack.publish(after)
            if phase_no == 0:
                for outgoing in valid[index * step : (index + 1) * step]:
                    await stack.publish(outgoing)
        if phase_no == 0:
            for outgoing in valid[len(phase) * step :]:
                await stack.publish(outgoing)
    stream.phases = [stream.phases[0]]  # the later phases are published above
    stream.checked_elsewhere = {
        command_id for item in sent if (command_id := event_id(item.case.value)) is not None
    }
    return stream, sent


def _check_dead_letter(sent: Sent, dead: Received, problems: list[str]) -> None:
    case = sent.case
    reason = dead.headers.get("x-dead-letter-reason", b"").decode()
    if reason != case.reason:
        problems.append(f"{case.name}: dead-lettered as {reason!r}, not {case.reason!r}")
    if dead.value != sent.value or dead.key != sent.key:
        problems.append(f"{case.name}: the dead letter is not the record unchanged")
    if not dead.headers.keys() >= DEAD_LETTER_HEADERS:
        problems.append(f"{case.name}: headers {sorted(dead.headers)}")
        return
    header = dead.headers["x-dead-letter-error"]
    error = json.loads(header)
    if len(header) > MAX_HEADER_BYTES:
        problems.append(f"{case.name}: x-dead-letter-error of {len(header)} bytes")
    if not (isinstance(error.get("details"), str) and error["details"].strip()):
        problems.append(f"{case.name}: no readable details: {error}")
    if not all(isinstance(m, list) and m and all(m) for m in error.get("errors", {}).values()):
        problems.append(f"{case.name}: errors without messages: {error}")
    if case.path is not None and reason == case.reason and case.path not in error["errors"]:
        problems.append(f"{case.name}: errors name {sorted(error['errors'])}, not {case.path!r}")


def _check_result(sent: Sent, results: list[dict[str, Any]], problems: list[str]) -> None:
    case = sent.case
    if len(results) != 1:
        problems.append(f"{case.name}: {len(results)} command results, not 1")
        return
    result = results[0]
    if result["ok"] or not str(result.get("details", "")).strip():
        problems.append(f"{case.name}: result {result}")
    elif case.path is not None and case.path not in result.get("errors", {}):
        problems.append(f"{case.name}: errors name {sorted(result.get('errors', {}))}")


async def _verify(stack: Stack, sent: list[Sent]) -> list[str]:
    reader = TopicReader(
        stack.bootstrap_servers, [stack.topics.dead_letter, stack.topics.command_results]
    )
    await reader.start()
    try:
        await reader.settle()
    finally:
        await reader.stop()
    dead_letters = {
        (
            m.headers.get("x-original-topic", b"").decode(),
            int(m.headers.get("x-original-partition", b"-1")),
            int(m.headers.get("x-original-offset", b"-1")),
        ): m
        for m in reader.seen[stack.topics.dead_letter]
    }
    results: dict[str, list[dict[str, Any]]] = {}
    for m in reader.seen[stack.topics.command_results]:
        data = m.event["data"]
        results.setdefault(data["commandId"], [])
        if data not in results[data["commandId"]]:
            results[data["commandId"]].append(data)
    problems: list[str] = []
    for item in sent:
        dead = dead_letters.pop((item.topic, item.partition, item.offset), None)
        if item.case.reason == "duplicate":
            if dead is not None:
                problems.append(f"{item.case.name}: dead-lettered, not dropped as a duplicate")
        elif item.case.reason == "rejected":
            if dead is not None:
                problems.append(f"{item.case.name}: dead-lettered, not answered")
            _check_result(item, results.get(event_id(item.case.value) or "", []), problems)
        elif dead is None:
            problems.append(f"{item.case.name}: not dead-lettered")
        else:
            _check_dead_letter(item, dead, problems)
    return problems


async def test_every_bad_record_ends_as_the_contract_says_and_every_valid_one_is_processed(
    stack: Stack, figures: Figures
) -> None:
    cases = CORPUS
    assert len(cases) >= 40
    worker = stack.worker("worker")
    worker.start()
    stream, sent = await _attack(stack, cases, valid_orders=150)
    dead = sum(_dead_lettered(case) for case in cases)
    report = await stack.check(stream, expected_dead_letters=dead)
    problems = await _verify(stack, sent)
    assert not problems, "\n".join(problems)
    assert worker.alive, worker.log_tail()
    assert worker.starts == 1, worker.log_tail()
    figures.notes.append(
        f"{len(cases)} bad records ({len(ORDER_CASES)} order, "
        f"{len(COMMAND_CASES)} command cases) among the stream"
    )
    record(figures, report, len(stream.records) + len(sent))
