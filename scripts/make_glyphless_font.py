"""Write ocrcore/data/glyphless.ttf: the font of the invisible text layer in searchable PDFs.

A TrueType font with two empty glyphs (.notdef and one blank glyph that every character code is
mapped to through the PDF's CIDToGIDMap), 1000 units per em, ascent 800, descent -200. It draws
nothing; the text it carries is read through the layer's ToUnicode map, so any script, Chinese
included, copies and searches right without embedding a real CJK font. The idea is Tesseract's
(its pdf.ttf and the design notes in its pdfrenderer.cpp, by Ken Sharp) and OCRmyPDF's (Occulta);
this file is built with fontTools so it can be reproduced:

    .venv/bin/python scripts/make_glyphless_font.py   # needs fonttools (it comes with fpdf2, the test extra)
"""

from __future__ import annotations

from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

OUT = Path(__file__).resolve().parents[1] / "ocrcore" / "data" / "glyphless.ttf"


def build(path: Path = OUT) -> Path:
    fb = FontBuilder(1000, isTTF=True)
    glyphs = [".notdef", "blank"]
    fb.setupGlyphOrder(glyphs)
    fb.setupCharacterMap({0x20: "blank"})
    empty = TTGlyphPen(None).glyph()
    # The blank glyph is one zero-area contour (a line there and back) from the descent to the ascent:
    # it paints nothing, but gives the glyph a bounding box. PDFium drops characters whose glyph box
    # is empty when the text runs exactly along the y axis (pages and lines turned by 90 degrees).
    pen = TTGlyphPen(None)
    pen.moveTo((0, -200))
    pen.lineTo((500, 800))
    pen.lineTo((0, -200))
    pen.closePath()
    fb.setupGlyf({".notdef": empty, "blank": pen.glyph()})
    fb.setupHorizontalMetrics({name: (500, 0) for name in glyphs})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "GlyphLessFont", "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    fb.setupPost()
    path.parent.mkdir(parents=True, exist_ok=True)
    fb.save(str(path))
    return path


if __name__ == "__main__":
    print(build(), OUT.stat().st_size, "bytes")
