"""Reading PDF pages with PDFium (pypdfium2): open with typed errors, page geometry, checks
before rendering, rendering to BGR, and the lines of an existing text layer.

PDFium is not thread-safe, not even across documents (pypdfium2's documentation, "Thread
incompatibility"): every call into it here runs under :data:`PDFIUM_LOCK`, and every PDFium
object is closed explicitly under that lock, so no garbage-collector finaliser calls into PDFium
from another thread. Callers hold the lock only while a page renders or its text is read, never
while the engine runs.

Coordinates: PDF user space is in points (1/72 inch), y up, relative to the page's boxes; the
"visual" page is the crop box turned by the page's ``/Rotate`` (clockwise, as viewers show it).
Pixels are those of the visual page rendered at some scale, y down, origin top-left.
"""

from __future__ import annotations

import ctypes
import io
import math
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from ctypes import c_double
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from .errors import PageTooLargeError, PDFEncryptedError, PDFInvalidError
from .types import Line

PDFIUM_LOCK = threading.RLock()

# Resolution for OCR. 300 dpi is the resolution OCR engines are tuned for on office documents
# (Tesseract's documentation asks for "at least 300 dpi"); a page made of one scanned image is
# rendered at that image's own resolution when it lies in [MIN_DPI, DEFAULT_DPI], as more pixels
# than the scan has add nothing. Pages too large for max_pixels at MIN_OCR_DPI are refused.
DEFAULT_DPI = 300.0
MIN_DPI = 200.0
MIN_OCR_DPI = 72.0  # below this, 10-point text is under 10 pixels tall: not worth reading
# The PDF specification limits page sides to 14,400 units (200 inches, ISO 32000-1 annex C.2).
MAX_PAGE_POINTS = 14_400.0
# Decompression-bomb guard for images inside a page (their pixels are decoded to render it):
# this many times the engine's pixel limit (a 1200 dpi A3 scan has 280 M pixels: refused at the
# default 40 M limit; a 600 dpi A4 scan has 35 M: fine).
IMAGE_PIXELS_FACTOR = 4
# Decompression-bomb guard for the content a page draws (its content streams and the forms they
# use): at most this many decoded bytes per page. Real pages hold kilobytes to a few megabytes
# (a dense CAD drawing some tens); a few hundred kilobytes of Flate data can inflate to gigabytes.
MAX_CONTENT_BYTES = 256 * 2**20


@contextmanager
def open_pdf(data: bytes, password: str | None = None) -> Iterator[pdfium.PdfDocument]:
    """Open PDF bytes with PDFium, closed on exit (under the lock).

    Raises PDFEncryptedError (password needed or wrong), PDFInvalidError (malformed, truncated,
    not a PDF, or zero pages)."""
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(bytes(data), password=password)
        except pdfium.PdfiumError as exc:
            raise _load_error(data, exc.err_code) from None
        try:  # before any page is loaded: filled form fields without appearance streams get drawn
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pdf.init_forms()
        except pdfium.PdfiumError:
            pass
        n = len(pdf)
    try:
        if n <= 0:
            raise PDFInvalidError("the PDF has no pages")
        yield pdf
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def _load_error(data: bytes, err_code: int) -> PDFEncryptedError | PDFInvalidError:
    """Why PDFium could not open ``data``, checked with qpdf (pikepdf): PDFium does not reset its
    last error on every failed load (a file with an empty page tree fails with the code of the
    previous failure, "incorrect password" after an encrypted file), so its code alone is not
    trusted."""
    import pikepdf

    pages: int | None = None
    try:
        with pikepdf.open(io.BytesIO(bytes(data))) as pdf:
            pages = len(pdf.pages)
    except pikepdf.PasswordError:
        return PDFEncryptedError("the PDF is encrypted; send it without a password (decrypted)")
    except Exception:
        pages = None
    if pages == 0:
        return PDFInvalidError("the PDF has no pages")
    if pages is None and b"/Encrypt" in data and err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
        return PDFEncryptedError("the PDF is encrypted with a security handler that cannot be read; send it decrypted")
    return PDFInvalidError("not a readable PDF (malformed or truncated)")


