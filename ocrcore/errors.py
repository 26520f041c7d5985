"""Typed engine errors. Each carries a stable ``code`` and the HTTP status a service should use."""

from __future__ import annotations


class OCRError(Exception):
    """Base class: bad input the caller can fix. Never raised for engine bugs."""

    code = "ocr_error"
    status = 400


class InvalidImageError(OCRError):
    """The bytes are not a decodable image (empty, corrupt, truncated, not an image)."""

    code = "invalid_image"
    status = 400


class UnsupportedImageError(OCRError):
    """A real image in a format or mode the engine does not read (e.g. GIF animation, PDF)."""

    code = "unsupported_media_type"
    status = 415


class ImageTooLargeError(OCRError):
    """Too many pixels (decompression-bomb guard) or too many bytes."""

    code = "image_too_large"
    status = 413


class DocumentError(OCRError):
    """A PDF or multi-page document the engine cannot process as sent (base of the errors below)."""

    code = "document_error"
    status = 422


class PDFEncryptedError(DocumentError):
    """The PDF is encrypted and no (or a wrong) password was given."""

    code = "pdf_encrypted"
    status = 422


class PDFInvalidError(DocumentError):
    """Malformed, truncated or empty PDF (no pages), or a TIFF frame that cannot be read."""

    code = "pdf_invalid"
    status = 422


class TooManyPagesError(DocumentError):
    """More pages selected than the caller allows (``max_pages``)."""

    code = "too_many_pages"
    status = 413


class PageTooLargeError(DocumentError):
    """A page too large to render at a readable resolution within the pixel limit (e.g. 200x200 inches),
    or an embedded image with more pixels than the decompression-bomb guard allows."""

    code = "page_too_large"
    status = 413


class PageRangeError(DocumentError):
    """A ``pages`` selection that does not parse (``"1-3,7"`` is the syntax) or names pages the document lacks."""

    code = "invalid_pages"
    status = 422
