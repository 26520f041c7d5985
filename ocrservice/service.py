"""The OCR service behind the HTTP routes: engine lifecycle, worker pool, admission, result cache.

- The engine loads once per process, in a background thread, so ``/healthz`` answers (not
  ready) while models load; requests that arrive meanwhile wait for it.
- OCR runs in a thread pool sized by ``OCR_WORKERS`` (default: the cores); the event loop only
  parses requests and writes responses. The engine is shared: calls don't mutate it.
- At most ``OCR_MAX_QUEUE`` OCR jobs are admitted at once (running + waiting for a worker);
  beyond that requests get 503 at once instead of queueing without bound. A job counts until
  its worker thread finishes, even if the client has gone.
- Results are cached by (sha256 of the bytes, detect, cls, vocabulary constraint, words, orient) in a bounded LRU, and identical
  requests in flight share one computation.
- A PDF or multi-page TIFF is one job (one worker, pages one after another, ocrservice.documents);
  its cache key adds the document options (``pages``, ``force_ocr``, previews).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ocrcore import OCREngine, OCRResult

from .config import Settings
from .documents import DocumentEntry, run_document
from .errors import ApiError
from .metrics import Metrics

log = logging.getLogger("ocr.service")

CacheKey = tuple[Any, ...]  # (sha256, detect, cls, constraint, words, orient) for an image; documents add their options


class ResultCache:
    """A bounded LRU of results. Safe to use from any thread."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[CacheKey, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: CacheKey) -> Any:
        if self.max_entries <= 0:
            return None
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: CacheKey, value: Any) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)


