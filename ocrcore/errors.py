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
