"""Documents: PDF files and multi-page TIFFs, OCRed page by page; searchable PDF out.

    from ocrcore import OCREngine
    from ocrcore.document import ocr_document, searchable_pdf
    doc = ocr_document(engine, open("scan.pdf", "rb").read(), pages="1-3,7")
    for page in doc.pages:
        print(page.page, page.source, page.result.text)
    open("scan.ocr.pdf", "wb").write(searchable_pdf(data, doc))

Pages are rendered with PDFium (ocrcore.pdf_read) one at a time, so a long document never holds
more than one rendered page. A page that already has a text layer (born-digital, or OCRed before)
is not OCRed: its text is extracted with the same line structure, unless ``force_ocr`` (a scanned
page whose only text is a stamp or a page number, under MIN_LAYER_CHARS characters, and a page
whose fonts do not map to Unicode are OCRed). Every
refusal is a typed :class:`~ocrcore.errors.OCRError` raised before any page is rendered where the
file allows it: encrypted, malformed or truncated, zero pages, a bad ``pages`` selection, more than
``max_pages`` pages, a page too large to render, an embedded image that is a decompression bomb.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdfium2 import PdfiumError

from . import pdf_read
from .decode import decode_image, pil_to_bgr
from .errors import (
    DocumentError,
    ImageTooLargeError,
    InvalidImageError,
    PageRangeError,
    PageTooLargeError,
    PDFEncryptedError,
    PDFInvalidError,
    TooManyPagesError,
)
from .types import OCRResult

if TYPE_CHECKING:
    from .engine import OCREngine

__all__ = [
    "DEFAULT_MAX_PAGES",
    "DocumentError",
    "DocumentResult",
    "PDFEncryptedError",
    "PDFInvalidError",
    "PageRangeError",
    "PageResult",
    "PageTooLargeError",
    "TooManyPagesError",
    "is_multipage_tiff",
    "is_pdf",
    "iter_document",
    "ocr_document",
    "parse_page_spec",
    "searchable_pdf",
]

DEFAULT_MAX_PAGES = 100
# A scanned page (one image over most of it) with fewer characters of text than this is OCRed even
# though it has text: a stamp, a page number or a Bates number is not a text layer of the scan.
MIN_LAYER_CHARS = 20
# A page whose text is more than this share of characters PDFium cannot map to Unicode (subset
# fonts without a ToUnicode map, common in Chinese PDFs) is OCRed: its "text" would be garbage.
MAX_UNMAPPED = 0.1
_PDF_SIGNATURE = b"%PDF-"
_IMAGE_SIGNATURES = (b"\xff\xd8", b"\x89PNG", b"GIF8", b"II*\x00", b"MM\x00*", b"BM", b"RIFF")


@dataclass(frozen=True)
class PageResult:
    """One page of a document.

    ``width`` x ``height`` are the pixels of the image the boxes refer to (the page rendered at
    ``dpi``, or the image itself, ``dpi`` None). ``source`` is ``"ocr"`` or ``"text_layer"`` (the
    page's own text, extracted). ``orientation``: the rotation found
    on the page as rendered (ocrcore.orientation; 0 for extracted text layers)."""

    page: int  # 1-based
    width: int
    height: int
    dpi: float | None
    source: str
    orientation: int
    result: OCRResult

    def to_dict(self) -> dict:
        return {"page": self.page, "width": self.width, "height": self.height,
                "dpi": None if self.dpi is None else round(self.dpi, 2), "source": self.source,
                "orientation": self.orientation, "text": [line.to_dict() for line in self.result.lines]}


@dataclass(frozen=True)
class DocumentResult:
    """The pages processed (in the order asked), the document's page count and its kind:
    ``"pdf"``, ``"tiff"`` (several frames) or ``"image"`` (one image)."""

    pages: tuple[PageResult, ...]
    page_count: int
    kind: str

    @property
    def text(self) -> str:
        """Every page's text, pages separated by a form feed (as pdftotext does)."""
        return "\f".join(p.result.text for p in self.pages)


def is_pdf(data: bytes) -> bool:
    """True when the bytes start like a PDF file (``%PDF-``, allowing up to 1 KiB of leading junk,
    as readers do; never for bytes that start like an image)."""
    head = bytes(data[:1024])
    if head.startswith(_IMAGE_SIGNATURES):
        return False
    return _PDF_SIGNATURE in head


def is_multipage_tiff(data: bytes) -> bool:
    """True for a TIFF with more than one frame (page)."""
    if data[:4] not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return False
    try:
        with Image.open(io.BytesIO(data)) as img:
            return int(getattr(img, "n_frames", 1)) > 1
    except Exception:
        return False


def parse_page_spec(spec: str | None, page_count: int) -> list[int]:
    """``"1-3,7"`` -> ``[1, 2, 3, 7]``: 1-based pages, ascending, each once. ``None`` or ``""``
    means every page; ``"5-"`` is page 5 to the end. Raises PageRangeError for bad syntax, an
    empty or reversed range, or a page beyond ``page_count``."""
    if spec is None or not spec.strip():
        return list(range(1, page_count + 1))
    chosen: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            raise PageRangeError(f"empty item in pages={spec!r}; use e.g. 1-3,7")
        lo_s, dash, hi_s = part.partition("-")
        try:
            lo = int(lo_s)
            hi = (int(hi_s) if hi_s.strip() else page_count) if dash else lo
        except ValueError:
            raise PageRangeError(f"cannot read {part!r} in pages={spec!r}; use e.g. 1-3,7") from None
        if lo < 1 or hi < lo:
            raise PageRangeError(f"bad page range {part!r}: pages count from 1 and ranges go upwards")
        if hi > page_count:
            raise PageRangeError(f"page {hi} asked for, but the document has {page_count} page(s)")
        chosen.update(range(lo, hi + 1))
    return sorted(chosen)


def _select(spec: str | None, page_count: int, max_pages: int) -> list[int]:
    selected = parse_page_spec(spec, page_count)
    if len(selected) > max_pages:
        raise TooManyPagesError(f"{len(selected)} pages selected; the limit is {max_pages} per request "
                                "(choose pages with pages=, or use the bulk path)")
    return selected


def iter_document(
    engine: OCREngine,
    data: bytes,
    *,
    pages: str | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    force_ocr: bool = False,
    on_page: Callable[[PageResult], None] | None = None,
    on_image: Callable[[PageResult, np.ndarray], None] | None = None,
    **ocr_kwargs: Any,
) -> Iterator[PageResult]:
    """Yield one :class:`PageResult` per selected page, rendering and OCRing lazily.

    ``data`` is a PDF, a TIFF (every frame a page) or any single image the engine reads.
    ``ocr_kwargs`` go to :meth:`OCREngine.ocr`. ``on_page`` is called with each result;
    ``on_image`` with each result and its page image (BGR uint8, ``(height, width, 3)``) just
    before the image is dropped (text-layer pages are rendered only for it). The whole file is
    checked (open, page count, selection, page sizes, embedded images) before the first page is
    rendered; errors are typed :class:`~ocrcore.errors.OCRError`s raised at the first ``next``.
    Close the iterator (or exhaust it) to release the document."""
    for _count, page in _page_iter(_kind(data), engine, data, pages, max_pages, force_ocr, on_image, ocr_kwargs):
        if on_page is not None:
            on_page(page)
        yield page


def ocr_document(
    engine: OCREngine,
    data: bytes,
    *,
    pages: str | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    force_ocr: bool = False,
    on_page: Callable[[PageResult], None] | None = None,
    on_image: Callable[[PageResult, np.ndarray], None] | None = None,
    **ocr_kwargs: Any,
) -> DocumentResult:
    """OCR every selected page of a PDF, TIFF or image (see :func:`iter_document`) into a
    :class:`DocumentResult`. Raises the errors of :func:`iter_document`."""
    kind = _kind(data)
    counts: list[int] = []
    results: list[PageResult] = []
    it = _page_iter(kind, engine, data, pages, max_pages, force_ocr, on_image, ocr_kwargs)
    for count, page in it:
        counts.append(count)
        results.append(page)
        if on_page is not None:
            on_page(page)
    return DocumentResult(tuple(results), counts[0] if counts else 0, kind)


def _kind(data: bytes) -> str:
    return "pdf" if is_pdf(data) else ("tiff" if is_multipage_tiff(data) else "image")


def _page_iter(kind: str, engine: OCREngine, data: bytes, spec: str | None, max_pages: int, force_ocr: bool,
               on_image: Callable[[PageResult, np.ndarray], None] | None,
               ocr_kwargs: dict[str, Any]) -> Iterator[tuple[int, PageResult]]:
    """(page count, result) per selected page."""
    if kind == "pdf":
        return _pdf_pages(engine, data, spec, max_pages, force_ocr, on_image, ocr_kwargs)
    if kind == "tiff":
        return _tiff_pages(engine, data, spec, max_pages, on_image, ocr_kwargs)
    return _image_pages(engine, data, spec, max_pages, on_image, ocr_kwargs)


# ---------------------------------------------------------------------------------------------- PDF


def _pdf_pages(engine: OCREngine, data: bytes, spec: str | None, max_pages: int, force_ocr: bool,
               on_image: Callable[[PageResult, np.ndarray], None] | None,
               ocr_kwargs: dict[str, Any]) -> Iterator[tuple[int, PageResult]]:
    max_pixels = engine.config.max_pixels
    with pdf_read.open_pdf(data) as pdf:
        count = len(pdf)
        selected = _select(spec, count, max_pages)
        pdf_read.check_content_streams(data, selected)
        with pdf_read.PDFIUM_LOCK:  # every check before the first render
            for number in selected:
                pdf_read.check_page_size(number - 1, *pdf_read.page_size_points(pdf, number - 1), max_pixels)
            for number in selected:
                page = _load_page(pdf, number)
                try:
                    pdf_read.check_images(page, number - 1, max_pixels)
                except PdfiumError as exc:
                    raise PDFInvalidError(f"page {number} cannot be read: {exc}") from None
                finally:
                    page.close()
        for number in selected:
            t0 = time.perf_counter()
            image: np.ndarray | None = None
            with pdf_read.PDFIUM_LOCK:
                page = _load_page(pdf, number)
                try:
                    geometry = pdf_read.page_geometry(page)
                    scan_dpi = pdf_read.image_dpi(page, geometry)
                    dpi = pdf_read.choose_dpi(geometry, max_pixels, scan_dpi)
                    width, height = pdf_read.rendered_size(page, dpi)
                    lines = [] if force_ocr else _own_text(pdf, page, geometry, scan_dpi, width, height)
                    if not lines or on_image is not None:
                        image = pdf_read.render(page, dpi)
                        height, width = image.shape[:2]
                except PdfiumError as exc:
                    raise PDFInvalidError(f"page {number} cannot be rendered: {exc}") from None
                finally:
                    page.close()
            t_render = time.perf_counter() - t0
            if lines:
                result = OCRResult(tuple(lines), width, height, {"extract": t_render, "total": t_render})
                source = "text_layer"
            else:
                assert image is not None
                result = engine.ocr(image, **ocr_kwargs)
                result.timings["render"] = t_render
                source = "ocr"
            page_result = PageResult(number, width, height, dpi, source, result.orientation, result)
            if on_image is not None and image is not None:
                on_image(page_result, image)
            del image
            yield count, page_result


def _own_text(pdf, page, geometry: pdf_read.PageGeometry, scan_dpi: float | None, width: int, height: int) -> list:
    """The page's own text as lines (boxes in ``width`` x ``height`` pixels), or [] when the page
    should be OCRed: no text; a scan whose only text is a stamp or page number (the render shows
    both); text whose fonts give glyph numbers rather than characters. Filled-in form fields are no
    page text: their values join the lines, top to bottom. Call under the lock."""
    lines = pdf_read.text_lines(page, geometry, width, height)
    if scan_dpi is not None and sum(len("".join(x.text.split())) for x in lines) < MIN_LAYER_CHARS:
        return []
    if not lines or pdf_read.unmapped_fraction(page) > MAX_UNMAPPED:
        return []
    fields = pdf_read.form_lines(pdf, page, geometry, width, height)
    return sorted(lines + fields, key=lambda x: x.box[0][1]) if fields else lines


def _load_page(pdf, number: int):
    try:
        return pdf[number - 1]
    except Exception as exc:
        raise PDFInvalidError(f"page {number} cannot be read: {exc}") from None


# --------------------------------------------------------------------------------------- TIFF, image


def _tiff_pages(engine: OCREngine, data: bytes, spec: str | None, max_pages: int,
                on_image: Callable[[PageResult, np.ndarray], None] | None,
                ocr_kwargs: dict[str, Any]) -> Iterator[tuple[int, PageResult]]:
    max_pixels = engine.config.max_pixels
    try:
        img: Image.Image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
        raise InvalidImageError(f"could not read the TIFF: {exc}") from None
    with img:
        try:
            count = int(getattr(img, "n_frames", 1))
        except Exception as exc:
            raise InvalidImageError(f"corrupt TIFF (its page list cannot be read): {exc}") from None
        selected = _select(spec, count, max_pages)
        for number in selected:  # sizes from the headers, before any pixel is decoded
            _seek(img, number)
            w, h = img.size
            if w * h > max_pixels:
                raise ImageTooLargeError(f"TIFF page {number} is {w}x{h} = {w * h:,} pixels; the limit is {max_pixels:,}")
        for number in selected:
            _seek(img, number)
            try:
                img.load()
                frame = ImageOps.exif_transpose(img) or img
                array = pil_to_bgr(frame)
            except Exception as exc:
                raise InvalidImageError(f"corrupt or truncated TIFF page {number}: {exc}") from None
            result = engine.ocr(array, **ocr_kwargs)
            page_result = PageResult(number, result.width, result.height, None, "ocr", result.orientation, result)
            if on_image is not None:
                on_image(page_result, array)
            del array
            yield count, page_result


def _seek(img: Image.Image, number: int) -> None:
    try:
        img.seek(number - 1)
    except Exception as exc:
        raise InvalidImageError(f"corrupt TIFF: page {number} cannot be read: {exc}") from None


def _image_pages(engine: OCREngine, data: bytes, spec: str | None, max_pages: int,
                 on_image: Callable[[PageResult, np.ndarray], None] | None,
                 ocr_kwargs: dict[str, Any]) -> Iterator[tuple[int, PageResult]]:
    _select(spec, 1, max_pages)
    array = decode_image(data, engine.config.max_pixels)
    result = engine.ocr(array, **ocr_kwargs)
    page_result = PageResult(1, result.width, result.height, None, "ocr", result.orientation, result)
    if on_image is not None:
        on_image(page_result, array)
    yield 1, page_result


# ------------------------------------------------------------------------------------ searchable PDF


def searchable_pdf(data: bytes, doc: DocumentResult) -> bytes:
    """A searchable PDF of ``doc``: for PDF input, the pages processed, untouched, each OCRed page
    with an invisible text layer on its lines; for image or TIFF input, the images as pages
    (JPEG and CCITT data kept as they are) with the layer. See :mod:`ocrcore.pdf_text_layer`."""
    from .pdf_text_layer import write_searchable_pdf

    return write_searchable_pdf(data, doc)
