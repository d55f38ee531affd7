"""The PDF's fonts. The bundled ones (Source Sans Pro: Latin, Greek, Cyrillic) are parsed
once per process, and prepared once for embedding (outlines apart, glyph ids kept): a
document's subset is then its glyphs' outlines joined, with no parsing or fontTools
subsetting. Other scripts come from the fallback fonts (INVOICER_DOCUMENT_FONTS), added to
a document only when its text needs one of their characters and subset by fpdf2. A
character no font covers is drawn as U+FFFD."""

from __future__ import annotations

import struct
import sys
import unicodedata
import zlib
from array import array
from collections.abc import Iterable, Sequence
from copy import copy
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from fontTools import subset, ttLib
from fontTools.ttLib.sfnt import calcChecksum
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.output import (
    CIDSystemInfo,
    OutputProducer,
    PDFFont,
    _build_cmap_blocks,
    _tt_font_widths,
)
from fpdf.syntax import Name, PDFArray, PDFContentStream

BUNDLED = Path(__file__).parent / "fonts"
FAMILY = "sourcesans"
_STYLES = {"": BUNDLED / "SourceSansPro-Regular.ttf", "B": BUNDLED / "SourceSansPro-Bold.ttf"}
REPLACEMENT = "\ufffd"
_REPLACEMENT_FONT = BUNDLED / "DejaVuSans.ttf"
_REPLACEMENT_FAMILY = "replacement"
# Scripts whose letters change shape with their neighbours or run right to left: a document
# with any of them is shaped (HarfBuzz), which costs time the others need not spend.
_SHAPED_SCRIPTS = (
    "ARABIC",
    "HEBREW",
    "SYRIAC",
    "THAANA",
    "NKO",
    "DEVANAGARI",
    "BENGALI",
    "GURMUKHI",
    "GUJARATI",
    "ORIYA",
    "TAMIL",
    "TELUGU",
    "KANNADA",
    "MALAYALAM",
    "SINHALA",
    "THAI",
    "LAO",
    "TIBETAN",
    "MYANMAR",
    "KHMER",
)


class _BundledFont(TTFFont):
    """A bundled font in one document: the parsed font shared, the glyphs it uses its own."""

    __slots__ = ("program",)
    program: _Program


_CHANGING = ("head", "glyf", "loca")
"""The tables a document's subset changes (head: its checksum), written last, head first
so that its place is the same in every subset."""
_SFNT = 0x00010000  # TrueType outlines
_CHECKSUM_MAGIC = 0xB1B0AFBA


@dataclass(frozen=True, slots=True)
class _Program:
    """A bundled font, prepared once per process: every glyph, with the glyph ids of the
    original (so the parsed font's ids hold), without hinting and layout tables, which a
    PDF does not use. Kept in pieces, so that a document's subset is its glyphs' outlines
    joined, and only the tables that change compressed."""

    font: TTFFont
    """Parsed once; never subset (a document's copy records the glyphs it uses)."""
    outlines: tuple[bytes, ...]
    """Each glyph's outline (its glyf entry, even-sized), by glyph id."""
    components: dict[int, tuple[int, ...]]
    """The glyphs a composite glyph is made of."""
    records: dict[str, tuple[int, int, int]]
    """(checksum, offset, length) of each table no subset changes."""
    unchanging: bytes
    """Those tables, as they follow the table directory in every subset."""
    unchanging_compressed: bytes
    """The same, raw deflate ending on a full flush: compressed once."""
    head: bytes
    """The head table, its checksum adjustment zero."""

    def subset(self, glyph_ids: Iterable[int]) -> tuple[bytes, int]:
        """The font file of one document, zlib-compressed, and its length: the outlines of
        these glyphs (and of their components, and .notdef), every other glyph empty,
        glyph ids unchanged."""
        used = {0}
        waiting = list(glyph_ids)
        while waiting:
            glyph = waiting.pop()
            if glyph not in used:
                used.add(glyph)
                waiting.extend(self.components.get(glyph, ()))
        kept = sorted(used)
        glyf = b"".join(self.outlines[glyph] for glyph in kept)
        # Short offsets (head.indexToLocFormat 0): halved, the outlines being even-sized.
        # Between two glyphs kept, every offset is the same: filled a run at a time.
        offsets = array("H", bytes(2 * (len(self.outlines) + 1)))
        offset, start = 0, 0
        for glyph in kept:
            offsets[start : glyph + 1] = array("H", [offset]) * (glyph + 1 - start)
            offset += len(self.outlines[glyph]) // 2
            start = glyph + 1
        offsets[start:] = array("H", [offset]) * (len(offsets) - start)
        if sys.byteorder == "little":
            offsets.byteswap()
        loca = offsets.tobytes()
        head_at = _directory_size(len(self.records) + 3) + len(self.unchanging)
        glyf_at = head_at + _padded(len(self.head))
        records = self.records | {
            "head": (calcChecksum(self.head), head_at, len(self.head)),
            "glyf": (calcChecksum(glyf), glyf_at, len(glyf)),
            "loca": (calcChecksum(loca), glyf_at + _padded(len(glyf)), len(loca)),
        }
        directory = _directory(records)
        total = calcChecksum(directory) + sum(checksum for checksum, _, _ in records.values())
        adjustment = (_CHECKSUM_MAGIC - total) & 0xFFFFFFFF
        head = self.head[:8] + adjustment.to_bytes(4, "big") + self.head[12:]
        changing = b"".join((_pad(head), _pad(glyf), loca))
        checksum = zlib.adler32(changing, zlib.adler32(self.unchanging, zlib.adler32(directory)))
        first, last = zlib.compressobj(wbits=-15), zlib.compressobj(wbits=-15)
        compressed = b"".join(
            (
                b"\x78\x9c",  # zlib's header, default compression
                first.compress(directory) + first.flush(zlib.Z_FULL_FLUSH),
                self.unchanging_compressed,
                last.compress(changing) + last.flush(),
                checksum.to_bytes(4, "big"),
            )
        )
        return compressed, len(directory) + len(self.unchanging) + len(changing)


