"""The routes: ``/api/*`` (OCR, presigned uploads) and ``/healthz``, ``/metrics``.

Handlers are thin: the body is read by a dependency (ocrservice.body), the work is the
service's (ocrservice.service), the answer is a declared response model (ocrservice.schemas),
which FastAPI validates. Everything they need is on ``request.app.state`` (ocrservice.app).
"""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ocrcore import __version__
from ocrcore.host import cpu_info

from . import documents
from .auth import caller_identity
from .body import ImageInput, read_image, read_upload_request
from .errors import ApiError, error_response
from .metrics import CONTENT_TYPE
from .schemas import (
    ERROR_RESPONSES,
    OCR_BODY,
    OCR_PDF_RESPONSE,
    UPLOAD_BODY,
    UPLOAD_RESPONSES,
    BlockOut,
    DocumentResponse,
    HealthResponse,
    LineOut,
    OCRResponse,
    UploadRequest,
    UploadResponse,
)

api = APIRouter(tags=["ocr"])
ops = APIRouter(tags=["ops"])


@api.post("/api/ocr", response_model=OCRResponse | DocumentResponse, responses={**OCR_PDF_RESPONSE, **ERROR_RESPONSES},
          openapi_extra=OCR_BODY, summary="OCR one image, or a PDF / multi-page TIFF")
async def api_ocr(
    request: Request,
    image: ImageInput = Depends(read_image),
    detect: bool = Query(True, description="false: the image is one text line (skip detection)"),
    cls: bool | None = Query(None, description="run the 0/180 line-orientation classifier (default: the server's OCR_CLS, off)"),
    pages: str | None = Query(None, max_length=200, examples=["1-3,7"],
                              description="PDF/TIFF: the pages to OCR, 1-based (default: all, up to OCR_MAX_PAGES)"),
    force_ocr: bool = Query(False, description="PDF: OCR born-digital pages too instead of reading their text layer"),
    output: Literal["json", "pdf"] | None = Query(
        None, description="`pdf`: answer with the searchable PDF (also `Accept: application/pdf`); default JSON"),
    previews: bool = Query(False, description="PDF/TIFF JSON: each page also as a small JPEG data URL (`pages[].preview`)"),
    allowlist: str | None = Query(None, description="only these characters may be read, e.g. 0123456789.- (docs/vocabulary.md)"),
    blocklist: str | None = Query(None, description="characters never read"),
    pattern: str | None = Query(None, description="regular expression each line must match, e.g. [京沪粤][A-Z][A-Z0-9]{5,6}"),
    hotwords: str | None = Query(None, description="terms to prefer, comma- or newline-separated, each optionally term:weight"),
    words: bool = Query(False, description="true: each line also has `words`, its words and characters with boxes"),
    orient: bool | None = Query(None, description="find the page's orientation (0/90/180/270) and skew and read it upright "
                                "(default: the server's OCR_ORIENT, on)"),
) -> OCRResponse | DocumentResponse | Response:
    state = request.app.state
    settings, service, metrics = state.settings, state.service, state.metrics
    info = request.scope["state"]["log"]
    info.update(source=image.source, bytes=len(image.data))
    limit = settings.upload_max_bytes if image.source == "s3" else settings.max_bytes
    if len(image.data) > limit:
        raise ApiError(413, "image_too_large", f"image is {len(image.data):,} bytes; the limit is {limit:,}")
    metrics.image_bytes.observe(len(image.data))
    use_cache = "no-cache" not in request.headers.get("cache-control", "").lower()
    asked = {"allowlist": allowlist, "blocklist": blocklist, "pattern": pattern, "hotwords": hotwords}
    vocabulary = {k: v if v is not None else image.fields.get(k) for k, v in asked.items()}
    want_pdf = documents.wants_pdf(output, request.headers.get("accept", ""))
    # a TIFF's frame count walks its header chain (no pixel decoded): off the event loop all the same
    if want_pdf or await run_in_threadpool(documents.is_document, image.data):
        return await _api_document(request, image, detect=detect, cls=cls, pages=pages, force_ocr=force_ocr,
                                   want_pdf=want_pdf, previews=previews, use_cache=use_cache, vocabulary=vocabulary,
                                   orient=orient, words=words)
    result, cached = await service.ocr(image.data, detect=detect, cls=cls, use_cache=use_cache, vocabulary=vocabulary,
                                       words=words, orient=orient)
    metrics.lines.inc(len(result.lines))
    info.update(lines=len(result.lines), width=result.width, height=result.height, cached=cached)
    if not cached:
        info.update({k: round(v, 4) for k, v in result.timings.items()})
    return OCRResponse(
        text=[LineOut(**line.to_dict()) for line in result.lines],
        processing_time=round(time.perf_counter() - request.scope["state"]["t0"], 4),
        width=result.width,
        height=result.height,
        orientation=result.orientation,
        skew=result.skew,
        request_id=request.scope["state"].get("request_id", ""),
        cached=cached,
        timings={} if cached else {k: round(v, 4) for k, v in result.timings.items()},
        blocks=[BlockOut(**b.to_dict()) for b in result.blocks],
    )


