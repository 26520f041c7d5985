"""Service settings: every environment variable of the service, one validated model.

:class:`Settings` extends the engine's :class:`ocrcore.config.EngineSettings` with the HTTP
service's, the uploads', the bulk handler's and the process's variables, so one object describes
a deployment and the engine is built from it (:meth:`Settings.engine_config`). Read it with
:func:`load_settings`: a malformed value or a typo'd name stops the start with a message naming
the variable. The README's configuration table is generated from this model
(``python -m ocrservice.config --markdown``; a test checks the README against it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from ocrcore.config import ConfigError, EngineSettings, env, load
from ocrcore.host import usable_cores

REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


class Settings(EngineSettings):
    """The service's configuration. Fields left ``None`` are derived in :meth:`_derive`."""

    host: str = Field("127.0.0.1", validation_alias=env("HOST"), description="bind address; `0.0.0.0` in containers")
    port: int = Field(8080, ge=1, le=65535, validation_alias=env("PORT"), description="port")
    workers: int | None = Field(
        None, ge=1, validation_alias=env("OCR_WORKERS"), json_schema_extra={"shown_default": "number of cores"},
        description="images in the engine at once (request thread pool); they share `OCR_THREADS` cores")
    max_bytes: int = Field(
        10 * MiB, gt=0, validation_alias=env("OCR_MAX_BYTES"), json_schema_extra={"shown_default": "`10485760` (10 MiB)"},
        description="largest image in a request (413 beyond)")
    max_pages: int = Field(
        100, ge=1, validation_alias=env("OCR_MAX_PAGES"),
        description="most PDF/TIFF pages OCRed in one request (413 `too_many_pages` beyond; bulk has its own)")
    max_queue: int | None = Field(
        None, ge=1, validation_alias=env("OCR_MAX_QUEUE"), json_schema_extra={"shown_default": "`max(32, 8 × workers)`"},
        description="images in progress (running + waiting) before 503")
    cache: bool = Field(True, validation_alias=env("OCR_CACHE"), description="`0` turns the result cache off")
    cache_size: int = Field(
        256, ge=0, validation_alias=env("OCR_CACHE_SIZE"),
        description="results kept (LRU, by SHA-256 of the bytes + `detect` + `cls` + `orient` + the vocabulary constraint)")
    cors_origins: Annotated[tuple[str, ...] | None, NoDecode] = Field(
        None, validation_alias=env("CORS_ORIGINS"),
        json_schema_extra={"shown_default": "the page's own origin only when the app serves it (`OCR_WEB_DIR`), else `*`"},
        description="comma-separated origins allowed to call the API from a browser (`*`: any)")
    api_token: SecretStr | None = Field(
        None, validation_alias=env("OCR_API_TOKEN"),
        description="bearer token required on `/api/*` and `/metrics` (`Authorization: Bearer ...`); unset = open")
    api_tokens_file: Path | None = Field(
        None, validation_alias=env("OCR_API_TOKENS_FILE"),
        description="file of accepted tokens, one per line (`#` comments); with `OCR_API_TOKEN` both are accepted")
    api_token_secret: str = Field(
        "", validation_alias=env("OCR_API_TOKEN_SECRET"),
        description="AWS Secrets Manager secret (id or ARN) holding the token(s), read once at start (Lambda's `AuthMode=token`)")
    rate_limit: str = Field(
        "", validation_alias=env("OCR_RATE_LIMIT"),
        description="requests per client address on `/api/*`, e.g. `30/minute;300/hour` (429 + `Retry-After` beyond); "
                    "unset = off (the edge box's `ocr.env` sets it)")
    web_dir: Path | None = Field(
        REPO_ROOT / "web", validation_alias=env("OCR_WEB_DIR"), json_schema_extra={"shown_default": "`web/` of the repo"},
        description="the static page served at `/`")
    upload_bucket: str = Field(
        "", validation_alias=env("OCR_UPLOAD_BUCKET"), json_schema_extra={"shown_default": "unset"},
        description="S3 bucket for large uploads (`POST /api/uploads`); unset = off (501)")
    upload_prefix: str = Field(
        "uploads/", validation_alias=env("OCR_UPLOAD_PREFIX"), description="key prefix of uploads; only keys under it are read")
    upload_expires: int = Field(900, gt=0, validation_alias=env("OCR_UPLOAD_EXPIRES"), description="seconds a presigned URL is valid")
    upload_max_bytes: int = Field(
        50 * MiB, gt=0, validation_alias=env("OCR_UPLOAD_MAX_BYTES"), json_schema_extra={"shown_default": "`52428800` (50 MiB)"},
        description="largest uploaded object OCRed")
    s3_endpoint_url: str = Field(
        "", validation_alias=env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"), json_schema_extra={"shown_default": "unset"},
        description="custom S3 endpoint (moto in tests, MinIO, ...)")
    aws_region: str = Field(
        "us-east-1", validation_alias=env("AWS_REGION", "AWS_DEFAULT_REGION"), description="region for S3")
    bulk_results_prefix: str = Field(
        "results/", validation_alias=env("OCR_BULK_RESULTS_PREFIX"), description="bulk: where `<key>.json` results go")
    bulk_errors_prefix: str = Field(
        "errors/", validation_alias=env("OCR_BULK_ERRORS_PREFIX"), description="bulk: where failures are reported")
    bulk_max_bytes: int = Field(
        50 * MiB, gt=0, validation_alias=env("OCR_BULK_MAX_BYTES"), json_schema_extra={"shown_default": "`52428800` (50 MiB)"},
        description="bulk: larger objects fail (and are reported) instead of filling memory")
    bulk_max_pages: int = Field(
        1000, ge=1, validation_alias=env("OCR_BULK_MAX_PAGES"),
        description="bulk: most pages of one PDF/TIFF (processed page by page; more fail and are reported)")
    bulk_max_attempts: int = Field(
        0, ge=0, validation_alias=env("OCR_BULK_MAX_ATTEMPTS"),
        description="bulk: the queue's maxReceiveCount, for the error document's `final` flag (0 = unknown)")
    bulk_reserve_ms: int = Field(
        5000, ge=0, validation_alias=env("OCR_BULK_RESERVE_MS"),
        description="bulk: no new message is started with less than this (or 2x the slowest) left")
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", validation_alias=env("LOG_LEVEL"), description="`debug` also logs health checks and static files")
    malloc_tune: bool = Field(
        True, validation_alias=env("OCR_MALLOC_TUNE"),
        description="the service restarts itself once with glibc malloc tunables that return inference memory "
                    "to the system (docs/performance.md); `0`, or a `GLIBC_TUNABLES` of your own, turns it off")
    numba_cache_dir: str = Field(
        "", validation_alias=env("NUMBA_CACHE_DIR"), json_schema_extra={"shown_default": "`.cache/numba` (`make`)"},
        description="where numba compiles its kernels to (only `OCR_ENHANCE=binarize` uses one); must be writable")
    numba_cache_copy: str = Field(
        "/tmp/numba_cache", validation_alias=env("OCR_NUMBA_CACHE_COPY"),
        description="Lambda: a read-only baked `NUMBA_CACHE_DIR` is copied here at init")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @field_validator("api_token", "api_tokens_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from .ratelimit import parse_limits

        parse_limits(value)  # ValueError names the malformed limit
        return value.strip()

    @field_validator("upload_prefix", "bulk_results_prefix", "bulk_errors_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip().lstrip("/")
        return value if not value or value.endswith("/") else value + "/"

    @field_validator("web_dir", mode="before")
    @classmethod
    def _web_dir(cls, value: Any) -> Any:
        return REPO_ROOT / "web" if value in ("", None) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        """Defaults that depend on the machine or on other settings."""
        workers = self.workers or usable_cores()
        object.__setattr__(self, "workers", workers)
        if self.max_queue is None:
            object.__setattr__(self, "max_queue", max(32, 8 * workers))
        if self.cors_origins is None:  # same-origin only when the page is ours; no CORS headers needed for it
            served = self.web_dir is not None and (self.web_dir / "index.html").is_file()
            object.__setattr__(self, "cors_origins", () if served else ("*",))
        if not self.upload_prefix:
            object.__setattr__(self, "upload_prefix", "uploads/")
        return self

    @property
    def cache_entries(self) -> int:
        """Results the cache keeps (0 when ``OCR_CACHE=0``)."""
        return self.cache_size if self.cache else 0

    @property
    def max_body_bytes(self) -> int:
        """Whole request body cap: room for base64 (4/3) of a max-size image plus envelope."""
        return self.max_bytes * 4 // 3 + MiB

    @property
    def version(self) -> str:
        from ocrcore import __version__

        return __version__

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """:func:`load_settings` (kept for callers of the former dataclass)."""
        return load_settings(env, **overrides)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """The service's settings from ``environ`` (default: the process environment) and keyword
    overrides; :class:`ocrcore.config.ConfigError` names each bad variable."""
    return load(Settings, environ, **overrides)


def markdown_table() -> str:
    """The README's configuration table: every variable, its default and what it does."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = list(alias.choices) if alias is not None and hasattr(alias, "choices") else [name.upper()]
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if "shown_default" in extra:
            default = str(extra["shown_default"])
        elif isinstance(info.default, bool):
            default = f"`{int(info.default)}`"
        elif info.default in ("", None):
            default = "unset"
        else:
            default = f"`{info.default}`"
        rows.append(f"| {' / '.join(f'`{n}`' for n in names)} | {default} | {info.description} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ocrservice.config",
                                 description="Check the environment's settings, or print the README's table.")
    ap.add_argument("--markdown", action="store_true", help="print the configuration table (README)")
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown_table())
        return 0
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    for name in Settings.model_fields:
        print(f"{name} = {getattr(settings, name)!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
