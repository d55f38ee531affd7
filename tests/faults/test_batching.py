"""Batching is invisible through the real process: the same records applied one per batch
and up to 500 per batch give the same events and results (docs/contract.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.faults.conftest import SEED, Servers, Stack, open_stack
from tests.faults.invariants import TopicReader, wait_until_applied
from tests.faults.stream import (
    COMMAND_SOURCE,
    Outgoing,
    Stream,
    build_stream,
    command_event,
    encode,
    inbox_keys,
)

OUTPUTS = ("invoices_closed", "notifications_requested", "invoice_events", "command_results")


def _decided(value: bytes) -> dict[str, Any]:
    """The event without what says when the worker ran rather than what it decided."""
    event = json.loads(value)
    event.pop("time")
    event["data"].pop("closedAt", None)
    if event["data"].get("invoice"):
        event["data"]["invoice"].pop("closedAt", None)
    for document in event["data"].get("documents") or []:
        document.pop("sha256")  # the PDF states when the invoice was closed
    return event


async def _outputs(stack: Stack) -> dict[str, list[tuple[bytes | None, dict[str, Any]]]]:
    topics = {kind: getattr(stack.topics, kind) for kind in OUTPUTS}
    reader = TopicReader(stack.bootstrap_servers, topics.values())
    await reader.start()
    try:
        await reader.settle()
    finally:
        await reader.stop()
    return {
        kind: [(m.key, _decided(m.value or b"")) for m in reader.seen[topic]]
        for kind, topic in topics.items()
    }


def _with_payments_in_a_row(stream: Stream) -> Stream:
    """A last phase: three small payments on each of some open invoices, one after the
    other, so that a batch holds several commands about one invoice."""
    phase = []
    open_invoices = [
        i for i in stream.invoices.values() if i.status == "open" and not i.credit_note
    ][:20]
    for number, invoice in enumerate(open_invoices):
        for payment in range(3):
            command_id = f"batching-pay-{number}-{payment}"
            amount = "1" if invoice.currency == "JPY" else "0.01"
            event = command_event(
                command_id,
                invoice.order_id,
                action="record-payment",
                invoiceId=invoice.invoice_id,
                amount=amount,
            )
            stream.commands[command_id] = "record-payment"
            stream.applied.add((COMMAND_SOURCE, command_id))
            phase.append(Outgoing("commands", invoice.order_id.encode(), encode(event), command_id))
    stream.phases.append(phase)
    return stream


async def _run(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory, batch_size: int
) -> dict[str, list[tuple[bytes | None, dict[str, Any]]]]:
    stream = _with_payments_in_a_row(build_stream(SEED, 150, "batching"))
    log_dir = tmp_path_factory.mktemp(f"batch-{batch_size}")
    async with open_stack(servers, log_dir, SEED, partitions=1) as stack:
        worker = stack.worker("worker", INVOICER_BATCH_MAX_RECORDS=str(batch_size))
        # Each phase waits whole on its topic before the worker starts on it: the records
        # reach the worker in one order whatever the batch size.
        for number, phase in enumerate(stream.phases):
            await stack.publish_backlog(phase)
            if number == 0:
                worker.start()
            await wait_until_applied(stack.database_url, inbox_keys(phase))
        report = await stack.check(stream)
        assert report.violations == []
        return await _outputs(stack)


async def test_one_record_per_batch_and_500_per_batch_emit_the_same_events(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> None:
    one_by_one = await _run(servers, tmp_path_factory, 1)
    batched = await _run(servers, tmp_path_factory, 500)

    assert sum(map(len, one_by_one.values())) > 300
    for kind in OUTPUTS:
        assert _per_invoice(batched[kind]) == _per_invoice(one_by_one[kind]), kind


def _per_invoice(
    outputs: list[tuple[bytes | None, dict[str, Any]]],
) -> list[tuple[bytes | None, dict[str, Any]]]:
    """Each invoice's events in the order they came, invoice after invoice: a registered
    seller's invoices wait for their documents, which render beside the batches, so how
    their events interleave with other invoices' is the renderer's timing, not the batch's."""
    return sorted(outputs, key=lambda output: (output[0] or b"", output[1].get("subject") or ""))
