"""``python -m handler.serve`` (what ``make run`` runs): the API and the web page under uvicorn.

Reads ``HOST`` (default 127.0.0.1; containers set 0.0.0.0) and ``PORT`` (default 8080) plus the
rest of the environment documented in docs/api.md. One process, one engine; OCR concurrency comes
from the worker thread pool (``OCR_WORKERS``), not from uvicorn workers, so models load once.
Logs: uvicorn's own lines as usual, and one JSON line per API request on stderr (``ocr.access``).
"""

from __future__ import annotations

import logging
import os
import sys

from ocrcore.runtime import reexec_with_malloc_tunables  # light: no model or web imports


def log_config(level: str) -> dict:
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s", "use_colors": None},
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"format": "%(message)s"},
        },
        "handlers": {
            "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
            "plain": {"formatter": "plain", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
            "json": {"formatter": "json", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "ocr": {"handlers": ["plain"], "level": level, "propagate": False},
            "ocr.access": {"handlers": ["json"], "level": level, "propagate": False},
        },
    }


def main(argv: list[str] | None = None) -> int:
    reexec_with_malloc_tunables("handler.serve", sys.argv[1:] if argv is None else argv)  # before heavy imports
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.getcwd(), ".cache", "numba"))
    import uvicorn

    from .app import create_app
    from .config import Settings

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)
    app.state.service.start_loading()  # load models while uvicorn binds
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    print(
        f"OCR service: web page http://{shown}:{settings.port}/  API docs http://{shown}:{settings.port}/docs  "
        f"(profile {settings.profile}, {settings.workers} workers x {settings.threads} threads)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=log_config(settings.log_level),
        access_log=False,  # one JSON line per request comes from the app instead
        proxy_headers=True,
        timeout_keep_alive=15,
        timeout_graceful_shutdown=10,
    )
    logging.getLogger("ocr").info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
