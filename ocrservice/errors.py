"""Service-level errors and the one JSON shape every error response has.

``{"success": false, "error": {"code": "...", "message": "..."}, "request_id": "..."}``
Engine errors (:class:`ocrcore.OCRError`) carry their own ``code``/``status``; this module adds
the ones only a service has (missing field, saturation, body too large, uploads off, ...).
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ocrcore.errors import OCRError


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


def error_response(request: Request, status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error answer; also notes the code for the request's log line and metrics."""
    state = request.scope.setdefault("state", {})
    state.setdefault("log", {})["error"] = code
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.errors.labels(code=code).inc()
    return JSONResponse(error_body(code, message, state.get("request_id", "")), status_code=status, headers=headers)


def install_handlers(app: FastAPI) -> None:
    """Every error the app can raise -> the one JSON shape: service errors, engine errors
    (:class:`ocrcore.OCRError` carries its HTTP status), request validation (422, or 400 for
    malformed JSON), and Starlette's own 404/405."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(OCRError)
    async def _ocr_error(request: Request, exc: OCRError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, str(exc) or exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return error_response(request, 400, "invalid_json", "the body is not valid JSON")
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "body"))
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else err.get("msg", "invalid"))
        return error_response(request, 422, "invalid_parameter", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(request, exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))


async def send_error(scope, send, status: int, code: str, message: str, *,
                     headers: dict[str, str] | None = None, metrics=None) -> None:
    """The JSON error answer from a pure ASGI layer (auth, rate limit) that runs before the app:
    the same shape and bookkeeping as :func:`error_response` (log field, error counter)."""
    state = scope.setdefault("state", {})
    state.setdefault("log", {})["error"] = code
    if metrics is not None:
        metrics.errors.labels(code=code).inc()
    body = error_bytes(code, message, state.get("request_id", ""))
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
