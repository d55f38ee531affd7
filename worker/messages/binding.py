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


def structured_value(
    value: bytes | None, headers: Sequence[tuple[str, bytes | None]]
) -> bytes | None:
    """The record's event in structured mode: its value, unless the record is in binary
    mode (it has a `ce_specversion` header)."""
    attributes: dict[str, str] = {}
    content_type = None
    for name, header in headers:
        lowered = name.lower()
        if header is None:
            continue
        if lowered.startswith(ATTRIBUTE_PREFIX):
            attributes[lowered.removeprefix(ATTRIBUTE_PREFIX)] = _text(header)
        elif lowered == CONTENT_TYPE:
            content_type = _text(header)
    if "specversion" not in attributes:
        return value
    if content_type is not None:
        attributes.setdefault("datacontenttype", content_type)
    envelope = json.dumps(attributes, ensure_ascii=False).encode()
    if value is None:
        return envelope
    return envelope[:-1] + b', "data": ' + value + b"}"


def _text(header: bytes) -> str:
    """Header text; bytes that are not UTF-8 stay as lone surrogates, which parsing refuses."""
    return header.decode("utf-8", "surrogateescape")
