"""Service-level errors and the one JSON shape every error response has.

``{"success": false, "error": {"code": "...", "message": "..."}, "request_id": "..."}``
Engine errors (:class:`ocrcore.OCRError`) carry their own ``code``/``status``; this module adds
the ones only a service has (missing field, saturation, body too large, uploads off, ...).
"""

from __future__ import annotations

import json


class ApiError(Exception):
    """An error response: HTTP status, stable machine code, human message, optional headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "payload_too_large", f"request body is larger than the limit of {limit:,} bytes")


def error_body(code: str, message: str, request_id: str | None = None) -> dict:
    body: dict = {"success": False, "error": {"code": code, "message": message}}
    if request_id:
        body["request_id"] = request_id
    return body


def error_bytes(code: str, message: str, request_id: str | None = None) -> bytes:
    return json.dumps(error_body(code, message, request_id), ensure_ascii=False).encode()
