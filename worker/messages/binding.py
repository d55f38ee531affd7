"""The CloudEvents Kafka protocol binding: how an event sits in a record.

The worker writes structured mode (the whole event as the value, `content-type:
application/cloudevents+json`) and reads both modes: a binary-mode record carries the
attributes in `ce_*` headers, the `datacontenttype` in `content-type`, and the data alone
as its value. Such a record's data is read as one JSON value (worker/messages/parsing.py),
exactly, and put in the event its headers make.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CONTENT_TYPE = "content-type"
STRUCTURED_CONTENT_TYPE = b"application/cloudevents+json; charset=UTF-8"
EVENT_HEADERS: tuple[tuple[str, bytes | None], ...] = ((CONTENT_TYPE, STRUCTURED_CONTENT_TYPE),)
"""The headers of every event the worker emits."""
ATTRIBUTE_PREFIX = "ce_"
SPECVERSION_HEADER = ATTRIBUTE_PREFIX + "specversion"
CLOUDEVENTS_MEDIA_TYPE = b"application/cloudevents"
"""A `content-type` that starts so is structured mode, whatever `ce_*` headers there are."""
NOT_UTF8 = "a binding header must be UTF-8 text"


class BindingError(Exception):
    """A binding header that is not text: the record is no CloudEvent in either mode."""

    def __init__(self, header: str, problem: str) -> None:
        super().__init__(f"{header}: {problem}")
        self.header = header
        self.problem = problem


@dataclass(frozen=True, slots=True)
class BinaryEvent:
    """A binary-mode record: the attributes its headers carry, and its value, the data."""

    attributes: dict[str, str]
    data: bytes | None


def binary_event(
    value: bytes | None, headers: Sequence[tuple[str, bytes | None]]
) -> BinaryEvent | None:
    """The record as a binary-mode event, or None when it is in structured mode (it has no
    `ce_specversion` header, or its `content-type` is CloudEvents'). Raises BindingError
    when a binding header of a binary-mode record is not UTF-8 (its name or its value)."""
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
        return None
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
    return BinaryEvent(attributes, value)


def _text(name: str, header: bytes) -> str:
    try:
        name.encode()
    except UnicodeEncodeError:  # the broker's bytes of the name were not UTF-8
        raise BindingError(name, NOT_UTF8) from None
    try:
        return header.decode()
    except UnicodeDecodeError:
        raise BindingError(name, NOT_UTF8) from None
