"""A record value in, a typed event or the reason it cannot be one out."""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from worker.messages.binding import BinaryEvent, BindingError, binary_event
from worker.messages.envelope import (
    INVOICE_COMMAND,
    CloudEvent,
    IncomingEvent,
    KnownEvent,
)
from worker.messages.error_report import bounded_report, report_bytes
from worker.messages.routing import INCOMING
from worker.messages.text import may_hold_refused_text, text_refusal
from worker.messages.values import (
    MAX_INTEGER_DIGITS,
    TOO_MANY_FRACTION_DIGITS,
    TOO_MANY_INTEGER_DIGITS,
    beyond_range,
)

MAX_HEADER_BYTES = 4096
MAX_ACTION_LENGTH = 64
MAX_FAST_READING_BYTES = 64 * 1024
"""A larger record is read exactly at once. When pydantic's reading fails, its error holds
the whole input built as Python objects, and the exact reading builds them again: a megabyte
of small nested lists cost over a second. For a valid record the exact reading costs about
the same (a 1,000-row order, 180 KB: 16 ms against 14 ms)."""


class RejectReason(StrEnum):
    INVALID_JSON = "invalid-json"
    NOT_CLOUDEVENT = "not-cloudevent"
    UNKNOWN_TYPE = "unknown-type"
    VALIDATION = "validation"
    CONFLICT = "conflict"
    UNKNOWN_SELLER = "unknown-seller"
    """The order names a seller no seller-updated registered (yet): sent again once it is
    registered, it is invoiced."""
    PROCESSING_ERROR = "processing-error"
    """Not in the contract's list: a valid record that kept failing for a reason no retry
    cured (a defect of the worker, not of the record). Sending it back after the fix
    processes it afresh."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record is not applied, in the shape dead letters and command results need."""

    reason: RejectReason
    errors: dict[str, list[str]]
    """Dotted paths inside `data`, 0-based ("rows.1.quantity"); "" is `data` itself (or
    the whole record when it is not JSON); envelope problems under the attribute name."""
    details: str
    """One readable sentence."""
    event_id: str | None = None
    """This and `source`, `event_type`, `correlation_id` are set when the envelope is valid."""
    source: str | None = None
    event_type: str | None = None
    correlation_id: str | None = None
    """`correlationid`, or else the event's id: what the worker's own events carry."""
    action: str | None = None
    """For an invoice-command, its `action` when that is a string."""

    def header_value(self) -> bytes:
        """The `x-dead-letter-error` header: `{"errors": ..., "details": ...}`, at most 4 KiB,
        bounded as every report is (worker/messages/error_report.py)."""
        return report_bytes(*bounded_report(self.errors, self.details, MAX_HEADER_BYTES))


_INCOMING: TypeAdapter[IncomingEvent] = TypeAdapter(IncomingEvent)
_TYPES = tuple(INCOMING)


def _data_path_start(event_type: str) -> int:
    """Where the path inside `data` starts in an error's location: after the event type's
    tag and "data", and for a command after its action's tag too."""
    return 3 if event_type == INVOICE_COMMAND else 2


def parse_record(
    value: bytes | None, headers: Sequence[tuple[str, bytes | None]]
) -> KnownEvent | Rejection:
    """The event a record carries, in either content mode, or why it is rejected."""
    try:
        binary = binary_event(value, headers)
    except BindingError as error:
        return _not_cloudevent({error.header: [error.problem]})
    return parse_event(value) if binary is None else _parse_binary(binary)


def _parse_binary(event: BinaryEvent) -> KnownEvent | Rejection:
    """A binary-mode event: its data read on its own, one JSON value (never spliced into an
    envelope, where it could go on with attributes of its own), exactly, and only once."""
    document: dict[str, Any] = dict(event.attributes)
    if event.data is not None:
        data = _read_exactly(event.data)
        if isinstance(data, Rejection):
            return data
        document["data"] = data
    refused = (event.data is not None and may_hold_refused_text(event.data)) or any(
        text_refusal(name) or text_refusal(text) for name, text in event.attributes.items()
    )
    return _validated(document, refused)


def parse_event(value: bytes | None) -> KnownEvent | Rejection:
    """The event in a record value, or why it is rejected.

    Checked in this order: JSON (UTF-8), the CloudEvents envelope, a known `type`, its `data`.
    """
    if value is None:
        return _invalid_json("the record has no value")
    if may_hold_refused_text(value) or len(value) > MAX_FAST_READING_BYTES:
        return _parse_exactly(value)
    try:
        return _INCOMING.validate_json(value, by_name=False)
    except ValidationError:
        pass  # read again below, once this error and the input it holds are let go
    # pydantic reads a JSON number like 12.050 as a float, which loses digits, and a
    # decimal field refuses floats; so read numbers as Decimals with the json module
    # and validate again. A record that is really invalid also ends up here.
    return _parse_exactly(value)


@dataclass(frozen=True, slots=True)
class _OutOfRange:
    """Stands for a JSON number beyond the contract's range, which no field accepts: read as
    a Decimal, 1e999999999 would reach an int field, whose conversion never ends."""

    problem: str

    def __str__(self) -> str:  # as an unknown action: "unknown action '…'"
        return "a number beyond the contract's range"


def _json_number(text: str) -> Decimal | _OutOfRange:
    try:
        number = Decimal(text)
    except InvalidOperation:  # an exponent beyond what a Decimal holds: 1e99999999999999999999
        tiny = "e-" in text.lower()
        return _OutOfRange(TOO_MANY_FRACTION_DIGITS if tiny else TOO_MANY_INTEGER_DIGITS)
    problem = beyond_range(number)
    return number if problem is None else _OutOfRange(problem)


