"""Searchable PDF: the original pages untouched plus an invisible text layer on every OCRed line.

How the layer is made (after Tesseract's PDF renderer and OCRmyPDF's, re-implemented here):

- one font for the whole file, ``/Type0`` with an ``/Identity-H`` encoding over a
  ``/CIDFontType2`` whose embedded TrueType program (ocrcore/data/glyphless.ttf,
  scripts/make_glyphless_font.py) has no visible glyph; a ``/CIDToGIDMap`` sends every code to its
  blank glyph;
- character codes are numbered per file (1, 2, ... for each distinct character), and a
  ``/ToUnicode`` CMap maps each back to its Unicode text, so selecting, searching and copying give
  the recognised text in any script, Chinese included, without embedding a CJK font;
- widths: 1000/1000 em for East Asian wide and fullwidth characters, 0 for combining marks, 500
  for the rest (OCRmyPDF's Occulta font makes the same three classes);
- each line is one text object in render mode 3 (neither fill nor stroke: invisible), its text
  matrix placing the baseline along the line's box (any page ``/Rotate``, skewed boxes, and
  vertical lines read top to bottom), its font size the box height (ascent 0.8, descent 0.2, so
  a selection covers the box) and its horizontal scaling stretching the text to the box width.

The original content streams are not decoded or re-compressed: the page gets ``q`` before and
``Q`` plus the layer after them, as new streams (pikepdf ``contents_add``). The one exception is
an earlier invisible OCR layer on a page OCRed again (:func:`strip_invisible_text`). Images
become pages through img2pdf, which embeds JPEG, JPEG 2000, PNG and CCITT data as they are.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import zlib
from collections.abc import Iterable
from decimal import Decimal
from importlib.resources import files
from typing import TYPE_CHECKING

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from . import pdf_read
from .errors import InvalidImageError, OCRError, UnsupportedImageError
from .types import Line

if TYPE_CHECKING:
    from .document import DocumentResult, PageResult

FONT_NAME = "GlyphLessFont"
ASCENT, DESCENT = 0.8, 0.2  # of the font size; the font program says the same (800 / -200 units)
BLANK_GID = 1
_BFCHAR_CHUNK = 100  # entries per beginbfchar block (PDF 32000-1, 9.10.3 / Adobe TN 5411)


def glyphless_font_program() -> bytes:
    """The embedded TrueType program (624 bytes, two empty glyphs)."""
    return (files("ocrcore") / "data" / "glyphless.ttf").read_bytes()


def char_width(ch: str) -> int:
    """Advance of a character in the layer's font, in 1/1000 em."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 1000 if unicodedata.east_asian_width(ch) in ("W", "F") else 500


