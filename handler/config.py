"""Service settings: every knob of the HTTP service, read from environment variables in one place.

The engine's own variables (``OCR_PROFILE``, ``OCR_PRECISION``, ``OCR_CLS``, ``OCR_ENHANCE``,
``OCR_MAX_PIXELS``, ``OCR_MODEL_DIR``) are read by :meth:`ocrcore.EngineConfig.from_env`; this
module adds the service's (host, port, pool, limits, cache, CORS, uploads) and decides the
thread split between the request pool and ONNX Runtime. docs/api.md has the full table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    return raw not in ("0", "false", "no", "off")


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    profile: str = "small"
    workers: int = 1  # OCR thread pool size (requests in the engine at once)
    threads: int = 1  # cores the engine computes on, shared by the workers (ocrcore.cores)
    max_bytes: int = 10 * MiB  # per image, after multipart/base64 unwrapping
    max_queue: int = 32  # OCR jobs admitted at once (running + waiting); more -> 503
    cache_entries: int = 256  # results kept by content hash + options; 0 disables
    cors_origins: tuple[str, ...] = ("*",)
    web_dir: Path | None = REPO_ROOT / "web"
    upload_bucket: str = ""
    upload_prefix: str = "uploads/"
    upload_expires: int = 900
    upload_max_bytes: int = 50 * MiB
    s3_endpoint_url: str = ""
    aws_region: str = "us-east-1"
    log_level: str = "info"
    version: str = field(default="")

    @property
    def max_body_bytes(self) -> int:
        """Whole request body cap: room for base64 (4/3) of a max-size image plus envelope."""
        return self.max_bytes * 4 // 3 + MiB

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Settings:
        e = dict(os.environ if env is None else env)
        cores = _cpu_count()
        workers = _int(e, "OCR_WORKERS", cores)
        if workers < 1:
            raise ValueError("OCR_WORKERS must be >= 1")
        # The engine's core budget, shared by every worker (ocrcore.cores): a lone request uses all
        # of it, concurrent requests split it, so workers x threads never oversubscribes.
        threads = _int(e, "OCR_THREADS", cores)
        origins = tuple(o.strip() for o in e.get("CORS_ORIGINS", "*").split(",") if o.strip())
        web = e.get("OCR_WEB_DIR", "").strip()
        prefix = e.get("OCR_UPLOAD_PREFIX", "uploads/").strip().lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        from ocrcore import __version__

        values: dict = {
            "host": e.get("HOST", "127.0.0.1").strip() or "127.0.0.1",
            "port": _int(e, "PORT", 8080),
            "profile": e.get("OCR_PROFILE", "small").strip() or "small",
            "workers": workers,
            "threads": threads,
            "max_bytes": _int(e, "OCR_MAX_BYTES", 10 * MiB),
            "max_queue": max(1, _int(e, "OCR_MAX_QUEUE", max(32, 8 * workers))),
            "cache_entries": max(0, _int(e, "OCR_CACHE_SIZE", 256)) if _bool(e, "OCR_CACHE", True) else 0,
            "cors_origins": origins,
            "web_dir": Path(web) if web else REPO_ROOT / "web",
            "upload_bucket": e.get("OCR_UPLOAD_BUCKET", "").strip(),
            "upload_prefix": prefix or "uploads/",
            "upload_expires": _int(e, "OCR_UPLOAD_EXPIRES", 900),
            "upload_max_bytes": _int(e, "OCR_UPLOAD_MAX_BYTES", 50 * MiB),
            "s3_endpoint_url": e.get("AWS_ENDPOINT_URL_S3", "").strip() or e.get("AWS_ENDPOINT_URL", "").strip(),
            "aws_region": e.get("AWS_REGION", "").strip() or e.get("AWS_DEFAULT_REGION", "").strip() or "us-east-1",
            "log_level": e.get("LOG_LEVEL", "info").strip().lower() or "info",
            "version": __version__,
        }
        values.update(overrides)
        return cls(**values)
