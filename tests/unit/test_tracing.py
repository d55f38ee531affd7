"""Tracing (worker.tracing): a span per record that goes on with the record's trace, its
`traceparent` on every event the record causes, and trace ids on log lines; the spans carry
OpenTelemetry's messaging semantic conventions, and the resource the package's version."""

from __future__ import annotations

import io
import json
import re
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace

from tests.builders import order
from tests.memory_store import MemoryStore, records_of
from tests.spans import recorded_spans
from worker import tracing
from worker.decisions import Record
from worker.logs import configure_logging
from worker.settings import Settings

PACKAGE_VERSION = tomllib.loads(
    (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
)["project"]["version"]

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

    record = Record("orders.completed", 0, 7, None, None)
    with tracing.record_span(TRACEPARENT, record, "invoicer", "e-1") as caused:
        assert caused == TRACEPARENT
    with tracing.record_span(None, replace(record, offset=8), "invoicer", None) as caused:
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
        record = Record("orders.completed", 0, 1, None, None)
        with tracing.record_span(TRACEPARENT, record, "invoicer", "e-1"):
            structlog.get_logger().info("inside")
    finally:
        configure_logging("INFO")

    line = json.loads(output.getvalue().splitlines()[-1])
    assert line["trace_id"] == TRACE_ID
    assert len(line["span_id"]) == 16


def processing(group: str) -> dict[str, object]:
    return {
        "messaging.system": "kafka",
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.consumer.group.name": group,
    }


def test_a_batch_span_carries_the_messaging_conventions() -> None:
    spans = recorded_spans()
    spans.clear()

    with tracing.batch_span(2, "billing"):
        pass

    [batch] = spans.get_finished_spans()
    assert dict(batch.attributes or {}) == {
        **processing("billing"),
        "messaging.batch.message_count": 2,
    }


def test_records_carry_the_messaging_conventions() -> None:
    spans = recorded_spans()
    spans.clear()
    settings = Settings(group_id="billing")
    store = MemoryStore(settings)
    [first, second] = records_of(
        [order("e-1", "o-1", [("r1", "1", "10.00")]), order("e-2", "o-2", [("r1", "1", "10.00")])]
    )

    store.run([replace(first, partition=2, offset=41), replace(second, partition=0, offset=7)])

    records = [s for s in spans.get_finished_spans() if s.name == "invoicer process"]
    assert [dict(s.attributes or {}) for s in records] == [
        {
            **processing("billing"),
            "messaging.destination.name": settings.topics.orders_completed,
            "messaging.destination.partition.id": partition,
            "messaging.kafka.offset": offset,
            "messaging.message.id": event_id,
        }
        for event_id, partition, offset in (("e-1", "2", 41), ("e-2", "0", 7))
    ]


def test_a_record_with_no_readable_id_has_no_message_id() -> None:
    spans = recorded_spans()
    spans.clear()
    store = MemoryStore(Settings())
    [record] = records_of([order("e-1", "o-1", [("r1", "1", "10.00")])])

    store.run([replace(record, value=b"not json")])

    [span] = [s for s in spans.get_finished_spans() if s.name == "invoicer process"]
    attributes = dict(span.attributes or {})
    assert "messaging.message.id" not in attributes
    assert attributes["messaging.kafka.offset"] == record.offset


@given(
    topic=st.from_regex(r"[a-zA-Z0-9._-]{1,249}", fullmatch=True),
    partition=st.integers(0, 2**31 - 1),
    offset=st.integers(0, 2**63 - 1),
    group=st.text(min_size=1, max_size=50),
    message_id=st.none() | st.text(min_size=1, max_size=50),
)
def test_every_record_span_names_where_the_record_was_read(
    topic: str, partition: int, offset: int, group: str, message_id: str | None
) -> None:
    spans = recorded_spans()
    spans.clear()

    with tracing.record_span(None, Record(topic, partition, offset, None, None), group, message_id):
        pass

    [span] = spans.get_finished_spans()
    expected: dict[str, object] = {
        **processing(group),
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": str(partition),
        "messaging.kafka.offset": offset,
    }
    if message_id is not None:
        expected["messaging.message.id"] = message_id
    assert dict(span.attributes or {}) == expected


def test_the_resource_names_the_service_and_the_packages_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    attributes = tracing.service_resource().attributes
    assert attributes["service.name"] == "invoicer"
    assert attributes["service.version"] == PACKAGE_VERSION

    monkeypatch.setenv("OTEL_SERVICE_NAME", "invoicer-eu")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=production")
    attributes = tracing.service_resource().attributes
    assert attributes["service.name"] == "invoicer-eu"
    assert attributes["deployment.environment.name"] == "production"
    assert attributes["service.version"] == PACKAGE_VERSION


def test_the_operations_guide_names_every_otel_variable_the_deployment_may_set() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    section = guide.split("## Tracing\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `(OTEL_[A-Z_]+)`", section, re.MULTILINE))
    assert named == set(tracing.OTEL_VARIABLES)
