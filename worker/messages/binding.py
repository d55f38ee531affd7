"""The CloudEvents Kafka protocol binding: how an event sits in a record.

The worker writes structured mode (the whole event as the value, `content-type:
application/cloudevents+json`) and reads both modes: a binary-mode record carries the
attributes in `ce_*` headers, the `datacontenttype` in `content-type`, and the data alone
as its value. Such a record is turned into the structured event it stands for and parsed
like any other: the data's bytes are kept as they are, so its numbers are read exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

CONTENT_TYPE = "content-type"
STRUCTURED_CONTENT_TYPE = b"application/cloudevents+json; charset=UTF-8"
EVENT_HEADERS: tuple[tuple[str, bytes | None], ...] = ((CONTENT_TYPE, STRUCTURED_CONTENT_TYPE),)
"""The headers of every event the worker emits."""
ATTRIBUTE_PREFIX = "ce_"
SPECVERSION_HEADER = ATTRIBUTE_PREFIX + "specversion"
CLOUDEVENTS_MEDIA_TYPE = b"application/cloudevents"
"""A `content-type` that starts so is structured mode, whatever `ce_*` headers there are."""
NOT_UTF8 = "a binding header must be UTF-8 text"


class DataError(Exception):
    """A binary-mode record's value that is not one JSON value: spliced into the envelope, it
    could go on with attributes of its own."""


class BindingError(Exception):
    """A binding header that is not text: the record is no CloudEvent in either mode."""

    def __init__(self, header: str, problem: str) -> None:
        super().__init__(f"{header}: {problem}")
        self.header = header
        self.problem = problem


def structured_value(
    value: bytes | None, headers: Sequence[tuple[str, bytes | None]]
) -> bytes | None:
    """The record's event in structured mode: its value, unless the record is in binary
    mode (it has a `ce_specversion` header, and its `content-type` is not CloudEvents').
    Raises BindingError when a binding header of a binary-mode record is not UTF-8 (its name
    or its value), DataError when its value is not one JSON value."""
    binding = [
        (name, header)
        for name, header in headers
        if header is not None
        and (name.lower().startswith(ATTRIBUTE_PREFIX) or name.lower() == CONTENT_TYPE)
    ]
    if not any(name.lower() == SPECVERSION_HEADER for name, _ in binding) or any(
        name.lower() == CONTENT_TYPE and header.lower().startswith(CLOUDEVENTS_MEDIA_TYPE)
        for name, header in binding
    ):
        return value
    attributes: dict[str, str] = {}
    content_type = None
    for name, header in binding:
        lowered = name.lower()
        text = _text(name, header)
        if lowered == CONTENT_TYPE:
            content_type = text
        else:
            attributes[lowered.removeprefix(ATTRIBUTE_PREFIX)] = text
    if content_type is not None:
        attributes.setdefault("datacontenttype", content_type)
    envelope = json.dumps(attributes, ensure_ascii=False).encode()
    if value is None:
        return envelope
    if not _is_one_json_value(value):
        raise DataError("the data is not one JSON value")
    return envelope[:-1] + b', "data": ' + value + b"}"


# Only whether it is JSON matters here: numbers are not converted (parse_event reads them).
_SYNTAX = json.JSONDecoder(parse_int=len, parse_float=len, parse_constant=len)


def _is_one_json_value(value: bytes) -> bool:
    try:
        _SYNTAX.decode(value.decode())
    except (ValueError, RecursionError):
        return False
    return True


def _text(name: str, header: bytes) -> str:
    try:
        name.encode()
    except UnicodeEncodeError:  # the broker's bytes of the name were not UTF-8
        raise BindingError(name, NOT_UTF8) from None
    try:
        return header.decode()
    except UnicodeDecodeError:
        raise BindingError(name, NOT_UTF8) from None