@dataclass(frozen=True)
class PageGeometry:
    """Where a page's pixels lie in its user space: crop box (points) and clockwise ``/Rotate``."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the crop box, points
    rotation: int  # 0, 90, 180 or 270

    @property
    def size(self) -> tuple[float, float]:
        """Visual width and height in points (the crop box turned by the rotation)."""
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return (h, w) if self.rotation in (90, 270) else (w, h)

    def to_pixels(self, x: float, y: float, width: int, height: int) -> tuple[float, float]:
        """User-space point -> pixel of the visual page rendered as ``width`` x ``height``."""
        x0, y0, x1, y1 = self.box
        vw, vh = self.size
        sx, sy = width / vw, height / vh
        r = self.rotation
        if r == 90:
            px, py = y - y0, x - x0
        elif r == 180:
            px, py = x1 - x, y - y0
        elif r == 270:
            px, py = y1 - y, x1 - x
        else:
            px, py = x - x0, y1 - y
        return px * sx, py * sy

    def to_user(self, px: float, py: float, width: int, height: int) -> tuple[float, float]:
        """Pixel of the visual page rendered as ``width`` x ``height`` -> user-space point."""
        x0, y0, x1, y1 = self.box
        vw, vh = self.size
        u, v = px * vw / width, py * vh / height
        r = self.rotation
        if r == 90:
            return x0 + v, y0 + u
        if r == 180:
            return x1 - u, y0 + v
        if r == 270:
            return x1 - v, y1 - u
        return x0 + u, y1 - v


def page_geometry(page: pdfium.PdfPage) -> PageGeometry:
    """Crop box (clipped to the media box, as PDFium does) and rotation of an open page (call under
    the lock)."""
    x0, y0, x1, y1 = page.get_cropbox()
    m0, n0, m1, n1 = page.get_mediabox()
    box = (max(min(x0, x1), min(m0, m1)), max(min(y0, y1), min(n0, n1)),
           min(max(x0, x1), max(m0, m1)), min(max(y0, y1), max(n0, n1)))
    if box[2] <= box[0] or box[3] <= box[1]:  # a crop box outside the media box: PDFium falls back to the media box
        box = (min(m0, m1), min(n0, n1), max(m0, m1), max(n0, n1))
    return PageGeometry(box, page.get_rotation() % 360)


def check_page_size(index: int, width_pt: float, height_pt: float, max_pixels: int) -> None:
    """Refuse a page that cannot be rendered at :data:`MIN_OCR_DPI` within ``max_pixels``, or whose
    side exceeds the PDF limit of 200 inches. ``index`` is 0-based. Raises PageTooLargeError."""
    page = index + 1
    if width_pt <= 0 or height_pt <= 0:
        raise PDFInvalidError(f"page {page} has an empty page box")
    side = max(width_pt, height_pt)
    if side > MAX_PAGE_POINTS:
        raise PageTooLargeError(f"page {page} is {width_pt / 72:.0f} x {height_pt / 72:.0f} inches; "
                                f"the limit is {MAX_PAGE_POINTS / 72:.0f} inches a side")
    pixels = (width_pt / 72 * MIN_OCR_DPI) * (height_pt / 72 * MIN_OCR_DPI)
    if pixels > max_pixels:
        raise PageTooLargeError(f"page {page} is {width_pt / 72:.0f} x {height_pt / 72:.0f} inches: "
                                f"more than {max_pixels:,} pixels even at {MIN_OCR_DPI:.0f} dpi")


def check_images(page: pdfium.PdfPage, index: int, max_pixels: int) -> None:
    """Refuse a page holding an image with more than IMAGE_PIXELS_FACTOR x ``max_pixels`` pixels
    (decompression bomb: PDFium decodes it whole to render the page). Call under the lock."""
    limit = IMAGE_PIXELS_FACTOR * max_pixels
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4):
        try:
            w, h = obj.get_px_size()
        except pdfium.PdfiumError:
            continue
        if w * h > limit:
            raise PageTooLargeError(f"page {index + 1} holds a {w}x{h} image ({w * h:,} pixels); the limit is {limit:,}")


def check_content_streams(data: bytes, numbers: list[int], limit: int = MAX_CONTENT_BYTES) -> None:
    """Refuse a page whose content streams (and the form XObjects they draw, four levels deep)
    inflate to more than ``limit`` bytes, counted with bounded zlib decompression of the
    ``/FlateDecode`` data (nothing is held but a 1 MiB window). ``numbers`` are 1-based.
    Raises PageTooLargeError; a file pikepdf cannot parse is left to PDFium's verdict."""
    import zlib

    import pikepdf

    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except Exception:
        return
    with pdf:
        pages = pdf.pages
        for number in numbers:
            try:
                page = pages[number - 1]
                streams = _page_streams(page.obj, depth=4)
            except Exception:
                continue
            total = 0
            for stream in streams:
                filters = stream.get("/Filter")
                names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)] if filters else []
                if names != ["/FlateDecode"]:
                    continue
                try:
                    raw = stream.read_raw_bytes()
                except Exception:
                    continue
                inflater = zlib.decompressobj()
                chunk = raw
                try:
                    while chunk and total <= limit:
                        total += len(inflater.decompress(chunk, 2**20))
                        chunk = inflater.unconsumed_tail
                except zlib.error:
                    continue
                if total > limit:
                    raise PageTooLargeError(f"page {number}'s content inflates to more than {limit // 2**20} MiB "
                                            "(decompression bomb)")


