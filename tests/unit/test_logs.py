"""Log lines: JSON for a pipe, console for a terminal, personal data redacted above DEBUG."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from worker.logs import REDACTED, configure_logging


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    handlers = list(logging.getLogger().handlers)
    yield
    for handler in logging.getLogger().handlers:
        if handler not in handlers:
            logging.getLogger().removeHandler(handler)
    structlog.reset_defaults()


def test_a_pipe_gets_json_lines_with_the_bound_identifiers() -> None:
    output = io.StringIO()
    configure_logging(stream=output)
    with structlog.contextvars.bound_contextvars(
        order_id="SO-1", **{"messaging.message.id": "e-1"}
    ):
        structlog.get_logger().info("invoice closed", invoice_id="i-1")
    [line] = [json.loads(text) for text in output.getvalue().splitlines()]
    assert line["event"] == "invoice closed"
    assert (line["order_id"], line["messaging.message.id"], line["invoice_id"]) == (
        "SO-1",
        "e-1",
        "i-1",
    )
    assert line["service.name"] == "invoicer"
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")


def test_a_terminal_gets_readable_lines() -> None:
    output = Terminal()
    configure_logging(stream=output)
    structlog.get_logger().info("worker running", group_id="invoicer")
    text = output.getvalue()
    assert "worker running" in text
    assert "group_id" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_library_lines_are_rendered_alike() -> None:
    output = io.StringIO()
    configure_logging(stream=output)
    logging.getLogger("aiokafka.consumer.group_coordinator").warning("heartbeat failed: %s", 7)
    logging.getLogger("aiokafka").info("below warning: not shown")
    [line] = [json.loads(text) for text in output.getvalue().splitlines()]
    assert line["event"] == "heartbeat failed: 7"
    assert line["logger"] == "aiokafka.consumer.group_coordinator"
    assert line["level"] == "warning"


def test_personal_data_is_redacted_above_debug_and_kept_at_debug() -> None:
    output = io.StringIO()
    configure_logging("DEBUG", stream=output)
    log = structlog.get_logger()
    log.info("notify", recipient="jane@example.org", channel="email")
    log.warning("customer changed", customer={"name": "Jane Roe"}, order_id="SO-1")
    log.debug("notify", recipient="jane@example.org")
    info, warning, debug = [json.loads(text) for text in output.getvalue().splitlines()]
    assert info["recipient"] == REDACTED
    assert info["channel"] == "email"
    assert warning["customer"] == REDACTED
    assert warning["order_id"] == "SO-1"
    assert debug["recipient"] == "jane@example.org"


def test_the_level_filters() -> None:
    output = io.StringIO()
    configure_logging("WARNING", stream=output)
    structlog.get_logger().info("hidden")
    structlog.get_logger().warning("shown")
    assert [json.loads(text)["event"] for text in output.getvalue().splitlines()] == ["shown"]


class GoneReader(io.StringIO):
    """A pipe whose reading end was closed."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_stream_nobody_reads_is_reported_once_and_its_lines_dropped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(stream=GoneReader())
    structlog.get_logger().info("stopping")
    structlog.get_logger().warning("worker stopped")
    logging.getLogger("aiokafka").warning("heartbeat failed")
    [report] = capsys.readouterr().err.splitlines()
    assert report.startswith("invoicer: cannot write to the log (") and "Broken pipe" in report


class Utf8Terminal(io.TextIOWrapper):
    def isatty(self) -> bool:
        return True


def test_a_record_text_that_is_not_unicode_neither_breaks_the_line_nor_silences_the_log() -> None:
    raw = io.BytesIO()
    output = Utf8Terminal(raw, encoding="utf-8", write_through=True)
    configure_logging(stream=output)
    structlog.get_logger().warning("bad-\udcff key", details="bad-\udcff key")
    structlog.get_logger().info("worker running")
    text = raw.getvalue().decode()
    assert "bad-\\udcff key" in text
    assert "worker running" in text
