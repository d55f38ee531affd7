"""A bundled font's subset (worker/documents/fonts.py) is a valid TrueType font file: its
checksums right, the outlines of the glyphs a document uses (and their components) exactly
the prepared font's, every other glyph empty, the glyph ids unchanged."""

from __future__ import annotations

import io
import struct
import zlib

from fontTools import ttLib
from fontTools.ttLib.sfnt import SFNTReader
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.documents.fonts import _program

GLYPHS = len(_program("").outlines)


@settings(max_examples=60, deadline=None)
@given(
    style=st.sampled_from(["", "B"]),
    used=st.sets(st.integers(min_value=0, max_value=GLYPHS - 1), max_size=300),
)
def test_a_subset_keeps_exactly_the_outlines_used(style: str, used: set[int]) -> None:
    program = _program(style)

    compressed, length = program.subset(used)

    font_file = zlib.decompress(compressed)
    assert len(font_file) == length
    reader = SFNTReader(io.BytesIO(font_file), checkChecksums=2)  # a wrong one raises
    for tag in list(reader.keys()):
        reader[tag]
    padded = font_file + b"\0" * (-len(font_file) % 4)
    assert sum(struct.unpack(f">{len(padded) // 4}L", padded)) & 0xFFFFFFFF == 0xB1B0AFBA
    font = ttLib.TTFont(io.BytesIO(font_file))
    kept = {0} | used
    for glyph in list(kept):
        kept |= set(_components(program.components, glyph))
    order = font.getGlyphOrder()
    assert len(order) == GLYPHS
    outlines = font["glyf"]
    for glyph, name in enumerate(order):
        compiled = outlines[name].compile(outlines) if outlines[name].numberOfContours else b""
        prepared = program.outlines[glyph]
        if glyph in kept:
            assert compiled.rstrip(b"\0") == prepared.rstrip(b"\0"), name
        else:
            assert compiled == b"", name


def _components(components: dict[int, tuple[int, ...]], glyph: int) -> list[int]:
    found = []
    for part in components.get(glyph, ()):
        found += [part, *_components(components, part)]
    return found
