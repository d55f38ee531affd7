"""structlog set-up: JSON lines for machines, readable lines on a terminal.

One key convention (docs/operations.md, "Log lines"): OpenTelemetry's semantic-convention
names where one exists (the names below, `service.name`, `trace_id`, `span_id`),
snake_case otherwise (`order_id`, `invoice_id`, `action`). Every line about a record
carries what processing bound for it: its message id, conversation (correlation) id,
topic and offset, its order and invoice. The libraries' own lines (aiokafka, asyncpg log
through the standard library) are rendered the same way. Personal data never
reaches a line at INFO or above: fields that hold it are redacted (a safety net; the code
does not log them in the first place).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, TextIO, cast

import structlog
from structlog.types import EventDict, Processor

from worker.tracing import current_ids

MESSAGE_ID = "messaging.message.id"
CORRELATION_ID = "messaging.message.conversation_id"
TOPIC = "messaging.destination.name"
PARTITION = "messaging.destination.partition.id"
OFFSET = "messaging.kafka.offset"
CONSUMER_GROUP = "messaging.consumer.group.name"
SERVICE_NAME = "service.name"

PERSONAL_FIELDS = frozenset(
    {
        "customer",
        "customer_name",
        "email",
        "phone",
        "recipient",
        "billingAddress",
        "address",
    }
)
REDACTED = "[redacted]"

_handler: logging.Handler | None = None
"""The standard library handler this module installed, replaced on reconfiguration."""


class Lines(io.TextIOBase):
    """A text stream whose writes never raise, for log lines and printed output: when the
    reader is gone (a closed pipe: BrokenPipeError) or the stream fails otherwise, that is
    reported once to standard error, if it still works, and further lines are dropped.
    Stopping and cleaning up must not depend on anyone reading what the worker writes."""

    def __init__(self, stream: TextIO, name: str) -> None:
        super().__init__()
        self._stream = stream
        self._name = name
        self._failed = False

    def write(self, text: str) -> int:
        if not self._failed:
            try:
                self._write(text)
                self._stream.flush()
            except (OSError, ValueError) as error:
                self._failed = True
                _point_at_devnull(self._stream)
                if self._stream is not sys.stderr:
                    Lines(sys.stderr, "standard error").write(
                        f"invoicer: cannot write to {self._name} ({error}); "
                        "its further lines are dropped\n"
                    )
        return len(text)

    def _write(self, text: str) -> None:
        """A character the stream cannot encode (a record's lone surrogate, on a terminal)
        is written as its escape rather than failing the line."""
        try:
            self._stream.write(text)
        except UnicodeEncodeError:
            encoding = self._stream.encoding or "utf-8"
            self._stream.write(text.encode(encoding, "backslashreplace").decode(encoding))

    def isatty(self) -> bool:
        with contextlib.suppress(OSError, ValueError):
            return self._stream.isatty()
        return False


def _point_at_devnull(stream: TextIO) -> None:
    """What is left in the stream's buffer, and the interpreter's flush at exit, then go
    nowhere instead of failing again (a failed flush at exit turns exit code 0 into 120)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def redact_personal_data(_: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """Above DEBUG, the values of fields that hold personal data are replaced."""
    if method_name == "debug":
        return event_dict
    for key in PERSONAL_FIELDS.intersection(event_dict):
        event_dict[key] = REDACTED
    return event_dict


HeldLines = list[tuple[str, EventDict]]
_held: ContextVar[HeldLines | None] = ContextVar("held_log_lines", default=None)


@contextlib.contextmanager
def held() -> Iterator[HeldLines]:
    """Holds the lines logged inside (with their context), unwritten: a batch's decisions are
    told once the batch is committed (`release`), and not at all when it is rolled back."""
    lines: HeldLines = []
    token = _held.set(lines)
    try:
        yield lines
    finally:
        _held.reset(token)


def release(lines: HeldLines) -> None:
    """Writes held lines, as they were logged."""
    logger = structlog.get_logger()
    for method_name, event in lines:
        getattr(logger, method_name)(**event)


def hold_while_held(_: object, method_name: str, event: EventDict) -> EventDict:
    lines = _held.get()
    if lines is None:
        return event
    lines.append((method_name, event))
    raise structlog.DropEvent


def add_trace_ids(_: object, __: str, event: EventDict) -> EventDict:
    """The service, and the trace_id and span_id of the span a line is written in."""
    event[SERVICE_NAME] = os.environ.get("OTEL_SERVICE_NAME") or "invoicer"
    for key, value in current_ids().items():
        event.setdefault(key, value)  # a held line keeps the ids of where it was logged
    return event


def configure_logging(
    level: str = "INFO", *, json: bool | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Logs to `stream` (standard error by default), through `Lines`: a failing stream
    never fails the caller. `json` None picks by the stream: a terminal gets console
    rendering, anything else JSON lines. Returns the handler it put on the standard
    library's root logger."""
    global _handler
    output = Lines(sys.stderr if stream is None else stream, "the log")
    as_json = not output.isatty() if json is None else json
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_personal_data,
    ]
    renderer: Processor
    if as_json:
        shared += [structlog.processors.format_exc_info]
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, hold_while_held, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # WriteLogger needs only write() and flush(), which Lines has.
        logger_factory=structlog.WriteLoggerFactory(file=cast(TextIO, output)),
        # Not cached, so a later configure_logging() applies to every logger.
        cache_logger_on_first_use=False,
    )
    # aiokafka and asyncpg log through the standard library: their warnings, rendered alike.
    handler = logging.StreamHandler(output)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    _handler = handler
    return handler