class OCRService:
    def __init__(self, settings: Settings, metrics: Metrics | None = None, engine: OCREngine | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics(queue_depth=lambda: self.admitted)
        self.executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="ocr")
        self.cache = ResultCache(settings.cache_entries)
        self.admitted = 0  # touched only on the event loop
        self._pending: dict[CacheKey, asyncio.Future] = {}
        self._load_lock = threading.Lock()
        self._engine_future: Future[OCREngine] = Future()
        self._load_started = False
        self.load_error: str | None = None
        self.started_at = time.time()
        if engine is not None:
            self._engine_future.set_result(engine)
            self._load_started = True

    # ------------------------------------------------------------------ engine lifecycle

    def start_loading(self) -> None:
        """Start loading the engine in a background thread (idempotent)."""
        with self._load_lock:
            if self._load_started:
                return
            self._load_started = True
        threading.Thread(target=self._load, name="ocr-engine-load", daemon=True).start()

    def _load(self) -> None:
        t0 = time.perf_counter()
        try:
            engine = OCREngine(self.settings.engine_config())
        except BaseException as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("engine failed to load: %s", self.load_error)
            self._engine_future.set_exception(exc)
            return
        d = engine.describe()
        log.info(
            "engine ready in %.2fs: profile=%s precisions=%s (%s; %s) on %s [%s], %d workers sharing %d cores",
            time.perf_counter() - t0, d["profile"], d["precisions"], d["precision_source"],
            "; ".join(f"{k}: {v}" for k, v in d["precision_reasons"].items()), d["cpu"], d["isa"],
            self.settings.workers, d["cores"],
        )
        self._engine_future.set_result(engine)

    @property
    def ready(self) -> bool:
        f = self._engine_future
        return f.done() and not f.cancelled() and f.exception() is None

    @property
    def engine_or_none(self) -> OCREngine | None:
        return self._engine_future.result() if self.ready else None

    async def engine(self) -> OCREngine:
        self.start_loading()
        try:
            return await asyncio.wrap_future(self._engine_future)
        except Exception:
            raise ApiError(503, "engine_unavailable", f"the OCR engine failed to load: {self.load_error}") from None

    # ------------------------------------------------------------------ OCR

    async def ocr(self, data: bytes, *, detect: bool, cls: bool | None, use_cache: bool = True,
                  vocabulary: dict[str, str | None] | None = None, words: bool = False,
                  orient: bool | None = None) -> tuple[OCRResult, bool]:
        """OCR image bytes; returns (result, served_from_cache). ``vocabulary``: the request's
        allowlist/blocklist/pattern/hotwords (None = the deployment's default); ``words``: word and
        character boxes per line; ``orient``: page orientation and deskew (None = the server's
        default). Raises OCRError
        (``VocabularyError`` 422 for a bad constraint) / ApiError."""
        engine = await self.engine()
        use_cls = engine.config.use_cls if cls is None else bool(cls)
        use_orient = engine.config.orient if orient is None else bool(orient)
        constraint = engine.vocabulary.override(**(vocabulary or {}))
        key: CacheKey = (hashlib.sha256(data).hexdigest(), bool(detect), use_cls, constraint.digest, bool(words), use_orient)
        return await self._run(key, lambda: engine.ocr(data, detect=detect, cls=use_cls, words=words, orient=use_orient,
                                                       **constraint.as_kwargs()), use_cache)

    async def document(self, data: bytes, *, detect: bool, cls: bool | None, pages: str | None, force_ocr: bool,
                       previews: bool = False, use_cache: bool = True,
                       vocabulary: dict[str, str | None] | None = None,
                       orient: bool | None = None, words: bool = False) -> tuple[DocumentEntry, bool]:
        """OCR a PDF or multi-page TIFF (or an image, as a one-page document) in one worker thread,
        page by page; returns (entry, served_from_cache). Raises DocumentError / OCRError / ApiError.

        Admitted as one job. A cached result with previews also answers a request without them."""
        engine = await self.engine()
        use_cls = engine.config.use_cls if cls is None else bool(cls)
        constraint = engine.vocabulary.override(**(vocabulary or {}))
        use_orient = engine.config.orient if orient is None else bool(orient)
        base = ("document", hashlib.sha256(data).hexdigest(), bool(detect), use_cls, pages or "", bool(force_ocr),
                constraint.digest, use_orient, bool(words))
        if use_cache and not previews:
            hit = self.cache.get((*base, True))
            if hit is not None:
                self.metrics.cache.labels(outcome="hit").inc()
                return hit, True
        max_pages = self.settings.max_pages

        def job() -> DocumentEntry:
            return run_document(engine, data, pages=pages, max_pages=max_pages, force_ocr=force_ocr,
                                previews=previews, detect=detect, cls=use_cls, orient=use_orient, words=words,
                                **constraint.as_kwargs())

        return await self._run((*base, bool(previews)), job, use_cache)

    async def _run(self, key: CacheKey, job: Callable[[], Any], use_cache: bool) -> tuple[Any, bool]:
        """The cache, the sharing of identical requests in flight, admission and the worker pool,
        for one job (an image's OCR or a document's); returns (result, served_from_cache)."""
        if use_cache:
            hit = self.cache.get(key)
            if hit is not None:
                self.metrics.cache.labels(outcome="hit").inc()
                return hit, True
            pending = self._pending.get(key)
            if pending is not None:  # same image already being computed: share it
                self.metrics.cache.labels(outcome="hit").inc()
                return await asyncio.shield(pending), True
            self.metrics.cache.labels(outcome="miss").inc()
        if self.admitted >= (self.settings.max_queue or 0):
            self.metrics.rejected.inc()
            raise ApiError(
                503, "server_busy",
                f"the server is at capacity ({self.settings.max_queue} images in progress); retry shortly",
                headers={"Retry-After": "1"},
            )
        loop = asyncio.get_running_loop()
        fut = asyncio.wrap_future(self.executor.submit(job), loop=loop)
        self.admitted += 1
        if use_cache:
            self._pending[key] = fut

        def done(f: asyncio.Future) -> None:
            self.admitted -= 1
            if self._pending.get(key) is f:
                del self._pending[key]
            if f.cancelled() or f.exception() is not None:
                return
            result = f.result()
            if use_cache:  # "Cache-Control: no-cache" neither reads nor fills the cache
                self.cache.put(key, result)
            # per image: a document's pages are observed one by one, like images
            for timings in result.page_timings if isinstance(result, DocumentEntry) else [result.timings]:
                for stage, seconds in timings.items():
                    self.metrics.stage.labels(stage=stage).observe(seconds)

        fut.add_done_callback(done)
        return await asyncio.shield(fut), False

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
