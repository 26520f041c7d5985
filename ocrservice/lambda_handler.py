"""AWS Lambda entries of the container image (infra/Dockerfile, template.yaml).

    handler        HTTP: API Gateway REST (v1) and HTTP API (v2) events and Function URLs, through
                   mangum into the same FastAPI app that ``uvicorn ocrservice.app:app`` serves
    bulk_handler   SQS batches of S3 object-created events (ocrservice/bulk.py)

Everything slow happens at import, i.e. once per container in Lambda's init phase:

1. numba cache. The image bakes the compiled kernels read-only at ``NUMBA_CACHE_DIR``
   (/opt/numba-cache), but numba only uses a cache directory it can write to; so, before numba
   is imported, a non-writable cache is copied to /tmp/numba_cache (``OCR_NUMBA_CACHE_COPY``)
   and ``NUMBA_CACHE_DIR`` is pointed there. ``NUMBA_CPU_NAME`` defaults to ``generic``, as
   when the cache was built (numba's cache key includes the CPU name).
2. The engine: models loaded, kernels loaded from that cache, one warm-up inference per model.
3. The app with that engine injected, wrapped by mangum with ``lifespan="off"`` (mangum 0.22
   would run the lifespan's startup on every invocation).

So the first request never waits for a model load or a JIT compile.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time

log = logging.getLogger("ocr.lambda")

DEFAULT_CACHE_COPY = "/tmp/numba_cache"


def _writable(path: str) -> bool:
    """What numba checks: can a file be created in the directory?"""
    try:
        with tempfile.TemporaryFile(dir=path):
            return True
    except OSError:
        return False


def prepare_numba_cache(env=None, copy_to: str | None = None, writable=_writable) -> str:
    """Make ``NUMBA_CACHE_DIR`` a writable directory holding the baked cache; returns it.

    Must run before ``numba`` is imported (numba reads the variables at import and binds each
    kernel's cache location when its module is imported).
    """
    env = os.environ if env is None else env
    env.setdefault("NUMBA_CPU_NAME", "generic")
    target = copy_to or env.get("OCR_NUMBA_CACHE_COPY") or DEFAULT_CACHE_COPY
    baked = env.get("NUMBA_CACHE_DIR", "")
    if baked and os.path.isdir(baked) and writable(baked):
        return baked  # a normal machine: use it in place
    if "numba" in sys.modules:
        log.warning("numba was imported before the cache was prepared: kernels may compile at run time")
    if baked and os.path.isdir(baked) and os.path.abspath(baked) != os.path.abspath(target):
        shutil.copytree(baked, target, dirs_exist_ok=True, copy_function=shutil.copyfile)
        # copytree keeps the directories' read-only modes, and numba skips a cache directory it
        # cannot write to (it would compile instead): make the copy ours
        for root, _dirs, _files in os.walk(target):
            os.chmod(root, 0o755)
    else:
        os.makedirs(target, exist_ok=True)  # nothing baked: numba compiles into /tmp once
    env["NUMBA_CACHE_DIR"] = target
    return target


_t0 = time.perf_counter()
NUMBA_CACHE_DIR = prepare_numba_cache()
_t_cache = time.perf_counter() - _t0

# Only now anything that imports numba.
from mangum import Mangum

from ocrcore import OCREngine

from . import bulk
from .app import create_app
from .config import load_settings

SETTINGS = load_settings()  # a bad variable fails the init with a message naming it
if not logging.getLogger().handlers:  # outside Lambda (tests, local runs)
    logging.basicConfig(level=logging.INFO)
logging.getLogger("ocr").setLevel(SETTINGS.log_level.upper())

_t1 = time.perf_counter()
ENGINE = OCREngine(SETTINGS.engine_config())
_t_engine = time.perf_counter() - _t1

app = create_app(SETTINGS, engine=ENGINE)
handler = Mangum(app, lifespan="off")

BULK_SETTINGS = bulk.BulkSettings.from_settings(SETTINGS)
_s3 = None


def _s3_client():
    """The bulk handler's S3 client (created on first use; honours AWS_ENDPOINT_URL_S3)."""
    global _s3
    if _s3 is None:
        import boto3
        from botocore.config import Config

        _s3 = boto3.client("s3", config=Config(retries={"max_attempts": 5, "mode": "standard"}))
    return _s3


def bulk_handler(event: dict, context) -> dict:
    """SQS event source with ReportBatchItemFailures: returns ``{"batchItemFailures": [...]}``."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return bulk.handle_event(event, ENGINE, _s3_client(), BULK_SETTINGS, remaining)


INIT_TIMINGS = {
    "numba_cache": round(_t_cache, 3),
    "engine": round(_t_engine, 3),
    "total": round(time.perf_counter() - _t0, 3),
}
log.info(
    "lambda init: profile=%s threads=%d numba_cache=%s %s",
    ENGINE.config.profile, SETTINGS.threads, NUMBA_CACHE_DIR, INIT_TIMINGS,
)
