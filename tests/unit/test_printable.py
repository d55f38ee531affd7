"""What the command line prints of a record is escaped: no character of it can act on a
terminal, and the escapes read back to exactly what the record held."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import assume, given
from hypothesis import strategies as st

from worker.printable import printable, printable_bytes, printable_json

ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")
ACTING = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
"""Controls, format characters (bidi overrides), line and paragraph separators, and lone
surrogates (which no terminal can even be sent)."""

hostile_text = st.text() | st.sampled_from(
    ["\x1b[2J\x1b[HALL CLEAR", "\u202eevil", "a\u2028b\u2029c", "\x85\x9b\x00\x7f", "\\x1b"]
)


def read_back(shown: str, *, from_bytes: bool = False) -> str:
    """The text a reader makes of the escapes; `from_bytes`: \\x80 to \\xff are bytes
    that are not UTF-8 (or C1 controls, which such a test leaves out), as
    `surrogateescape` holds them."""

    def one(escape: re.Match[str]) -> str:
        code = escape[1]
        if code == "\\":
            return code
        value = int(code[1:], 16)
        return chr(0xDC00 + value if from_bytes and code[0] == "x" and value >= 0x80 else value)

    return ESCAPE.sub(one, shown)


def acting(text: str) -> list[str]:
    return [char for char in text if unicodedata.category(char) in ACTING]


@given(hostile_text)
def test_no_character_that_acts_on_a_terminal_is_printed(text: str) -> None:
    assert acting(printable(text)) == []


@given(hostile_text)
def test_the_escapes_read_back_to_the_text(text: str) -> None:
    assert read_back(printable(text)) == text


@given(st.binary())
def test_bytes_that_are_not_utf8_are_shown_as_their_value(data: bytes) -> None:
    shown = printable_bytes(data)
    text = data.decode("utf-8", "surrogateescape")
    # U+0080-U+009F and a byte of that value that is not UTF-8 both show as \xNN.
    assume(not any("\x80" <= char <= "\x9f" for char in text))

    assert acting(shown) == []
    assert read_back(shown, from_bytes=True).encode("utf-8", "surrogateescape") == data


def test_controls_read_as_hex_and_other_characters_as_code_points() -> None:
    assert printable("\x1b[2J\x1b[HALL CLEAR") == "\\x1b[2J\\x1b[HALL CLEAR"
    assert printable("\x9b\u202e\u2028\u2029\U000e0001") == (
        "\\x9b\\u202e\\u2028\\u2029\\U000e0001"
    )
    assert printable_bytes(b"\xff\x1bok \xc3\xa9") == "\\xff\\x1bok é"
    assert printable("C:\\x1b") == "C:\\\\x1b", "a backslash is doubled: nothing forges one"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)


def texts(value: object) -> list[str]:
    """Every string in a JSON value, object keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [key, *texts(item)]]
    if isinstance(value, list):
        return [text for item in value for text in texts(item)]
    return []


@given(json_values)
def test_every_text_in_a_json_value_is_escaped_keys_too(value: object) -> None:
    shown = printable_json(value)

    assert [acting(text) for text in texts(shown)] == [[] for _ in texts(shown)]
    assert [read_back(text) for text in texts(shown)] == texts(value)