def _page_streams(obj, depth: int) -> list:
    """Content streams of a page or form dictionary and of the form XObjects in its resources."""
    import pikepdf

    out: list = []
    contents = obj.get("/Contents")
    if isinstance(contents, pikepdf.Stream):
        out.append(contents)
    elif isinstance(contents, pikepdf.Array):
        out.extend(c for c in contents if isinstance(c, pikepdf.Stream))
    if isinstance(obj, pikepdf.Stream):
        out.append(obj)
    resources = obj.get("/Resources")
    if depth > 0 and isinstance(resources, pikepdf.Dictionary):
        xobjects = resources.get("/XObject")
        if isinstance(xobjects, pikepdf.Dictionary):
            for _, xobj in xobjects.items():
                if isinstance(xobj, pikepdf.Stream) and xobj.get("/Subtype") == "/Form":
                    out.extend(_page_streams(xobj, depth - 1))
    return out


def image_dpi(page: pdfium.PdfPage, geometry: PageGeometry) -> float | None:
    """Resolution of the largest image if it covers most of the page (a scanned page), else None.
    Call under the lock."""
    vw, vh = geometry.size
    best: tuple[float, float] | None = None  # (covered area, dpi)
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        try:
            w, h = obj.get_px_size()
            left, bottom, right, top = obj.get_bounds()
        except pdfium.PdfiumError:
            continue
        bw, bh = right - left, top - bottom
        if bw <= 0 or bh <= 0 or w <= 0:
            continue
        area = bw * bh
        dpi = max(w, h) / (max(bw, bh) / 72)  # long side to long side: right for any multiple of 90 degrees
        if best is None or area > best[0]:
            best = (area, dpi)
    if best is None or best[0] < 0.5 * vw * vh:
        return None
    return best[1]


def choose_dpi(geometry: PageGeometry, max_pixels: int, scan_dpi: float | None = None,
               preferred: float = DEFAULT_DPI) -> float:
    """Render resolution for OCR: ``preferred`` (or a scanned page's own resolution within
    [MIN_DPI, preferred]), lowered so the rendered page stays within ``max_pixels``."""
    dpi = preferred if scan_dpi is None else min(preferred, max(MIN_DPI, scan_dpi))
    vw, vh = geometry.size
    cap = (max_pixels / ((vw / 72) * (vh / 72))) ** 0.5
    return float(min(dpi, cap * 0.999))


def render(page: pdfium.PdfPage, dpi: float) -> np.ndarray:
    """Render the visual page (crop box, ``/Rotate`` applied, annotations drawn) on white at
    ``dpi``: BGR uint8, shape (height, width, 3). Call under the lock."""
    bitmap = page.render(scale=dpi / 72.0, force_bitmap_format=pdfium_c.FPDFBitmap_BGR, draw_annots=True)
    try:
        return np.array(bitmap.to_numpy(), dtype=np.uint8, copy=True)
    finally:
        bitmap.close()


def rendered_size(page: pdfium.PdfPage, dpi: float) -> tuple[int, int]:
    """Pixel size :func:`render` gives the page at ``dpi`` (pypdfium2 rounds the rotated page size
    up). Call under the lock."""
    scale = dpi / 72.0
    return max(1, math.ceil(page.get_width() * scale)), max(1, math.ceil(page.get_height() * scale))


# Characters PDFium puts in extracted text: line breaks it generates, and a hyphen marker.
_BREAKS = {0x0A, 0x0D}
_HYPHEN = 0x02


def text_lines(page: pdfium.PdfPage, geometry: PageGeometry, width: int, height: int) -> list[Line]:
    """The page's own text (born-digital or an earlier OCR layer) as lines with boxes in the pixels
    of the visual page rendered as ``width`` x ``height``, in the order PDFium reads them.

    A line ends where PDFium starts a new one, and also at a horizontal gap wider than three line
    heights (table cells and columns that share a baseline). Confidence is 1.0. Call under the lock."""
    textpage = page.get_textpage()
    try:
        n = pdfium_c.FPDFText_CountChars(textpage.raw)
        lines: list[Line] = []
        chars: list[str] = []
        boxes: list[tuple[float, float, float, float]] = []
        rect = pdfium_c.FS_RECTF()

        def flush() -> None:
            text = "".join(chars).strip()
            if text and boxes:
                lines.append(_line(text, boxes, geometry, width, height))
            chars.clear()
            boxes.clear()

        for i in range(max(n, 0)):
            u = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
            if u in _BREAKS:
                flush()
                continue
            if u == _HYPHEN:
                u = 0x2D
            if u < 0x20 or 0xD800 <= u <= 0xDFFF or u in (0xFFFE, 0xFFFF) or u > 0x10FFFF:
                u = 0x20
            ch = chr(u)
            box = None
            if not ch.isspace() and pdfium_c.FPDFText_GetLooseCharBox(textpage.raw, i, rect):
                box = (rect.left, rect.bottom, rect.right, rect.top)
                if boxes:
                    gap = _gap(boxes[-1], box)
                    if gap > 3 * max(box[3] - box[1], boxes[-1][3] - boxes[-1][1]):
                        flush()
            chars.append(ch)
            if box is not None:
                boxes.append(box)
        flush()
        return lines
    finally:
        textpage.close()


