"""ocrcore: CPU OCR for Chinese and English — PP-OCRv6 on ONNX Runtime.

    from ocrcore import OCREngine
    engine = OCREngine(profile="small")
    result = engine.ocr(open("invoice.jpg", "rb").read())
    for line in result.lines:
        print(line.text, line.confidence, line.box)

The names below are imported on first use, so ``import ocrcore.runtime`` (what the service
does before re-executing itself) or ``ocr --help`` does not load ONNX Runtime and OpenCV.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "EngineConfig": ".engine",
    "OCREngine": ".engine",
    "ImageTooLargeError": ".errors",
    "InvalidImageError": ".errors",
    "OCRError": ".errors",
    "UnsupportedImageError": ".errors",
    "ModelsMissingError": ".models",
    "Line": ".types",
    "OCRResult": ".types",
    "Constraint": ".vocab",
    "VocabularyError": ".vocab",
}

__all__ = [*sorted(_EXPORTS), "__version__"]

if TYPE_CHECKING:
    from .engine import EngineConfig as EngineConfig
    from .engine import OCREngine as OCREngine
    from .errors import ImageTooLargeError as ImageTooLargeError
    from .errors import InvalidImageError as InvalidImageError
    from .errors import OCRError as OCRError
    from .errors import UnsupportedImageError as UnsupportedImageError
    from .models import ModelsMissingError as ModelsMissingError
    from .types import Line as Line
    from .types import OCRResult as OCRResult
    from .vocab import Constraint as Constraint
    from .vocab import VocabularyError as VocabularyError


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
