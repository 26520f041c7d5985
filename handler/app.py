"""The HTTP API (FastAPI) and the web page, as one ASGI app.

    POST /api/ocr       multipart ``image`` | JSON ``{"image_base64"}`` | JSON ``{"s3_key"}`` | raw image body
    POST /api/uploads   presigned S3 PUT URL for images over the sync limit
    GET  /healthz       readiness, profile, version
    GET  /metrics       Prometheus text format
    GET  /docs          OpenAPI UI
    GET  /              the web page (web/)

``create_app()`` builds an app from :class:`handler.config.Settings` (environment variables);
``app`` is the module-level instance ``uvicorn handler.app:app`` serves. The engine loads once
per process (lazily, in the background) so the same app also works under Mangum, where the
lifespan runs per invocation. docs/api.md documents the contract.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ocrcore import OCREngine, OCRError, OCRResult, __version__
from ocrcore.host import cpu_info

from .config import Settings
from .errors import ApiError, error_body
from .metrics import Metrics
from .middleware import RequestMiddleware
from .service import OCRService
from .uploads import Uploads

log = logging.getLogger("ocr.app")


# ---------------------------------------------------------------------- OpenAPI models (docs only)


class LineOut(BaseModel):
    text: str = Field(examples=["北京市朝阳区建国路88号"])
    confidence: float = Field(examples=[0.987], description="0..1, mean of the character probabilities")
    box: list[list[int]] = Field(
        examples=[[[12, 30], [410, 30], [410, 62], [12, 62]]],
        description="four [x, y] points clockwise from top-left, in pixels of the (EXIF-rotated) image",
    )


class OCRResponse(BaseModel):
    success: bool = True
    text: list[LineOut]
    processing_time: float = Field(description="server seconds for this request")
    width: int
    height: int
    request_id: str
    cached: bool = Field(description="true when served from the result cache")
    timings: dict[str, float] = Field(description="engine seconds per stage (empty when cached)")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_image"])
    message: str


class ErrorResponse(BaseModel):
    success: bool = False
    error: ErrorDetail
    request_id: str | None = None


class OCRJson(BaseModel):
    image_base64: str | None = Field(None, description="the image bytes, base64 (a data: URL prefix is accepted)")
    s3_key: str | None = Field(None, description="key returned by POST /api/uploads, after the PUT")


class UploadRequest(BaseModel):
    content_type: str | None = Field(None, examples=["image/jpeg"], description="signed into the URL if given")
    filename: str | None = None


class UploadResponse(BaseModel):
    success: bool = True
    upload_url: str
    s3_key: str
    expires_in: int
    method: str = "PUT"
    headers: dict[str, str]
    max_bytes: int


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": desc}
    for code, desc in {
        400: "not an image, corrupt or truncated, bad base64 or JSON",
        413: "too many bytes or too many pixels",
        415: "unsupported image format or request content type",
        422: "missing or misnamed field, bad query parameter",
        503: "server saturated (retry after the Retry-After seconds) or engine not loaded",
    }.items()
}

_OCR_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {"image": {"type": "string", "format": "binary"}},
                }
            },
            "application/json": {"schema": OCRJson.model_json_schema()},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

# ---------------------------------------------------------------------- helpers


def _request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")


def _error_response(request: Request, status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    st = request.scope.setdefault("state", {})
    st.setdefault("log", {})["error"] = code
    metrics: Metrics | None = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.errors.inc(code=code)
    return JSONResponse(error_body(code, message, _request_id(request)), status_code=status, headers=headers)


def _decode_base64(value: Any) -> bytes:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "missing_field", "image_base64 must be a non-empty base64 string")
    s = value.strip()
    if s.startswith("data:"):
        _, _, s = s.partition(",")
    try:
        return base64.b64decode("".join(s.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_base64", "image_base64 is not valid base64") from None


async def _read_image(request: Request, service: OCRService, uploads: Uploads) -> tuple[bytes, str]:
    """The image bytes from whichever body form the client used, and a word for the log."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        try:
            form = await request.form(max_files=4, max_fields=16)
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001 - malformed multipart
            raise ApiError(400, "invalid_multipart", f"could not parse the multipart body: {exc}") from None
        try:
            part = form.get("image")
            if part is None:
                got = ", ".join(repr(k) for k in form) or "none"
                raise ApiError(
                    422, "missing_field",
                    f"multipart field 'image' is required (received fields: {got}); e.g. curl -F image=@photo.jpg",
                )
            if not isinstance(part, UploadFile):
                raise ApiError(
                    422, "missing_field",
                    "field 'image' must be a file part, not a text field; e.g. curl -F image=@photo.jpg",
                )
            return await part.read(), "multipart"
        finally:
            await form.close()
    if ctype in ("application/json", "text/json") or ctype.endswith("+json"):
        raw = await request.body()
        try:
            payload = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise ApiError(422, "missing_field", 'expected a JSON object: {"image_base64": "..."} or {"s3_key": "..."}')
        if payload.get("image_base64") is not None:
            return _decode_base64(payload["image_base64"]), "base64"
        if payload.get("s3_key") is not None:
            key = uploads.check_key(payload["s3_key"])
            return await run_in_threadpool(uploads.fetch, key), "s3"
        got = ", ".join(repr(k) for k in payload) or "none"
        raise ApiError(422, "missing_field", f"JSON body needs 'image_base64' or 's3_key' (received keys: {got})")
    if ctype.startswith("image/") or ctype == "application/octet-stream":
        return await request.body(), "raw"
    if not ctype:
        raise ApiError(
            415, "unsupported_media_type",
            "missing Content-Type: send multipart/form-data with field 'image', JSON {\"image_base64\"} or an image/* body",
        )
    raise ApiError(
        415, "unsupported_media_type",
        f"request Content-Type {ctype!r} is not accepted: send multipart/form-data, application/json or image/*",
    )