def _json_integer(text: str) -> int | Decimal | _OutOfRange:
    # Short integers, most numbers, are read at C speed: no more digits than the contract's.
    return int(text) if len(text) <= MAX_INTEGER_DIGITS else _json_number(text)


def _parse_exactly(value: bytes) -> KnownEvent | Rejection:
    document = _read_exactly(value)
    if isinstance(document, Rejection):
        return document
    return _validated(document, may_hold_refused_text(value))


def _read_exactly(value: bytes) -> Any:
    """The JSON value, its numbers as Decimals; or, when it is not one, why (a Rejection)."""
    try:
        return json.loads(
            value.decode(),
            parse_float=_json_number,
            parse_int=_json_integer,
            parse_constant=Decimal,
        )
    except (ValueError, RecursionError) as error:
        return _invalid_json(str(error))


def _validated(document: Any, may_hold_refused: bool) -> KnownEvent | Rejection:
    """The event a read document is, or why it is rejected; `may_hold_refused` is False only
    when the document is known to hold no text the door refuses."""
    unstorable = list(_refused_texts(document)) if may_hold_refused else []
    data_error: ValidationError | None = None
    try:
        event = _INCOMING.validate_python(document, by_name=False)
    except ValidationError as error:
        data_error = error
    else:
        if not unstorable:
            return event
    if not isinstance(document, dict):
        return _not_cloudevent({"": ["must be a JSON object"]})
    if in_envelope := [(path, problem) for path, problem in unstorable if path[0] != "data"]:
        return _not_cloudevent({_dotted(path): [problem] for path, problem in in_envelope})
    try:
        envelope = CloudEvent.model_validate(document, by_name=False)
    except ValidationError as error:
        return _not_cloudevent(_error_map(error.errors(), path_start=0))
    event_type = envelope.type
    known = {
        "event_id": envelope.id,
        "source": envelope.source,
        "event_type": event_type,
        "correlation_id": envelope.correlation,
    }
    if event_type not in _TYPES:
        return Rejection(
            RejectReason.UNKNOWN_TYPE,
            {"type": [f"unknown event type '{event_type}'"]},
            f"Unknown event type '{event_type}'; expected one of: {', '.join(_TYPES)}.",
            **known,
        )
    errors = (
        {}
        if data_error is None
        else _error_map(data_error.errors(), path_start=_data_path_start(event_type))
    )
    for path, problem in unstorable:
        errors.setdefault(_dotted(path[1:]), []).append(problem)
    data = document.get("data")
    action = (
        data.get("action") if event_type == INVOICE_COMMAND and isinstance(data, dict) else None
    )
    return Rejection(
        RejectReason.VALIDATION,
        errors,
        f"The {event_type} data is invalid: {_summary(errors)}.",
        **known,
        action=action if _is_action_name(action) else None,
    )


def _is_action_name(action: object) -> bool:
    """Whether a command's `action` may be echoed in its result: text of a name's length."""
    return (
        isinstance(action, str)
        and len(action) <= MAX_ACTION_LENGTH
        and text_refusal(action) is None
    )


def _refused_texts(document: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Where a string or an object's key holds text the door refuses (worker/messages/text.py),
    and why. Walked depth first with one shared path and
    no recursion: the document may be nested deeply and wide."""
    if isinstance(document, str):
        if (problem := text_refusal(document)) is not None:
            yield (), problem
        return
    path: list[str | int] = []
    stack = [_children(document)]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            if path:
                path.pop()
            continue
        key, value = item
        if isinstance(key, str) and (problem := text_refusal(key)) is not None:
            yield (*path, key), problem
        elif isinstance(value, str):
            if (problem := text_refusal(value)) is not None:
                yield (*path, key), problem
        elif isinstance(value, dict | list):
            path.append(key)
            stack.append(_children(value))


def _children(value: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, dict):
        return iter(value.items())
    if isinstance(value, list):
        return enumerate(value)
    return iter(())


def _dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in path)


def _invalid_json(problem: str) -> Rejection:
    return Rejection(
        RejectReason.INVALID_JSON,
        {"": [problem]},
        f"The record value is not UTF-8 JSON: {problem}.",
    )


def _not_cloudevent(errors: dict[str, list[str]]) -> Rejection:
    return Rejection(
        RejectReason.NOT_CLOUDEVENT,
        errors,
        f"The record is not a CloudEvents 1.0 event in structured JSON mode: {_summary(errors)}.",
    )


def _error_map(details: list[ErrorDetails], path_start: int) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for detail in details:
        path, message = _readable(detail, path_start)
        errors.setdefault(path, []).append(message)
    return errors


def _readable(detail: ErrorDetails, path_start: int) -> tuple[str, str]:
    """An error's dotted path inside `data` and its message, in the contract's words."""
    path = _dotted(detail["loc"][path_start:])
    context = detail.get("ctx", {})
    match detail["type"]:
        case "union_tag_invalid":  # the action of a command
            return "action", f"unknown action '{context['tag']}'; expected one of: " + (
                context["expected_tags"].replace("'", "")
            )
        case "union_tag_not_found" if isinstance(detail["input"], dict):
            return "action", "Field required"
        case "union_tag_not_found" | "model_type" | "model_attributes_type" | "dict_type":
            return path, "must be a JSON object"
        case "missing" if not path:
            return path, "the event has no data"
        case "int_type" | "decimal_parsing" if isinstance(detail["input"], _OutOfRange):
            return path, detail["input"].problem
    return path, detail["msg"]


def _summary(errors: dict[str, list[str]]) -> str:
    first_path, first_messages = next(iter(errors.items()))
    summary = f"{first_path}: {first_messages[0]}" if first_path else first_messages[0]
    others = sum(len(messages) for messages in errors.values()) - 1
    return summary + (f" (and {others} more)" if others else "")