async def _api_document(request: Request, image: ImageInput, *, detect: bool, cls: bool | None, pages: str | None,
                        force_ocr: bool, want_pdf: bool, previews: bool, use_cache: bool,
                        vocabulary: dict[str, str | None], orient: bool | None,
                        words: bool = False) -> DocumentResponse | Response:
    """A PDF or multi-page TIFF (or any image with ``output=pdf``): JSON with ``pages``, or the searchable PDF."""
    from ocrcore.document import searchable_pdf

    state = request.app.state
    info = request.scope["state"]["log"]
    entry, cached = await state.service.document(image.data, detect=detect, cls=cls, pages=pages, force_ocr=force_ocr,
                                                 previews=previews and not want_pdf, use_cache=use_cache,
                                                 vocabulary=vocabulary, orient=orient, words=words)
    doc = entry.result
    state.metrics.lines.inc(entry.line_count)
    info.update(kind=doc.kind, pages=len(doc.pages), page_count=doc.page_count, lines=entry.line_count, cached=cached)
    if want_pdf:
        pdf = await run_in_threadpool(searchable_pdf, image.data, doc)
        info.update(output="pdf", pdf_bytes=len(pdf))
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": 'inline; filename="searchable.pdf"', "Vary": "Accept"})
    timings = {} if cached else {k: round(v, 4) for k, v in entry.timings.items()}
    return DocumentResponse(
        **documents.document_dict(entry, previews=previews),
        processing_time=round(time.perf_counter() - request.scope["state"]["t0"], 4),
        request_id=request.scope["state"].get("request_id", ""),
        cached=cached,
        timings=timings,
    )


@api.post("/api/uploads", response_model=UploadResponse, summary="Presigned S3 PUT URL for a large image",
          responses=UPLOAD_RESPONSES, openapi_extra=UPLOAD_BODY)
async def api_uploads(request: Request, body: UploadRequest = Depends(read_upload_request)) -> UploadResponse:
    out = await run_in_threadpool(request.app.state.uploads.presign, body.content_type, body.filename,
                                  size=body.size, identity=caller_identity(request.scope))
    request.scope["state"]["log"]["s3_key"] = out["s3_key"]
    return UploadResponse(**out)


@api.api_route("/api/ocr", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
@api.api_route("/api/uploads", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def wrong_method(request: Request) -> Response:
    # Without this the web mount at "/" would answer 404 for a known path with the wrong method.
    return error_response(request, 405, "method_not_allowed", f"use POST for {request.url.path}", headers={"Allow": "POST"})


@ops.get("/healthz", response_model=HealthResponse, summary="Readiness and build info",
         responses={503: {"model": HealthResponse, "description": "engine loading or failed to load"}})
async def healthz(request: Request, response: Response) -> HealthResponse:
    state = request.app.state
    settings, service, uploads = state.settings, state.service, state.uploads
    engine = service.engine_or_none
    cpu = cpu_info()
    response.status_code = 200 if engine else 503
    return HealthResponse(
        status="ok" if engine else ("error" if service.load_error else "loading"),
        ready=engine is not None,
        version=__version__,
        profile=engine.config.profile if engine else settings.profile,
        precisions=dict(engine.precisions) if engine else {},
        precision_reasons=dict(engine.precision_choice.reasons) if engine else {},
        cpu=cpu.model,
        isa=cpu.isa_label,
        cls_default=engine.config.use_cls if engine else None,
        workers=settings.workers,
        threads=engine.cores.size if engine else (settings.threads or cpu.cores),
        max_queue=settings.max_queue,
        max_bytes=settings.max_bytes,
        max_pixels=engine.config.max_pixels if engine else None,
        cache={"entries": len(service.cache), "max_entries": settings.cache_entries},
        uploads=uploads.enabled,
        upload_max_bytes=settings.upload_max_bytes if uploads.enabled else None,
        in_progress=service.admitted,
        uptime=round(time.time() - service.started_at, 1),
        error=service.load_error,
    )


@ops.get("/metrics", summary="Prometheus metrics", response_class=Response,
         responses={200: {"content": {"text/plain": {}}, "description": "Prometheus exposition format"}})
async def metrics_endpoint(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