def _result_body(result: OCRResult, request: Request, cached: bool) -> dict:
    body = {"success": True, **result.to_dict()}
    body["processing_time"] = round(time.perf_counter() - request.scope["state"]["t0"], 4)
    body["request_id"] = _request_id(request)
    body["cached"] = cached
    body["timings"] = {} if cached else {k: round(v, 4) for k, v in result.timings.items()}
    return body


# ---------------------------------------------------------------------- the app


def create_app(settings: Settings | None = None, *, engine: OCREngine | None = None) -> FastAPI:
    """Build the app. ``engine`` injects an already loaded engine (tests, Lambda warm start)."""
    settings = settings or Settings.from_env()
    service = OCRService(settings, engine=engine)
    metrics = service.metrics
    uploads = Uploads(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        service.start_loading()  # idempotent: Mangum runs the lifespan per invocation
        yield

    app = FastAPI(
        title="OCR service",
        version=__version__,
        summary="Chinese + English OCR on CPU: PP-OCR models on ONNX Runtime.",
        description="Send an image, get its text lines with confidence and box. Errors are "
        '`{"success": false, "error": {"code", "message"}}` with the HTTP status. See docs/api.md.',
        lifespan=lifespan,
    )
    app.state.settings, app.state.service, app.state.metrics, app.state.uploads = settings, service, metrics, uploads

    # ---- errors: one JSON shape for all of them
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error_response(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(OCRError)
    async def _ocr_error(request: Request, exc: OCRError):
        return _error_response(request, exc.status, exc.code, str(exc) or exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return _error_response(request, 400, "invalid_json", "the body is not valid JSON")
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "body"))
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else err.get("msg", "invalid"))
        return _error_response(request, 422, "invalid_parameter", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error_response(request, exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    # ---- routes
    @app.post(
        "/api/ocr",
        response_model=OCRResponse,
        responses=_ERRORS,
        openapi_extra=_OCR_BODY,
        summary="OCR one image",
        tags=["ocr"],
    )
    async def api_ocr(
        request: Request,
        detect: bool = Query(True, description="false: the image is one text line (skip detection)"),
        cls: bool | None = Query(
            None, description="run the 0/180 line-orientation classifier (default: the server's OCR_CLS, off)"
        ),
    ) -> JSONResponse:
        data, source = await _read_image(request, service, uploads)
        info = request.scope["state"]["log"]
        info.update(source=source, bytes=len(data))
        limit = settings.upload_max_bytes if source == "s3" else settings.max_bytes
        if len(data) > limit:
            raise ApiError(413, "image_too_large", f"image is {len(data):,} bytes; the limit is {limit:,}")
        metrics.image_bytes.observe(len(data))
        no_cache = "no-cache" in request.headers.get("cache-control", "").lower()
        result, cached = await service.ocr(data, detect=detect, cls=cls, use_cache=not no_cache)
        metrics.lines.inc(len(result.lines))
        info.update(lines=len(result.lines), width=result.width, height=result.height, cached=cached)
        if not cached:
            info.update({k: round(v, 4) for k, v in result.timings.items()})
        return JSONResponse(_result_body(result, request, cached))

    @app.post(
        "/api/uploads",
        response_model=UploadResponse,
        responses={k: v for k, v in _ERRORS.items() if k in (415, 422)}
        | {501: {"model": ErrorResponse, "description": "uploads not configured (no OCR_UPLOAD_BUCKET)"}},
        summary="Presigned S3 PUT URL for a large image",
        tags=["ocr"],
    )
    async def api_uploads(request: Request, body: UploadRequest | None = None) -> JSONResponse:
        body = body or UploadRequest()
        out = await run_in_threadpool(uploads.presign, body.content_type, body.filename)
        request.scope["state"]["log"]["s3_key"] = out["s3_key"]
        return JSONResponse({"success": True, **out})

    @app.api_route("/api/ocr", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    @app.api_route("/api/uploads", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def _wrong_method(request: Request) -> JSONResponse:
        # Without this the web mount at "/" would answer 404 for a known path with the wrong method.
        return _error_response(
            request, 405, "method_not_allowed", f"use POST for {request.url.path}", headers={"Allow": "POST"}
        )

    @app.get("/healthz", summary="Readiness and build info", tags=["ops"])
    async def healthz() -> JSONResponse:
        engine_ = service.engine_or_none
        cpu = cpu_info()
        body = {
            "status": "ok" if engine_ else ("error" if service.load_error else "loading"),
            "ready": engine_ is not None,
            "version": __version__,
            "profile": engine_.config.profile if engine_ else settings.profile,
            "precisions": dict(engine_.precisions) if engine_ else {},
            "precision_reasons": dict(engine_.precision_choice.reasons) if engine_ else {},
            "cpu": cpu.model,
            "isa": cpu.isa_label,
            "cls_default": engine_.config.use_cls if engine_ else None,
            "workers": settings.workers,
            "threads": engine_.cores.size if engine_ else settings.threads,
            "max_queue": settings.max_queue,
            "max_bytes": settings.max_bytes,
            "max_pixels": engine_.config.max_pixels if engine_ else None,
            "cache": {"entries": len(service.cache), "max_entries": settings.cache_entries},
            "uploads": uploads.enabled,
            "upload_max_bytes": settings.upload_max_bytes if uploads.enabled else None,
            "in_progress": service.admitted,
            "uptime": round(time.time() - service.started_at, 1),
        }
        if service.load_error:
            body["error"] = service.load_error
        return JSONResponse(body, status_code=200 if engine_ else 503)

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics", tags=["ops"])
    async def metrics_endpoint() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    # ---- the web page
    web_dir: Path | None = settings.web_dir
    if web_dir is not None and (web_dir / "index.html").is_file():
        app.mount("/", StaticFiles(directory=str(web_dir), html=True), name="web")
    else:
        @app.get("/", include_in_schema=False)
        async def root() -> RedirectResponse:
            return RedirectResponse("/docs")

    # ---- middleware: CORS outermost so every response (errors included) carries its headers
    app.add_middleware(RequestMiddleware, metrics=metrics, max_body=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "Retry-After"],
        max_age=600,
    )
    return app


def __getattr__(name: str):
    """``handler.app:app`` is built on first access, so importing this module has no side effects."""
    if name == "app":
        value = create_app()
        globals()["app"] = value
        return value
    raise AttributeError(name)
