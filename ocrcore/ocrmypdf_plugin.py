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

import threading
from pathlib import Path
from typing import Any

from ocrmypdf import hookimpl
from ocrmypdf.hocrtransform import BoundingBox, OcrClass, OcrElement
from ocrmypdf.pluginspec import OcrEngine, OrientationConfidence
from PIL import Image

from . import __version__

TESSERACT_PLUGIN = "ocrmypdf.builtin_plugins.tesseract_ocr"
# What the models read; OCRmyPDF checks -l against this (its default -l is eng).
LANGUAGES = frozenset({"eng", "chi_sim", "chi_tra", "chi"})

_engine: Any = None
_engine_lock = threading.Lock()


def _get_engine():
    global _engine
    with _engine_lock:
        if _engine is None:
            from .engine import EngineConfig, OCREngine

            _engine = OCREngine(EngineConfig.from_env())
        return _engine


def page_element(lines, width: int, height: int, dpi: float, page_number: int) -> OcrElement:
    """An OCRmyPDF page tree from engine lines (``ocrcore.types.Line``, boxes in the image's pixels):
    one ``ocr_line`` per line, its words (split at spaces; a Chinese run without spaces is one
    word) spread over the line's box in proportion to their length."""
    children = []
    for line in lines:
        xs = [p[0] for p in line.box]
        ys = [p[1] for p in line.box]
        left, top, right, bottom = float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))
        words = line.text.split()
        total = sum(len(w) for w in words) + max(0, len(words) - 1)
        x = left
        word_elements = []
        for word in words:
            w = (right - left) * len(word) / max(total, 1)
            word_elements.append(OcrElement(ocr_class=OcrClass.WORD, text=word, confidence=float(line.confidence),
                                            bbox=BoundingBox(left=x, top=top, right=min(right, x + w), bottom=bottom)))
            x += w + (right - left) / max(total, 1)
        children.append(OcrElement(ocr_class=OcrClass.LINE, bbox=BoundingBox(left=left, top=top, right=right, bottom=bottom),
                                   children=word_elements))
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
        return OrientationConfidence(angle=0, confidence=0.0)  # page orientation: issue #11

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
