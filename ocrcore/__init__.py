"""ocrcore: CPU OCR for Chinese and English — PP-OCRv6 INT8 on ONNX Runtime with numba kernels.

    from ocrcore import OCREngine
    engine = OCREngine(profile="small")
    result = engine.ocr(open("invoice.jpg", "rb").read())
    for line in result.lines:
        print(line.text, line.confidence, line.box)
"""

from .engine import EngineConfig, OCREngine
from .errors import ImageTooLargeError, InvalidImageError, OCRError, UnsupportedImageError
from .models import ModelsMissingError
from .types import Line, OCRResult

__version__ = "0.1.0"

__all__ = [
    "EngineConfig",
    "ImageTooLargeError",
    "InvalidImageError",
    "Line",
    "ModelsMissingError",
    "OCREngine",
    "OCRError",
    "OCRResult",
    "UnsupportedImageError",
    "__version__",
]