def _padded(length: int) -> int:
    return (length + 3) & ~3


def _pad(table: bytes) -> bytes:
    return table + b"\0" * (_padded(len(table)) - len(table))


def _directory_size(tables: int) -> int:
    return 12 + 16 * tables


def _directory(records: dict[str, tuple[int, int, int]]) -> bytes:
    """The sfnt header and table records (sorted by tag, as the format asks)."""
    selector = len(records).bit_length() - 1
    search_range = 16 << selector
    header = struct.pack(
        ">LHHHH", _SFNT, len(records), search_range, selector, 16 * len(records) - search_range
    )
    return header + b"".join(
        struct.pack(">4sLLL", tag.encode("latin-1"), *records[tag]) for tag in sorted(records)
    )


@cache
def _program(style: str) -> _Program:
    path = _STYLES[style]
    parsed = ttLib.TTFont(path, recalcTimestamp=False)
    options = subset.Options(
        notdef_outline=True, recommended_glyphs=True, retain_gids=True, hinting=False
    )
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "DSIG"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(glyphs=parsed.getGlyphOrder())
    subsetter.subset(parsed)
    prepared = BytesIO()
    parsed.save(prepared)
    font = ttLib.TTFont(BytesIO(prepared.getvalue()))
    assert font["head"].indexToLocFormat == 0, "short glyph offsets"
    glyf, offsets, glyphs = font.reader["glyf"], font["loca"].locations, font["glyf"]
    order = font.getGlyphOrder()
    tags = sorted(tag for tag in list(font.reader.keys()) if tag not in _CHANGING)
    records, unchanging = {}, bytearray()
    at = _directory_size(len(tags) + len(_CHANGING))
    for tag in tags:
        table = font.reader[tag]
        records[tag] = (calcChecksum(table), at + len(unchanging), len(table))
        unchanging += _pad(table)
    compressor = zlib.compressobj(wbits=-15)
    head = font.reader["head"]
    return _Program(
        TTFFont(FPDF(), path, FAMILY + style, style),
        tuple(glyf[offsets[i] : offsets[i + 1]] for i in range(len(order))),
        {
            font.getGlyphID(name): tuple(font.getGlyphID(c.glyphName) for c in glyph.components)
            for name in order
            if (glyph := glyphs[name]).isComposite()
        },
        records,
        bytes(unchanging),
        compressor.compress(unchanging) + compressor.flush(zlib.Z_FULL_FLUSH),
        head[:8] + b"\0\0\0\0" + head[12:],
    )


@cache
def bundled_characters() -> frozenset[int]:
    """The characters the bundled fonts draw (regular and bold cover the same)."""
    return frozenset(_program("").font.cmap)


@cache
def _characters(path: str) -> frozenset[int]:
    font = ttLib.TTFont(path, fontNumber=0, lazy=True)
    return frozenset(font.getBestCmap() or ())


def add_bundled_fonts(pdf: FPDF) -> None:
    """The bundled family, regular and bold, into `pdf` without parsing anything."""
    for style in _STYLES:
        template = _program(style).font
        font = _BundledFont.__new__(_BundledFont)
        for name in TTFFont.__slots__:
            if hasattr(template, name):
                setattr(font, name, getattr(template, name))
        font.program = _program(style)
        font.i = len(pdf.fonts) + 1
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.subset = SubsetMap(font)
        pdf.fonts[FAMILY + style] = font