class CharCodes:
    """Per-file numbering of the characters of the layer: code ``n`` (two bytes, from 1) <-> one
    character. Raises ValueError past 65,535 distinct characters."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def encode(self, text: str) -> bytes:
        out = bytearray()
        for ch in text:
            code = self.codes.get(ch)
            if code is None:
                code = len(self.codes) + 1
                if code > 0xFFFF:
                    raise ValueError("more than 65,535 distinct characters in one text layer")
                self.codes[ch] = code
            out += code.to_bytes(2, "big")
        return bytes(out)

    def to_unicode_cmap(self) -> bytes:
        """The ``/ToUnicode`` CMap (PDF 32000-1, 9.10.3) for every code handed out."""
        entries = [f"<{code:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for ch, code in self.codes.items()]
        blocks = []
        for i in range(0, len(entries), _BFCHAR_CHUNK):
            chunk = entries[i:i + _BFCHAR_CHUNK]
            blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
        return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
                "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
                "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
                "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
                + "\n".join(blocks)
                + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n").encode("ascii")

    def widths(self) -> Array:
        """``/W`` array of the CIDFont: ``[1 [w1 w2 ...]]``."""
        by_code = sorted((code, ch) for ch, code in self.codes.items())
        return Array([1, Array([char_width(ch) for _, ch in by_code])]) if by_code else Array([])


def _font(pdf: pikepdf.Pdf, codes: CharCodes) -> pikepdf.Object:
    """The layer's Type0 font as an indirect object of ``pdf`` (after every line is encoded)."""
    n = len(codes.codes)
    cid_to_gid = pikepdf.Stream(pdf, zlib.compress(b"\x00\x00" + BLANK_GID.to_bytes(2, "big") * n))
    cid_to_gid.Filter = Name.FlateDecode
    program = glyphless_font_program()
    font_file = pikepdf.Stream(pdf, zlib.compress(program))
    font_file.Filter = Name.FlateDecode
    font_file.Length1 = len(program)
    descriptor = pdf.make_indirect(Dictionary(
        Type=Name.FontDescriptor, FontName=Name("/" + FONT_NAME), Flags=4,
        FontBBox=Array([0, -1000 * DESCENT, 1000, 1000 * ASCENT]), ItalicAngle=0,
        Ascent=1000 * ASCENT, Descent=-1000 * DESCENT, CapHeight=1000 * ASCENT, StemV=80,
        FontFile2=pdf.make_indirect(font_file)))
    cid_font = pdf.make_indirect(Dictionary(
        Type=Name.Font, Subtype=Name.CIDFontType2, BaseFont=Name("/" + FONT_NAME),
        CIDSystemInfo=Dictionary(Registry=String("Adobe"), Ordering=String("Identity"), Supplement=0),
        FontDescriptor=descriptor, DW=500, W=codes.widths(), CIDToGIDMap=pdf.make_indirect(cid_to_gid)))
    to_unicode = pikepdf.Stream(pdf, zlib.compress(codes.to_unicode_cmap()))
    to_unicode.Filter = Name.FlateDecode
    return pdf.make_indirect(Dictionary(
        Type=Name.Font, Subtype=Name.Type0, BaseFont=Name("/" + FONT_NAME), Encoding=Name("/Identity-H"),
        DescendantFonts=Array([cid_font]), ToUnicode=pdf.make_indirect(to_unicode)))


def _num(v: float) -> str:
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def line_operators(line: Line, geometry: pdf_read.PageGeometry, width: int, height: int,
                   codes: CharCodes, font: str) -> bytes:
    """Content-stream operators that show ``line`` invisibly over its box (``width`` x ``height``
    are the pixels the box refers to). Empty when the box or the text is degenerate."""
    text = " ".join(line.text.split())
    if not text:
        return b""
    p0, p1, p2, p3 = (geometry.to_user(x, y, width, height) for x, y in line.box)
    w_vis = math.dist(p3, p2)
    h_vis = math.dist(p0, p3)
    if h_vis > 1.5 * w_vis and len(text) > 1:  # a vertical line read top to bottom: glyph tops to the right
        origin, along, up = p0, p3, p1
    else:
        origin, along, up = p3, p2, p0
    length = math.dist(origin, along)
    size = math.dist(origin, up)
    if length < 0.5 or size < 0.5:
        return b""
    ux, uy = (along[0] - origin[0]) / length, (along[1] - origin[1]) / length
    # "Up" is the baseline turned 90 degrees counter-clockwise (user space is y-up); the box's own
    # up side is only used for the size, so skewed quads still give an orthogonal text matrix.
    vx, vy = -uy, ux
    if (up[0] - origin[0]) * vx + (up[1] - origin[1]) * vy < 0:  # mirrored mapping: keep glyph tops up the box
        vx, vy = -vx, -vy
    ox, oy = origin[0] + vx * DESCENT * size, origin[1] + vy * DESCENT * size
    natural = sum(char_width(ch) for ch in text) / 1000.0 * size
    scale = 100.0 * length / natural if natural > 0 else 100.0
    encoded = codes.encode(text).hex().upper()
    return (f"BT\n3 Tr\n{font} {_num(size)} Tf\n{_num(scale)} Tz\n"
            f"{_num(ux)} {_num(uy)} {_num(vx)} {_num(vy)} {_num(ox)} {_num(oy)} Tm\n<{encoded}> Tj\nET\n").encode("ascii")


def _base_pdf(data: bytes, doc: DocumentResult) -> bytes:
    """PDF bytes whose page ``i`` shows ``doc.pages[i]``: the input itself for a PDF (pages not in
    ``doc`` dropped later), else the images wrapped into pages by img2pdf."""
    if doc.kind == "pdf":
        return data
    import img2pdf

    try:
        return bytes(img2pdf.convert(data, rotation=img2pdf.Rotation.ifvalid, layout_fun=page_layout))
    except Exception:
        return _reencoded_pdf(data, doc)


