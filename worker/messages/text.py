"""The contract's text rule (docs/contract.md, "The door"): text that XML 1.0 cannot carry is
refused wherever text is accepted; and how a refused name is shown without what made it so."""

from __future__ import annotations

import re

REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""C0 controls but tab, line feed and carriage return; U+FFFE, U+FFFF; lone surrogates."""
MAX_SHOWN = 64


def refused_character(text: str) -> str | None:
    """The first character of `text` that the rule refuses, as U+XXXX; None when it has none."""
    found = REFUSED.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def shown(text: str) -> str:
    """`text` fit to name in an answer or a log line: unprintable characters as \\uXXXX, cut
    to 64 characters."""
    escaped = "".join(
        character if character.isprintable() else f"\\u{ord(character):04x}" for character in text
    )
    return escaped[:MAX_SHOWN]
