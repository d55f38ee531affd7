"""The contract's text rule (docs/contract.md, "The door") and percent-decoding, stated here
on their own, as the tests' oracle for the worker's."""

from __future__ import annotations

ALLOWED_CONTROLS = "\t\n\r"


def is_text_character(character: str) -> bool:
    """XML 1.0's Char: tab, line feed, carriage return, U+0020–U+D7FF, U+E000–U+FFFD and
    beyond U+FFFF."""
    code = ord(character)
    return (
        character in ALLOWED_CONTROLS
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or code > 0xFFFF
    )


def is_text(data: bytes) -> bool:
    """UTF-8 with no character XML 1.0 cannot carry."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(is_text_character(character) for character in text)


def percent_decoded(raw: bytes, *, form: bool) -> bytes | None:
    """The bytes `raw` escapes (`+` a space when `form`); None when a % starts no escape."""
    if form:
        raw = raw.replace(b"+", b" ")
    decoded, i = bytearray(), 0
    while i < len(raw):
        if raw[i : i + 1] == b"%":
            digits = raw[i + 1 : i + 3]
            if len(digits) < 2 or any(d not in b"0123456789abcdefABCDEF" for d in digits):
                return None
            decoded.append(int(digits, 16))
            i += 3
        else:
            decoded.append(raw[i])
            i += 1
    return bytes(decoded)


def is_text_parameter(raw: bytes, *, form: bool) -> bool:
    decoded = percent_decoded(raw, form=form)
    return decoded is not None and is_text(decoded)
