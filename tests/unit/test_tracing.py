"""Tracing (worker.tracing): a span per record that goes on with the record's trace, its
`traceparent` on every event the record causes, and trace ids on log lines."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
import structlog
from opentelemetry import trace

from tests.memory_store import MemoryStore, records_of
from tests.spans import recorded_spans
from tests.unit.test_batching import order
from worker import tracing
from worker.logs import configure_logging
from worker.settings import Settings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


def emitted(
    store: MemoryStore, topic: str
) -> list[tuple[dict[str, object], dict[str, bytes | None]]]:
    return [(json.loads(m.value or b""), dict(m.headers)) for m in store.outbox if m.topic == topic]


def test_a_record_span_goes_on_with_the_events_trace_and_its_events_carry_it() -> None:
    spans = recorded_spans()
    spans.clear()
    store = MemoryStore(Settings())

    store.run(
        records_of([{**order("e-1", "o-1", [("r1", "1", "10.00")]), "traceparent": TRACEPARENT}])
    )

    [span] = [s for s in spans.get_finished_spans() if s.name == "invoicer process"]
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_ID
    caused = f"00-{TRACE_ID}-{format(span.context.span_id, '016x')}-01"
    for event, headers in emitted(store, store.settings.topics.invoices_closed) + emitted(
        store, store.settings.topics.notifications_requested
    ):
        assert event["traceparent"] == caused
        assert headers["traceparent"] == caused.encode()


def test_a_traceparent_header_is_read_when_the_event_has_none() -> None:
    spans = recorded_spans()
    spans.clear()
    store = MemoryStore(Settings())
    [record] = records_of([order("e-1", "o-1", [("r1", "1", "10.00")])])

    store.run([replace(record, headers=(("traceparent", TRACEPARENT.encode()),))])

    [span] = [s for s in spans.get_finished_spans() if s.name == "invoicer process"]
    assert format(span.context.trace_id, "032x") == TRACE_ID


def test_with_tracing_off_the_incoming_traceparent_is_carried_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tracing, "_tracer", lambda: trace.NoOpTracer())

    with tracing.record_span(TRACEPARENT, "orders.completed", 7) as caused:
        assert caused == TRACEPARENT
    with tracing.record_span(None, "orders.completed", 8) as caused:
        assert caused is None


def test_an_invalid_traceparent_is_ignored_not_refused() -> None:
    recorded_spans()
    store = MemoryStore(Settings())

    store.run(
        records_of([{**order("e-1", "o-1", [("r1", "1", "10.00")]), "traceparent": "not-one"}])
    )

    [(closed, _)] = emitted(store, store.settings.topics.invoices_closed)
    assert closed["data"]["invoiceNumber"] == "INV-2026-000001"
    assert closed["traceparent"] != "not-one"


def test_log_lines_carry_the_trace_and_span_ids() -> None:
    recorded_spans()
    output = io.StringIO()
    configure_logging("INFO", json=True, stream=output)
    try:
        with tracing.record_span(TRACEPARENT, "orders.completed", 1):
            structlog.get_logger().info("inside")
    finally:
        configure_logging("INFO")

    line = json.loads(output.getvalue().splitlines()[-1])
    assert line["trace_id"] == TRACE_ID
    assert len(line["span_id"]) == 16
