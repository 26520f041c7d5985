"""OCRmyPDF 17 plugin: this engine (PP-OCR, Chinese and English) instead of Tesseract.

    pip install 'ocrcore[ocrmypdf]'
    ocrmypdf --plugin ocrcore.ocrmypdf_plugin --output-type pdf scan.pdf scan.ocr.pdf

OCRmyPDF keeps doing what it does (rasterising each page, its own text-layer renderer, page
boxes, optimisation); per page it hands this plugin the rendered image and gets back an
``OcrElement`` tree (page -> lines -> words, boxes in that image's pixels) through the
``generate_ocr`` API that OCRmyPDF 17 added for engines other than Tesseract.

Tesseract is not needed at run time: the plugin blocks OCRmyPDF's built-in Tesseract plugin in
its ``initialize`` hook (that plugin would otherwise check for the ``tesseract`` program on every
run). Ghostscript is not needed either with ``--output-type pdf`` (OCRmyPDF rasterises with
pypdfium2 when Ghostscript is absent); PDF/A output still needs Ghostscript (docs/pdf.md).

The engine is built once per worker process from the ``OCR_*`` environment (OCR_PROFILE, ...).
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
from ocrmypdf import hookimpl
from ocrmypdf.hocrtransform import BoundingBox, OcrClass, OcrElement
from ocrmypdf.pluginspec import OcrEngine, OrientationConfidence
from PIL import Image

from . import __version__

TESSERACT_PLUGIN = "ocrmypdf.builtin_plugins.tesseract_ocr"
# What the models read; OCRmyPDF checks -l against this (its default -l is eng).
LANGUAGES = frozenset({"eng", "chi_sim", "chi_tra", "chi"})
# Reported with a page orientation the engine found (``--rotate-pages``): above OCRmyPDF's default
# ``--rotate-pages-threshold`` (14, on Tesseract's scale), so the engine's verdict is followed.
ORIENTATION_CONFIDENCE = 99.0

_engine: Any = None
_engine_lock = threading.Lock()


def _get_engine():
    global _engine
    with _engine_lock:
        if _engine is None:
            from .engine import EngineConfig, OCREngine

            _engine = OCREngine(EngineConfig.from_env())
        return _engine


def text_angle(box) -> float:
    """The direction a line's text runs, counter-clockwise degrees from the image's x axis (hOCR's
    ``textangle``), from its box (4 corners, corner 0 the text's top-left, corner 1 its top-right,
    as the engine gives them: ocrcore.types.Line), snapped to 0, 90, 180 or 270. A line less than
    45 degrees off one of those (skew) gets the nearest; OCRmyPDF's renderer places skewed lines
    by their axis-aligned box."""
    (x0, y0), (x1, y1) = box[0], box[1]
    angle = math.degrees(math.atan2(-(y1 - y0), x1 - x0))  # image y runs down
    return float(round(angle / 90.0) * 90 % 360)


def page_element(lines, width: int, height: int, dpi: float, page_number: int) -> OcrElement:
    """An OCRmyPDF page tree from engine lines (``ocrcore.types.Line``, boxes in the image's pixels):
    one ``ocr_line`` per line, its words (split at spaces; a Chinese run without spaces is one
    word) spread along the line's box in proportion to their length. A line of a page lying
    sideways or upside down gets its ``textangle`` (:func:`text_angle`), so the layer runs the way
    the text does."""
    children = []
    for line in lines:
        corners = np.asarray(line.box, dtype=np.float64)
        left, top = corners.min(axis=0)
        right, bottom = corners.max(axis=0)
        angle = text_angle(line.box)
        if angle == 0.0:  # upright: the axis-aligned box, whatever the detector's corner order
            corners = np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
        words = line.text.split()
        total = sum(len(w) for w in words) + max(0, len(words) - 1)
        word_elements = []
        start = 0
        for word in words:
            a, b = start / max(total, 1), min(1.0, (start + len(word)) / max(total, 1))
            quad = np.array([corners[0] + (corners[1] - corners[0]) * a, corners[0] + (corners[1] - corners[0]) * b,
                             corners[3] + (corners[2] - corners[3]) * b, corners[3] + (corners[2] - corners[3]) * a])
            (wl, wt), (wr, wb) = quad.min(axis=0), quad.max(axis=0)
            word_elements.append(OcrElement(ocr_class=OcrClass.WORD, text=word, confidence=float(line.confidence),
                                            bbox=BoundingBox(left=float(wl), top=float(wt), right=float(wr), bottom=float(wb))))
            start += len(word) + 1
        children.append(OcrElement(ocr_class=OcrClass.LINE,
                                   bbox=BoundingBox(left=float(left), top=float(top), right=float(right), bottom=float(bottom)),
                                   textangle=angle or None, children=word_elements))
    return OcrElement(ocr_class=OcrClass.PAGE, bbox=BoundingBox(left=0, top=0, right=width, bottom=height),
                      dpi=float(dpi), page_number=page_number, children=children)


class PPOCREngine(OcrEngine):
    """OCRmyPDF's view of :class:`ocrcore.OCREngine`."""

    @staticmethod
    def version() -> str:
        return __version__

    @staticmethod
    def creator_tag(options) -> str:
        return f"ocrcore {__version__} (PP-OCR on ONNX Runtime)"

    def __str__(self) -> str:
        return f"ocrcore {__version__}"

    @staticmethod
    def languages(options) -> set[str]:
        return set(LANGUAGES)

    @staticmethod
    def get_orientation(input_file: Path, options) -> OrientationConfidence:
        """The page's orientation as the engine finds it (ocrcore.orientation: clockwise turn of
        the text, 0/90/180/270, what OCRmyPDF's ``--rotate-pages`` undoes). The engine decides yes
        or no, without a score comparable to Tesseract's: a page with text lines is reported
        with :data:`ORIENTATION_CONFIDENCE`, one without with 0 (never turned)."""
        result = _get_engine().ocr(Path(input_file).read_bytes(), orient=True)
        return OrientationConfidence(angle=result.orientation, confidence=ORIENTATION_CONFIDENCE if result.lines else 0.0)

    @staticmethod
    def get_deskew(input_file: Path, options) -> float:
        return 0.0

    @staticmethod
    def supports_generate_ocr() -> bool:
        return True

    @staticmethod
    def generate_ocr(input_file: Path, options, page_number: int = 0) -> tuple[OcrElement, str]:
        with Image.open(input_file) as img:
            dpi_info = img.info.get("dpi", (300, 300))
            dpi = float(dpi_info[0] if isinstance(dpi_info, tuple) else dpi_info)
        result = _get_engine().ocr(Path(input_file).read_bytes())
        return page_element(result.lines, result.width, result.height, dpi, page_number), result.text

    @staticmethod
    def generate_hocr(input_file: Path, output_hocr: Path, output_text: Path, options) -> None:
        raise NotImplementedError("ocrcore produces OcrElement trees (generate_ocr), not hOCR")

    @staticmethod
    def generate_pdf(input_file: Path, output_pdf: Path, output_text: Path, options) -> None:
        raise NotImplementedError("ocrcore does not make sandwich PDFs; use OCRmyPDF's default renderer (fpdf2)")


@hookimpl
def initialize(plugin_manager) -> None:
    """Block the built-in Tesseract plugin: this engine replaces it, and its option checks would
    require the tesseract program."""
    plugin_manager.set_blocked(TESSERACT_PLUGIN)


@hookimpl
def register_options() -> dict[str, type]:
    """Keep the ``tesseract`` option group the Tesseract plugin would register: OCRmyPDF's option
    validation reads it whatever the engine (only its defaults are used; nothing runs Tesseract)."""
    from ocrmypdf.builtin_plugins.tesseract_ocr import TesseractOptions

    return {"tesseract": TesseractOptions}


@hookimpl
def get_ocr_engine(options) -> OcrEngine | None:
    if options is not None and getattr(options, "ocr_engine", "auto") not in ("auto", "ocrcore"):
        return None
    return PPOCREngine()
