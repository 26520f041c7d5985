"""``python -m ocrservice.serve`` (what ``make run`` runs): the API and the web page under uvicorn.

Reads ``HOST`` (default 127.0.0.1; containers set 0.0.0.0) and ``PORT`` (default 8080) plus the
rest of the environment documented in docs/api.md. One process, one engine; OCR concurrency comes
from the worker thread pool (``OCR_WORKERS``), not from uvicorn workers, so models load once.
Logs: uvicorn's own lines as usual, and one JSON line per API request on stderr (``ocr.access``).
"""

from __future__ import annotations

import errno
import logging
import socket
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


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when the host is one), before anything heavy
    loads: a busy port is a clear error at once, not an abort while the models load."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> int:
    reexec_with_malloc_tunables("ocrservice.serve", sys.argv[1:] if argv is None else argv)  # before heavy imports
    from ocrcore.config import ConfigError

    from .config import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        print(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"
              + (" (another server is running there: stop it or set PORT)" if exc.errno == errno.EADDRINUSE else ""),
              file=sys.stderr)
        return 2
    import uvicorn

    from .app import create_app

    try:
        app = create_app(settings)  # reads the API tokens (file, Secrets Manager)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if settings.host not in ("127.0.0.1", "::1", "localhost") and not app.state.auth.enabled:
        print(f"note: /api/* is open to anyone who can reach {settings.host}:{settings.port} "
              "(set OCR_API_TOKEN or OCR_API_TOKENS_FILE to require a token; docs/edge.md)", file=sys.stderr)
    app.state.service.start_loading()  # load models while uvicorn starts
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    print(
        f"OCR service: web page http://{shown}:{settings.port}/  API docs http://{shown}:{settings.port}/docs  "
        f"(profile {settings.profile}, {settings.workers} workers sharing {settings.threads or 'all'} cores)",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(
        app,
        log_config=log_config(settings.log_level),
        access_log=False,  # one JSON line per request comes from the app instead
        proxy_headers=True,
        timeout_keep_alive=15,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[sock])  # the app's lifespan shuts the service down
    logging.getLogger("ocr").info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
