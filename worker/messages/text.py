"""The one rule for text at the door, and how text taken from a record is shown safely.

Text that XML 1.0 cannot carry is refused wherever text is accepted, in values and in object
keys: C0 controls but tab, line feed and carriage return, U+FFFE, U+FFFF and unpaired
surrogates (a record's bytes that are not UTF-8 arrive as such). What is accepted can then
always be stored, published and laid out in a document.
"""

from __future__ import annotations

import re

NUL_MESSAGE = "must not contain a NUL character"
SURROGATE_MESSAGE = "must not contain a lone surrogate (not Unicode text)"
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_REFUSED_BYTES = re.compile(
    rb"\\u00[01][0-9a-fA-F]|\\u[dD][89a-fA-F]|\\u[fF]{3}[eEfF]|\xef\xbf[\xbe\xbf]"
)


def text_refusal(text: str) -> str | None:
    """Why the text is refused at the door, or None when it is accepted."""
    found = _REFUSED.search(text)
    if found is None:
        return None
    character = found.group()
    if character == "\x00":
        return NUL_MESSAGE
    if "\ud800" <= character <= "\udfff":
        return SURROGATE_MESSAGE
    return f"must not contain the character U+{ord(character):04X} (not allowed in XML)"


def may_hold_refused_text(json_document: bytes) -> bool:
    """Whether a JSON document may hold refused text; False proves it holds none. In JSON a
    control character or a surrogate can only be an escape (\\u000b, \\ud800); U+FFFE and
    U+FFFF may be an escape or their UTF-8 bytes. Tabs and line feeds match too: the walk
    over the document then finds nothing."""
    return _REFUSED_BYTES.search(json_document) is not None


def escaped(text: str) -> str:
    """The text with every character that is not printable as itself (controls, format
    characters such as bidi overrides, line and paragraph separators, surrogates) written as
    `\\uXXXX`: what a log, an error report or a terminal may show of a record's text."""
    if text.isprintable():
        return text
    return "".join(
        character if character.isprintable() else f"\\u{ord(character):04x}" for character in text
    )


def shorten(text: str, limit: int) -> str:
    """The text, cut to `limit` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