# A PDF page side must lie within 3 and 14,400 units (PDF 32000-1, annex C.2; img2pdf enforces it).
MIN_SIDE_PT, MAX_SIDE_PT = 3.0, 14_400.0


def page_layout(width_px: int, height_px: int, dpi: tuple[float, float]) -> tuple[float, float, float, float]:
    """img2pdf layout: the page is the image at its own resolution (96 dpi if it has none), scaled
    up or down as little as needed to keep both sides within the PDF limits (a 1x1 icon, a
    100,000-pixel scroll). Raises UnsupportedImageError for an aspect ratio no page can hold."""
    w = width_px * 72.0 / (dpi[0] or 96.0)
    h = height_px * 72.0 / (dpi[1] or 96.0)
    if max(w, h) / min(w, h) > MAX_SIDE_PT / MIN_SIDE_PT:
        raise UnsupportedImageError(f"a {width_px}x{height_px} image is too long and thin to be a PDF page")
    scale = 1.0
    if max(w, h) > MAX_SIDE_PT:
        scale = MAX_SIDE_PT / max(w, h)
    elif min(w, h) < MIN_SIDE_PT:
        scale = MIN_SIDE_PT / min(w, h)
    return w * scale, h * scale, w * scale, h * scale


def _reencoded_pdf(data: bytes, doc: DocumentResult) -> bytes:
    """Images img2pdf refuses (alpha, mirrored EXIF orientations, odd modes): decoded as the
    engine decoded them and embedded losslessly (PNG data)."""
    import img2pdf
    from PIL import Image, ImageOps

    from .decode import pil_to_bgr

    pngs: list[bytes] = []
    try:
        with Image.open(io.BytesIO(data)) as img:
            for index in range(int(getattr(img, "n_frames", 1))):
                img.seek(index)
                frame = ImageOps.exif_transpose(img) or img
                rgb = Image.fromarray(pil_to_bgr(frame)[:, :, ::-1])
                buf = io.BytesIO()
                rgb.save(buf, "PNG", dpi=img.info.get("dpi", (96, 96)))
                pngs.append(buf.getvalue())
    except Exception as exc:
        raise InvalidImageError(f"could not turn the image into a PDF page: {exc}") from None
    try:
        return bytes(img2pdf.convert(pngs, layout_fun=page_layout))
    except OCRError:
        raise
    except Exception as exc:
        raise UnsupportedImageError(f"could not turn the image into a PDF page: {exc}") from None


def write_searchable_pdf(data: bytes, doc: DocumentResult) -> bytes:
    """Searchable PDF bytes for ``doc`` computed from ``data`` (see the module docstring).

    Only the pages of ``doc`` are kept, in its order. Pages whose text came from their own text
    layer get no second layer. Raises :class:`~ocrcore.errors.OCRError` subclasses for input
    that cannot be reopened."""
    base = _base_pdf(data, doc)
    geometries: dict[int, pdf_read.PageGeometry] = {}
    with pdf_read.open_pdf(base) as reader, pdf_read.PDFIUM_LOCK:
        for p in doc.pages:
            page = reader[p.page - 1]
            try:
                geometries[p.page] = pdf_read.page_geometry(page)
            finally:
                page.close()
    pdf = pikepdf.open(io.BytesIO(base))
    try:
        codes = CharCodes()
        font_name = Name.random(prefix="OCRText")
        layers: dict[int, bytes] = {p.page: _page_layer(p, geometries[p.page], codes, str(font_name))
                                    for p in doc.pages if p.source == "ocr"}
        font = _font(pdf, codes) if codes.codes else None
        originals = list(pdf.pages)
        for p in doc.pages:
            page = originals[p.page - 1]
            layer = layers.get(p.page, b"")
            if layer and font is not None:
                try:
                    strip_invisible_text(pdf, page)
                except (pikepdf.PdfError, ValueError, TypeError):  # content qpdf cannot parse: left as it is
                    pass
                page.add_resource(font, Name.Font, font_name)
                page.contents_add(b"q\n", prepend=True)
                page.contents_add(b"\nQ\nq\n" + layer + b"Q\n")
        _keep_pages(pdf, [p.page for p in doc.pages])
        out = io.BytesIO()
        # A file encrypted with an owner password only (readable without one) keeps its encryption
        # and permissions; pikepdf would drop them otherwise.
        pdf.save(out, encryption=True if pdf.is_encrypted else None)
        return out.getvalue()
    finally:
        pdf.close()


