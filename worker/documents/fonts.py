"""The PDF's fonts. The bundled ones (Source Sans Pro: Latin, Greek, Cyrillic) are parsed
once per process and embedded whole, from a font program prepared and compressed once:
a document then costs no parsing and no subsetting. Other scripts come from the fallback
fonts (INVOICER_DOCUMENT_FONTS), added to a document only when its text needs one of their
characters and embedded as subsets. A character no font covers is drawn as U+FFFD."""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Sequence
from copy import copy
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from fontTools import subset, ttLib
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


class _WholeFont(TTFFont):
    """A bundled font in one document: the parsed font shared, the glyphs it uses its own."""

    __slots__ = ("program",)
    program: _Program


@dataclass(frozen=True, slots=True)
class _Program:
    font: TTFFont
    """Parsed once; never subset (a document's copy records the glyphs it uses)."""
    compressed: bytes
    """The font file embedded: every glyph, with the glyph ids of the original (so the parsed
    font's ids hold), without hinting and layout tables, which a PDF does not use."""
    length: int


@cache
def _program(style: str) -> _Program:
    path = _STYLES[style]
    font = TTFFont(FPDF(), path, FAMILY + style, style)
    parsed = ttLib.TTFont(path, recalcTimestamp=False)
    options = subset.Options(
        notdef_outline=True, recommended_glyphs=True, retain_gids=True, hinting=False
    )
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "DSIG"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(glyphs=parsed.getGlyphOrder())
    subsetter.subset(parsed)
    program = BytesIO()
    parsed.save(program)
    return _Program(font, zlib.compress(program.getvalue(), 9), len(program.getvalue()))


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
        font = _WholeFont.__new__(_WholeFont)
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
    """fpdf2's output, with the bundled fonts embedded from their prepared programs."""

    def _add_fonts(self, *resources: Any) -> dict[int, Any]:
        fonts = self.fpdf.fonts
        every = dict(fonts)
        whole = sorted(
            (font for font in every.values() if isinstance(font, _WholeFont)),
            key=lambda font: font.i,
        )
        for key in [key for key, font in every.items() if isinstance(font, _WholeFont)]:
            del fonts[key]
        try:
            objects: dict[int, Any] = super()._add_fonts(*resources)
        finally:
            fonts.clear()
            fonts.update(every)
        for font in whole:
            objects[font.i] = self._add_whole_font(font)
        return objects

    def _add_whole_font(self, font: _WholeFont) -> PDFFont:
        """The objects fpdf2 writes for a TrueType font (Type0, CIDFontType2, ToUnicode,
        descriptor, CIDToGIDMap), the font file the one prepared for the process."""
        composite = PDFFont(subtype="Type0", base_font=font.name, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        cid_font = PDFFont(
            subtype="CIDFontType2",
            base_font=font.name,
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
        descriptor.font_name = Name(font.name)
        self._add_pdf_obj(descriptor, "fonts")
        cid_font.font_descriptor = descriptor
        # Codes past the map's end draw glyph 0: the map need only reach the last code used.
        glyph_ids = bytearray(2 * (max((code for code, _ in used), default=0) + 1))
        for code, glyph in used:
            glyph_ids[2 * code : 2 * code + 2] = glyph.glyph_id.to_bytes(2, "big")
        glyph_map = PDFContentStream(glyph_ids, compress=True)
        self._add_pdf_obj(glyph_map, "fonts")
        cid_font.c_i_d_to_g_i_d_map = glyph_map
        program = _Compressed(font.program.compressed, font.program.length)
        self._add_pdf_obj(program, "fonts")
        descriptor.font_file2 = program  # type: ignore[attr-defined]  # as fpdf2 sets it
        font.subset.pick.cache_clear()
        font.subset.get_glyph.cache_clear()
        return composite


class _Compressed(PDFContentStream):
    """A font file compressed beforehand (FlateDecode), with its length uncompressed."""

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