_FIELD_TYPES = (pdfium_c.FPDF_FORMFIELD_TEXTFIELD, pdfium_c.FPDF_FORMFIELD_COMBOBOX)


def form_lines(pdf: pdfium.PdfDocument, page: pdfium.PdfPage, geometry: PageGeometry, width: int, height: int) -> list[Line]:
    """The values of the page's visible text fields and combo boxes (form data is not page text),
    one line each, boxed by the field's rectangle in the pixels of the visual page rendered as
    ``width`` x ``height``. Empty without forms. Call under the lock."""
    env = pdf.formenv
    if not env:
        return []
    out: list[Line] = []
    rect = pdfium_c.FS_RECTF()
    for i in range(max(pdfium_c.FPDFPage_GetAnnotCount(page.raw), 0)):
        annot = pdfium_c.FPDFPage_GetAnnot(page.raw, i)
        if not annot:
            continue
        try:
            if (pdfium_c.FPDFAnnot_GetSubtype(annot) != pdfium_c.FPDF_ANNOT_WIDGET
                    or pdfium_c.FPDFAnnot_GetFlags(annot) & pdfium_c.FPDF_ANNOT_FLAG_HIDDEN
                    or pdfium_c.FPDFAnnot_GetFormFieldType(env.raw, annot) not in _FIELD_TYPES):
                continue
            size = pdfium_c.FPDFAnnot_GetFormFieldValue(env.raw, annot, None, 0)
            if size <= 2 or not pdfium_c.FPDFAnnot_GetRect(annot, rect):
                continue
            buf = (ctypes.c_ushort * (size // 2))()
            pdfium_c.FPDFAnnot_GetFormFieldValue(env.raw, annot, buf, size)
            text = " ".join(bytes(buf).decode("utf-16-le", errors="replace").rstrip("\x00").split())
            if text:
                box = (min(rect.left, rect.right), min(rect.bottom, rect.top), max(rect.left, rect.right), max(rect.bottom, rect.top))
                out.append(_line(text, [box], geometry, width, height))
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return out


def unmapped_fraction(page: pdfium.PdfPage) -> float:
    """Share of the page's visible characters PDFium cannot map to Unicode (fonts without a
    ToUnicode map or a usable encoding: what they "extract" is glyph numbers, not text).
    0.0 for a page without text. Call under the lock."""
    textpage = page.get_textpage()
    try:
        n = pdfium_c.FPDFText_CountChars(textpage.raw)
        seen = bad = 0
        for i in range(max(n, 0)):
            u = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
            if u <= 0x20 or pdfium_c.FPDFText_IsGenerated(textpage.raw, i) == 1:
                continue
            seen += 1
            bad += pdfium_c.FPDFText_HasUnicodeMapError(textpage.raw, i) == 1
        return bad / seen if seen else 0.0
    finally:
        textpage.close()


def _gap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Horizontal distance between two user-space boxes (0 when they overlap)."""
    return max(0.0, b[0] - a[2], a[0] - b[2])


def _line(text: str, boxes: list[tuple[float, float, float, float]], geometry: PageGeometry,
          width: int, height: int) -> Line:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y1 = max(b[3] for b in boxes)
    pts = [geometry.to_pixels(x, y, width, height) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
    xs = [min(max(p[0], 0.0), width - 1.0) for p in pts]
    ys = [min(max(p[1], 0.0), height - 1.0) for p in pts]
    left, top, right, bottom = round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))
    return Line(text, 1.0, ((left, top), (right, top), (right, bottom), (left, bottom)))


def page_size_points(pdf: pdfium.PdfDocument, index: int) -> tuple[float, float]:
    """Width and height of a page in points without loading it (call under the lock)."""
    w, h = c_double(), c_double()
    if not pdfium_c.FPDF_GetPageSizeByIndex(pdf.raw, index, w, h):
        raise PDFInvalidError(f"page {index + 1} cannot be read")
    return float(w.value), float(h.value)