class Coverage:
    """Which font draws each character of a document: the bundled fonts, else the first
    fallback font that has it, else none (then U+FFFD is drawn, and the character named)."""

    def __init__(self, pdf: FPDF, fallback_fonts: Sequence[str]) -> None:
        self._pdf = pdf
        self._fallback_fonts = fallback_fonts
        self._families: list[str] = []
        self._replaced: dict[int, str] = {}
        self.not_shown: list[str] = []
        """Characters no font covers, in the order met."""

    def bundled(self, value: str) -> bool:
        """Whether the bundled fonts draw all of `value`."""
        return value.isascii() or bundled_characters().issuperset(map(ord, value))

    def text(self, value: str) -> str:
        """`value` as it can be drawn: every character has a font, or is U+FFFD."""
        if value.isascii():
            return value
        bundled = bundled_characters()
        missing = [ord(c) for c in dict.fromkeys(value) if ord(c) not in bundled]
        for code in missing:
            if code not in self._replaced:
                self._replaced[code] = self._font_for(code)
        return value.translate(self._replaced) if missing else value

    def _font_for(self, code: int) -> str:
        """The character itself where a fallback font has it, else U+FFFD."""
        char = chr(code)
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            return char  # drawn as nothing
        for index, path in enumerate(self._fallback_fonts):
            if code in _characters(path):
                self._use(f"fallback{index}", path)
                if unicodedata.name(char, "").startswith(_SHAPED_SCRIPTS):
                    self._pdf.set_text_shaping(True)
                return char
        self._use(_REPLACEMENT_FAMILY, str(_REPLACEMENT_FONT))
        self.not_shown.append(char)
        return REPLACEMENT

    def _use(self, family: str, path: str) -> None:
        if family in self._families:
            return
        self._pdf.add_font(family, "", path)
        self._families.append(family)
        ordered = sorted(self._families, key=lambda name: name == _REPLACEMENT_FAMILY)
        self._pdf.set_fallback_fonts(ordered, exact_match=False)


class FontProducer(OutputProducer):
    """fpdf2's output, the bundled fonts subset from their prepared programs."""

    def _add_fonts(self, *resources: Any) -> dict[int, Any]:
        fonts = self.fpdf.fonts
        every = dict(fonts)
        bundled = sorted(
            (font for font in every.values() if isinstance(font, _BundledFont)),
            key=lambda font: font.i,
        )
        for key in [key for key, font in every.items() if isinstance(font, _BundledFont)]:
            del fonts[key]
        try:
            objects: dict[int, Any] = super()._add_fonts(*resources)
        finally:
            fonts.clear()
            fonts.update(every)
        for font in bundled:
            objects[font.i] = self._add_bundled_font(font)
        return objects

    def _add_bundled_font(self, font: _BundledFont) -> PDFFont:
        """The objects fpdf2 writes for a TrueType font (Type0, CIDFontType2, ToUnicode,
        descriptor, CIDToGIDMap), the font file the document's subset of the program
        prepared for the process."""
        name = f"MPDFAA+{font.name}"  # a subset's tag, as fpdf2 names its subsets
        composite = PDFFont(subtype="Type0", base_font=name, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        cid_font = PDFFont(
            subtype="CIDFontType2",
            base_font=name,
            d_w=font.desc.missing_width,
            w=_tt_font_widths(font),
        )
        self._add_pdf_obj(cid_font, "fonts")
        composite.descendant_fonts = PDFArray([cid_font])
        used = sorted((code, glyph) for glyph, code in font.subset.items() if glyph is not None)
        to_unicode = PDFContentStream(_to_unicode([(c, g.unicode) for c, g in used]))
        self._add_pdf_obj(to_unicode, "fonts")
        composite.to_unicode = to_unicode
        system_info = CIDSystemInfo()
        self._add_pdf_obj(system_info, "fonts")
        cid_font.c_i_d_system_info = system_info
        descriptor = copy(font.desc)
        descriptor.font_name = Name(name)
        self._add_pdf_obj(descriptor, "fonts")
        cid_font.font_descriptor = descriptor
        # Codes past the map's end draw glyph 0: the map need only reach the last code used.
        glyph_ids = bytearray(2 * (max((code for code, _ in used), default=0) + 1))
        for code, glyph in used:
            glyph_ids[2 * code : 2 * code + 2] = glyph.glyph_id.to_bytes(2, "big")
        glyph_map = PDFContentStream(glyph_ids, compress=True)
        self._add_pdf_obj(glyph_map, "fonts")
        cid_font.c_i_d_to_g_i_d_map = glyph_map
        program = _Compressed(*font.program.subset(glyph.glyph_id for _, glyph in used))
        self._add_pdf_obj(program, "fonts")
        descriptor.font_file2 = program  # type: ignore[attr-defined]  # as fpdf2 sets it
        font.subset.pick.cache_clear()
        font.subset.get_glyph.cache_clear()
        return composite


class _Compressed(PDFContentStream):
    """A font file compressed already (FlateDecode), with its length uncompressed."""

    def __init__(self, compressed: bytes, length: int) -> None:
        super().__init__(compressed)
        self.filter = Name("FlateDecode")
        self.length1 = length


def _to_unicode(used: list[tuple[int, int | tuple[int, ...]]]) -> bytes:
    """The ToUnicode CMap: which characters each code of the document stands for (search,
    copy and text extraction read it)."""
    entries = []
    for code, characters in used:
        text = "".join(chr(c) for c in characters) if isinstance(characters, tuple) else ""
        if text:
            entries.append(f"<{code:04X}> <{text.encode('utf-16-be').hex().upper()}>\n")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo\n<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{_build_cmap_blocks(entries, 'bfchar')}"
        "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    ).encode("latin-1")
