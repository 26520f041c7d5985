"""PDF and multi-page TIFF requests: which uploads are documents, the work done in a worker
thread, and the JSON of a document's result, shared by the HTTP API and the bulk handler.

The rendering, OCR per page, text-layer extraction and the searchable PDF are
:mod:`ocrcore.document`'s; this module only adapts them to the service: the page previews the
web page shows (chromium has no PDF renderer without pdf.js), and one dict shape for
``POST /api/ocr`` (ocrservice.schemas.DocumentResponse) and the bulk results JSON.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # imported where used: PDFium loads only when a document comes
    from ocrcore import OCREngine
    from ocrcore.document import DocumentResult, PageResult

# Page previews for the web page: small enough to ship one per page in the JSON (a 1024 px JPEG
# at quality 70 of an A4 text page is 23-65 KB as a data URL; docs/api.md), large enough to see
# the boxes.
PREVIEW_MAX_SIDE = 1024
PREVIEW_QUALITY = 70


def is_document(data: bytes) -> bool:
    """Bytes that go through :func:`ocrcore.document.ocr_document`: a PDF (any ``%PDF-`` header,
    broken ones included, so they get the PDF errors) or a multi-page TIFF (its header chain
    walked, no pixel decoded). Single images keep the image path and its answer."""
    from ocrcore.document import is_multipage_tiff, is_pdf

    return is_pdf(data) or is_multipage_tiff(data)


def preview_data_url(image: np.ndarray, max_side: int = PREVIEW_MAX_SIDE, quality: int = PREVIEW_QUALITY) -> str:
    """A BGR uint8 page image (H, W, 3) -> ``data:image/jpeg;base64,...``, its longest side at most
    ``max_side`` pixels (aspect kept, so the page's boxes scale onto it)."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w, 1))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise RuntimeError("JPEG encoding of a page preview failed")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


@dataclass(frozen=True)
class DocumentEntry:
    """A document's result as the cache keeps it: the engine's result and, if asked, the previews
    (1-based page number -> data URL)."""

    result: DocumentResult
    previews: dict[int, str] | None = None

    @property
    def timings(self) -> dict[str, float]:
        """Engine seconds per stage, summed over the pages."""
        total: dict[str, float] = {}
        for page in self.result.pages:
            for stage, seconds in page.result.timings.items():
                total[stage] = total.get(stage, 0.0) + seconds
        return total

    @property
    def page_timings(self) -> list[dict[str, float]]:
        """Engine seconds per stage of each page (a text-layer page has only ``total``, or none)."""
        return [page.result.timings for page in self.result.pages]

    @property
    def line_count(self) -> int:
        return sum(len(page.result.lines) for page in self.result.pages)


def run_document(engine: OCREngine, data: bytes, *, pages: str | None, max_pages: int, force_ocr: bool,
                 previews: bool = False, on_page: Callable[[PageResult], None] | None = None,
                 **ocr_kwargs: Any) -> DocumentEntry:
    """OCR a document, page by page (blocking: call it from a worker thread).

    Raises the :class:`ocrcore.document.DocumentError` subclasses (encrypted, invalid, too many
    pages, page too large, bad ``pages``) and the engine's :class:`ocrcore.errors.OCRError`."""
    from ocrcore.document import ocr_document

    kwargs: dict[str, Any] = dict(ocr_kwargs)
    shown: dict[int, str] = {}
    if previews:  # encoded as each page is done: the page image itself is not kept
        kwargs["on_image"] = lambda page, image: shown.__setitem__(page.page, preview_data_url(image))
    if on_page is not None:
        kwargs["on_page"] = on_page
    doc = ocr_document(engine, data, pages=pages, max_pages=max_pages, force_ocr=force_ocr, **kwargs)
    return DocumentEntry(doc, shown if previews else None)


def page_dict(page: PageResult, preview: str | None = None) -> dict[str, Any]:
    """One :class:`ocrcore.document.PageResult` as the API's ``pages[i]`` (plus its preview)."""
    out: dict[str, Any] = page.to_dict()
    if preview is not None:
        out["preview"] = preview
    return out


def document_dict(entry: DocumentEntry, previews: bool = False) -> dict[str, Any]:
    """The document part of the JSON answer: ``kind``, ``page_count``, ``pages`` (with their
    previews if asked and made) and ``text`` (every line of the returned pages in page order,
    each with its ``page``)."""
    doc = entry.result
    shown = (entry.previews or {}) if previews else {}
    pages = [page_dict(p, shown.get(p.page)) for p in doc.pages]
    return {
        "kind": doc.kind,
        "page_count": doc.page_count,
        "pages": pages,
        "text": [{**line, "page": p["page"]} for p in pages for line in p["text"]],
    }


def wants_pdf(output: str | None, accept: str) -> bool:
    """``output=pdf``, or (no ``output``) an ``Accept`` header preferring ``application/pdf`` to
    JSON: a ``q`` above 0 and at least that of ``application/json`` (``*/*`` alone means JSON)."""
    if output is not None:
        return output == "pdf"
    q: dict[str, float] = {}
    for part in accept.lower().split(","):
        kind, *params = (x.strip() for x in part.split(";"))
        weight = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    weight = float(param[2:])
                except ValueError:
                    weight = 0.0
        q[kind] = max(q.get(kind, 0.0), weight)
    pdf = q.get("application/pdf", 0.0)
    return pdf > 0 and pdf >= q.get("application/json", 0.0)
