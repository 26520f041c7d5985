"""The HTTP API (FastAPI) and the web page, as one ASGI app: wiring only.

    POST /api/ocr       multipart ``image`` | JSON ``{"image_base64"}`` | JSON ``{"s3_key"}`` | raw image body;
                        an image, or a PDF / multi-page TIFF (``pages``; ``output=pdf``: the searchable PDF)
    POST /api/uploads   presigned S3 PUT URL for images over the sync limit
    GET  /healthz       readiness, profile, precisions, CPU
    GET  /metrics       Prometheus text format
    GET  /docs          OpenAPI UI (assets served locally: works offline)
    GET  /              the web page (web/)

With a token configured (ocrservice.auth) ``/api/*`` and ``/metrics`` need ``Authorization: Bearer``;
with ``OCR_RATE_LIMIT`` (ocrservice.ratelimit) ``/api/*`` is limited per client.

``create_app()`` builds an app from :class:`ocrservice.config.Settings`; ``app`` is the
module-level instance ``uvicorn ocrservice.app:app`` serves. The engine loads once per process
(lazily, in the background) so the same app also works under Mangum, where the lifespan runs
per invocation. Routes: ocrservice.routes; shapes: ocrservice.schemas; errors:
ocrservice.errors. docs/api.md documents the contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from ocrcore import OCREngine, __version__

from . import routes
from .auth import AuthMiddleware, TokenChecker
from .config import Settings, load_settings
from .errors import install_handlers
from .middleware import RequestMiddleware
from .ratelimit import RateLimiter, RateLimitMiddleware, parse_limits
from .service import OCRService
from .uploads import Uploads


def create_app(settings: Settings | None = None, *, engine: OCREngine | None = None) -> FastAPI:
    """Build the app. ``engine`` injects an already loaded engine (tests, Lambda warm start)."""
    settings = settings or load_settings()
    service = OCRService(settings, engine=engine)
    uploads = Uploads(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.start_loading()  # idempotent (Lambda runs with the lifespan off)
        try:
            yield
        finally:
            service.shutdown()

    app = FastAPIOffline(
        title="OCR service",
        version=__version__,
        summary="Chinese + English OCR on CPU: PP-OCR models on ONNX Runtime.",
        description="Send an image, get its text lines with confidence and box. Errors are "
        '`{"success": false, "error": {"code", "message"}}` with the HTTP status. See docs/api.md.',
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.settings, app.state.service, app.state.metrics, app.state.uploads = settings, service, service.metrics, uploads
    install_handlers(app)
    app.include_router(routes.api)
    app.include_router(routes.ops)

    # ---- the web page
    web_dir: Path | None = settings.web_dir
    if web_dir is not None and (web_dir / "index.html").is_file():
        app.mount("/", StaticFiles(directory=str(web_dir), html=True), name="web")
    else:
        @app.get("/", include_in_schema=False)
        async def root() -> RedirectResponse:
            return RedirectResponse("/docs")

    # ---- middleware: CORS outermost so every response (errors included) carries its headers;
    # inside the request layer, the rate limit and then the token check (both before the body is read)
    app.state.auth = TokenChecker.from_settings(settings)
    app.add_middleware(AuthMiddleware, checker=app.state.auth, metrics=service.metrics)
    if settings.rate_limit:
        app.add_middleware(RateLimitMiddleware, limiter=RateLimiter(parse_limits(settings.rate_limit)),
                           metrics=service.metrics)
    app.add_middleware(RequestMiddleware, metrics=service.metrics, max_body=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins or ()),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "Retry-After"],
        max_age=600,
    )
    return app


def __getattr__(name: str):
    """``ocrservice.app:app`` is built on first access, so importing this module has no side effects."""
    if name == "app":
        value = create_app()
        globals()["app"] = value
        return value
    raise AttributeError(name)