_SHOW_TEXT = frozenset({"Tj", "TJ", "'", '"'})
_INVISIBLE = re.compile(rb"(?:^|[\s\]\)>])3\s+Tr(?![A-Za-z])")


def strip_invisible_text(pdf: pikepdf.Pdf, page: pikepdf.Page, depth: int = 2) -> bool:
    """Remove an earlier OCR layer from a page about to get this one (a page OCRed again with
    ``force_ocr``, or whose old layer has no Unicode map), as OCRmyPDF's ``--redo-ocr`` does:
    every text object (``BT`` ... ``ET``) all of whose text is drawn in render mode 3
    (invisible), in the page's content and in the form XObjects it draws (``depth`` levels;
    OCRmyPDF puts its layer in one). Visible text, images and everything else stay; only a
    stream that loses something is rewritten. True if anything was removed."""
    removed = False
    contents = page.obj.get("/Contents")
    streams = [contents] if isinstance(contents, pikepdf.Stream) else list(contents or [])
    if any(isinstance(x, pikepdf.Stream) and _INVISIBLE.search(x.read_bytes()) for x in streams):
        kept = _without_invisible_text(pikepdf.parse_content_stream(page))
        if kept is not None:
            page.obj.Contents = _flate_stream(pdf, pikepdf.unparse_content_stream(kept))
            removed = True
    return _strip_forms(pdf, page.obj, depth) or removed


def _strip_forms(pdf: pikepdf.Pdf, owner: pikepdf.Object, depth: int) -> bool:
    resources = owner.get("/Resources")
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    if depth <= 0 or not isinstance(xobjects, pikepdf.Dictionary):
        return False
    removed = False
    for _, form in xobjects.items():
        if not (isinstance(form, pikepdf.Stream) and form.get("/Subtype") == "/Form"):
            continue
        if _INVISIBLE.search(form.read_bytes()):
            kept = _without_invisible_text(pikepdf.parse_content_stream(form))
            if kept is not None:
                form.write(zlib.compress(pikepdf.unparse_content_stream(kept)), filter=Name.FlateDecode)
                removed = True
        removed = _strip_forms(pdf, form, depth - 1) or removed
    return removed


def _without_invisible_text(instructions: list) -> list | None:
    """The instructions without the text objects whose every text-showing operator runs in render
    mode 3 (the mode is graphics state: saved by ``q``, restored by ``Q``); None if there are none."""
    out: list = []
    block: list | None = None
    shown = visible = False
    mode, stack = 0, []
    dropped = False
    for ins in instructions:
        op = str(ins.operator)
        if op == "q":
            stack.append(mode)
        elif op == "Q" and stack:
            mode = stack.pop()
        elif op == "Tr" and len(ins.operands) == 1 and isinstance(ins.operands[0], (int, Decimal)):
            mode = int(ins.operands[0])
        if op == "BT" and block is None:
            block, shown, visible = [ins], False, False
            continue
        if block is None:
            out.append(ins)
            continue
        block.append(ins)
        if op in _SHOW_TEXT:
            shown = True
            visible = visible or mode != 3
        elif op == "ET":
            if shown and not visible:
                dropped = True
            else:
                out.extend(block)
            block = None
    if block is not None:  # a text object left open: kept as it was
        out.extend(block)
    return out if dropped else None


def _flate_stream(pdf: pikepdf.Pdf, data: bytes) -> pikepdf.Stream:
    stream = pikepdf.Stream(pdf, zlib.compress(data))
    stream.Filter = Name.FlateDecode
    return stream


def _page_layer(page: PageResult, geometry: pdf_read.PageGeometry, codes: CharCodes, font: str) -> bytes:
    return b"".join(line_operators(line, geometry, page.width, page.height, codes, font) for line in page.result.lines)


def _keep_pages(pdf: pikepdf.Pdf, numbers: Iterable[int]) -> None:
    """Reduce ``pdf`` to the 1-based pages ``numbers`` (ascending, as parse_page_spec gives them)."""
    wanted = set(numbers)
    for i in range(len(pdf.pages), 0, -1):
        if i not in wanted:
            del pdf.pages[i - 1]
