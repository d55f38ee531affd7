"""Text taken from a record, made safe to show on an operator's terminal.

A record may carry any bytes in its key, headers and value: an escape sequence in one
would clear the screen or rewrite what is shown, a bidi override would reorder it. What
the command line prints of a record is escaped instead, readably and without loss: a C0
or C1 control (and DEL) as `\\xNN`, a byte that is not UTF-8 as `\\xNN` too, every other
character that is not printable (format characters such as U+202E, the line and paragraph
separators U+2028 and U+2029, other spaces than the space, private or unassigned ones)
as `\\uNNNN` (`\\UNNNNNNNN` above U+FFFF), and the backslash itself as `\\\\`.
"""

from __future__ import annotations

import unicodedata
from typing import Any

_NOT_UTF8 = range(0xDC80, 0xDD00)
"""The lone surrogates `surrogateescape` stands a byte that is not UTF-8 with."""


def printable(text: str) -> str:
    """The text with every character a terminal would act on escaped."""
    if text.isprintable():
        return text.replace("\\", "\\\\")
    return "".join(_escaped(character) for character in text)


def printable_bytes(data: bytes) -> str:
    """Bytes as UTF-8 text, escaped as `printable` does (a byte that is not UTF-8 as
    `\\xNN`)."""
    return printable(data.decode("utf-8", "surrogateescape"))


def printable_json(value: Any) -> Any:
    """A parsed JSON value with every string in it, object keys too, made printable."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(key)): printable_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [printable_json(item) for item in value]
    return value


def _escaped(character: str) -> str:
    if character == "\\":
        return "\\\\"
    if character.isprintable():
        return character
    code = ord(character)
    if code in _NOT_UTF8:
        return f"\\x{code - 0xDC00:02x}"
    if unicodedata.category(character) == "Cc":
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
